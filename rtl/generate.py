"""The Verilog of the network top and its manifest (``lela generate``).

Writes ``<out>/lela_top.v`` (``amaranth.back.verilog.convert``, top module
``lela_top``) and ``<out>/manifest.json``: the ports as named in the Verilog
(with widths, directions and the layout of every stream payload), the
configuration and derived parameters, the bits of every memory, the access
port's address map, the counter map and the cycle bound ``B``.

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

from .layer import result_layout
from .top import Network, check_buildable, result_fifo_depth

__all__ = ["TOP_NAME", "generate", "manifest"]

#: Name of the top Verilog module.
TOP_NAME = "lela_top"
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


def _verilog_ports(text):
    """``[(name, direction, width)]`` of the first module of ``text``, in header order."""
    header = re.search(r"^module\s+(\S+)\s*\(([^;]*)\);", text, re.MULTILINE)
    names = [n.strip() for n in header.group(2).split(",")]
    body = text[header.end():text.index("endmodule", header.end())]
    decls = {}
    for direction, msb, lsb, name in re.findall(
            r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):(\d+)\]\s+)?(\S+?)\s*;", body,
            re.MULTILINE):
        width = int(msb) - int(lsb) + 1 if msb else 1
        decls[name] = (direction, width)
    return [(n, *decls[n]) for n in names]


def manifest(cfg, top, ports, trace=True):
    """The manifest dict of ``top`` (a :class:`Network`) for ``cfg``."""
    sig_members = {"__".join(path): member for path, member, _ in top.signature.flatten(top)}
    port_list = []
    for name, direction, width in ports:
        entry = {"name": name, "direction": direction, "width": width}
        member = sig_members.get(name)
        if member is not None and isinstance(member.shape, (data.StructLayout,
                                                            data.ArrayLayout)):
            entry["layout"] = _layout_json(member.shape)
        port_list.append(entry)

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
            "weight_words": cfg.sizes[i] * cfg.sizes[i + 1] // cfg.lanes[i],
            "cycle_bound": layer_cycle_bound(cfg, i),
            "busy_cycles_train": golden_counters.busy_cycles(cfg, i, "train"),
            "busy_cycles_infer": golden_counters.busy_cycles(cfg, i, "infer"),
        })
    total = memories["inputs"] + sum(sum(v.values()) for k, v in memories.items()
                                     if k != "inputs")
    bound = cycle_bound(cfg)
    steady = max(golden_counters.busy_cycles(cfg, i, "train") + 1 for i in range(cfg.layers))
    return {
        "top": TOP_NAME,
        "verilog": f"{TOP_NAME}.v",
        "trace": bool(trace),
        "config": cfg.to_dict(),
        "ports": port_list,
        "clock": {"clk": "clk", "reset": "rst", "reset_kind": "synchronous, active high"},
        "parameters": {
            "layers": cfg.layers, "label_bits": label_bits(cfg.classes),
            "exit_bits": exit_bits(cfg), "weight_shift": weight_shift(cfg),
            "bias_shift": bias_shift(cfg), "layer": layers,
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
        "weights_loaded_at_start": cfg.weight_memory == "single_port",
        "counters": {"built": cfg.counters, "width": COUNTER_BITS,
                     "index": {str(n): name for n, name in enumerate(COUNTERS)},
                     "high_word_offset": COUNTER_HIGH},
        "cycle_bound": bound,
        "cycles_per_sample_model": steady,
        "cycles_per_sample_ratio": steady / bound,
    }


def generate(cfg, out_dir, trace=True):
    """Write ``lela_top.v`` and ``manifest.json`` for ``cfg`` into ``out_dir``;
    return the manifest dict."""
    check_buildable(cfg)
    from amaranth.back import verilog

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    top = Network(cfg, trace=trace)
    with yosys_for_amaranth():
        text = verilog.convert(top, name=TOP_NAME, emit_src=False)
    (out / f"{TOP_NAME}.v").write_text(text)
    info = manifest(cfg, top, _verilog_ports(text), trace=trace)
    (out / "manifest.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
