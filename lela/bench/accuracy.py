"""Section ``accuracy``: per-layer test error of the float model, the fixed-point
model and the RTL (Verilator) after the same online training on digits; the RTL
must equal the fixed-point model. MNIST, when its folder exists: the float and
fixed-point models and the RTL (``lela/configs/mnist.toml``, one epoch and the
test set through the RTL, equal to the fixed-point model)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from lela.data import load_idx
from lela.golden_model.float_model import FloatNetwork
from lela.golden_model.network import FixedNetwork

from .checks import check_equal
from .common import digits, named_config, sizes_text, train_order

__all__ = ["measure", "rtl_equals_fixed"]


def rtl_equals_fixed(rtl, fixed_error, n_test, where="accuracy (RTL, Verilator)"):
    """Whether the RTL run ``rtl`` (:func:`lela.sim.train.train_rtl`'s report)
    misclassified as many test samples per layer as the fixed-point model did
    (``fixed_error``: fractions of ``n_test``) — compared as counts, exact unlike
    ``1 - accuracy``; a difference raises :class:`~.checks.BenchMismatch`
    naming ``where``."""
    rtl_wrong = [round((1.0 - a) * n_test) for a in rtl["test_accuracy_rtl"]]
    return (check_equal(where, "test accuracy per layer of train_rtl's own model run",
                        rtl["test_accuracy_rtl"], rtl["test_accuracy_model"],
                        got_name="RTL", want_name="fixed-point model", index="layer (from 0)")
            and check_equal(where, f"misclassified test samples per layer (of {n_test})",
                            rtl_wrong, [round(e * n_test) for e in fixed_error],
                            got_name="RTL", want_name="fixed-point model",
                            index="layer (from 0)"))


def measure(ctx):
    """Per-layer test error: float vs fixed-point on digits after ``epochs``; the RTL
    against both after ``rtl_epochs`` (equal to the fixed-point model); MNIST
    (:func:`_mnist_accuracy`)."""
    from lela.sim.train import train_rtl

    cfg, plan = ctx.cfg, ctx.plan
    d = digits(plan)
    epochs = max(plan.epochs, plan.rtl_epochs)
    orders = train_order(len(d.y_train), epochs)
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
    n_test = len(d.y_test)
    fixed_at_rtl = at[plan.rtl_epochs][1]
    equal_fixed = rtl_equals_fixed(rtl, fixed_at_rtl, n_test)
    rtl_err = [round((1.0 - a) * n_test) / n_test for a in rtl["test_accuracy_rtl"]]
    out = {
        "dataset": "digits", "sizes": list(cfg.sizes), "lanes": list(cfg.lanes),
        "feedback": cfg.feedback, "eta_shift": cfg.eta_shift, "epochs": plan.epochs,
        "train_samples": len(d.y_train), "test_samples": len(d.y_test), "order_seed": 0,
        "float_error": at[plan.epochs][0], "fixed_error": at[plan.epochs][1],
        "float_seconds": float_s, "fixed_seconds": fixed_s,
        "rtl": {"epochs": plan.rtl_epochs, "float_error": at[plan.rtl_epochs][0],
                "fixed_error": fixed_at_rtl, "rtl_error": rtl_err, "equal_fixed": equal_fixed,
                "train_samples": rtl["train_samples"],
                "simulated_cycles": rtl["simulated_cycles"], "seconds": rtl["run_seconds"],
                "cycles_per_second": rtl["simulated_cycles_per_second"]},
    }
    out["mnist"] = _mnist_accuracy(ctx)
    return out


def _mnist_accuracy(ctx):
    """MNIST with ``plan.mnist_config``: the float and the fixed-point model after
    ``mnist_epochs`` online, and (``plan.mnist_rtl``) the same training through
    the RTL, every result checked, its test errors equal to the fixed-point model's."""
    from lela.sim.train import train_rtl

    plan = ctx.plan
    if plan.mnist_config is None:
        ctx.skip("accuracy", "MNIST (not in --quick)")
        return None
    if not ctx.mnist or not Path(ctx.mnist).is_dir():
        ctx.skip("accuracy", f"MNIST (no folder {ctx.mnist!r})")
        return None
    d = load_idx(ctx.mnist, "mnist")
    cfg = named_config(plan.mnist_config)
    ctx.log(f"accuracy: MNIST, network {sizes_text(cfg.sizes)}, {plan.mnist_epochs} epoch(s) "
            f"online, float and fixed-point models")
    orders = train_order(len(d.y_train), plan.mnist_epochs)
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
    out = {"dataset": "mnist", "config": plan.mnist_config, "sizes": list(cfg.sizes),
           "lanes": list(cfg.lanes), "epochs": plan.mnist_epochs,
           "train_samples": len(d.y_train), "test_samples": len(d.y_test),
           "float_error": float_err, "fixed_error": fixed_err, "float_seconds": float_s,
           "fixed_seconds": time.perf_counter() - t0, "rtl": None}
    if not plan.mnist_rtl:
        ctx.skip("accuracy", "MNIST through the RTL (plan.mnist_rtl is off)")
        return out
    ctx.log(f"accuracy: MNIST, {plan.mnist_epochs} epoch(s) and the test set through the RTL "
            "(Verilator, every result checked against the fixed-point model)")
    rtl = train_rtl(cfg, d, epochs=plan.mnist_epochs, sim="verilator", build_root=ctx.sim_root,
                    progress=False, log=lambda *a: None)
    n_test = len(d.y_test)
    out["rtl"] = {
        "rtl_error": [round((1.0 - a) * n_test) / n_test for a in rtl["test_accuracy_rtl"]],
        "equal_fixed": rtl_equals_fixed(rtl, fixed_err, n_test, "accuracy (MNIST, RTL)"),
        "train_samples": rtl["train_samples"], "test_samples": rtl["test_samples"],
        "seconds": rtl["run_seconds"], "build_seconds": rtl["build_seconds"],
        "simulated_cycles": rtl["simulated_cycles"],
        "cycles_per_second": rtl["simulated_cycles_per_second"],
        "samples_per_second": rtl["samples_per_second"],
        "cycles_per_sample": rtl["cycles_per_sample"], "cycle_bound": rtl["cycle_bound"]}
    return out
