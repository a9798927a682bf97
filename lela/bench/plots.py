"""The report's PNG plots (matplotlib, Agg backend), a function of the JSON alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .common import multiplier_bound, sizes_text

__all__ = ["plots"]


def plots(report, folder):
    """PNG plots of the sections in ``report`` into ``folder``; returns their names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
        plt.close(fig)
        made.append(name)

    u = report.get("utilisation")
    if u and u["rows"]:
        fig, ax = plt.subplots(figsize=(6, 4))
        p = [r["lanes"][0] for r in u["rows"]]
        ax.loglog(p, [r["cycles_per_sample"] for r in u["rows"]], "o-", label="measured (RTL)")
        ax.loglog(p, [r["model_cycles"] for r in u["rows"]], "x", label="counter model")
        ax.loglog(p, [r["bound"] for r in u["rows"]], "--", label="bound B = max 2·N_in·N_out/P")
        ax.loglog(p, [r["classifier_floor"] for r in u["rows"]], color="grey", ls=":",
                  label="error-unit floor 2·C·N_out/Q")
        ax.set_xticks(p, [str(v) for v in p])
        ax.set_xlabel("MAC lanes P per layer")
        ax.set_ylabel("cycles per training sample")
        ax.set_title(f"network {sizes_text(u['sizes'])}")
        ax.legend(fontsize=8)
        save(fig, "utilisation.png")
    res = report.get("resources")
    ecp5 = [b for b in (res or {}).get("builds", []) if b["board"] == "ulx3s"
            and b.get("resources")]
    if len(ecp5) > 1:
        fig, ax = plt.subplots(figsize=(6, 4))
        p = [b["config"]["lanes"][0] for b in ecp5]
        for label in ("LUT4", "flip-flops", "DSP (MULT18X18D)", "block RAM (DP16KD)"):
            ys = [b["resources"].get(label, {}).get("used", np.nan) /
                  max(1, b["resources"].get(label, {}).get("available", 1)) for b in ecp5]
            ax.plot(p, [100 * y for y in ys], "o-", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("MAC lanes P per layer (ULX3S, ECP5-85F)")
        ax.set_ylabel("% of the device")
        ax2 = ax.twinx()
        ax2.plot(p, [b.get("fmax") or np.nan for b in ecp5], "k--", label="Fmax")
        ax2.set_ylabel("Fmax (MHz), dashed")
        ax.legend(fontsize=8, loc="upper left")
        save(fig, "resources.png")
    t = report.get("throughput")
    if t and t["rows"]:
        fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(t["rows"]) + 2) + 2, 4))
        base = {tuple(b["sizes"]): b["samples_per_second"] for b in t["baselines"]}
        b = t["baseline_batch"]
        bars = [("lela", None), ("CPU float batch 1", "float_batch1"),
                (f"CPU float batch {b}", f"float_batch{b}"), ("CPU fixed-point", "fixed"),
                ("CPU compiled online", "compiled_online")]
        bars = [(label, key) for label, key in bars
                if key is None or all(key in base[tuple(r["sizes"])] for r in t["rows"])]
        x = np.arange(len(t["rows"]))
        width = 0.8 / len(bars)
        for j, (label, key) in enumerate(bars):
            ys = [r["samples_per_second"] if key is None else base[tuple(r["sizes"])][key]
                  for r in t["rows"]]
            ax.bar(x + (j - (len(bars) - 1) / 2) * width, ys, width, label=label, color=f"C{j}")
        # the device's multiplier bound at the row's clock, where a build of
        # the row's board and lanes reports the multiplier blocks
        dsp = {(b["board"], b["config"]["lanes"][0]): r["available"]
               for b in (res or {}).get("builds", [])
               for r in (b.get("resources") or {}).values()
               if r["cell"] in ("MULT18X18D", "ICESTORM_DSP")}
        bound = [multiplier_bound(r["sizes"], dsp[(r["board"], r["lanes"])], r["clock_mhz"])
                 if (r["board"], r["lanes"]) in dsp else np.nan for r in t["rows"]]
        if not np.all(np.isnan(bound)):
            ax.hlines(bound, x - 0.45, x + 0.45, colors="k", linestyles="--",
                      label="device multiplier bound")
        ax.set_xticks(x, [f"{r['board']} P={r['lanes']}\n{sizes_text(r['sizes'])}\n"
                          f"{r['clock_mhz']:.0f} MHz" for r in t["rows"]], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("training samples/s")
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        save(fig, "throughput.png")
    tr = report.get("traffic")
    if tr:
        fig, ax = plt.subplots(figsize=(6, 4))
        b = [x["batch"] for x in tr["by_batch"]]
        ax.loglog(b, [x["backprop_words"] for x in tr["by_batch"]], "o-",
                  label="backprop (paper's analysis)")
        ax.loglog(b, [x["local_words"] for x in tr["by_batch"]], "s-",
                  label="local errors (paper's analysis)")
        ax.loglog([1], [tr["lela"]["words"]], "k*", ms=12, label="lela, measured (online)")
        ax.set_xticks(b, [str(v) for v in b])
        ax.set_xlabel("mini-batch size")
        ax.set_ylabel("memory words per training sample")
        ax.set_title(f"network {sizes_text(tr['sizes'])}")
        ax.legend(fontsize=8)
        save(fig, "traffic.png")
    s = report.get("simulators")
    if s and s["rows"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.barh([r["simulator"] for r in s["rows"]],
                [r["cycles_per_second"] or r["end_to_end_cycles_per_second"] for r in s["rows"]])
        ax.set_xscale("log")
        ax.set_xlabel("simulated cycles per second")
        ax.set_title(f"network {sizes_text(s['sizes'])}, {s['samples']} training samples")
        save(fig, "simulators.png")
    e = report.get("early_exit")
    if e:
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        pts = [p for p in e["curve"] if p["threshold"] is not None]
        th = [p["threshold_score"] for p in pts]
        a1.plot(th, [100 * p["accuracy"] for p in pts], "o-", color="C0")
        a1.axhline(100 * e["top_layer_accuracy"], color="C0", ls=":",
                   label="no early exit (top layer)")
        a1.set_xlabel("margin threshold (score units)")
        a1.set_ylabel("accuracy (%)", color="C0")
        a1.legend(fontsize=8, loc="lower right")
        a1b = a1.twinx()
        a1b.plot(th, [p["mean_cycles"] for p in pts], "s--", color="C1")
        a1b.set_ylabel("mean busy cycles per inference", color="C1")
        a2.plot([p["mean_cycles"] for p in pts], [100 * p["accuracy"] for p in pts], "o-")
        for p in e["rtl"]:
            a2.plot(p["mean_cycles"], 100 * p["accuracy"], "k*", ms=10)
        a2.set_xlabel("mean busy cycles per inference")
        a2.set_ylabel("accuracy (%)")
        a2.set_title("trade-off (stars: RTL)")
        fig.suptitle(f"early exit, digits, network {sizes_text(e['sizes'])}")
        save(fig, "early_exit.png")
    return made
