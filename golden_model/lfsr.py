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

__all__ = ["MASK", "WIDTH", "JumpLfsr", "Lfsr", "classifier_matrix", "draws", "feedback_matrix",
           "jump"]


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


def jump(steps):
    """``steps`` LFSR steps as linear maps of the state over GF(2): ``(out,
    taps)``, uint64 arrays; emitted bit ``n`` is the parity of ``state &
    out[n]`` and state bit ``i`` after the steps the parity of ``state &
    taps[i]`` (the RTL's ``lela.rtl.lfsr.unroll`` builds the same XORs)."""
    taps = [1 << i for i in range(WIDTH)]   # taps[i]: the state bits that bit i XORs
    out = []
    for _ in range(steps):
        bit = taps[0]
        out.append(bit)
        taps = [(taps[i + 1] if i + 1 < WIDTH else 0) ^ (bit if MASK >> i & 1 else 0)
                for i in range(WIDTH)]
    return np.array(out, dtype=np.uint64), np.array(taps, dtype=np.uint64)


def _parity(state, taps):
    return (np.bitwise_count(np.uint64(state) & taps) & 1).astype(np.int64)


class JumpLfsr:
    """The LFSR taken ``count`` draws of ``bits`` bits at a time (each draw's
    first emitted bit lowest), as :meth:`Lfsr.draw` ``count`` times would: a
    layer's dropout draws, one per neuron, every sample it trains on."""

    def __init__(self, seed, count, bits):
        self.lfsr = Lfsr(seed)
        out, self._taps = jump(count * bits)
        self._out = out.reshape(count, bits)
        self._weights = np.int64(1) << np.arange(bits, dtype=np.int64)

    @property
    def state(self):
        """The LFSR's state (moves by ``count * bits`` steps per :meth:`draws`)."""
        return self.lfsr.state

    def draws(self):
        """The next ``count`` draws (int64 array); the state moves past them."""
        state = self.lfsr.state
        u = (_parity(state, self._out) * self._weights).sum(axis=1)
        self.lfsr.state = int((_parity(state, self._taps) << np.arange(WIDTH)).sum())
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
