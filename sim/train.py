"""Train a network in cycle-accurate simulation of the generated RTL (``lela train``).

The samples run through the streaming top (:mod:`lela.sim.stream`) at the
simulator's own speed while the fixed-point model steps through the same
samples beside it; then every sample's result (predictions, scores, weight
digests) is compared with the model's. The report gives the per-layer test
accuracy of the RTL beside the model's (they must be equal), the measured
cycles per sample, its ratio to the bound, the weight-memory words moved per
sample (the counters, read through the access port between the training and
the test samples) and the simulator's speed.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from lela.config import ConfigError
from lela.contract import COUNTERS, cycle_bound
from lela.data import check_dataset
from lela.golden_model.network import FixedNetwork, initial_weights
from lela.golden_model.schedule import layerwise_phases, training_order

from .runner import build, run_job
from .stream import (
    STREAM_TOP,
    check_results,
    decode_results,
    expected_results,
    read_results,
    write_loads,
    write_samples,
)

__all__ = ["load_plusargs", "run_stream", "train_rtl"]


def _progress(future, path, total):
    """A progress bar on stderr from the results file's lines until ``future`` is done
    (each second it reads only what the simulator appended since)."""
    from tqdm import tqdm
    with tqdm(total=total, unit="sample", file=sys.stderr, mininterval=1.0,
              dynamic_ncols=True) as bar:
        offset = 0
        while not future.done():
            time.sleep(1.0)
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(offset)
                    chunk = f.read()
                offset += len(chunk)
                bar.update(chunk.count(b"\n"))
        bar.update(total - bar.n)


def run_stream(cfg, x, label, train, *, sim="verilator", check_every=1, seed=0, idle=0,
               backpressure=0, early_exit=(0, 0), pause_at=None, learn=(),
               build_root="build/sim", waves=False, progress=False, log=print, name="train",
               measure_startup=False):
    """Run the samples ``x`` (quantized) through ``lela_stream`` on ``sim``
    while the fixed-point model steps through them, then compare every
    ``check_every``-th result with the model's (:class:`~.stream.Mismatch`
    names the first difference). ``idle`` and ``backpressure`` are
    probabilities in 256ths (the generator seeded from
    ``seed % (2**31 - 1) + 1``, never 0);
    ``pause_at`` reads the counters after that many samples (else at the
    end, when the configuration has them); ``learn`` lists ``(n, flags)``:
    the stream pauses before sample ``n`` and the testbench writes the
    layers' control words ``learn`` (the model does the same). Returns a dict: ``results`` (the
    decoded result beats), ``cycles`` (the cycle of each), ``model_pred``,
    ``samples_file`` and ``results_file`` (the files of the run),
    ``result`` (the testbench's: counters), ``run_seconds``, ``build_seconds``
    and, with ``measure_startup``, ``startup_seconds`` (the simulator's
    start and end, measured on a run of no samples; else None)."""
    for what, value in (("idle", idle), ("backpressure", backpressure)):
        if not 0 <= value < 256:
            raise ValueError(f"{what} must be in [0, 255] (256ths), not {value}")
    log(f"lela train: building the RTL for {sim} ...")
    runner, bdir, manifest, build_s = build(cfg, sim, root=build_root, waves=waves,
                                            top=STREAM_TOP)
    log(f"lela train: build took {build_s:.1f} s ({bdir})")
    jobdir = bdir / "jobs" / name
    jobdir.mkdir(parents=True, exist_ok=True)
    samples, results = jobdir / "samples.bin", jobdir / "results.txt"
    write_samples(manifest, x, label, train, samples)
    plusargs = [f"+samples={samples}", f"+results={results}", f"+count={len(label)}",
                f"+idle={idle}", f"+backpressure={backpressure}",
                f"+stall_seed={seed % 0x7FFFFFFF + 1}",
                f"+early_exit={int(early_exit[0])}", f"+threshold={int(early_exit[1])}"]
    plusargs += load_plusargs(manifest, cfg, jobdir)
    if learn and not cfg.control:
        raise ConfigError("control: writing the control words learn needs them, not False")
    flags = {int(n): [bool(v) for v in f] for n, f in learn}
    ats = sorted(set(flags) | ({pause_at} if pause_at is not None else set()))
    pauses = [{"at": n, "counters": n == pause_at, "learn": flags.get(n)} for n in ats]
    if pauses:
        plusargs.append(f"+pause_at={ats[0]}")
    job = {"config": cfg.to_dict(), "counters": cfg.counters and pause_at is None,
           "pauses": pauses}
    startup = None
    if measure_startup:
        t0 = time.perf_counter()
        run_job(runner, bdir, dict(job, counters=False), name=f"{name}-empty",
                plusargs=[f"+samples={samples}", f"+results={jobdir / 'empty.txt'}",
                          "+count=0"])
        startup = time.perf_counter() - t0
    if results.exists():
        results.unlink()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        # the simulator is a process of its own: the model runs beside it
        future = pool.submit(run_job, runner, bdir, job, waves=waves, name=name,
                             plusargs=plusargs)
        expected, model_pred = expected_results(cfg, x, label, train, check_every=check_every,
                                                early_exit=early_exit, learn=learn)
        if progress:
            _progress(future, results, len(label))
        result = future.result()
    run_s = time.perf_counter() - t0
    payloads, cycles = read_results(results)
    got = decode_results(manifest, payloads, seed=seed)
    check_results(cfg, got, expected, seed=seed)
    return {"results": got, "cycles": cycles, "model_pred": model_pred, "result": result,
            "run_seconds": run_s, "startup_seconds": startup, "build_seconds": build_s,
            "samples_file": samples, "results_file": results}


def load_plusargs(manifest, cfg, jobdir):
    """The plusargs that make ``lela_stream`` write the model's initial
    weights through the access port before the first sample, for a design
    whose weight memories have no initial contents (the manifest's
    ``weights_loaded_at_start``; the host does the same on a board); none
    for the others."""
    if not manifest["weights_loaded_at_start"]:
        return []
    path = jobdir / "load.bin"
    count = write_loads(manifest, initial_weights(cfg), path)
    return [f"+load={path}", f"+load_count={count}"]


def train_rtl(cfg, dataset, *, epochs=7, schedule="simultaneous", sim="verilator",
              check_every=1, order_seed=0, build_root="build/sim", waves=False, progress=True,
              log=print):
    """Train ``cfg`` on ``dataset`` in simulation; returns the report dict.

    ``schedule`` ``layerwise`` trains layer 1 alone for ``epochs``, then layer
    2 alone, ... (the host clears the other layers' control word ``learn``
    between the phases)."""
    cfg.check_hardware()
    check_dataset(cfg, dataset)
    if check_every < 1:
        raise ValueError(f"check_every must be at least 1, not {check_every}")
    order = training_order(cfg, len(dataset.x_train), epochs, schedule, order_seed)
    if schedule == "layerwise" and not cfg.control:
        raise ConfigError("control: the layer-wise schedule needs the layers' control words, "
                          "not False")
    model = FixedNetwork(cfg)
    x_train, x_test = model.quantize(dataset.x_train), model.quantize(dataset.x_test)
    learn = layerwise_phases(cfg, epochs, len(x_train)) if schedule == "layerwise" else []
    n_train = len(order)
    x = np.concatenate([x_train[order], x_test])
    label = np.concatenate([dataset.y_train[order], dataset.y_test])
    train = np.concatenate([np.ones(n_train, np.int64), np.zeros(len(x_test), np.int64)])

    each = " for each layer in turn" if schedule == "layerwise" else ""
    log(f"lela train: {epochs} epoch(s){each} x {len(x_train)} samples, then {len(x_test)} "
        f"test samples, checked against the fixed-point model every {check_every} sample(s)")
    # the counters as the training ended: read before the first test sample,
    # or at the very end when there is none
    run = run_stream(cfg, x, label, train, sim=sim, check_every=check_every, seed=order_seed,
                     pause_at=n_train if cfg.counters and len(x_test) else None, learn=learn,
                     build_root=build_root, waves=waves, progress=progress, log=log)
    got, model_pred, result = run["results"], run["model_pred"], run["result"]
    rtl_pred = np.array([g["pred"] for g in got[n_train:]], dtype=np.int64)
    rtl_err = (rtl_pred.reshape(-1, cfg.layers) != dataset.y_test[:, None]).mean(axis=0)
    model_err = (model_pred[n_train:] != dataset.y_test[:, None]).mean(axis=0)
    run_s, out_cycles = run["run_seconds"], run["cycles"]
    gaps = np.diff(np.array(out_cycles[:n_train]))
    cycles = float(np.median(gaps[len(gaps) // 2:])) if len(gaps) else float("nan")
    bound = cycle_bound(cfg)
    words, weight_words = None, None   # the configuration may leave the counters out
    if cfg.counters:
        per_layer = result["counters_at"] or result["counters"]
        words = {name: [row[name] / n_train for row in per_layer] for name in COUNTERS}
        weight_words = sum(words["weight_reads"]) + sum(words["weight_writes"])
    simulated = out_cycles[-1] if out_cycles else 0
    return {
        "config": cfg.to_dict(), "dataset": dataset.name, "simulator": sim,
        "epochs": epochs, "schedule": schedule, "train_samples": n_train, "test_samples": len(x_test),
        "checked_every": check_every,
        "test_accuracy_rtl": [float(1 - e) for e in rtl_err],
        "test_accuracy_model": [float(1 - e) for e in model_err],
        "equal_to_model": bool(np.array_equal(rtl_err, model_err)),
        "cycles_per_sample": cycles, "cycle_bound": bound, "ratio_to_bound": cycles / bound,
        "counters_per_sample": words, "weight_words_per_sample": weight_words,
        "build_seconds": run["build_seconds"], "run_seconds": run_s,
        "simulated_cycles": simulated,
        "simulated_cycles_per_second": simulated / run_s,
        "samples_per_second": len(label) / run_s,
    }
