"""Running the bench: the sections in order, the report, the files it is written to."""

from __future__ import annotations

import json
import time
from pathlib import Path

from lela.config import Config

from . import (
    accuracy,
    early_exit,
    resources,
    rtl_speed,
    simulators,
    throughput,
    traffic,
    utilisation,
)
from .common import (
    MNIST_DIR,
    SECTIONS,
    Clock,
    Context,
    config_key,
    json_default,
    multiplier_bound,
    named_config,
)
from .machine import git_commit, machine
from .markdown import markdown
from .plots import plots

__all__ = ["BENCHES", "headline", "read_report", "run_bench", "write_report"]

#: Section name -> its measurement, ``measure(ctx) -> dict``.
BENCHES = {
    "accuracy": accuracy.measure, "early_exit": early_exit.measure,
    "utilisation": utilisation.measure, "traffic": traffic.measure,
    "simulators": simulators.measure, "rtl_speed": rtl_speed.measure,
    "resources": resources.measure,
    "throughput": throughput.measure,
}


def lut4_per_lane(builds):
    """Least-squares slope of LUT4 over the MAC lanes (all layers) of the
    ULX3S builds of one network (``resources`` builds with the LUT4 count);
    None with fewer than two lane counts."""
    points = {sum(b["config"]["lanes"]): b["lut4"] for b in builds
              if b["board"] == "ulx3s" and b.get("lut4")}
    if len(points) < 2:
        return None
    xs, ys = list(points), list(points.values())
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return (sum((x - mx) * (y - my) for x, y in zip(xs, ys))
            / sum((x - mx) ** 2 for x in xs))


def _board_figures(report, board, h):
    """The issue's figures of ``board``'s own configuration (``lela/configs``):
    board clock, Fmax, multipliers, training samples/s and, for the ULX3S,
    LUT4 per MAC lane, the ratios to the CPU baselines and the fraction of
    the multiplier bound."""
    from lela.boards import board_module

    h[f"{board}_board_clock_mhz"] = board_module(board).CLOCK_HZ / 1e6
    cfg = named_config(board)
    key = config_key(cfg)
    dsp = None
    build = next((b for b in (report.get("resources") or {}).get("builds", [])
                  if b["board"] == board and config_key(Config.from_dict(b["config"])) == key
                  and b.get("fmax")), None)
    if build:
        h[f"{board}_fmax_mhz"] = build["fmax"]
        dsp = next((r for r in (build.get("resources") or {}).values()
                    if r["cell"] in ("MULT18X18D", "ICESTORM_DSP")), None)
        if dsp and board == "ulx3s":
            h["ulx3s_multipliers_used"] = dsp["used"]
    rows = (report.get("throughput") or {}).get("rows", [])
    row = next((r for r in rows if r["board"] == board and list(cfg.lanes) == [r["lanes"]] *
                cfg.layers and r["clock_source"] == "Fmax"), None)
    if row is None:
        return
    h[f"{board}_train_samples_per_s"] = row["samples_per_second"]
    if board != "ulx3s":
        return
    for name, base in (("ratio_vs_numpy_batch1", "float_batch1"),
                       (f"ratio_vs_numpy_batch{throughput.BASELINE_BATCH}",
                        f"float_batch{throughput.BASELINE_BATCH}"),
                       ("ratio_vs_compiled_online", "compiled_online")):
        if base in row["ratio"]:
            h[name] = row["ratio"][base]
    if build and dsp:
        bound = multiplier_bound(cfg.sizes, dsp["available"], build["fmax"])
        h["multiplier_bound_fraction"] = row["samples_per_second"] / bound


def _mnist_board_figures(rep, h):
    """The MNIST board configuration's Fmax, board clock and training
    samples/s: at its board clock where the build meets it, else at Fmax
    (``mnist_ulx3s_clock_source`` says which)."""
    if not rep or not rep.get("fmax"):
        return
    h["mnist_ulx3s_fmax_mhz"] = rep["fmax"]
    h["mnist_ulx3s_board_clock_mhz"] = rep["clock_mhz"]
    met = bool(rep.get("timing_met"))
    clock = rep["clock_mhz"] if met else rep["fmax"]
    h["mnist_ulx3s_clock_source"] = "board clock, met" if met else "Fmax, board clock not met"
    h["mnist_ulx3s_train_samples_per_s"] = clock * 1e6 / rep["cycles_per_sample"]


def headline(report):
    """The figures the closing note quotes (None where a section did not run)."""
    h = {}
    u = report.get("utilisation")
    if u:
        h["utilisation_ratio"] = u["default"]["ratio"]
        h["utilisation_lanes"] = u["default"]["lanes"]
        h["utilisation_by_lanes"] = {str(r["lanes"][0]): r["ratio"] for r in u["rows"]}
    r = report.get("resources")
    if r:
        h["fmax_mhz"] = {b["label"]: b["fmax"] for b in r["builds"]}
        slope = lut4_per_lane(r["builds"])
        if slope is not None:
            h["ulx3s_luts_per_lane"] = slope
        _mnist_board_figures(r.get("mnist_board"), h)
    t = report.get("throughput")
    if t:
        ecp5 = [row for row in t["rows"] if row["board"] == "ulx3s"
                and row["clock_source"].startswith("Fmax")]
        ref = next((row for row in ecp5 if row["lanes"] == 4), ecp5[0] if ecp5 else None)
        if ref:
            h["throughput_ratio_vs_numpy_batch1_ecp5"] = ref["ratio"]["float_batch1"]
            h["throughput_ecp5_lanes"] = ref["lanes"]
            h["throughput_ecp5_samples_per_second"] = ref["samples_per_second"]
    for board in ("ulx3s", "icebreaker"):
        _board_figures(report, board, h)
    tr = report.get("traffic")
    if tr:
        h["traffic_ratio_vs_backprop"] = tr["ratio"]
    s = report.get("simulators")
    if s:
        v = [row for row in s["rows"] if row["simulator"].startswith("verilator")]
        if v:
            h["verilator_cycles_per_second"] = v[0]["cycles_per_second"]
    m = (report.get("accuracy") or {}).get("mnist") or {}
    if m.get("rtl"):
        h["mnist_rtl_epoch_s"] = m["rtl"]["seconds"]
    rs = report.get("rtl_speed")
    if rs:
        h["rtl_train_samples_per_s"] = rs["rows"][1]["samples_per_second"]
        h["cocotb_over_freerun"] = rs["cocotb_over_freerun"]
        h["verilator_freerun_cycles_per_s"] = rs["rows"][2]["cycles_per_second"]
    return h


def parallel_jobs(ctx, sections):
    """The expensive pieces of ``sections`` that depend on nothing else the run
    measures, as :class:`lela.sweep.Job` s: the uncached board builds of
    ``resources`` and the Verilator runs of ``utilisation`` (and ``traffic``)."""
    jobs = []
    if "utilisation" in sections or "traffic" in sections:
        jobs += utilisation.jobs(ctx, sections)
    if "resources" in sections:
        jobs += resources.jobs(ctx)
    return jobs


def run_bench(plan, *, sections=SECTIONS, build_root="build/bench", mnist=MNIST_DIR,
              resume=False, log=print, workers=None, client=None):
    """Run ``sections`` of ``plan``; returns the report dict (see :mod:`lela.bench`).

    First the independent builds and simulations (:func:`parallel_jobs`) run
    on the sweep engine (:func:`lela.sweep.run_jobs`): on ``client`` (a
    ``distributed.Client``), or on a local cluster of ``workers`` (default
    one per core; with one they run in this process). Then the sections run
    one after the other, alone, taking those results: the figures are the
    same as a serial run's, and the timed measurements (the CPU baselines, the
    simulator speeds) have nothing running beside them. The report's
    ``parallel`` entry says how many jobs ran on how many workers.

    With ``resume``, the sections that a previous run of the same plan saved in
    ``build_root`` are kept as they are (and their times with them). A figure
    that differs from the one it is checked against raises
    :class:`~.checks.BenchMismatch`."""
    from lela.sweep.engine import run_jobs

    for s in sections:
        if s not in SECTIONS:
            raise ValueError(f"section must be one of {', '.join(SECTIONS)}, not {s!r}")
    clock = Clock(log)
    ctx = Context(plan, build_root, mnist, clock)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    timings = {}
    partial = ctx.root / f"partial-{plan.name}.json"
    saved = json.loads(partial.read_text()) if resume and partial.exists() else {}
    todo = [n for n in SECTIONS if n in sections and n not in saved.get("report", {})]
    jobs = parallel_jobs(ctx, todo)
    parallel = {"jobs": len(jobs), "workers": None, "seconds": 0.0, "failed": []}
    if jobs:
        clock(f"parallel: {len(jobs)} build(s) and simulation(s) on the sweep engine")
        ran = run_jobs(jobs, client=client, workers=workers, log=lambda m: clock(f"parallel: {m}"))
        ctx.prefetched = {**ran.values, **ran.failures}
        parallel.update(workers=ran.workers, seconds=ran.seconds,
                        failed=sorted(ran.failures))
        clock(f"parallel: done in {ran.seconds:.0f} s on {ran.workers} worker(s)"
              + (f", {len(ran.failures)} failed" if ran.failures else ""))
    for name in SECTIONS:
        if name not in sections:
            ctx.skip(name, "not requested (--sections)")
            continue
        if name in saved.get("report", {}):
            ctx.report[name] = saved["report"][name]
            timings[name] = saved["timings"][name]
            ctx.skipped += [s for s in saved["skipped"] if s["section"] == name]
            if name == "utilisation":  # the runs the traffic and throughput sections use
                for run in ctx.report[name]["rows"] + ctx.report[name]["boards"]:
                    ctx.util_runs[config_key(run["config"])] = run
            clock(f"{name}: kept from {partial}")
            continue
        ts = time.perf_counter()
        ctx.report[name] = BENCHES[name](ctx)
        timings[name] = time.perf_counter() - ts
        clock(f"{name}: done in {timings[name]:.0f} s")
        # what is measured so far survives a failure later in the run (--resume)
        ctx.root.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"report": ctx.report, "timings": timings,
                                       "skipped": ctx.skipped}, default=json_default))
    kept = [name for name in SECTIONS if name in saved.get("report", {}) and name in sections]
    report = {
        "plan": plan.name, "started": started,
        "seconds": time.perf_counter() - t0 + sum(timings[k] for k in kept), "resumed": kept,
        "section_seconds": timings, "parallel": parallel, "workers": parallel["workers"],
        "skipped": ctx.skipped,
        "machine": machine(),
        "commit": git_commit(),
        **ctx.report,
    }
    report["headline"] = headline(report)
    return report


def write_report(report, out, *, json_file=True):
    """Write ``report`` into folder ``out``: the plots in ``benchmarks/`` (their names
    into ``report["plots"]``), ``benchmarks.json`` (unless not ``json_file``: a
    report read back is only rendered again) and ``benchmarks.md``, which quotes
    ``report["command"]``; returns the plots' names."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = plots(report, out / "benchmarks")
    if json_file:
        (out / "benchmarks.json").write_text(json.dumps(report, indent=1,
                                                        default=json_default))
    (out / "benchmarks.md").write_text(markdown(report, report["command"], report["seconds"]))
    return report["plots"]


def read_report(path):
    """A ``benchmarks.json`` written by :func:`write_report`."""
    return json.loads(Path(path).read_text())
