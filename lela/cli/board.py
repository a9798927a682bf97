"""``lela board``: talk to a board (or a simulated one) over the host link."""

from __future__ import annotations

import sys
from pathlib import Path

from lela.boards import BOARDS
from lela.config import config_file
from lela.data import check_dataset, load_dataset
from lela.host.driver import (
    Board,
    CheckpointError,
    ConfigMismatch,
    ProtocolError,
    SerialTransport,
    SimTransport,
    TransportError,
    VerilatorTransport,
    train_board,
)

from . import (
    CommandError,
    add_config_arguments,
    add_schedule_arguments,
    config_from_args,
    output_file,
    write_json,
)

__all__ = ["SIM_CONFIG", "SIM_ENGINES", "add_arguments", "run"]

#: Small configuration of the simulated board in pysim, which trains it in seconds.
SIM_CONFIG = "sim"
#: Engines of the simulated board.
SIM_ENGINES = ("verilator", "pysim")
#: Samples ``lela board train --sim pysim`` uses unless told (train, test).
PYSIM_SAMPLES = (200, 100)


def add_arguments(parser):
    """The actions of ``lela board`` and their flags."""
    sub = parser.add_subparsers(dest="board_command", metavar="ACTION", required=True)
    for name, help_text in (
            ("train", "train on a dataset through the host link, checked against the model"),
            ("status", "print the board's status"),
            ("save", "save every weight and bias to a checkpoint (.npz)"),
            ("load", "load a checkpoint's weights and biases into the board")):
        p = sub.add_parser(name, help=help_text, description=help_text)
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--port", help="serial port of the board (e.g. /dev/ttyUSB0)")
        where.add_argument("--sim", nargs="?", const="verilator", choices=SIM_ENGINES,
                           help="a simulated board (host link + core): compiled with Verilator "
                                "(default) or in Amaranth's simulator (pysim: small networks)")
        p.add_argument("--board", choices=tuple(BOARDS), default="icebreaker",
                       help="board whose configuration is used (default icebreaker; "
                            f"--sim pysim uses lela/configs/{SIM_CONFIG}.toml)")
        p.add_argument("--baud", type=int, default=115200, help="UART baud rate (default 115200)")
        p.add_argument("--build-dir", default="build/board-sim",
                       help="folder of the Verilator builds of --sim (default build/board-sim)")
        if name in ("save", "load"):
            p.add_argument("checkpoint", help="checkpoint file (.npz)")
        if name == "train":
            p.add_argument("--dataset", default="digits",
                           help="'digits' (embedded, default) or a folder of MNIST-style IDX files")
            add_schedule_arguments(p, epochs=1, what="the control words learn, written "
                                                     "between the phases")
            p.add_argument("--train-samples", type=int,
                           help=f"use only the first N training samples "
                                f"(--sim pysim: {PYSIM_SAMPLES[0]})")
            p.add_argument("--test-samples", type=int,
                           help=f"use only the first N test samples (--sim pysim: {PYSIM_SAMPLES[1]})")
            p.add_argument("--order-seed", type=int, default=0)
            p.add_argument("--no-check", action="store_true",
                           help="do not compare with the fixed-point model")
            p.add_argument("--save", metavar="NPZ", help="save a checkpoint after training")
            p.add_argument("--json", metavar="PATH", help="write the report as JSON")
        add_config_arguments(p)


def connect(args, cfg, log=print):
    """The :class:`~lela.host.driver.Board` that ``--port`` or ``--sim`` names."""
    if args.sim == "pysim":
        log("lela board: simulated board (host link + core in Amaranth's simulator)")
        transport = SimTransport(cfg)
    elif args.sim:
        log("lela board: simulated board (host link + core compiled with Verilator)")
        transport = VerilatorTransport(cfg, root=args.build_dir, log=log)
    else:
        transport = SerialTransport(args.port, baud=args.baud)
    try:
        return Board(transport, cfg)
    except BaseException:
        transport.close()
        raise


def run(args) -> int:
    """Carry out one action; exit status 1 if the board differs from the model."""
    cfg = config_from_args(args, default=config_file(SIM_CONFIG if args.sim == "pysim"
                                                     else args.board))
    cfg.check_hardware()
    # everything the action reads or writes is checked before the board is touched
    if args.board_command == "load" and not Path(args.checkpoint).is_file():
        raise CommandError(f"checkpoint {args.checkpoint!r} does not exist")
    if args.board_command == "save":
        output_file(args.checkpoint, "checkpoint")
    dataset = json_path = None
    if args.board_command == "train":
        json_path = output_file(args.json, "--json")
        output_file(args.save, "--save")
        small = args.sim == "pysim"
        n_train = args.train_samples or (PYSIM_SAMPLES[0] if small else None)
        n_test = args.test_samples or (PYSIM_SAMPLES[1] if small else None)
        dataset = load_dataset(args.dataset).subset(n_train, n_test)
        check_dataset(cfg, dataset)
    try:
        board = connect(args, cfg)
    except (TransportError, ConfigMismatch, ProtocolError) as e:
        raise CommandError(str(e)) from None
    try:
        if args.board_command == "status":
            for key, value in vars(board.status()).items():
                print(f"{key:13s}: {value}")
            return 0
        if args.board_command == "save":
            board.save_checkpoint(args.checkpoint)
            print(f"lela board: saved {cfg.layers} layers to {args.checkpoint}")
            return 0
        if args.board_command == "load":
            try:
                board.load_checkpoint(args.checkpoint)
            except (CheckpointError, ConfigMismatch) as e:
                raise CommandError(str(e)) from None
            print(f"lela board: loaded {args.checkpoint}")
            return 0
        report = train_board(board, dataset, epochs=args.epochs, schedule=args.schedule,
                             order_seed=args.order_seed, check=not args.no_check)
        if args.save:
            board.save_checkpoint(args.save)
    finally:
        board.transport.close()
    _print_report(report)
    if json_path:
        write_json(json_path, report)
    if report.get("equal_to_model") is False:
        print("lela board: the board differs from the model", file=sys.stderr)
        return 1
    return 0


def _print_report(report):
    print("per-layer test accuracy (board): "
          + "  ".join(f"L{i + 1} {a:.2%}" for i, a in enumerate(report["test_accuracy_board"])))
    if "test_accuracy_model" in report:
        print("per-layer test accuracy (model): "
              + "  ".join(f"L{i + 1} {a:.2%}" for i, a in
                          enumerate(report["test_accuracy_model"])))
        print(f"bit-exact against the model    : "
              f"{'yes' if report['equal_to_model'] else 'NO: ' + report['mismatches'][0]}")
    print(f"training: {report['train_samples']} samples in {report['train_seconds']:.1f} s "
          f"({report['train_samples'] / report['train_seconds']:.1f} samples/s)")
    if "cycles_per_train_sample" in report:
        print(f"simulated board: {report['cycles_per_train_sample']:.0f} clock cycles per "
              f"training sample (host link at one byte per cycle, no UART)")
