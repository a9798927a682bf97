"""``lela build``: synthesize, place and route a board; report resources and Fmax."""

from __future__ import annotations

import sys

from lela.boards import BOARDS
from lela.build import (
    ROUTERS,
    BuildError,
    BuildSettings,
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

__all__ = ["add_arguments", "run", "settings_of"]


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


def settings_of(path):
    """The build settings of the configuration file ``path`` (:class:`CommandError`
    naming the bad field)."""
    try:
        return build_settings(path)
    except BuildError as e:
        raise CommandError(str(e)) from None


def run(args) -> int:
    """Build (the board's own configuration unless ``--config``), print the
    report; exit status 1 if the build fails or misses timing."""
    path = args.config or config_file(args.board)
    cfg = config_from_args(args, default=path)
    settings = settings_of(path)
    positive(args.clock_mhz, "--clock-mhz")
    settings = settings.merged(BuildSettings(args.clock_mhz, args.router))
    positive(args.baud, "--baud")
    json_path = output_file(args.json, "--json")
    build_dir = output_dir(args.build_dir, "--build-dir") if args.build_dir else None
    try:
        check_primitives(args.board, cfg)
    except ValueError as e:
        raise CommandError(str(e)) from None
    try:
        report = build(args.board, cfg, settings=settings, build_dir=build_dir,
                       baud=args.baud, seed=args.seed, program=args.program)
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
