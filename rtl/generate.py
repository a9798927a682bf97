"""The Verilog of the network top and its manifest (``lela generate``).

Writes ``<out>/lela_top.v`` (``amaranth.back.verilog.convert``, top module
``lela_top``) and ``<out>/manifest.json``: the ports as named in the Verilog
(with widths, directions and the layout of every stream payload), the
configuration and derived parameters, the bits of every memory, the access
port's address map, the counter map and the cycle bound ``B``.

With ``bus="axi"`` the top is :class:`lela.rtl.axi.AxiNetwork`, module
``lela_axi`` in ``<out>/lela_axi.v``, and the manifest adds the AXI4-Lite
register map (``register_map``) and the formats of the two AXI4-Streams
(``streams``), the result payload's layout included (docs/axi.md).

The configuration is checked (:func:`lela.rtl.top.check_buildable`) before
anything is elaborated; a configuration the hardware cannot build raises
:class:`lela.config.ConfigError` naming the field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from amaranth.hdl import Shape
from amaranth.lib import data

from lela.contract import (
    ACCESS_INDEX_BITS,
    AXI_OKAY,
    AXI_SLVERR,
    AXIL_CONTROL,
    AXIL_CONTROL_EARLY_EXIT,
    AXIL_DATA_BITS,
    AXIL_DROPPED_FRAMES,
    AXIL_ID,
    AXIL_ID_VALUE,
    AXIL_REGISTERS,
    AXIL_THRESHOLD,
    AXIS_RESULT_BITS,
    COUNTER_BITS,
    COUNTER_HIGH,
    COUNTERS,
    INFO,
    LAYER_SHIFT,
    SPACE_B,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_SHIFT,
    SPACE_W,
    axil_address_bits,
    axil_window,
    axis_input_bits,
    bias_shift,
    classifier_lanes,
    cycle_bound,
    exit_bits,
    forward_acc_width,
    label_bits,
    layer_cycle_bound,
    multipliers_used,
    weight_shift,
)
from lela.golden_model import counters as golden_counters
from lela.tools import yosys_for_amaranth

from .axi import AxiNetwork
from .layer import result_layout
from .top import Network, check_buildable, network_result_layout, result_fifo_depth

__all__ = ["AXI_TOP_NAME", "BUSES", "TOP_NAME", "generate", "manifest"]

#: Name of the top Verilog module.
TOP_NAME = "lela_top"
#: Name of the top Verilog module with ``bus="axi"``.
AXI_TOP_NAME = "lela_axi"
#: The ``bus`` choices of :func:`generate` (None: the bare core).
BUSES = (None, "axi")
def _layout_json(shape):
    """A JSON description of a payload shape: offsets and widths of every field."""
    if isinstance(shape, data.StructLayout):
        return {"width": shape.size, "fields": {
            name: dict(offset=field.offset, **_layout_json(field.shape))
            for name, field in shape}}
    if isinstance(shape, data.ArrayLayout):
        return {"width": shape.size, "length": shape.length,
                "element": _layout_json(shape.elem_shape)}
    s = Shape.cast(shape)
    return {"width": s.width, "signed": s.signed}


def _verilog_ports(text, module):
    """``[(name, direction, width)]`` of module ``module`` of ``text``, in header order."""
    header = re.search(rf"^module\s+{re.escape(module)}\s*\(([^;]*)\);", text, re.MULTILINE)
    names = [n.strip() for n in header.group(1).split(",")]
    body = text[header.end():text.index("endmodule", header.end())]
    decls = {}
    for direction, msb, lsb, name in re.findall(
            r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s+)?(\S+?)\s*;", body,
            re.MULTILINE):
        width = int(msb) - int(lsb) + 1 if msb else 1
        decls[name] = (direction, width)
    return [(n, *decls[n]) for n in names]


def manifest(cfg, top, ports, trace=True):
    """The manifest dict of ``top`` (a :class:`Network`, or an
    :class:`~lela.rtl.axi.AxiNetwork` around one) for ``cfg``."""
    axi = top if isinstance(top, AxiNetwork) else None
    top_name = AXI_TOP_NAME if axi else TOP_NAME
    sig_members = {"__".join(path): member for path, member, _ in top.signature.flatten(top)}
    port_list = []
    for name, direction, width in ports:
        entry = {"name": name, "direction": direction, "width": width}
        member = sig_members.get(name)
        if member is not None and isinstance(member.shape, (data.StructLayout,
                                                            data.ArrayLayout)):
            entry["layout"] = _layout_json(member.shape)
        port_list.append(entry)
    if axi:
        top = axi.core

    memories = {"inputs": top.inputs.memory_bits()["inputs"]}
    layers = []
    res_width = result_layout(cfg, trace).size
    for i, layer in enumerate(top.layers):
        bits = layer.memory_bits()
        bits["result_fifo"] = res_width * result_fifo_depth(cfg, i)
        memories[f"layer{i}"] = bits
        layers.append({
            "index": i, "n_in": cfg.sizes[i], "n_out": cfg.sizes[i + 1],
            "lanes": cfg.lanes[i], "groups": cfg.sizes[i + 1] // cfg.lanes[i],
            "classifier_lanes": classifier_lanes(cfg, i),
            "m_seed": cfg.m_seeds[i], "k_seed": cfg.k_seeds[i],
            "score_shift": cfg.score_shift(i), "forward_acc_width": forward_acc_width(cfg, i),
            "eta_shift": cfg.eta_shifts[i], "weight_shift": weight_shift(cfg, i),
            "bias_shift": bias_shift(cfg, i),
            "dropout_threshold": cfg.dropout_thresholds[i],
            "dropout_seed": cfg.dropout_seeds_used[i],
            "weight_words": cfg.sizes[i] * cfg.sizes[i + 1] // cfg.lanes[i],
            "cycle_bound": layer_cycle_bound(cfg, i),
            "busy_cycles_train": golden_counters.busy_cycles(cfg, i, "train"),
            "busy_cycles_infer": golden_counters.busy_cycles(cfg, i, "infer"),
        })
    if axi:
        memories["axi"] = {"packet_fifo": axi.frames.memory_bits()}
    total = memories["inputs"] + sum(sum(v.values()) for k, v in memories.items()
                                     if k != "inputs")
    bound = cycle_bound(cfg)
    steady = golden_counters.steady_cycles(cfg)
    info = {
        "top": top_name,
        "verilog": f"{top_name}.v",
        "bus": "axi" if axi else None,
        "trace": bool(trace),
        "config": cfg.to_dict(),
        "ports": port_list,
        "clock": {"clk": "clk", "reset": "rst", "reset_kind": "synchronous, active high"},
        "parameters": {
            "layers": cfg.layers, "label_bits": label_bits(cfg.classes),
            "exit_bits": exit_bits(cfg), "layer": layers,
        },
        "memories_bits": memories,
        "memory_bits_total": total,
        "multipliers": multipliers_used(cfg),
        "address_map": {
            "format": "layer << 24 | space << 20 | index",
            "layer_shift": LAYER_SHIFT, "space_shift": SPACE_SHIFT,
            "index_bits": ACCESS_INDEX_BITS,
            "spaces": {
                str(SPACE_W): {"name": "weights", "access": "read/write",
                               "index": "j * N_in + k", "data": "sign-extended weight",
                               "size": [cfg.sizes[i] * cfg.sizes[i + 1]
                                        for i in range(cfg.layers)]},
                str(SPACE_B): {"name": "biases", "access": "read/write", "index": "j",
                               "data": "sign-extended bias",
                               "size": list(cfg.sizes[1:])},
                str(SPACE_COUNTERS): {"name": "counters",
                                      "access": "read-only" if cfg.counters else
                                                "none (counters = false: every read is an "
                                                "error)",
                                      "index": f"n: bits 31..0 of counter n; "
                                               f"n + {COUNTER_HIGH}: bits "
                                               f"{COUNTER_BITS - 1}..32"},
                str(SPACE_INFO): {"name": "layer information", "access": "read-only",
                                  "index": {str(n): name for n, name in enumerate(INFO)}},
            },
            "errors": "out-of-range layer, space or index, or a write to a read-only "
                      "space: error = 1, nothing changes",
            "served": "only while no sample is in flight (the request stalls otherwise)",
        },
        "weight_memory": cfg.weight_memory,
        "weights_loaded_at_start": not cfg.memory.initial_contents,
        "counters": {"built": cfg.counters, "width": COUNTER_BITS,
                     "index": {str(n): name for n, name in enumerate(COUNTERS)},
                     "high_word_offset": COUNTER_HIGH},
        "cycle_bound": bound,
        "cycles_per_sample_model": steady,
        "cycles_per_sample_ratio": steady / bound,
    }
    if axi:
        info["register_map"] = _register_map(cfg)
        info["streams"] = _streams(cfg, axi, trace)
    return info


def _register_map(cfg):
    """The AXI4-Lite register map of ``lela_axi`` (docs/axi.md)."""
    what = {AXIL_CONTROL: f"bit {AXIL_CONTROL_EARLY_EXIT.bit_length() - 1}: early exit for "
                          "inference samples; other bits read 0",
            AXIL_THRESHOLD: f"early-exit margin threshold, bits {cfg.act_width - 1}..0 "
                            "(unsigned); other bits read 0",
            AXIL_DROPPED_FRAMES: "malformed input frames dropped since reset (saturating)",
            AXIL_ID: f"{AXIL_ID_VALUE:#010x} (ASCII 'LELA')"}
    window = axil_window(cfg.layers)
    return {
        "address_bits": axil_address_bits(cfg.layers), "data_bits": AXIL_DATA_BITS,
        "registers": [{"name": n, "address": a, "access": acc, "reset": AXIL_ID_VALUE
                       if a == AXIL_ID else 0, "description": what[a]}
                      for a, (n, acc) in sorted(AXIL_REGISTERS.items())],
        "window": window,
        "window_format": "window | access_address(layer, space, index) << 2 "
                         "(address_map); the low two address bits are ignored",
        "responses": {"okay": AXI_OKAY, "slverr": AXI_SLVERR},
        "errors": "SLVERR: a window access the access port answers with error = 1 "
                  "(address_map.errors), a window write whose wstrb is not all ones, a "
                  "write to a read-only register, any address below the window that is "
                  "not a register; nothing changes",
        "stalls": "a window access waits while a sample is in flight (the access port "
                  "serves it between samples)",
    }


def _streams(cfg, axi, trace):
    """The formats of ``lela_axi``'s two AXI4-Streams (docs/axi.md)."""
    lb = label_bits(cfg.classes)
    layout = network_result_layout(cfg, trace)
    return {
        "s_axis": {
            "tdata_width": axis_input_bits(cfg.act_width),
            "tdata": f"one input value, bits {cfg.act_width - 1}..0 (signed); the bits above "
                     "are ignored",
            "beats_per_sample": cfg.sizes[0],
            "tuser_width": lb + 1,
            "tuser": {"label": {"offset": 0, "width": lb}, "train": {"offset": lb, "width": 1}},
            "tuser_read": "on the tlast beat",
            "tlast": f"on beat {cfg.sizes[0]}; any other frame is dropped and counted in "
                     "DROPPED_FRAMES",
            "packet_fifo_depth": axi.frames.depth,
        },
        "m_axis": {
            "tdata_width": AXIS_RESULT_BITS,
            "words_per_result": axi.result_words,
            "order": "low bits first; the last word zero-padded",
            "tlast": "on the last word of each result",
            "payload_width": layout.size,
            "payload": _layout_json(layout),
        },
    }


def generate(cfg, out_dir, trace=True, bus=None):
    """Write ``lela_top.v`` (with ``bus="axi"``: ``lela_axi.v``) and
    ``manifest.json`` for ``cfg`` into ``out_dir``; return the manifest dict."""
    if bus not in BUSES:
        raise ValueError(f"bus must be one of None, 'axi', not {bus!r}")
    check_buildable(cfg)
    from amaranth.back import verilog

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    top = AxiNetwork(cfg, trace=trace) if bus == "axi" else Network(cfg, trace=trace)
    name = AXI_TOP_NAME if bus == "axi" else TOP_NAME
    with yosys_for_amaranth():
        text = verilog.convert(top, name=name, emit_src=False)
    (out / f"{name}.v").write_text(text)
    info = manifest(cfg, top, _verilog_ports(text, name), trace=trace)
    (out / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
