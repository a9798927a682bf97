"""Section ``resources``: LUTs, flip-flops, DSPs, block RAM and Fmax from nextpnr
(``lela build``) for a lane sweep on the ULX3S (ECP5-85F) and the iCEBreaker
(iCE40 UP5K) configuration; a build's report is cached under the build folder,
keyed by the configuration and a digest of the sources."""

from __future__ import annotations

import hashlib
import json
import os
import time

from lela.boards.build import sources_digest

from .common import REPO_DIR, divides, named_config, with_lanes

__all__ = ["design_figures", "fmax", "measure"]


def _synth_dir(ctx, board, cfg):
    key = json.dumps({"board": board, "cfg": cfg.to_dict(), "src": sources_digest()},
                     sort_keys=True)
    return ctx.root / "synth" / f"{board}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _repo_relative(lines):
    """nextpnr's report lines with this checkout's folder left out of source paths
    (``rtl/error_unit.py:235``), so the report names no machine's folders."""
    root = str(REPO_DIR) + os.sep
    return [line.replace(root, "") for line in lines]


def _synthesize(ctx, board, cfg, label):
    from lela.boards.build import BuildError, build

    bdir = _synth_dir(ctx, board, cfg)
    cached = bdir / "bench-report.json"
    if cached.exists():
        rep = json.loads(cached.read_text())
        rep["cached"] = True
        rep["critical_path"] = _repo_relative(rep.get("critical_path", []))
        ctx.log(f"resources: {label}: cached report ({rep.get('built', '?')})")
        return rep
    if ctx.plan.synth != "build":
        ctx.skip("resources", f"{label} (no cached build; --quick does not synthesize)")
        return None
    ctx.log(f"resources: {label}: synthesis, place and route (yowasp)")
    error = None
    try:
        report = build(board, cfg, build_dir=bdir, log=lambda *a: None)
    except BuildError as e:
        if len(e.args) > 1:
            report = e.args[1]          # timing missed at the board clock: Fmax still counts
        else:
            report, error = None, e.args[0]
    rep = {"board": board, "label": label, "config": cfg.to_dict(),
           "built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "error": error}
    if report is not None:
        rep.update(device=report.device, clock_mhz=report.clock_mhz, fmax_mhz=report.fmax_mhz,
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
            "weight_word_bits": [p * cfg.weight_width for p in cfg.lanes]}


def measure(ctx):
    """Resources and Fmax: ULX3S lane sweep, iCEBreaker configuration."""
    ulx3s = named_config("ulx3s")
    plan = []
    for p in ctx.plan.lanes:
        if p not in ctx.plan.ecp5_lanes and divides(ulx3s, p):
            ctx.skip("resources", f"ULX3S lanes {p} (measured in utilisation, not in this "
                                  f"run's ECP5 sweep, --ecp5-lanes)")
    for p in ctx.plan.ecp5_lanes:
        if not divides(ulx3s, p):
            ctx.skip("resources", f"ULX3S lanes {p} (does not divide every layer)")
            continue
        plan.append(("ulx3s", with_lanes(ulx3s, p), f"ULX3S lanes {p}"))
    plan.append(("icebreaker", named_config("icebreaker"), "iCEBreaker"))
    builds, designs = [], []
    for board, cfg, label in plan:
        rep = _synthesize(ctx, board, cfg, label)
        if rep:
            rep["fmax"] = fmax(rep)
            builds.append(rep)
        designs.append({"label": label, "board": board, "sizes": list(cfg.sizes),
                        "lanes": cfg.lanes[0], "synthesized": rep is not None,
                        **design_figures(cfg)})
    return {"builds": builds, "designs": designs, "sources_digest": sources_digest()}
