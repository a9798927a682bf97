"""round_shift, saturate, quantize and the contract's accumulator width: the numeric
contract's primitives."""

from fractions import Fraction

import numpy as np
import pytest

from lela.contract import mac_acc_width
from lela.golden_model.numerics import quantize, round_shift, saturate, signed_range

from . import reference


@pytest.mark.parametrize("x, shift, expected", [
    (5, 1, 3),      # 2.5 -> 3: a positive tie rounds up
    (-5, 1, -2),    # -2.5 -> -2: a negative tie rounds up too (toward +inf)
    (3, 1, 2),      # 1.5 -> 2
    (-3, 1, -1),    # -1.5 -> -1
    (1, 1, 1),      # 0.5 -> 1
    (-1, 1, 0),     # -0.5 -> 0
    (-6, 2, -1),    # -1.5 -> -1
    (-7, 2, -2),    # -1.75 -> -2
    (-5, 2, -1),    # -1.25 -> -1
    (6, 2, 2),      # 1.5 -> 2
    (0, 5, 0),
    (15, 4, 1),     # 0.9375 -> 1
    (-8, 4, 0),     # -0.5 -> 0
    (-9, 4, -1),    # -0.5625 -> -1
    (7, 0, 7),      # no shift
    (-3, -2, -12),  # a negative shift is an exact left shift
    (2**61, 61, 1),
    (-(2**62), 62, -1),
    (2**62 - 1, 62, 1),
])
def test_round_shift_cases(x, shift, expected):
    assert round_shift(x, shift) == expected
    assert round_shift(np.array([x], dtype=np.int64), shift)[0] == expected


def test_round_shift_is_round_half_up():
    rng = np.random.default_rng(3)
    for shift in (1, 2, 3, 7, 17, 30, 40):
        x = np.concatenate([np.arange(-70, 71), rng.integers(-(2**61), 2**61, size=200)])
        got = round_shift(x.astype(np.int64), shift)
        for xi, gi in zip(x.tolist(), got.tolist()):
            exact = Fraction(xi, 2**shift) + Fraction(1, 2)
            assert gi == exact.__floor__() == reference.rs(xi, shift), (shift, xi)


def test_round_shift_array_keeps_int64():
    assert round_shift(np.array([5, -5], dtype=np.int64), 1).dtype == np.int64


def test_signed_range():
    assert signed_range(16) == (-32768, 32767)
    assert signed_range(4) == (-8, 7)
    assert signed_range(32) == (-(2**31), 2**31 - 1)


@pytest.mark.parametrize("x, expected", [
    (0, 0), (32767, 32767), (32768, 32767), (-32768, -32768), (-32769, -32768),
    (2**62, 32767), (-(2**62), -32768), (-1, -1), (12345, 12345),
])
def test_saturate_16(x, expected):
    assert saturate(x, 16) == expected
    assert saturate(np.array([x], dtype=np.int64), 16)[0] == expected


def test_saturate_never_wraps():
    x = np.arange(-(2**17), 2**17, 7, dtype=np.int64)
    got = saturate(x, 16)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [reference.sat(v, 16) for v in x.tolist()])
    # monotone: a saturating function never turns a large positive value negative
    assert np.all(np.diff(got) >= 0)
    assert isinstance(saturate(5, 8), int) and saturate(200, 8) == 127


def test_acc_width_is_the_smallest_that_holds_the_sum():
    for a in (4, 8, 16, 24):
        for b in (4, 8, 16):
            for terms in (1, 2, 3, 64, 100, 128, 784):
                worst = (terms + 1) * 2 ** (a - 1) * 2 ** (b - 1)  # (-2**(a-1))(-2**(b-1))
                width = mac_acc_width(a, b, terms)
                assert worst <= 2 ** (width - 1) - 1, (a, b, terms)
                assert worst > 2 ** (width - 2) - 1, (a, b, terms)  # one bit fewer fails
    assert mac_acc_width(16, 16, 64) == 38 and mac_acc_width(16, 16, 128) == 39


@pytest.mark.parametrize("v, expected", [
    (0.0, 0), (1.0, 4096), (0.5, 2048), (1 / 4096, 1),
    (0.5 / 4096, 1),      # half an LSB rounds up
    (-0.5 / 4096, 0),     # minus half an LSB rounds up to 0
    (-1.5 / 4096, -1),
    (0.49 / 4096, 0), (-0.51 / 4096, -1),
    (7.99, 32727), (8.0, 32767), (100.0, 32767),   # saturate high
    (-8.0, -32768), (-100.0, -32768),              # saturate low
])
def test_quantize(v, expected):
    assert quantize(v, 12, 16) == expected == reference.quantize(v, 12, 16)


def test_quantize_array():
    x = np.linspace(-9, 9, 1001)
    got = quantize(x, 12, 16)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, [reference.quantize(v, 12, 16) for v in x])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_quantize_rejects_non_finite_inputs(bad):
    with pytest.raises(ValueError, match="cannot quantize NaN or infinite inputs"):
        quantize(np.array([0.5, bad]), 12, 16)


def test_quantize_saturates_huge_finite_inputs():
    np.testing.assert_array_equal(quantize(np.array([1e30, -1e30]), 12, 16), [32767, -32768])
