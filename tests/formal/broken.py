"""Deliberately broken variants of lela blocks (test fixtures).

Each has one classic bug; the formal suite must catch every one with a
counterexample (``test_formal.py::test_broken_variant_fails``). They are
never used outside the tests.
"""

from amaranth.hdl import Cat, Fragment, Module, Mux, Signal

from lela.golden_model.lfsr import WIDTH
from lela.rtl.axi import PacketFIFO
from lela.rtl.error_unit import ErrorUnit
from lela.rtl.input_buffer import InputBuffer
from lela.rtl.lfsr import ClassifierLfsr, unroll
from lela.rtl.mac_array import MacArray
from lela.rtl.numerics import round_shift
from lela.rtl.top import Network

from .harness import SatStage
from .harness.base import probe

__all__ = ["GreedyInputBuffer", "HalfLessMacArray", "LateInFlightNetwork",
           "SkippingFinishErrorUnit", "TrustingPacketFIFO", "UnrewoundPacketFIFO",
           "WrappingStage", "ZeroResetLfsr"]


class WrappingStage(SatStage):
    """Narrows by truncation (two's-complement wrap-around) instead of
    saturating: ``8 - 2**-12`` plus one LSB becomes ``-8``."""

    def elaborate(self, platform):
        m = Module()
        r = round_shift(self.x, self.shift)
        exact = self.base - r if self.subtract else r
        m.d.comb += self.y.eq(exact[:self.width].as_signed())
        return m


class HalfLessMacArray(MacArray):
    """The accumulators start from zero instead of the rounding's half LSB:
    every result is the sum shifted down, truncated instead of rounded."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.acc_start = 0


class ZeroResetLfsr(ClassifierLfsr):
    """The state register forgets its seed as reset value (``Signal(32)``,
    reset to 0): the LFSR is stuck at zero until its first rewind.
    Symmetric feedback only."""

    def elaborate(self, platform):
        m = Module()
        bits = self.m_bits
        m_state = Signal(WIDTH)                    # bug: init=self._m_seed forgotten
        m_draw, m_next = unroll(m_state, bits)
        odd = ((m_draw << 1) - ((1 << bits) - 1))[:bits + 1].as_signed()
        m.d.comb += [self.m[0].eq(odd), self.k.eq(self.m)]
        with m.If(self.rewind):
            m.d.sync += m_state.eq(self._m_seed)
        with m.Elif(self.en):
            m.d.sync += m_state.eq(m_next)
        return m


class SkippingFinishErrorUnit(ErrorUnit):
    """The scores' finish starts at class 1 instead of 0 (an off-by-one in
    its class counter): class 0's sum is never rounded, its score and
    gradient are stale."""

    def elaborate(self, platform):
        frag = Fragment.get(super().elaborate(platform), platform)
        wait, active, cls = (probe(frag, n) for n in ("fin_wait", "fin_active", "fin_cls"))
        # the last assignment wins: the counter's whole next value, restarted at 1
        frag.add_statements("sync", cls.eq(Mux(wait, 1, Mux(active, cls + 1, cls))))
        return frag


class GreedyInputBuffer(InputBuffer):
    """Accepts beats whenever enabled, even with both slots full: a beat
    overwrites a sample the first layer has not read yet (a lost sample)."""

    def elaborate(self, platform):
        m = super().elaborate(platform)
        # the last comb assignment wins: ready no longer looks at the slots
        m.d.comb += self.i_sample.ready.eq(Mux(self.enable, 1, 0))
        return m


class UnrewoundPacketFIFO(PacketFIFO):
    """Forgets to rewind the write pointer on a drop: the beats of a dropped
    frame stay in the storage, and the next commit releases them ahead of
    the next frame's."""

    def elaborate(self, platform):
        frag = Fragment.get(super().elaborate(platform), platform)
        wr, discard = probe(frag, "wr"), probe(frag, "discard")
        beat = self.i_stream
        # the last assignment wins: the pointer's whole next value, never rewound
        frag.add_statements("sync", wr.eq(Mux(beat.valid & beat.ready & ~discard, wr + 1, wr)))
        return frag


class TrustingPacketFIFO(PacketFIFO):
    """Trusts ``last``: a frame commits at its ``last`` whatever its length
    (a missing ``last`` on beat ``length`` still drops it), so a short frame
    reaches the core. It is still counted as dropped."""

    def elaborate(self, platform):
        frag = Fragment.get(super().elaborate(platform), platform)
        wr, start, k, discard = (probe(frag, n) for n in ("wr", "start", "k", "discard"))
        beat = self.i_stream
        stored = beat.valid & beat.ready & ~discard
        last, too_long = beat.payload.last, (k == self.length - 1) & ~beat.payload.last
        # the last assignments win: both pointers' whole next values
        frag.add_statements("sync", [
            wr.eq(Mux(stored, Mux(too_long, start, wr + 1), wr)),
            start.eq(Mux(stored & last, wr + 1, start)),
        ])
        return frag


class LateInFlightNetwork(Network):
    """The registered in-flight flag forgets the sample that is giving the
    input buffer its first beat: in the next cycle the flag is still low, and
    an access request is served while that sample is in the network."""

    @staticmethod
    def _in_flight(m, inbuf, layers):
        in_flight = Signal()
        m.d.sync += in_flight.eq(inbuf.busy | Cat(*(l.busy | l.o_full for l in layers)).any())
        return in_flight
