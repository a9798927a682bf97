"""``lela build``: synthesize, place and route a board; report resources and Fmax."""

from __future__ import annotations

import sys

from lela.boards import BOARDS
from lela.build import (
    ROUTERS,
    BuildError,
    build,
    build_settings,
    check_primitives,
    format_report,
)
from lela.config import config_file

from . import (
    CommandError,
    add_config_arguments,
    config_from_args,
    output_dir,
    output_file,
    positive,
    write_json,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """The flags of ``lela build``."""
    parser.add_argument("--board", choices=tuple(BOARDS), required=True)
    parser.add_argument("--json", metavar="PATH", help="write resources and Fmax as JSON")
    parser.add_argument("--program", action="store_true",
                        help="program the board with openFPGALoader after the build")
    parser.add_argument("--build-dir", help="build folder (default build/BOARD)")
    parser.add_argument("--clock-mhz", type=float,
                        help="design clock (default: the configuration's [build] clock_mhz, "
                             "else the board's; other values than the oscillator's use the PLL)")
    parser.add_argument("--baud", type=int, default=115200, help="host-link baud rate")
    parser.add_argument("--seed", type=int, help="nextpnr placement seed")
    parser.add_argument("--router", choices=ROUTERS,
                        help=f"nextpnr's router (default: the configuration's [build] router, "
                             f"else {ROUTERS[0]}; router2 routes the large builds, "
                             f"docs/boards.md)")
    add_config_arguments(parser)


def run(args) -> int:
    """Build (the board's own configuration unless ``--config``), print the
    report; exit status 1 if the build fails or misses timing."""
    path = args.config or config_file(args.board)
    cfg = config_from_args(args, default=path)
    try:
        settings = build_settings(path)
    except BuildError as e:
        raise CommandError(str(e)) from None
    positive(args.clock_mhz, "--clock-mhz")
    clock_mhz = args.clock_mhz or settings.clock_mhz
    router = args.router or settings.router or ROUTERS[0]
    positive(args.baud, "--baud")
    json_path = output_file(args.json, "--json")
    build_dir = output_dir(args.build_dir, "--build-dir") if args.build_dir else None
    try:
        check_primitives(args.board, cfg)
    except ValueError as e:
        raise CommandError(str(e)) from None
    try:
        report = build(args.board, cfg, build_dir=build_dir,
                       clock_hz=clock_mhz * 1e6 if clock_mhz else None,
                       baud=args.baud, seed=args.seed, router=router,
                       program=args.program)
    except BuildError as e:
        print(f"lela build: {e.args[0]}", file=sys.stderr)
        if len(e.args) > 1 and json_path:
            write_json(json_path, e.args[1].to_dict())
        return 1
    report.command = " ".join(["lela", "build", *sys.argv[2:]]) if sys.argv[1:2] == ["build"] \
        else ""
    print(format_report(report))
    if json_path:
        write_json(json_path, report.to_dict())
    return 0
