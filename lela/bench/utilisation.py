"""Section ``utilisation``: steady-state cycles per training sample measured in
Verilator for a sweep of MAC lanes, against the bound ``B``
(:func:`lela.contract.cycle_bound`) and the counter model."""

from __future__ import annotations

import hashlib

import numpy as np

from lela.contract import classifier_lanes, cycle_bound, handover_cycles
from lela.golden_model.counters import busy_cycles, layer_modes
from lela.golden_model.network import FixedNetwork

from .checks import check_counters
from .common import (
    config_key,
    digits,
    divides,
    named_config,
    run_samples,
    simulate,
    sizes_text,
    with_lanes,
)

__all__ = ["classifier_floor", "configs", "job_name", "jobs", "measure", "model_cycles",
           "utilisation_run"]


def model_cycles(cfg):
    """Steady-state cycles per training sample from the counter model: the
    slowest layer's busy cycles plus its hand-over; returns (cycles, slowest
    layer from 0, cycles per layer)."""
    per_layer = [busy_cycles(cfg, i, "train") + handover_cycles(cfg) for i in range(cfg.layers)]
    return max(per_layer), int(np.argmax(per_layer)), per_layer


def classifier_floor(cfg):
    """Cycles the error unit's ``Q`` classifier lanes need per training sample
    in the layer where they need the most: ``C`` entries per neuron for the
    scores, ``C`` again for d, ``Q`` per cycle (``2 C N_out / Q``)."""
    return max(2 * cfg.classes * cfg.sizes[i + 1] // classifier_lanes(cfg, i)
               for i in range(cfg.layers))


def job_name(cfg):
    """The name of the job that simulates ``cfg``'s utilisation run on a worker."""
    return f"bench-util-{hashlib.sha256(config_key(cfg).encode()).hexdigest()[:16]}"


def _samples(ctx, cfg):
    n = ctx.plan.util_samples
    d = digits(ctx.plan)
    x = FixedNetwork(cfg).quantize(d.x_train[:n])
    return (f"bench-util-{n}", x, d.y_train[:n], np.ones(n)), {"counters": cfg.counters}


def configs(ctx, skip=None):
    """The configurations of the lane sweep, with their labels (and the
    iCEBreaker's when the plan measures it); ``skip(section, what)`` is told
    what is left out."""
    plan, base = ctx.plan, ctx.cfg
    skip = skip or (lambda section, what: None)
    out = []
    for p in plan.lanes:
        if not divides(base, p):
            skip("utilisation", f"lanes {p} (does not divide every layer of "
                                f"{sizes_text(base.sizes)})")
            continue
        out.append((with_lanes(base, p), f"{plan.config} network"))
    if plan.board_cycles:
        out.append((named_config("icebreaker"), "icebreaker configuration"))
    else:
        skip("utilisation", "the iCEBreaker configuration's measured cycles (not in "
                            "--quick; the throughput section uses the counter model)")
    return out


def jobs(ctx, sections):
    """The Verilator runs of ``sections`` (utilisation's lane sweep; the traffic
    section's network) as :class:`lela.sweep.Job` s, independent of each other:
    one per configuration, each in its own build folder."""
    from lela.sweep.engine import Job
    from lela.sweep.measure import MEASUREMENTS, cost

    cfgs = configs(ctx) if "utilisation" in sections else []
    if "traffic" in sections:
        cfgs.append((ctx.cfg, f"{ctx.plan.config} network"))
    out = {}
    for cfg, _ in cfgs:
        name = job_name(cfg)
        if name in out or config_key(cfg) in ctx.util_runs:
            continue
        args, kwargs = _samples(ctx, cfg)
        out[name] = Job(name, simulate, (ctx.sim_root, cfg.to_dict(), *args), kwargs,
                        priority=cost(MEASUREMENTS["verilator"], cfg))
    return list(out.values())


def utilisation_run(ctx, cfg, label):
    """Measure one configuration's steady-state cycles per training sample (once
    per configuration and run: later calls return the first run, and a run
    made on a worker beforehand is taken from ``ctx.prefetched``)."""
    key = config_key(cfg)
    if key in ctx.util_runs:
        return ctx.util_runs[key]
    n = ctx.plan.util_samples
    ctx.log(f"utilisation: {label}: sizes {sizes_text(cfg.sizes)}, lanes {cfg.lanes[0]}, "
            f"{n} training samples in Verilator")
    if job_name(cfg) in ctx.prefetched:
        result, wall, build_s = ctx.take(job_name(cfg))
    else:
        args, kwargs = _samples(ctx, cfg)
        result, wall, build_s = run_samples(ctx, cfg, *args, **kwargs)
    counters_equal = None   # a configuration may leave the counters out (the iCEBreaker's)
    if cfg.counters:
        counters_equal = check_counters(cfg, result["counters"], [layer_modes(cfg, True)] * n,
                                        f"utilisation {label}")
    gaps = np.diff(result["out_cycles"])
    steady = gaps[len(gaps) // 2:]
    measured = float(result["cycles_per_sample_steady"])
    model, slowest, per_layer = model_cycles(cfg)
    bound = cycle_bound(cfg)
    run = {
        "label": label, "config": cfg.to_dict(), "sizes": list(cfg.sizes),
        "lanes": list(cfg.lanes), "classes": cfg.classes, "samples": n,
        "cycles_per_sample": measured, "bound": bound, "ratio": measured / bound,
        "model_cycles": model, "model_equal": measured == model,
        "slowest_layer": slowest + 1, "layer_cycles_model": per_layer,
        "classifier_floor": classifier_floor(cfg),
        "classifier_lanes": [classifier_lanes(cfg, i) for i in range(cfg.layers)],
        "steady_gaps_min": int(steady.min()), "steady_gaps_max": int(steady.max()),
        "counters": result["counters"], "counters_equal_model": counters_equal,
        "simulated_cycles": result["cycles"], "run_seconds": wall, "build_seconds": build_s,
    }
    ctx.util_runs[key] = run
    return run


def measure(ctx):
    """Cycles per sample vs the MAC bound for a lane sweep (and the board configs)."""
    base = ctx.cfg
    rows, boards = [], []
    for cfg, label in configs(ctx, ctx.skip):
        (boards if label == "icebreaker configuration" else rows).append(
            utilisation_run(ctx, cfg, label))
    default = next((r for r in rows if r["lanes"] == list(base.lanes)), rows[0])
    return {"sizes": list(base.sizes), "classes": base.classes, "rows": rows,
            "boards": boards, "default": {"lanes": default["lanes"][0],
                                          "ratio": default["ratio"],
                                          "cycles_per_sample": default["cycles_per_sample"],
                                          "bound": default["bound"]}}
