"""``rtl.numerics`` against ``golden_model.numerics``, exactly."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal, signed
from amaranth.sim import Simulator

from lela.golden_model import numerics as golden
from lela.rtl.numerics import divmod_const, round_shift, saturate, sub_round_shift


def _eval(width, shift, sat_width, values):
    """Drive ``values`` into a ``signed(width)`` input; return the RTL's
    ``round_shift`` and ``saturate(round_shift)`` for each."""
    m = Module()
    x = Signal(signed(width))
    r = round_shift(x, shift)
    rs = Signal(r.shape())
    y = Signal(signed(max(sat_width, 1) + 64))
    m.d.comb += [rs.eq(r), y.eq(saturate(r, sat_width))]
    out = []

    async def tb(ctx):
        for v in values:
            ctx.set(x, int(v))
            out.append((ctx.get(rs), ctx.get(y)))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    return np.array(out, dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("width, shift, sat_width", [
    (32, 17, 16),  # weight update delta (default config)
    (40, 14, 16),  # forward accumulator
    (16, 5, 16),   # bias update
    (16, 0, 12),   # pure saturation
    (12, -3, 16),  # negative shift: left shift
    (8, 1, 4),
])
def test_round_shift_and_saturate(width, shift, sat_width):
    seed = 1000 + width * 31 + shift
    rng = np.random.default_rng(seed)
    lo, hi = golden.signed_range(width)
    extremes = [lo, lo + 1, -1, 0, 1, hi - 1, hi]
    if shift > 0:
        extremes += [(1 << (shift - 1)) - 1, 1 << (shift - 1), -(1 << (shift - 1)),
                     -(1 << (shift - 1)) - 1]
    values = np.concatenate([np.array(extremes, dtype=np.int64),
                             rng.integers(lo, hi, size=500, endpoint=True)])
    values = values[(values >= lo) & (values <= hi)]
    got = _eval(width, shift, sat_width, values)
    exp_r = golden.round_shift(values, shift)
    np.testing.assert_array_equal(got[:, 0], exp_r, err_msg=f"round_shift, seed {seed}")
    np.testing.assert_array_equal(got[:, 1], golden.saturate(exp_r, sat_width),
                                  err_msg=f"saturate, seed {seed}")


@pytest.mark.parametrize("shift", [-2, 0, 1, 3, 6, 7, 9])
def test_sub_round_shift_is_the_two_step_difference(shift):
    """``sub_round_shift(a, v, s)`` (one adder, the rounding carry as its
    carry-in) equals ``a - golden.round_shift(v, s)`` for every 5-bit ``a``
    and 7-bit ``v``."""
    a, v = Signal(signed(5)), Signal(signed(7))
    y = Signal(signed(16))
    m = Module()
    m.d.comb += y.eq(sub_round_shift(a, v, shift))
    bad = []

    async def tb(ctx):
        for av in range(-16, 16):
            for vv in range(-64, 64):
                ctx.set(a, av)
                ctx.set(v, vv)
                want = av - int(golden.round_shift(np.int64(vv), shift))
                if ctx.get(y) != want:
                    bad.append((av, vv, ctx.get(y), want))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert not bad, f"shift {shift}: (a, v, got, want) {bad[:4]}"


def test_saturate_unsigned_and_narrow():
    m = Module()
    u = Signal(10)
    n = Signal(signed(6))
    yu, yn = Signal(signed(40)), Signal(signed(40))
    m.d.comb += [yu.eq(saturate(u, 8)), yn.eq(saturate(n, 8))]
    out = []

    async def tb(ctx):
        for v in (0, 127, 128, 1023):
            ctx.set(u, v)
            out.append(ctx.get(yu))
        for v in (-32, 31):
            ctx.set(n, v)
            out.append(ctx.get(yn))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    assert out == [0, 127, 127, 127, -32, 31]


def test_bad_width_is_rejected():
    with pytest.raises(ValueError, match="width must be a positive integer, not 0"):
        saturate(Signal(4), 0)


@pytest.mark.parametrize("divisor, limit", [(3, 2**20), (64 * 4, 128 * 128), (7, 1000), (8, 300),
                                            (1, 5), (10, 10)])
def test_divmod_const(divisor, limit):
    m = Module()
    x = Signal(range(limit))
    q, r = divmod_const(x, divisor, limit)
    qs, rs = Signal(q.shape()), Signal(r.shape())
    m.d.comb += [qs.eq(q), rs.eq(r)]
    seed = divisor
    rng = np.random.default_rng(seed)
    values = np.unique(np.concatenate([[0, 1, limit - 1, limit - 2], np.arange(0, limit, divisor),
                                       rng.integers(0, limit, 300)]))[:600]
    values = values[(values >= 0) & (values < limit)]
    got = []

    async def tb(ctx):
        for v in values:
            ctx.set(x, int(v))
            got.append((ctx.get(qs), ctx.get(rs)))

    sim = Simulator(m)
    sim.add_testbench(tb)
    sim.run()
    got = np.array(got)
    np.testing.assert_array_equal(got[:, 0], values // divisor, err_msg=f"seed {seed}")
    np.testing.assert_array_equal(got[:, 1], values % divisor, err_msg=f"seed {seed}")


def test_divmod_const_is_exact_over_the_whole_range():
    """The reciprocal constant, checked in integers for every value below 2**20."""
    for divisor in (3, 5, 7, 12, 100, 192, 1000, 4095):
        n = 20
        s = n + (divisor - 1).bit_length()
        coef = -(-(1 << s) // divisor)
        v = np.arange(1 << n, dtype=np.int64)
        np.testing.assert_array_equal((v * coef) >> s, v // divisor, err_msg=f"divisor {divisor}")
