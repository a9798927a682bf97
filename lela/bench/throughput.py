"""Section ``throughput``: training samples/s at Fmax (cycles from
``utilisation``) against the CPU baselines measured in the same run: the float
model with batch 1 and with mini-batch :data:`BASELINE_BATCH`, the
fixed-point model, and the same online rule compiled for one core
(:class:`~lela.bench.compiled.CompiledOnline`, float32)."""

from __future__ import annotations

import contextlib
import time

import numpy as np

from lela.data import load_digits
from lela.golden_model.float_model import FloatNetwork
from lela.golden_model.network import FixedNetwork

from .common import config_key, divides, named_config, sizes_text, with_lanes
from .compiled import CompiledOnline
from .machine import cpu_name, loadavg
from .resources import fmax
from .utilisation import model_cycles

__all__ = ["BASELINE_BATCH", "cpu_baselines", "measure"]

#: Mini-batch of the second float baseline.
BASELINE_BATCH = 32


def _blas_one_thread():
    """A context limiting BLAS to one thread (threadpoolctl if installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext(), "library default"
    return threadpool_limits(1), 1


def cpu_baselines(cfg, dataset, samples=None, repeats=3):
    """Training samples/s of the float model (batch 1 and :data:`BASELINE_BATCH`), of
    the fixed-point model and of the compiled online rule on this machine; the
    best of ``repeats`` runs."""
    x, y = dataset.x_train[:samples], dataset.y_train[:samples]
    n = len(y)
    order = np.arange(n)
    limits, threads = _blas_one_thread()
    times = {"float_batch1": [], f"float_batch{BASELINE_BATCH}": [], "fixed": [],
             "compiled_online": []}
    CompiledOnline(cfg).train_epoch(x[:2], y[:2])   # compile once, outside the timing
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
            compiled = CompiledOnline(cfg)
            t0 = time.perf_counter()
            compiled.train_epoch(x, y, order)
            times["compiled_online"].append(time.perf_counter() - t0)
    return {"sizes": list(cfg.sizes), "samples": n, "repeats": repeats,
            "blas_threads": threads, "loadavg": loadavg(),
            "samples_per_second": {k: n / min(v) for k, v in times.items()},
            "seconds": {k: v for k, v in times.items()}}


def measure(ctx):
    """Samples/s at Fmax per board and lanes vs the CPU baselines of the same network."""
    from lela.boards import icebreaker, ulx3s

    res = ctx.report.get("resources") or {"builds": []}
    built = {(b["board"], config_key(b["config"])): b for b in res["builds"]}
    plan = ctx.plan
    rows_spec = []
    for p in plan.ecp5_lanes:
        cfg = with_lanes(named_config("ulx3s"), p)
        if divides(cfg, p):
            rows_spec.append(("ulx3s", cfg, ulx3s.CLOCK_HZ / 1e6))
    rows_spec.append(("icebreaker", named_config("icebreaker"), icebreaker.CLOCK_HZ / 1e6))
    baselines, rows = {}, []
    digits = load_digits()
    for board, cfg, nominal in rows_spec:
        key = config_key(cfg)
        run = ctx.util_runs.get(key)
        if run is not None:
            cycles, source = run["cycles_per_sample"], "measured (Verilator)"
        else:
            cycles, source = model_cycles(cfg)[0], "counter model"
        rep = built.get((board, key))
        f = fmax(rep)
        mhz, clock_source = (f, "Fmax") if f else (nominal, "board clock, not synthesized")
        sizes = tuple(cfg.sizes)
        if sizes not in baselines:
            ctx.log(f"throughput: CPU baselines for network {sizes_text(cfg.sizes)}")
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
            "cpu": cpu_name(), "baseline_batch": BASELINE_BATCH}
