"""``lela generate``: write the Verilog of the network top and its manifest
(``--bus axi``: the top wrapped as an AXI4-Stream / AXI4-Lite IP block, docs/axi.md)."""

from __future__ import annotations

from lela.rtl.generate import generate

from . import add_config_arguments, config_from_args, output_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """The flags of ``lela generate``."""
    parser.add_argument("--out", default="build/rtl", metavar="DIR",
                        help="output folder (default build/rtl)")
    parser.add_argument("--no-trace", action="store_true",
                        help="leave the per-layer scores and weight digests out of the results")
    parser.add_argument("--bus", choices=("none", "axi"), default="none",
                        help="none: the bare core (lela_top); axi: the core behind "
                             "AXI4-Stream and AXI4-Lite ports (lela_axi, docs/axi.md)")
    add_config_arguments(parser)


def run(args) -> int:
    """Generate, then print where the files went and the cycle bound."""
    cfg = config_from_args(args)
    out = output_dir(args.out)
    bus = None if args.bus == "none" else args.bus
    info = generate(cfg, out, trace=not args.no_trace, bus=bus)
    print(f"lela generate: {out / info['verilog']} and {out / 'manifest.json'}")
    if bus == "axi":
        regs, streams = info["register_map"], info["streams"]
        print(f"  AXI4-Lite: {regs['address_bits']}-bit addresses, access-port window at "
              f"{regs['window']:#x}; AXI4-Stream: s_axis {streams['s_axis']['tdata_width']}-bit "
              f"tdata, {streams['s_axis']['beats_per_sample']} beats per sample; m_axis "
              f"{streams['m_axis']['words_per_result']} words per result")
    q = tuple(layer["classifier_lanes"] for layer in info["parameters"]["layer"])
    print(f"  layers {cfg.sizes}, lanes {cfg.lanes}, classifier lanes {q}, "
          f"{info['multipliers']} multipliers, {info['memory_bits_total']} memory bits")
    print(f"  cycle bound B = {info['cycle_bound']}, modelled steady state "
          f"{info['cycles_per_sample_model']} cycles/sample "
          f"({info['cycles_per_sample_ratio']:.3f} B)")
    return 0
