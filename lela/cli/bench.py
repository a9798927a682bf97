"""``lela bench``: measure every figure of docs/benchmarks.md in one run.

Parses the options, runs :func:`lela.bench.run_bench` and writes the report
with :func:`lela.bench.write_report`; the measurements live in
:mod:`lela.bench`. A figure that differs from the one it is checked against
(:class:`lela.bench.BenchMismatch`) ends the command with one line naming the
difference and exit status 1.
"""

from __future__ import annotations

import dataclasses
import sys

from lela import bench

from . import CommandError, add_cluster_arguments, check_cluster_arguments, output_dir

__all__ = ["add_arguments", "run"]


def add_arguments(parser):
    """The flags of ``lela bench``."""
    parser.add_argument("--quick", action="store_true",
                        help="small and fast (CI): one small network, few samples, no "
                             "synthesis unless a build is cached")
    parser.add_argument("--out", default="docs", metavar="DIR",
                        help="write DIR/benchmarks.md, DIR/benchmarks.json and "
                             "DIR/benchmarks/*.png (default docs)")
    parser.add_argument("--build-dir", default="build/bench", metavar="DIR",
                        help="simulator builds and cached synthesis reports (default "
                             "build/bench)")
    parser.add_argument("--sections", default=",".join(bench.SECTIONS), metavar="S1,S2,...",
                        help=f"run only these sections, from {', '.join(bench.SECTIONS)}")
    parser.add_argument("--synth", choices=("build", "cached"),
                        help="synthesize what is not cached (default without --quick), or "
                             "only reuse cached reports (default with --quick)")
    parser.add_argument("--ecp5-lanes", metavar="P1,P2,...",
                        help="lanes of the ULX3S build sweep (default 1,2,4,8,16,32; "
                             "--quick: 4)")
    parser.add_argument("--mnist", default=bench.MNIST_DIR, metavar="DIR",
                        help=f"folder of the MNIST IDX files (default {bench.MNIST_DIR}; "
                             "skipped when absent)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the sections a failed run of the same plan finished (saved "
                             "in the build folder) and measure the others")
    add_cluster_arguments(parser, "the builds and simulations",
                          one_worker="; 1: one after the other, in this process")
    parser.add_argument("--render", metavar="JSON",
                        help="measure nothing: write the Markdown and plots of an existing "
                             "benchmarks.json into --out")


def run(args) -> int:
    """Measure (or ``--render``), write the report, print the headline; exit status
    1 on a :class:`~lela.bench.BenchMismatch`."""
    check_cluster_arguments(args)
    out = output_dir(args.out, "--out")
    if args.render:
        try:
            report = bench.read_report(args.render)
        except (OSError, ValueError) as e:
            raise CommandError(f"--render: cannot read {args.render!r}: {e}") from None
        plots = bench.write_report(report, out, json_file=False)
        print(f"lela bench: wrote {out / 'benchmarks.md'} and {len(plots)} plots "
              f"from {args.render}")
        return 0
    plan = bench.QUICK if args.quick else bench.FULL
    changes = {}
    if args.synth:
        changes["synth"] = args.synth
    if args.ecp5_lanes:
        try:
            lanes = tuple(int(v) for v in args.ecp5_lanes.split(","))
        except ValueError:
            lanes = ()
        if not lanes or min(lanes) < 1:
            raise CommandError(f"--ecp5-lanes must be positive integers separated by commas, "
                               f"not {args.ecp5_lanes!r}")
        changes["ecp5_lanes"] = lanes
    plan = dataclasses.replace(plan, **changes) if changes else plan
    sections = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    unknown = [s for s in sections if s not in bench.SECTIONS]
    if unknown or not sections:
        raise CommandError(f"--sections must name sections from {', '.join(bench.SECTIONS)}, "
                           f"not {args.sections!r}")
    build_root = output_dir(args.build_dir, "--build-dir")
    client = None
    if args.scheduler:
        from lela import sweep

        try:
            client = sweep.connect(args.scheduler)
        except sweep.SchedulerError as e:
            raise CommandError(str(e)) from None
    try:
        report = bench.run_bench(plan, sections=sections, build_root=build_root,
                                 mnist=args.mnist, resume=args.resume,
                                 log=lambda msg: print(msg, flush=True),
                                 workers=args.workers, client=client)
    except bench.BenchMismatch as e:
        print(f"lela bench: {e}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
    report["command"] = (" ".join(["lela", "bench", *sys.argv[2:]])
                         if sys.argv[1:2] == ["bench"]
                         else "lela bench" + (" --quick" if args.quick else ""))
    plots = bench.write_report(report, out)
    seconds = report["seconds"]
    par = report["parallel"]
    workers = (f"; {par['jobs']} build(s) and simulation(s) on {par['workers']} worker(s)"
               if par["jobs"] else "")
    print(f"lela bench: wrote {out / 'benchmarks.md'}, {out / 'benchmarks.json'} and "
          f"{len(plots)} plots in {seconds / 60:.1f} minutes{workers}")
    for k, v in report["headline"].items():
        print(f"  {k}: {v}")
    return 0
