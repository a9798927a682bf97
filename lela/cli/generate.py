"""``lela generate``: write the Verilog of the network top and its manifest."""

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
    add_config_arguments(parser)


def run(args) -> int:
    """Generate, then print where the files went and the cycle bound."""
    cfg = config_from_args(args)
    out = output_dir(args.out)
    info = generate(cfg, out, trace=not args.no_trace)
    print(f"lela generate: {out / info['verilog']} and {out / 'manifest.json'}")
    q = tuple(layer["classifier_lanes"] for layer in info["parameters"]["layer"])
    print(f"  layers {cfg.sizes}, lanes {cfg.lanes}, classifier lanes {q}, "
          f"{info['multipliers']} multipliers, {info['memory_bits_total']} memory bits")
    print(f"  cycle bound B = {info['cycle_bound']}, modelled steady state "
          f"{info['cycles_per_sample_model']} cycles/sample "
          f"({info['cycles_per_sample_ratio']:.3f} B)")
    return 0
