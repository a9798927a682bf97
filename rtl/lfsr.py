"""Random-classifier generator: twin of ``lela.golden_model.lfsr``.

Two 32-bit Galois LFSRs (polynomial mask :data:`~lela.golden_model.lfsr.MASK`)
produce ``entries`` consecutive entries of the fixed random classifier ``M``
and of the feedback matrix ``K`` per enabled cycle, in the golden model's
j-major, c-minor order. The ``entries * m_bits`` steps are unrolled
combinationally (the jump is a fixed XOR network of the state), so nothing is
stored but the two states.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.config import FEEDBACK_MODES
from lela.golden_model.lfsr import WIDTH, jump

from .params import check_choice, check_int

__all__ = ["ClassifierLfsr", "entry_shape", "unroll"]


def entry_shape(m_bits):
    """Shape of one classifier entry: the odd integers ``|e| <= 2**m_bits - 1``."""
    return signed(m_bits + 1)


def unroll(state, bits):
    """``bits`` LFSR steps of ``state`` as logic: ``(draw, next_state)``.

    The first emitted bit is the least significant bit of ``draw`` (the
    golden model's :meth:`~lela.golden_model.lfsr.Lfsr.draw`). The steps are
    linear over GF(2): each output bit is computed here, at elaboration time,
    as the set of state bits it XORs (:func:`lela.golden_model.lfsr.jump`),
    so the logic is one XOR of a fixed set of bits per output, however many
    steps are unrolled.
    """
    out, taps = ([int(t) for t in masks] for masks in jump(bits))
    state = Value.cast(state)
    return Cat(*((state & t).xor() for t in out)), Cat(*((state & t).xor() for t in taps))


def _odd(draw, bits):
    # 2u - (2**bits - 1): the odd integers in [-(2**bits - 1), 2**bits - 1]
    # exact modulo 2**(bits + 1), and the result fits signed(bits + 1)
    return ((draw << 1) - ((1 << bits) - 1))[:bits + 1].as_signed()


class ClassifierLfsr(wiring.Component):
    """Generator of the entries of ``M_i`` and of the feedback matrix ``K_i``.

    Parameters
    ----------
    m_bits : int
        Bits per draw (1..8); entries are ``2u - (2**m_bits - 1)``.
    m_seed : int
        Seed of the classifier LFSR (non-zero, 32 bits).
    k_seed : int
        Seed of the feedback-magnitude LFSR (used unless ``feedback`` is
        ``"symmetric"``).
    feedback : str
        ``"symmetric"`` (``k == m``), ``"sign_concordant"`` (magnitude from
        the ``k_seed`` LFSR, sign of ``m``) or ``"independent"`` (``k`` from
        the ``k_seed`` LFSR alone).

    Attributes
    ----------
    en : In(1)
        Advance both LFSRs by ``entries`` entries at the next clock edge.
    rewind : In(1)
        Reload both seeds at the next clock edge (wins over ``en``).
    m : Out(ArrayLayout(signed(m_bits + 1), entries))
        The current ``entries`` entries of ``M``, first in stream order at
        index 0 (combinational from the state).
    k : Out(ArrayLayout(signed(m_bits + 1), entries))
        The same entries of ``K``.
    """

    def __init__(self, *, m_bits, m_seed, k_seed, feedback, entries=1):
        check_int(self, "m_bits", m_bits, 1, 8)
        check_int(self, "entries", entries, 1)
        check_int(self, "m_seed", m_seed, 1, 2**WIDTH - 1)
        check_int(self, "k_seed", k_seed, 1, 2**WIDTH - 1)
        check_choice(self, "feedback", feedback, FEEDBACK_MODES)
        self._m_bits = m_bits
        self._m_seed = m_seed
        self._k_seed = k_seed
        self._feedback = feedback
        self._entries = entries
        entry = data.ArrayLayout(entry_shape(m_bits), entries)
        super().__init__({
            "en": In(1),
            "rewind": In(1),
            "m": Out(entry),
            "k": Out(entry),
        })

    @property
    def m_bits(self):
        """Bits of an entry's magnitude draw."""
        return self._m_bits

    @property
    def feedback(self):
        """The feedback mode (``lela.config.FEEDBACK_MODES``)."""
        return self._feedback

    def elaborate(self, platform):
        """One or two 32-bit LFSRs, ``entries * m_bits`` steps unrolled per cycle."""
        m = Module()
        bits, n = self._m_bits, self._entries
        m_state = Signal(WIDTH, init=self._m_seed)
        m_draw, m_next = unroll(m_state, bits * n)
        m_draws = [m_draw[e * bits:(e + 1) * bits] for e in range(n)]
        m.d.comb += [self.m[e].eq(_odd(u, bits)) for e, u in enumerate(m_draws)]
        with m.If(self.rewind):
            m.d.sync += m_state.eq(self._m_seed)
        with m.Elif(self.en):
            m.d.sync += m_state.eq(m_next)

        if self._feedback == "symmetric":
            m.d.comb += self.k.eq(self.m)
            return m

        k_state = Signal(WIDTH, init=self._k_seed)
        k_draw, k_next = unroll(k_state, bits * n)
        with m.If(self.rewind):
            m.d.sync += k_state.eq(self._k_seed)
        with m.Elif(self.en):
            m.d.sync += k_state.eq(k_next)
        for e in range(n):
            k_odd = Signal(entry_shape(bits), name=f"k_odd{e}" if n > 1 else "k_odd")
            m.d.comb += k_odd.eq(_odd(k_draw[e * bits:(e + 1) * bits], bits))
            if self._feedback == "independent":
                m.d.comb += self.k[e].eq(k_odd)
            else:
                # sign(M) * |K|: M is odd, so never zero; its sign is the draw's top bit
                magnitude = Mux(k_odd < 0, -k_odd, k_odd)
                m.d.comb += self.k[e].eq(Mux(m_draws[e][bits - 1], magnitude, -magnitude))
        return m
