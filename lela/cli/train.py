"""``lela train``: train a network in cycle-accurate simulation of the generated RTL."""

from __future__ import annotations

import sys

from lela.boards import BOARDS, board_module
from lela.config import Config, config_file
from lela.data import load_dataset
from lela.sim.runner import SIMULATORS
from lela.sim.train import train_rtl

from . import (
    CommandError,
    add_config_arguments,
    add_schedule_arguments,
    config_from_args,
    output_dir,
    output_file,
    positive,
    write_json,
)
from .build import settings_of

__all__ = ["BOARD_CLOCKS_MHZ", "add_arguments", "projection_board", "run"]

#: Clock of each board's build (MHz, from the board files).
BOARD_CLOCKS_MHZ = {name: board_module(name).CLOCK_HZ / 1e6 for name in BOARDS}


def projection_board(cfg, board=None):
    """The board whose clock projects the throughput: ``board``, else the one
    whose own configuration (``lela/configs/<board>.toml``) ``cfg`` is, else
    the ULX3S."""
    if board is not None:
        return board
    return next((name for name in BOARDS if Config.from_toml(config_file(name)) == cfg),
                "ulx3s")


def add_arguments(parser):
    """The flags of ``lela train``."""
    parser.add_argument("--dataset", default="digits",
                        help="'digits' (embedded, default) or a folder of MNIST-style IDX files")
    add_schedule_arguments(parser, epochs=7, what="the host clears the other layers' control "
                                                  "word learn between the phases")
    parser.add_argument("--train-samples", type=int, help="use only the first N training samples")
    parser.add_argument("--test-samples", type=int, help="use only the first N test samples")
    parser.add_argument("--sim", choices=SIMULATORS, default="verilator")
    parser.add_argument("--check-every", type=int, default=1, metavar="N",
                        help="compare with the model every N samples (default 1: every sample)")
    parser.add_argument("--board", choices=tuple(BOARD_CLOCKS_MHZ),
                        help="board whose clock the throughput projection uses (default: the "
                             "board whose configuration this is, else ulx3s)")
    parser.add_argument("--clock-mhz", type=float,
                        help="clock for the projection (default: the configuration's [build] "
                             "clock_mhz, else the board's)")
    parser.add_argument("--order-seed", type=int, default=0, help="seed of the sample order")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    parser.add_argument("--build-dir", default="build/sim", help="root of the simulator builds")
    parser.add_argument("--waves", action="store_true", help="write a waveform (FST/VCD)")
    parser.add_argument("--no-progress", action="store_true")
    add_config_arguments(parser)


def run(args) -> int:
    """Train, print the report; exit status 1 if the RTL's accuracies differ."""
    cfg = config_from_args(args)
    positive(args.clock_mhz, "--clock-mhz")
    if args.check_every < 1:
        raise CommandError(f"--check-every must be at least 1, not {args.check_every}")
    json_path = output_file(args.json, "--json")
    build_root = output_dir(args.build_dir, "--build-dir")
    mhz = args.clock_mhz
    if not mhz and args.config and not args.board:    # the clock its board is built at
        mhz = settings_of(args.config).clock_mhz
    mhz = mhz or BOARD_CLOCKS_MHZ[projection_board(cfg, args.board)]
    dataset = load_dataset(args.dataset).subset(args.train_samples, args.test_samples)
    report = train_rtl(cfg, dataset, epochs=args.epochs, schedule=args.schedule, sim=args.sim,
                       check_every=args.check_every, order_seed=args.order_seed,
                       build_root=build_root, waves=args.waves,
                       progress=not args.no_progress)
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
    if json_path:
        write_json(json_path, report)
    if not report["equal_to_model"]:
        print("lela train: the RTL's accuracies differ from the model's", file=sys.stderr)
        return 1
    return 0
