"""Section ``early_exit``: accuracy of the early-exit decision and mean busy
cycles per inference against the margin threshold (fixed-point model and
``golden_model.counters``), checked in the RTL at a few thresholds."""

from __future__ import annotations

import numpy as np

from lela.golden_model import error_unit
from lela.golden_model.counters import layer_modes, per_sample
from lela.golden_model.network import FixedNetwork

from .checks import check_equal
from .common import digits, run_samples, train_order

__all__ = ["EXIT_QUANTILES", "exit_cycles", "exit_decisions", "measure", "rtl_equals_model"]

#: Thresholds of the early-exit curve: these quantiles of layer 1's margins.
EXIT_QUANTILES = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))


def exit_decisions(margins, preds, threshold):
    """Exit layer and prediction per sample for an integer margin threshold
    (None: early exit off), from the per-layer margins and predictions
    (layers x n, ``golden_model.error_unit.margin`` and ``prediction``)."""
    L, n = margins.shape
    exit_layer = np.full(n, L - 1)
    if threshold is not None:
        for i in range(L - 2, -1, -1):   # the first layer whose margin is large enough
            exit_layer = np.where(margins[i] >= threshold, i, exit_layer)
    return exit_layer, preds[exit_layer, np.arange(n)]


def exit_cycles(cfg, exit_layer):
    """Busy cycles of every layer for one inference answered at ``exit_layer``."""
    return sum(per_sample(cfg, i, m)["busy_cycles"]
               for i, m in enumerate(layer_modes(cfg, False, int(exit_layer))))


def rtl_equals_model(threshold, result, exit_layer, pred, model_busy):
    """Whether the RTL run ``result`` at ``threshold`` exited at the model's
    layers (``exit_layer``), predicted the model's classes there (``pred``) and
    counted the model's busy cycles (``model_busy``, summed over layers and
    samples); a difference raises :class:`~.checks.BenchMismatch`."""
    where = f"early exit, threshold {threshold}"
    n = len(exit_layer)
    got_exit = np.array(result["exit"])
    if not check_equal(where, "exit layer (from 0) per test sample", got_exit, exit_layer,
                       got_name="RTL", want_name="model", index="test sample"):
        return False
    got_pred = np.array(result["pred"])[np.arange(n), got_exit]
    busy = sum(row["busy_cycles"] for row in result["counters"])
    return (check_equal(where, "prediction per test sample", got_pred, pred,
                        got_name="RTL", want_name="model", index="test sample")
            and check_equal(where, "busy cycles of every layer and test sample", busy,
                            model_busy, got_name="RTL counters",
                            want_name="golden_model.counters"))


def measure(ctx):
    """Accuracy and mean busy cycles per inference vs the margin threshold."""
    cfg, plan = ctx.cfg, ctx.plan
    d = digits(plan)
    model = ctx.trained
    if model is None:  # the accuracy section did not run: train here
        model = FixedNetwork(cfg)
        xq = model.quantize(d.x_train)
        for order in train_order(len(d.y_train), plan.epochs):
            for n in order:
                model.train_step(xq[n], int(d.y_train[n]))
    xtq = model.quantize(d.x_test)
    scores = [[s for _, _, s in model.forward(x)] for x in xtq]  # n x L x C
    margins = np.array([[error_unit.margin(s) for s in row] for row in scores]).T  # L x n
    preds = np.array([[error_unit.prediction(s) for s in row] for row in scores]).T
    cycles_at = [exit_cycles(cfg, i) for i in range(cfg.layers)]
    thresholds = sorted({int(v) for v in np.quantile(margins[0], EXIT_QUANTILES)})
    curve = []
    for t in thresholds + [None]:
        exit_layer, pred = exit_decisions(margins, preds, t)
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
        result, wall, _ = run_samples(ctx, cfg, f"bench-exit-{t}", xtq, d.y_test,
                                      np.zeros(n), early_exit=[1, t], counters=True,
                                      preload=str(weights.resolve()))
        exit_layer, pred = exit_decisions(margins, preds, t)
        equal = rtl_equals_model(t, result, exit_layer, pred,
                                 sum(cycles_at[e] for e in exit_layer))
        got_pred = np.array(result["pred"])[np.arange(n), np.array(result["exit"])]
        busy = sum(row["busy_cycles"] for row in result["counters"])
        rtl.append({"threshold": t, "samples": n,
                    "accuracy": float(np.mean(got_pred == d.y_test)),
                    "mean_cycles": busy / n, "equal_model": equal, "run_seconds": wall})
    return {"sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "test_samples": n,
            "act_frac": cfg.act_frac, "cycles_at_layer": cycles_at,
            "top_layer_accuracy": curve[-1]["accuracy"], "curve": curve, "rtl": rtl}
