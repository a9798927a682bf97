"""Section ``resources``: LUTs, flip-flops, DSPs, block RAM and Fmax from nextpnr
(``lela build``) for a lane sweep on the ULX3S (ECP5-85F) and the iCEBreaker
(iCE40 UP5K) configuration, and the ULX3S's MNIST board configuration at its
own clock and router (``lela/configs/ulx3s_mnist.toml``, its ``[build]``
table); a build's report is cached under the build folder, keyed by the
configuration, the build settings and a digest of the sources."""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from lela.build import BuildSettings, build_settings, sources_digest
from lela.config import config_file

from .common import REPO_DIR, divides, named_config, with_lanes

__all__ = ["MNIST_BOARD", "builds", "design_figures", "fmax", "job_name", "jobs", "measure",
           "synthesize"]

#: A board's own build settings: its clock, nextpnr's default router.
BOARD_DEFAULTS = BuildSettings()
#: The MNIST board configuration: board, shipped configuration, label.
MNIST_BOARD = ("ulx3s", "ulx3s_mnist", "ULX3S MNIST board configuration")


def _synth_dir(ctx, board, cfg, settings=BOARD_DEFAULTS):
    key = {"board": board, "cfg": cfg.to_dict(), "src": sources_digest()}
    if settings != BOARD_DEFAULTS:
        key["settings"] = vars(settings)
    key = json.dumps(key, sort_keys=True)
    return ctx.root / "synth" / f"{board}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _repo_relative(lines):
    """nextpnr's report lines with this checkout's folder left out of source paths
    (``rtl/error_unit.py:235``), so the report names no machine's folders."""
    root = str(REPO_DIR) + os.sep
    return [line.replace(root, "") for line in lines]


def job_name(ctx, board, cfg, settings=BOARD_DEFAULTS):
    """The name of the job that builds ``cfg`` for ``board`` on a worker."""
    return f"bench-build-{_synth_dir(ctx, board, cfg, settings).name}"


def _cached(ctx, board, cfg, label, settings):
    cached = _synth_dir(ctx, board, cfg, settings) / "bench-report.json"
    if not cached.exists():
        return None
    rep = json.loads(cached.read_text())
    rep["cached"] = True
    rep["critical_path"] = _repo_relative(rep.get("critical_path", []))
    ctx.log(f"resources: {label}: cached report ({rep.get('built', '?')})")
    return rep


def _synthesize(ctx, board, cfg, label, settings):
    name = job_name(ctx, board, cfg, settings)
    if name in ctx.prefetched:          # built on a worker before the sections ran
        return ctx.take(name)
    rep = _cached(ctx, board, cfg, label, settings)
    if rep is not None:
        return rep
    if ctx.plan.synth != "build":
        ctx.skip("resources", f"{label} (no cached build; --quick does not synthesize)")
        return None
    ctx.log(f"resources: {label}: synthesis, place and route (yowasp)")
    return synthesize(board, cfg.to_dict(), label, str(_synth_dir(ctx, board, cfg, settings)),
                      vars(settings))


def synthesize(board, cfg, label, build_dir, settings=None):
    """``lela build`` of the configuration ``cfg`` (a dict) for ``board`` in
    ``build_dir`` (``settings``: the fields of a :class:`lela.build.BuildSettings`);
    its report (``cached`` False) is written there as ``bench-report.json``,
    where a later run finds it. A module-level function, so that a worker
    can run it."""
    from lela.build import BuildError, build
    from lela.config import Config

    cfg = Config.from_dict(cfg)
    settings = BuildSettings(**(settings or {}))
    bdir = Path(build_dir)
    cached = bdir / "bench-report.json"
    error = None
    try:
        report = build(board, cfg, settings=settings, build_dir=bdir, log=lambda *a: None)
    except BuildError as e:
        if len(e.args) > 1:
            report = e.args[1]          # timing missed at the board clock: Fmax still counts
        else:
            report, error = None, e.args[0]
    rep = {"board": board, "label": label, "config": cfg.to_dict(),
           "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "error": error}
    if report is not None:
        rep.update(device=report.device, clock_mhz=report.clock_mhz, router=report.router,
                   fmax_mhz=report.fmax_mhz,
                   resources=report.resources, lut4=report.lut4, flip_flops=report.flip_flops,
                   timing_met=report.timing_met, seconds=report.seconds,
                   critical_path=_repo_relative(report.critical_path[:12]))
    bdir.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(rep, indent=1))
    rep["cached"] = False
    return rep


def fmax(rep):
    """The design clock's Fmax (the ``sync`` domain, or the slowest clock)."""
    if not rep or not rep.get("fmax_mhz"):
        return None
    f = rep["fmax_mhz"]
    sync = [v for k, v in f.items() if "sync" in k]
    return min(sync or f.values())


def design_figures(cfg):
    """What the generator fixes before synthesis: on-chip memory bits of the core
    (trace off, as on the boards) and MAC-lane multipliers."""
    from amaranth.hdl import Fragment

    from lela.rtl.generate import manifest
    from lela.rtl.top import Network

    top = Network(cfg, trace=False)
    m = manifest(cfg, top, [], trace=False)
    Fragment.get(top, None)  # elaborated, so that no part warns "created but never used"
    return {"memory_bits": m["memory_bits_total"], "mac_multipliers": sum(cfg.lanes),
            "multipliers": m["multipliers"],
            "weight_word_bits": [p * cfg.weight_width for p in cfg.lanes]}


def builds(ctx, skip=None):
    """The builds of the section: ``(board, cfg, label)`` for the ULX3S lane
    sweep and the iCEBreaker configuration; ``skip(section, what)`` is told
    what is left out."""
    skip = skip or (lambda section, what: None)
    ulx3s = named_config("ulx3s")
    plan = []
    for p in ctx.plan.lanes:
        if p not in ctx.plan.ecp5_lanes and divides(ulx3s, p):
            skip("resources", f"ULX3S lanes {p} (measured in utilisation, not in this "
                              f"run's ECP5 sweep, --ecp5-lanes)")
    for p in ctx.plan.ecp5_lanes:
        if not divides(ulx3s, p):
            skip("resources", f"ULX3S lanes {p} (does not divide every layer)")
            continue
        plan.append(("ulx3s", with_lanes(ulx3s, p), f"ULX3S lanes {p}"))
    plan.append(("icebreaker", named_config("icebreaker"), "iCEBreaker"))
    return [(board, cfg, label, BOARD_DEFAULTS) for board, cfg, label in plan]


def mnist_board():
    """``(board, cfg, label, settings)`` of the MNIST board configuration."""
    board, name, label = MNIST_BOARD
    return board, named_config(name), label, build_settings(config_file(name))


def jobs(ctx):
    """The builds that are not cached (when the plan synthesizes) as
    :class:`lela.sweep.Job` s, independent of each other: one per board and
    configuration, each in its own build folder."""
    from lela.sweep.engine import Job
    from lela.sweep.measure import MEASUREMENTS, cost

    if ctx.plan.synth != "build":
        return []
    out = []
    for board, cfg, label, settings in [*builds(ctx), mnist_board()]:
        bdir = _synth_dir(ctx, board, cfg, settings)
        if (bdir / "bench-report.json").exists():
            continue
        ctx.log(f"resources: {label}: synthesis, place and route (yowasp), for the workers")
        out.append(Job(job_name(ctx, board, cfg, settings), synthesize,
                       (board, cfg.to_dict(), label, str(bdir), vars(settings)),
                       priority=cost(MEASUREMENTS["build"], cfg)))
    return out


def measure(ctx):
    """Resources and Fmax: ULX3S lane sweep, iCEBreaker configuration, and
    the MNIST board configuration (``mnist_board``: its build and its
    training samples/s from the counter model's cycles)."""
    from .utilisation import model_cycles

    builds_, designs = [], []
    for board, cfg, label, settings in builds(ctx, ctx.skip):
        rep = _synthesize(ctx, board, cfg, label, settings)
        if rep:
            rep["fmax"] = fmax(rep)
            builds_.append(rep)
        designs.append({"label": label, "board": board, "sizes": list(cfg.sizes),
                        "lanes": cfg.lanes[0], "synthesized": rep is not None,
                        **design_figures(cfg)})
    board, cfg, label, settings = mnist_board()
    mnist = _synthesize(ctx, board, cfg, label, settings)
    if mnist:
        mnist["fmax"] = fmax(mnist)
        mnist["cycles_per_sample"] = model_cycles(cfg)[0]
    return {"builds": builds_, "designs": designs, "mnist_board": mnist,
            "sources_digest": sources_digest()}
