"""The results of a sweep as a person reads them: one row per point, the
Pareto fronts marked, JSON, CSV, PNG plots and a text table.

Every row has the point's axis values, its ``status`` (``ok``; ``invalid``:
the configuration rules reject it, the :class:`~lela.config.ConfigError`
message in ``error``; ``error``: a measurement failed, its message in
``error``), the figures below (None where not measured), the Pareto marks
(:mod:`lela.sweep.pareto`) and every measurement's full result.

``weight_bits``, ``cycle_bound``, ``cycles_per_sample_model``
    from the configuration alone (every valid point);
``memory_bits``, ``mac_multipliers``
    ``design``;
``cycles_per_sample``
    Verilator's (``verilator``), else the counter model's (``cycles_source``);
``luts``, ``dsps``, ``brams``, ``flip_flops``, ``fmax_mhz``, ``timing_met``
    ``build``;
``throughput``
    training samples/s at Fmax: ``fmax_mhz * 1e6 / cycles_per_sample``;
``accuracy``, ``accuracy_per_layer``
    ``accuracy``: the last layer's test accuracy, and every layer's.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from lela.contract import cycle_bound

from .measure import model_cycles, weight_bits
from .pareto import FRONTS, mark_fronts

__all__ = ["FIGURES", "format_table", "rows", "write_csv", "write_json", "write_plots",
           "write_report"]

#: Figure columns of the table, in order (CSV and text).
FIGURES = ("weight_bits", "cycle_bound", "cycles_per_sample_model", "memory_bits",
           "mac_multipliers", "cycles_per_sample", "cycles_source", "luts", "dsps", "brams",
           "flip_flops", "fmax_mhz", "timing_met", "throughput", "accuracy",
           "accuracy_per_layer")


def rows(result) -> list:
    """One dict per point of ``result`` (a :class:`~lela.sweep.engine.SweepResult`),
    fronts marked."""
    out = []
    for point, keys in zip(result.points, result.keys):
        row = {"point": point.index, "label": point.label,
               "values": {k: list(v) if isinstance(v, tuple) else v
                          for k, v in point.values.items()},
               "board": point.board, "seed": point.seed, "status": "ok", "error": None,
               **dict.fromkeys(FIGURES), "measurements": {},
               "config": point.config.to_dict() if point.config else None}
        if point.config is None:
            row.update(status="invalid", error=point.error)
            out.append(row)
            continue
        cfg = point.config
        row.update(weight_bits=weight_bits(cfg), cycle_bound=cycle_bound(cfg),
                   cycles_per_sample_model=model_cycles(cfg),
                   cycles_per_sample=model_cycles(cfg), cycles_source="model")
        errors = []
        for m, key in keys.items():
            entry = result.entries[key]
            row["measurements"][m] = {k: entry.get(k) for k in
                                      ("ok", "result", "error", "error_type", "seconds",
                                       "cached")}
            if not entry["ok"]:
                errors.append((entry.get("error_type"), f"{m}: {entry['error']}"))
                continue
            _figures(row, m, entry["result"])
        if errors:
            invalid = all(t == "ConfigError" for t, _ in errors)
            row.update(status="invalid" if invalid else "error",
                       error="; ".join(msg for _, msg in errors))
        if row["fmax_mhz"] is not None and row["cycles_per_sample"]:
            row["throughput"] = row["fmax_mhz"] * 1e6 / row["cycles_per_sample"]
        out.append(row)
    return mark_fronts(out)


def _figures(row, m, r):
    if m == "design":
        row.update(memory_bits=r["memory_bits"], mac_multipliers=r["mac_multipliers"])
    elif m == "verilator":
        row.update(cycles_per_sample=r["cycles_per_sample"], cycles_source="verilator")
    elif m == "build":
        row.update({k: r[k] for k in ("luts", "dsps", "brams", "flip_flops", "fmax_mhz",
                                      "timing_met")})
    elif m == "accuracy":
        row.update(accuracy=r["accuracy"][-1], accuracy_per_layer=r["accuracy"])


def _columns(spec):
    return ["point", *spec.columns, *(["board"] if "board" not in spec.columns else []),
            "status", "error",
            *(f for f in FIGURES if f not in spec.columns),
            *(f"pareto_{name}" for name in FRONTS)]


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, (list, tuple)):
        return " ".join(_cell(x) for x in v)
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _flat(row):
    flat = {**row, **row["values"]}
    flat.update({f"pareto_{k}": v for k, v in row["pareto"].items()})
    return flat


def write_csv(table, spec, path):
    """The table as CSV, one row per point; the figures only (no timings), so
    that two runs of the same sweep give the same file."""
    cols = _columns(spec)
    with Path(path).open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for row in table:
            flat = _flat(row)
            w.writerow([_cell(flat.get(c)) for c in cols])


def write_json(table, result, path, command=""):
    """Everything: the sweep, the sources digest and tool versions, every row
    with its measurements' results, the task counts and the wall-clock time."""
    spec = result.spec
    doc = {"sweep": spec.name, "file": spec.path, "command": command,
           "base": spec.base_name, "base_config": spec.base.to_dict(),
           "axes": {k: [list(v) if isinstance(v, tuple) else v for v in vals]
                    for k, vals in spec.axes.items()},
           "measure": list(spec.measure),
           "options": {m: {k: v for k, v in o.items() if not k.startswith("_")}
                       for m, o in spec.options.items()},
           "sources_digest": result.sources, "tools": result.tools,
           "tasks": {"total": len(result.entries), "ran": result.ran, "cached": result.cached,
                     "failed": result.failed},
           "workers": result.workers, "seconds": result.seconds,
           "fronts": {name: [r["point"] for r in table if r["pareto"].get(name)]
                      for name in FRONTS},
           "points": table}
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")


def _scatter(ax, table, cost, benefit, front, xlabel, ylabel, per_board):
    import numpy as np

    groups = {}
    for r in table:
        if r[cost] is not None and r[benefit] is not None:
            groups.setdefault(r["board"] if per_board else None, []).append(r)
    for i, (group, members) in enumerate(groups.items()):
        color = f"C{i}"
        x = np.array([r[cost] for r in members], dtype=float)
        y = np.array([r[benefit] for r in members], dtype=float)
        on = np.array([bool(r["pareto"][front]) for r in members])
        ax.scatter(x[~on], y[~on], s=18, alpha=0.5, color=color,
                   label=f"{group}: off the front" if group else "off the front")
        order = np.argsort(x[on])
        ax.plot(x[on][order], y[on][order], "o-", color=color,
                label=f"{group}: Pareto front" if group else "Pareto front")
        names = {}      # equal points are numbered together
        for r in members:
            if r["pareto"][front]:
                names.setdefault((r[cost], r[benefit]), []).append(str(r["point"]))
        for xy, points in names.items():
            ax.annotate(",".join(points), xy, fontsize=7, textcoords="offset points",
                        xytext=(3, 3))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    if groups:
        ax.legend(fontsize=7)
    return bool(groups)


def write_plots(table, out) -> list:
    """``pareto-throughput.png`` (throughput vs LUTs and vs DSPs, per board) and
    ``pareto-accuracy.png`` (accuracy vs weight bits), each written when the
    sweep has its figures; returns the files written. Points on a front are
    joined and numbered (the ``point`` column)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    written = []
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    any_data = _scatter(axes[0], table, "luts", "throughput", "throughput_luts", "LUTs",
                        "training samples/s at Fmax", True)
    any_data |= _scatter(axes[1], table, "dsps", "throughput", "throughput_dsps", "DSPs",
                         "training samples/s at Fmax", True)
    if any_data:
        fig.suptitle("throughput against logic and multipliers")
        fig.savefig(out / "pareto-throughput.png", dpi=120)
        written.append(out / "pareto-throughput.png")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    if _scatter(ax, table, "weight_bits", "accuracy", "accuracy_bits",
                "weight and bias bits", "test accuracy (last layer)", False):
        ax.set_title("accuracy against weight bits (fixed-point model)")
        fig.savefig(out / "pareto-accuracy.png", dpi=120)
        written.append(out / "pareto-accuracy.png")
    plt.close(fig)
    return written


def write_report(result, out, command="") -> tuple:
    """Write ``results.json``, ``results.csv`` and the plots into folder ``out``;
    returns ``(table, files written)``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = rows(result)
    write_json(table, result, out / "results.json", command)
    write_csv(table, result.spec, out / "results.csv")
    return table, [out / "results.json", out / "results.csv", *write_plots(table, out)]


_SHORT = {"weight_bits": "wbits", "cycles_per_sample": "cycles", "mac_multipliers": "macs",
          "memory_bits": "mem_bits", "fmax_mhz": "fmax", "throughput": "samples/s",
          "accuracy": "acc"}


def format_table(table, spec) -> str:
    """The table as aligned text: the axis values, status, the measured figures
    and a ``*`` per front a point is on; errors on their own lines below."""
    figures = ["weight_bits", "cycles_per_sample"]
    if "design" in spec.measure:
        figures += ["memory_bits", "mac_multipliers"]
    if "build" in spec.measure:
        figures += ["luts", "dsps", "fmax_mhz", "throughput"]
    if "accuracy" in spec.measure:
        figures.append("accuracy")
    cols = ["point", *spec.columns, "status", *figures, "pareto"]
    lines = [[_SHORT.get(c, c) for c in cols]]
    for r in table:
        flat = _flat(r)
        marks = "".join("*" if r["pareto"].get(f) else "." for f in FRONTS)
        lines.append([_cell(flat.get(c)) if c != "pareto" else marks for c in cols])
    widths = [max(len(line[i]) for line in lines) for i in range(len(cols))]
    text = ["  ".join(v.rjust(w) for v, w in zip(line, widths)) for line in lines]
    text.append("pareto: " + ", ".join(f"{name.replace('_', ' vs ')}" for name in FRONTS)
                + " (* on the front)")
    for r in table:
        if r["error"]:
            text.append(f"point {r['point']} ({r['status']}): {r['error']}")
    return "\n".join(text)
