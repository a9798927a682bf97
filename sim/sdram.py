"""Simulating the LiteDRAM wrapper (:class:`lela.rtl.sdram.LiteDram`) with
LiteDRAM's own SDRAM model: build and run the cocotb testbench
:mod:`lela.sim.tb_sdram` under Verilator.

The simulated top ``lela_sdram_tb`` is the wrapper's Verilog (``lela_sdram``,
the generated core an ``Instance`` inside it) with both clocks made in
Verilog: LiteDRAM's system clock at :attr:`SdramConfig.sys_clk_hz` and lela's
``sync`` clock at another period (:data:`LELA_CLOCK_NS` by default), and both
resets held for :data:`RESET_NS`. The testbench drives and reads the wrapper's
streams (its ports pass through the top).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from amaranth.back import verilog
from cocotb_tools.runner import get_results

from lela.rtl import sdram as rtl_sdram
from lela.rtl.sdram import LiteDram, SdramConfig, generate_core
from lela.tools import verilator_makeflags, yosys_for_amaranth

from .runner import VERILATOR_ARGS, FastVerilator, _prepare_env

__all__ = ["LELA_CLOCK_NS", "RESET_NS", "TB_MODULE", "TOP", "WRAPPER", "build_sdram_tb",
           "run_sdram_job"]

#: The simulated top, the wrapper's module and the cocotb test module.
TOP = "lela_sdram_tb"
WRAPPER = "lela_sdram"
TB_MODULE = "lela.sim.tb_sdram"
#: Period of lela's clock in the testbench (ns): 76.9 MHz, not a multiple of
#: LiteDRAM's 20 ns, so the two clocks' edges drift past each other.
LELA_CLOCK_NS = 13
#: Both resets are held this long after time 0 (ns).
RESET_NS = 100


def _write_if_changed(path, text):
    """Keep a file's time stamp when its text is the same (make then has nothing to redo)."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def _top(wrapper_text, sdram_ns, lela_ns):
    """``lela_sdram_tb``: the wrapper with its clocks and resets made here."""
    made = ("clk", "rst", "sdram_clk", "sdram_rst")
    ports = []
    for line in wrapper_text.split(f"module {WRAPPER}(", 1)[1].split("endmodule", 1)[0] \
            .splitlines():
        words = line.strip().rstrip(";").split()
        if words and words[0] in ("input", "output") and words[-1] not in made:
            ports.append((words[0], words[1] if len(words) == 3 else "", words[-1]))
    lines = ["`timescale 1ns/1ps",
             f"// {WRAPPER} with its two clocks made here (written by lela.sim.sdram)",
             f"module {TOP}({', '.join(p[2] for p in ports)});"]
    lines += ["  " + " ".join(filter(None, port)) + ";" for port in ports]
    lines += ["  reg clk = 1'b0, sdram_clk = 1'b0, rst = 1'b1, sdram_rst = 1'b1;",
              f"  always #{lela_ns / 2} clk = ~clk;",
              f"  always #{sdram_ns / 2} sdram_clk = ~sdram_clk;",
              f"  initial begin #{RESET_NS}; rst = 1'b0; sdram_rst = 1'b0; end",
              f"  {WRAPPER} dut(" + ", ".join(f".{n}({n})" for n in
                                            [*made, *(p[2] for p in ports)]) + ");",
              "endmodule", ""]
    return "\n".join(lines)


def build_sdram_tb(cfg=None, *, lela_clock_ns=LELA_CLOCK_NS, fifo_depth=16,
                   root="build/sim", waves=False):
    """Generate the simulation core of ``cfg`` (default :class:`SdramConfig`),
    the wrapper's Verilog and the top, and compile them with Verilator.

    Returns ``(runner, build_dir, info)``; ``info`` has the generation and
    build times and both clock periods."""
    cfg = SdramConfig() if cfg is None else cfg
    if not isinstance(lela_clock_ns, int) or isinstance(lela_clock_ns, bool) \
            or not 2 <= lela_clock_ns <= 1000:
        raise ValueError(f"lela_clock_ns must be an integer in [2, 1000], not {lela_clock_ns!r}")
    _prepare_env("verilator")
    t0 = time.perf_counter()
    core = generate_core(cfg, sim=True)
    generated = time.perf_counter() - t0
    sdram_ns = 1e9 / cfg.sys_clk_hz
    key = {"core": core.folder.name, "lela_ns": lela_clock_ns, "depth": fifo_depth,
           "waves": waves, "wrapper": hashlib.sha256(
               Path(__file__).read_bytes() + Path(rtl_sdram.__file__).read_bytes()).hexdigest()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    bdir = (Path(root) / f"sdram-verilator-{digest}").resolve()
    (bdir / "rtl").mkdir(parents=True, exist_ok=True)
    with yosys_for_amaranth():
        text = verilog.convert(LiteDram(core, fifo_depth=fifo_depth), name=WRAPPER,
                               emit_src=False)
    _write_if_changed(bdir / "rtl" / f"{WRAPPER}.v", text)
    _write_if_changed(bdir / "rtl" / f"{TOP}.v", _top(text, sdram_ns, lela_clock_ns))
    runner = FastVerilator()
    t1 = time.perf_counter()
    with verilator_makeflags():
        runner.build(sources=[core.verilog, bdir / "rtl" / f"{WRAPPER}.v",
                              bdir / "rtl" / f"{TOP}.v"],
                     hdl_toplevel=TOP, build_dir=bdir / "obj", build_args=list(VERILATOR_ARGS),
                     waves=waves, timescale=("1ns", "1ps"), log_file=bdir / "build.log")
    info = {"generate_s": generated, "core_generate_s": core.seconds,
            "build_s": time.perf_counter() - t1, "sdram_clock_ns": sdram_ns,
            "lela_clock_ns": lela_clock_ns, "fifo_depth": fifo_depth}
    return runner, bdir, info


def run_sdram_job(runner, bdir, job, *, name="job", waves=False):
    """Run :mod:`lela.sim.tb_sdram` with ``job`` (a dict, see there) on the
    built top; return the result dict it wrote. AssertionError with the
    testbench's message if it failed."""
    jobdir = Path(bdir) / "jobs" / name
    jobdir.mkdir(parents=True, exist_ok=True)
    result_path = jobdir / "result.json"
    if result_path.exists():
        result_path.unlink()
    (jobdir / "job.json").write_text(json.dumps(dict(job, result=str(result_path))))
    env = {"LELA_JOB": str(jobdir / "job.json"), "PYTHONPATH": os.environ["PYTHONPATH"],
           "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
           "GPI_LOG_LEVEL": os.environ.get("GPI_LOG_LEVEL", "WARNING")}
    t0 = time.perf_counter()
    try:
        xml = runner.test(test_module=TB_MODULE, hdl_toplevel=TOP, build_dir=bdir / "obj",
                          test_dir=jobdir, extra_env=env, waves=waves,
                          results_xml=str(jobdir / "results.xml"), log_file=None)
        _, failed = get_results(Path(xml))
    except SystemExit:
        failed = True
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if failed or not result.get("ok"):
        raise AssertionError(result.get("error") or f"cocotb testbench failed; see {jobdir}")
    result["wall_s"] = time.perf_counter() - t0
    return result
