"""``lela sweep``: run a design-space sweep on Dask; table, Pareto fronts, plots.

Parses the options and prints; the sweep is :mod:`lela.sweep`'s. Bad input (a
sweep file that is not valid TOML, an unknown table, field, axis or
measurement, a value of the wrong kind, an unreachable scheduler) is one line
and exit status 2, before anything is started or written.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lela import sweep

from . import CommandError, add_cluster_arguments, check_cluster_arguments, output_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """The flags of ``lela sweep``."""
    parser.add_argument("spec", metavar="SWEEP.toml", help="the sweep file (docs/sweeps.md)")
    add_cluster_arguments(parser, "the sweep's tasks")
    parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="SECONDS",
                        help="how long to try to reach --scheduler (default 10)")
    parser.add_argument("--out", metavar="DIR",
                        help="results.json, results.csv and the plots (default "
                             "build/sweep/NAME, NAME from the sweep file)")
    parser.add_argument("--cache", default="build/sweep/cache", metavar="DIR",
                        help="the result cache, shared by every sweep (default "
                             "build/sweep/cache)")
    parser.add_argument("--work", default="build/sweep/work", metavar="DIR",
                        help="build folders of the running tasks (default build/sweep/work)")
    parser.add_argument("--rerun", action="store_true",
                        help="measure every point again, cached or not (and re-cache it)")
    parser.add_argument("--retries", type=int, default=1, metavar="N",
                        help="retries of a task that fails for a reason other than its input "
                             "(default 1)")
    parser.add_argument("--dashboard", default=":8787", metavar="ADDRESS",
                        help="address of the local cluster's dashboard (default :8787; it "
                             "needs bokeh)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args) -> int:
    """Check everything, run the sweep, write and print the results."""
    try:
        spec = sweep.load_spec(args.spec)
    except sweep.SweepError as e:
        raise CommandError(str(e)) from None
    check_cluster_arguments(args)
    if args.connect_timeout <= 0:
        raise CommandError(f"--connect-timeout must be > 0, not {args.connect_timeout!r}")
    if args.retries < 0:
        raise CommandError(f"--retries must be >= 0, not {args.retries!r}")
    out = output_dir(args.out or Path("build") / "sweep" / spec.name, "--out")
    cache = output_dir(args.cache, "--cache")
    work = output_dir(args.work, "--work")
    client = None
    if args.scheduler:
        try:
            client = sweep.connect(args.scheduler, timeout=args.connect_timeout)
        except sweep.SchedulerError as e:
            raise CommandError(str(e)) from None
    command = (" ".join(["lela", "sweep", *sys.argv[2:]]) if sys.argv[1:2] == ["sweep"]
               else f"lela sweep {args.spec}")
    try:
        result = sweep.run_sweep(spec, cache=cache, work=work, client=client,
                                 workers=args.workers, dashboard=args.dashboard,
                                 rerun=args.rerun, retries=args.retries,
                                 progress=not args.no_progress and sys.stderr.isatty(),
                                 log=lambda msg: print(f"lela sweep: {msg}", flush=True))
    finally:
        if client is not None:
            client.close()
    table, files = sweep.write_report(result, out, command=command)
    print(sweep.format_table(table, spec))
    invalid = sum(r["status"] == "invalid" for r in table)
    failed = sum(r["status"] == "error" for r in table)
    print(f"lela sweep: {len(table)} point(s): {len(table) - invalid - failed} measured, "
          f"{invalid} invalid, {failed} with a failed measurement; {result.ran} task(s) run, "
          f"{result.cached} cached, in {result.seconds:.1f} s")
    print("lela sweep: wrote " + ", ".join(str(f) for f in files))
    return 0
