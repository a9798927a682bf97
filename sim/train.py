"""Train a network in cycle-accurate simulation of the generated RTL (``lela train``).

Every sample's result (predictions, scores, weight digests) is compared with
the fixed-point model as it comes out; at the end the per-layer test accuracy
of the RTL is reported beside the model's (they must be equal), with the
measured cycles per sample, its ratio to the bound, the weight-memory words
moved per sample and the projected training throughput at a clock.
"""

from __future__ import annotations

import time

import numpy as np

from lela.contract import COUNTERS, cycle_bound
from lela.data import check_dataset
from lela.golden_model.network import FixedNetwork

from .runner import build, run_job

__all__ = ["epoch_order", "train_rtl"]


def epoch_order(count, epoch, seed=0):
    """The order of the training samples in ``epoch`` (fixed by ``seed``)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def train_rtl(cfg, dataset, *, epochs=7, sim="verilator", check_every=1, order_seed=0,
              build_root="build/sim", waves=False, progress=True, log=print):
    """Train ``cfg`` on ``dataset`` in simulation; returns the report dict."""
    cfg.check_hardware()
    check_dataset(cfg, dataset)
    model = FixedNetwork(cfg)
    x_train, x_test = model.quantize(dataset.x_train), model.quantize(dataset.x_test)
    order = np.concatenate([epoch_order(len(x_train), e, order_seed) for e in range(epochs)])
    n_train = len(order)
    x = np.concatenate([x_train[order], x_test])
    label = np.concatenate([dataset.y_train[order], dataset.y_test])
    train = np.concatenate([np.ones(n_train, np.int64), np.zeros(len(x_test), np.int64)])

    log(f"lela train: building the RTL for {sim} ...")
    runner, bdir, _, build_s = build(cfg, sim, root=build_root, waves=waves)
    log(f"lela train: build took {build_s:.1f} s ({bdir})")
    data = bdir / "jobs" / "train-data.npz"
    data.parent.mkdir(parents=True, exist_ok=True)
    np.savez(data, x=x, label=label, train=train)
    job = {"config": cfg.to_dict(), "data": str(data), "seed": order_seed,
           "check_every": check_every, "progress": progress,
           "drain_at": [n_train] if cfg.counters else [], "counters": cfg.counters}
    log(f"lela train: {epochs} epoch(s) x {len(x_train)} samples, then {len(x_test)} test "
        f"samples, checked against the fixed-point model every {check_every} sample(s)")
    t0 = time.perf_counter()
    result = run_job(runner, bdir, job, waves=waves, name="train")
    run_s = time.perf_counter() - t0

    # the same run in the model alone, for the accuracy that the RTL must equal
    for n in order:
        model.train_step(x_train[n], int(dataset.y_train[n]))
    model_err = model.evaluate(x_test, dataset.y_test)
    pred = np.array(result["pred"])
    rtl_err = (pred[n_train:] != dataset.y_test[:, None]).mean(axis=0)

    out = np.array(result["out_cycles"][:n_train])
    gaps = np.diff(out)
    cycles = float(np.median(gaps[len(gaps) // 2:])) if len(gaps) else float("nan")
    bound = cycle_bound(cfg)
    # counters as the training ended: read before the first test sample, or
    # at the very end when there is none
    words, weight_words = None, None   # the configuration may leave the counters out
    if cfg.counters:
        per_layer = result["counters_at"].get(str(n_train)) or result["counters"]
        words = {name: [row[name] / n_train for row in per_layer] for name in COUNTERS}
        weight_words = sum(words["weight_reads"]) + sum(words["weight_writes"])
    return {
        "config": cfg.to_dict(), "dataset": dataset.name, "simulator": sim,
        "epochs": epochs, "train_samples": n_train, "test_samples": len(x_test),
        "checked_every": check_every,
        "test_accuracy_rtl": [float(1 - e) for e in rtl_err],
        "test_accuracy_model": [float(1 - e) for e in model_err],
        "equal_to_model": bool(np.array_equal(rtl_err, model_err)),
        "cycles_per_sample": cycles, "cycle_bound": bound, "ratio_to_bound": cycles / bound,
        "counters_per_sample": words, "weight_words_per_sample": weight_words,
        "build_seconds": build_s, "run_seconds": run_s,
        "simulated_cycles": result["cycles"],
        "simulated_cycles_per_second": result["cycles"] / run_s,
    }
