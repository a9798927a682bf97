"""``lela train``: train a network in cycle-accurate simulation of the generated RTL.

Every sample's result (predictions, scores, weight digests) is compared with
the fixed-point model as it comes out; at the end the per-layer test accuracy
of the RTL is reported beside the model's (they must be equal), with the
measured cycles per sample, its ratio to the bound, the weight-memory words
moved per sample and the projected training throughput at a clock.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["BOARD_CLOCKS_MHZ", "add_arguments", "cycle_bound", "run", "train_rtl"]

def _board_clocks_mhz():
    from lela.boards import icebreaker, ulx3s
    return {"ulx3s": ulx3s.CLOCK_HZ / 1e6, "icebreaker": icebreaker.CLOCK_HZ / 1e6}


#: Clock of each board's build (MHz, from the board files); the default
#: projection uses the first.
BOARD_CLOCKS_MHZ = _board_clocks_mhz()


def cycle_bound(cfg):
    """B = max over layers of 2 N_in N_out / P (forward + update, one weight per lane per cycle)."""
    return max(2 * cfg.sizes[i] * cfg.sizes[i + 1] // cfg.lanes[i] for i in range(cfg.layers))


def epoch_order(count, epoch, seed=0):
    """The order of the training samples in ``epoch`` (fixed by ``seed``)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def add_arguments(parser):
    from lela.cli import add_config_arguments

    parser.add_argument("--dataset", default="digits",
                        help="'digits' (embedded, default) or a folder of MNIST-style IDX files")
    parser.add_argument("--epochs", type=int, default=7, help="training epochs (default 7)")
    parser.add_argument("--train-samples", type=int, help="use only the first N training samples")
    parser.add_argument("--test-samples", type=int, help="use only the first N test samples")
    parser.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    parser.add_argument("--check-every", type=int, default=1, metavar="N",
                        help="compare with the model every N samples (default 1: every sample)")
    parser.add_argument("--board", choices=tuple(BOARD_CLOCKS_MHZ), default="ulx3s",
                        help="board whose clock the throughput projection uses")
    parser.add_argument("--clock-mhz", type=float, help="clock for the projection (default: the board's)")
    parser.add_argument("--order-seed", type=int, default=0, help="seed of the sample order")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--build-dir", default="build/sim", help="root of the simulator builds")
    parser.add_argument("--waves", action="store_true", help="write a waveform (FST/VCD)")
    parser.add_argument("--no-progress", action="store_true")
    add_config_arguments(parser)


def train_rtl(cfg, dataset, *, epochs=7, sim="verilator", check_every=1, order_seed=0,
              build_root="build/sim", waves=False, progress=True, log=print):
    """Train ``cfg`` on ``dataset`` in simulation; returns the report dict."""
    from lela.golden_model.counters import COUNTERS
    from lela.golden_model.network import FixedNetwork

    from .runner import build, run_job

    cfg.check_hardware()
    if len(dataset.y_train) == 0 or len(dataset.y_test) == 0:
        raise ValueError(f"dataset {dataset.name!r} needs training and test samples "
                         f"(has {len(dataset.y_train)} and {len(dataset.y_test)})")
    if dataset.features != cfg.sizes[0]:
        raise ValueError(f"dataset {dataset.name!r} has {dataset.features} inputs but the "
                         f"configuration's sizes[0] is {cfg.sizes[0]}")
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


def run(args):
    from lela.cli import config_from_args
    from lela.data import load_dataset

    cfg = config_from_args(args)
    dataset = load_dataset(args.dataset).subset(args.train_samples, args.test_samples)
    report = train_rtl(cfg, dataset, epochs=args.epochs, sim=args.sim,
                       check_every=args.check_every, order_seed=args.order_seed,
                       build_root=args.build_dir, waves=args.waves,
                       progress=not args.no_progress)
    mhz = args.clock_mhz or BOARD_CLOCKS_MHZ[args.board]
    report["clock_mhz"] = mhz
    report["projected_train_samples_per_s"] = mhz * 1e6 / report["cycles_per_sample"]
    print()
    print("per-layer test accuracy (RTL)   : "
          + "  ".join(f"L{i + 1} {a:.2%}" for i, a in enumerate(report["test_accuracy_rtl"])))
    print("per-layer test accuracy (model) : "
          + "  ".join(f"L{i + 1} {a:.2%}" for i, a in enumerate(report["test_accuracy_model"])))
    print(f"bit-exact against the model     : every {report['checked_every']} sample(s) checked; "
          f"accuracies {'equal' if report['equal_to_model'] else 'DIFFER'}")
    print(f"cycles per sample (steady state): {report['cycles_per_sample']:.0f} "
          f"= {report['ratio_to_bound']:.3f} x the bound B = {report['cycle_bound']}")
    if report["weight_words_per_sample"] is not None:
        print(f"weight-memory words per sample  : {report['weight_words_per_sample']:.0f} "
              f"(read + written, all layers)")
    print(f"projected training throughput   : {report['projected_train_samples_per_s']:,.0f} "
          f"samples/s at {mhz:g} MHz")
    print(f"simulation                      : {report['simulated_cycles']:,} cycles in "
          f"{report['run_seconds']:.1f} s ({report['simulated_cycles_per_second']:,.0f} cycles/s), "
          f"build {report['build_seconds']:.1f} s")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    if not report["equal_to_model"]:
        print("lela train: the RTL's accuracies differ from the model's", file=sys.stderr)
        return 1
    return 0
