"""The random-classifier generator: twin of ``lela.rtl.lfsr``.

A 32-bit Galois LFSR, right-shifting, with feedback polynomial
``x^32 + x^22 + x^2 + x + 1`` (mask ``0x80200003``). One *step* emits the
state's least significant bit, shifts right and, if the emitted bit was 1,
XORs the mask into the state. The seed is the initial state (non-zero).

An *entry* is ``m_bits`` consecutive steps, the first emitted bit being the
least significant bit of the unsigned draw ``u``. Entries of ``M_i`` are the
odd integers ``2u - (2**m_bits - 1)``. They are emitted in j-major, c-minor
order: ``M[0,0], M[1,0], ..., M[C-1,0], M[0,1], ...`` (column ``j`` of
``M_i`` is the ``C`` weights of neuron ``j``), so both the score pass and the
error pass consume one neuron's column at a time.
"""

import numpy as np

from lela.contract import LFSR_MASK as MASK
from lela.contract import LFSR_WIDTH as WIDTH

__all__ = ["MASK", "WIDTH", "Lfsr", "classifier_matrix", "draws", "feedback_matrix"]


class Lfsr:
    """Bit-serial software LFSR, step for step the hardware's."""

    def __init__(self, seed):
        if not 0 < seed < (1 << WIDTH):
            raise ValueError(f"LFSR seed must be in [1, 2**{WIDTH} - 1], not {seed!r}")
        self.state = seed

    def step(self):
        """One shift; returns the emitted bit (the state's lowest)."""
        bit = self.state & 1
        self.state >>= 1
        if bit:
            self.state ^= MASK
        return bit

    def draw(self, bits):
        """``bits`` steps as an unsigned integer, first emitted bit lowest."""
        u = 0
        for b in range(bits):
            u |= self.step() << b
        return u


def draws(seed, count, bits):
    """The first ``count`` unsigned ``bits``-bit draws from ``seed`` (int64 array)."""
    lfsr = Lfsr(seed)
    return np.array([lfsr.draw(bits) for _ in range(count)], dtype=np.int64)


def _odd(u, bits):
    return 2 * u - ((1 << bits) - 1)


def classifier_matrix(seed, classes, neurons, bits):
    """Integer ``M`` (``classes`` x ``neurons``) regenerated from ``seed``."""
    u = draws(seed, classes * neurons, bits)
    return _odd(u, bits).reshape(neurons, classes).T.copy()


def feedback_matrix(mode, m, k_seed, bits):
    """Integer feedback matrix ``K`` for ``mode`` given the classifier ``m``.

    ``symmetric``: ``K = M``. ``sign_concordant``: magnitudes ``|2u - (2**bits
    - 1)|`` (the magnitude law of ``M``) drawn from ``k_seed`` in the same
    order, signs of ``M``. ``independent``: the odd
    integers drawn from ``k_seed`` (signs and magnitudes independent of M).
    """
    classes, neurons = m.shape
    if mode == "symmetric":
        return m.copy()
    u = draws(k_seed, classes * neurons, bits).reshape(neurons, classes).T
    if mode == "sign_concordant":
        return np.sign(m) * np.abs(_odd(u, bits))
    if mode == "independent":
        return _odd(u, bits)
    raise ValueError(f"feedback mode must be symmetric, sign_concordant or independent, not {mode!r}")
