"""Section ``utilisation``: steady-state cycles per training sample measured in
Verilator for a sweep of MAC lanes, against the bound ``B``
(:func:`lela.contract.cycle_bound`) and the counter model."""

from __future__ import annotations

import numpy as np

from lela.contract import cycle_bound
from lela.golden_model.counters import busy_cycles, layer_modes
from lela.golden_model.network import FixedNetwork

from .checks import check_counters
from .common import config_key, digits, divides, named_config, run_samples, sizes_text, with_lanes

__all__ = ["classifier_floor", "measure", "model_cycles", "utilisation_run"]


def model_cycles(cfg):
    """Steady-state cycles per training sample from the counter model: the
    slowest layer's busy cycles plus its accepting cycle; returns (cycles,
    slowest layer from 0, cycles per layer)."""
    per_layer = [busy_cycles(cfg, i, "train") + 1 for i in range(cfg.layers)]
    return max(per_layer), int(np.argmax(per_layer)), per_layer


def classifier_floor(cfg):
    """Cycles the error unit's one multiplier needs per training sample in the
    slowest layer: C entries per neuron for the scores, C again for d."""
    return max(2 * cfg.classes * n for n in cfg.sizes[1:])


def utilisation_run(ctx, cfg, label):
    """Measure one configuration's steady-state cycles per training sample (once
    per configuration and run: later calls return the first run)."""
    key = config_key(cfg)
    if key in ctx.util_runs:
        return ctx.util_runs[key]
    n = ctx.plan.util_samples
    d = digits(ctx.plan)
    x = FixedNetwork(cfg).quantize(d.x_train[:n])
    ctx.log(f"utilisation: {label}: sizes {sizes_text(cfg.sizes)}, lanes {cfg.lanes[0]}, "
            f"{n} training samples in Verilator")
    result, wall, build_s = run_samples(ctx, cfg, f"bench-util-{n}", x, d.y_train[:n],
                                        np.ones(n), counters=cfg.counters)
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
        "steady_gaps_min": int(steady.min()), "steady_gaps_max": int(steady.max()),
        "counters": result["counters"], "counters_equal_model": counters_equal,
        "simulated_cycles": result["cycles"], "run_seconds": wall, "build_seconds": build_s,
    }
    ctx.util_runs[key] = run
    return run


def measure(ctx):
    """Cycles per sample vs the MAC bound for a lane sweep (and the board configs)."""
    plan, base = ctx.plan, ctx.cfg
    rows = []
    for p in plan.lanes:
        if not divides(base, p):
            ctx.skip("utilisation", f"lanes {p} (does not divide every layer of "
                                    f"{sizes_text(base.sizes)})")
            continue
        rows.append(utilisation_run(ctx, with_lanes(base, p), f"{plan.config} network"))
    boards = []
    if plan.board_cycles:
        cfg = named_config("icebreaker")
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
