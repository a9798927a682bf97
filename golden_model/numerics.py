"""Rounding and saturation: the numeric behaviour of lela, in one place.

Every rounding point of the datapath uses :func:`round_shift` (round half up:
add half an LSB of the result, then shift right arithmetically) and every
narrowing uses :func:`saturate` (clamp, never wrap). The RTL mirrors these two
functions in ``lela.rtl.numerics``. Both work on Python ints and on NumPy
integer arrays (int64; callers keep values below 2**62).
"""

import numpy as np

__all__ = ["exact_matmul", "quantize", "round_shift", "saturate", "signed_range"]


def signed_range(width):
    """``(lo, hi)`` of a signed ``width``-bit two's complement number."""
    return -(1 << (width - 1)), (1 << (width - 1)) - 1


def round_shift(x, shift):
    """``x / 2**shift`` rounded half up (``shift > 0``); a left shift for ``shift <= 0``."""
    if shift > 0:
        return (x + (1 << (shift - 1))) >> shift
    return x << -shift


def saturate(x, width):
    """Clamp ``x`` to a signed ``width``-bit number."""
    lo, hi = signed_range(width)
    if isinstance(x, np.ndarray):
        return np.clip(x, lo, hi)
    return min(max(x, lo), hi)


def quantize(x, frac, width):
    """Real values to signed fixed point (``frac`` fraction bits), rounded half
    up and saturated: the input format shared by the models and the RTL."""
    x = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("cannot quantize NaN or infinite inputs")
    lo, hi = signed_range(width)
    return np.clip(np.floor(x * (1 << frac) + 0.5), lo, hi).astype(np.int64)


def exact_matmul(a, b, width):
    """Integer ``a @ b`` whose every partial sum fits in ``width`` signed bits.

    Within 54 bits every product and partial sum is an integer that float64
    holds exactly, whatever the summation order, so the fast floating-point
    product is used; wider sums stay in int64.
    """
    if width <= 54:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a @ b
