"""``rtl.lfsr.ClassifierLfsr`` against ``golden_model.lfsr``, entry for entry."""

import re

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module
from amaranth.sim import Simulator

from lela.config import DEFAULT, FEEDBACK_MODES
from lela.golden_model import lfsr as golden
from lela.rtl.lfsr import ClassifierLfsr

M_SEED, K_SEED = DEFAULT.m_seeds[0], DEFAULT.k_seeds[0]


class _AllModes(Elaboratable):
    """One generator per feedback mode, driven together (one simulation)."""

    def __init__(self, m_bits, m_seed, k_seed, entries=1):
        self.entries = entries
        self.units = {mode: ClassifierLfsr(m_bits=m_bits, m_seed=m_seed, k_seed=k_seed,
                                           feedback=mode, entries=entries)
                      for mode in FEEDBACK_MODES}

    def elaborate(self, platform):
        m = Module()
        for mode, unit in self.units.items():
            m.submodules[mode] = unit
        return m


def _expected(mode, m_seed, k_seed, classes, neurons, bits):
    mat = golden.classifier_matrix(m_seed, classes, neurons, bits)
    k = golden.feedback_matrix(mode, mat, k_seed, bits)
    # j-major, c-minor: the order the hardware emits
    return mat.T.reshape(-1), k.T.reshape(-1)


def _run(dut, count, schedule=None):
    """Entries emitted while ``en`` follows ``schedule`` (default: always on),
    in stream order: ``dut.entries`` per enabled cycle."""
    units = dut.units
    got = {mode: [] for mode in units}
    schedule = np.ones(count, dtype=bool) if schedule is None else schedule

    async def tb(ctx):
        for en in schedule:
            for unit in units.values():
                ctx.set(unit.en, int(en))
            if en:
                for mode, unit in units.items():
                    m, k = ctx.get(unit.m), ctx.get(unit.k)
                    got[mode].extend((m[e], k[e]) for e in range(dut.entries))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return {mode: np.array(v, dtype=np.int64).reshape(-1, 2) for mode, v in got.items()}


def test_two_to_the_16_entries_all_modes():
    classes, neurons, bits = 16, 4096, 4  # 65536 entries
    got = _run(_AllModes(bits, M_SEED, K_SEED), classes * neurons)
    for mode in FEEDBACK_MODES:
        m_exp, k_exp = _expected(mode, M_SEED, K_SEED, classes, neurons, bits)
        np.testing.assert_array_equal(got[mode][:, 0], m_exp, err_msg=f"M entries, mode {mode}")
        np.testing.assert_array_equal(got[mode][:, 1], k_exp, err_msg=f"K entries, mode {mode}")
    # and the raw draws behind them
    draws = golden.draws(M_SEED, classes * neurons, bits)
    np.testing.assert_array_equal((got["symmetric"][:, 0] + 15) // 2, draws)


@pytest.mark.parametrize("bits", [1, 8])
def test_extreme_widths_with_idle_cycles(bits):
    seed = 20 + bits
    rng = np.random.default_rng(seed)
    schedule = rng.random(3000) < 0.6
    got = _run(_AllModes(bits, 0xFFFFFFFF, 1), 3000, schedule)
    n = int(schedule.sum())
    classes = 2
    neurons = n // classes
    for mode in FEEDBACK_MODES:
        m_exp, k_exp = _expected(mode, 0xFFFFFFFF, 1, classes, neurons, bits)
        np.testing.assert_array_equal(got[mode][:2 * neurons, 0], m_exp,
                                      err_msg=f"seed {seed}, m_bits {bits}, mode {mode}")
        np.testing.assert_array_equal(got[mode][:2 * neurons, 1], k_exp,
                                      err_msg=f"seed {seed}, m_bits {bits}, mode {mode}")
        lim = (1 << bits) - 1
        assert got[mode][:, 0].max() == lim and got[mode][:, 0].min() == -lim


def test_rewind_replays_the_sequence():
    dut = ClassifierLfsr(m_bits=4, m_seed=M_SEED, k_seed=K_SEED, feedback="independent")
    seen = []

    async def tb(ctx):
        ctx.set(dut.en, 1)
        for _ in range(2):
            run = []
            for _ in range(37):
                run.append((ctx.get(dut.m)[0], ctx.get(dut.k)[0]))
                await ctx.tick()
            seen.append(run)
            ctx.set(dut.rewind, 1)  # wins over en
            await ctx.tick()
            ctx.set(dut.rewind, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert seen[0] == seen[1]
    m_exp, k_exp = _expected("independent", M_SEED, K_SEED, 1, 37, 4)
    np.testing.assert_array_equal(np.array(seen[0])[:, 0], m_exp)
    np.testing.assert_array_equal(np.array(seen[0])[:, 1], k_exp)


@pytest.mark.parametrize("entries, bits", [(2, 4), (10, 4), (40, 4), (7, 8)])
def test_several_entries_per_cycle_are_the_stream(entries, bits):
    """``entries`` per cycle are the next ``entries`` of the one-per-cycle
    stream, with idle cycles between."""
    seed = 40 + entries
    schedule = np.random.default_rng(seed).random(300) < 0.7
    got = _run(_AllModes(bits, M_SEED, K_SEED, entries), 300, schedule)
    n = int(schedule.sum()) * entries
    for mode in FEEDBACK_MODES:
        m_exp, k_exp = _expected(mode, M_SEED, K_SEED, 1, n, bits)
        np.testing.assert_array_equal(got[mode][:, 0], m_exp,
                                      err_msg=f"seed {seed}, entries {entries}, mode {mode}")
        np.testing.assert_array_equal(got[mode][:, 1], k_exp,
                                      err_msg=f"seed {seed}, entries {entries}, mode {mode}")


@pytest.mark.parametrize("kwargs, message", [
    ({"m_bits": 0}, "m_bits must be an integer in [1, 8], not 0"),
    ({"m_bits": True}, "not True"),
    ({"m_seed": 0}, "m_seed must be an integer in [1, 4294967295], not 0"),
    ({"k_seed": 2**32}, "k_seed must be an integer in [1, 4294967295], not 4294967296"),
    ({"feedback": "random"}, "not 'random'"),
    ({"entries": 0}, "entries must be an integer >= 1, not 0"),
])
def test_parameters_are_validated(kwargs, message):
    args = {"m_bits": 4, "m_seed": 1, "k_seed": 1, "feedback": "symmetric"} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        ClassifierLfsr(**args)
