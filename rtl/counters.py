"""The seven performance counters of a layer (``lela.contract.COUNTERS``).

Each counter is ``COUNTER_BITS`` wide and counts, every cycle, what the layer
engine reports in that cycle (so the paper's memory-traffic claim is measured,
not asserted):

=========================  =================================================
``busy_cycles``            +1 while ``busy``
``mac_multiplies``         +P per MAC beat (``beat``)
``classifier_multiplies``  +Q per error-unit cycle with multiplies (``classifier_multiply``)
``weight_reads``           +P per MAC beat (one weight word read)
``weight_writes``          +P per weight word written back (``weight_write``)
``act_reads``              +1 per MAC beat (its input ``h_k``), +P per
                           activation word the error unit reads (``word_read``)
``act_writes``             +P per activation word written (``act_write``)
=========================  =================================================

The analytic twin of the totals per sample is ``lela.golden_model.counters``;
the per-cycle twin is ``CounterTwin`` in ``tests/rtl/test_counters.py``.

The read port is combinational and follows the access port's index field:
bits 31..0 of counter ``n`` at index ``n``, the bits above at ``n +
COUNTER_HIGH``.
"""

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lela.contract import ACCESS_DATA_BITS, COUNTER_BITS, COUNTER_HIGH, COUNTERS

from .params import check_int

__all__ = ["COUNTER_INDEX_BITS", "EVENTS", "Counters"]

#: Bits of the counter read index: the counter number, then the high-word flag.
COUNTER_INDEX_BITS = COUNTER_HIGH.bit_length()
assert COUNTER_HIGH == 1 << (COUNTER_INDEX_BITS - 1) and len(COUNTERS) <= COUNTER_HIGH


#: The event inputs of :class:`Counters`, in signature order.
EVENTS = ("busy", "beat", "classifier_multiply", "weight_write", "word_read", "act_write")


class Counters(wiring.Component):
    """The layer's counters and their read port.

    Parameters
    ----------
    lanes : int
        ``P``: MAC lanes of the layer (weights per word, activations per word).
    classifier_lanes : int
        ``Q``: the error unit's products per multiplying cycle.

    Attributes
    ----------
    busy : In(1)
        The layer engine is busy this cycle.
    beat : In(1)
        A MAC beat is issued (``P`` multiplies, one weight word and one input
        activation read).
    classifier_multiply : In(1)
        The error unit multiplies this cycle (``Q`` products).
    weight_write : In(1)
        A weight word is written back by the update.
    word_read : In(1)
        The error unit reads an activation word (``P`` values).
    act_write : In(1)
        An activation word (``P`` values) is written.
    r_index : In(unsigned(COUNTER_INDEX_BITS))
        Counter ``n`` (low bits) and the high-word flag (bit
        ``COUNTER_INDEX_BITS - 1``, i.e. index ``n + COUNTER_HIGH``).
    r_data : Out(unsigned(32))
        That word, combinationally (0 for a number that is not a counter).

    Every event is registered at the clock edge at the end of its cycle and
    added at the next one (so that no event logic drives a counter's carry
    chain in its cycle): ``r_data`` shows the counts of the cycles before the
    previous one. The access port reads a counter two cycles after the
    request at the earliest, and requests come only while the layer is idle,
    so a read sees every event of the layer's last sample.
    """

    def __init__(self, *, lanes, classifier_lanes=1):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "classifier_lanes", classifier_lanes, 1)
        self._lanes = lanes
        self._classifier_lanes = classifier_lanes
        members = {name: In(1) for name in EVENTS}
        members.update({"r_index": In(COUNTER_INDEX_BITS), "r_data": Out(ACCESS_DATA_BITS)})
        super().__init__(members)
        #: The counter registers by name (public for simulation backdoors).
        self.counts = {n: Signal(COUNTER_BITS, name=f"count_{n}") for n in COUNTERS}

    def elaborate(self, platform):
        """The event registers, one adder per counter; the read port is a multiplexer."""
        m = Module()
        P = self._lanes
        counters = [self.counts[n] for n in COUNTERS]
        ev = {}
        for name in EVENTS:
            ev[name] = Signal(name=f"event_{name}")
            m.d.sync += ev[name].eq(getattr(self, name))
        inc = {
            "busy_cycles": ev["busy"],
            "mac_multiplies": Mux(ev["beat"], P, 0),
            "classifier_multiplies": Mux(ev["classifier_multiply"], self._classifier_lanes, 0),
            "weight_reads": Mux(ev["beat"], P, 0),
            "weight_writes": Mux(ev["weight_write"], P, 0),
            "act_reads": Mux(ev["beat"], 1, 0) + Mux(ev["word_read"], P, 0),
            "act_writes": Mux(ev["act_write"], P, 0),
        }
        for name, counter in zip(COUNTERS, counters):
            m.d.sync += counter.eq(counter + inc[name])

        number = self.r_index[:COUNTER_INDEX_BITS - 1]
        counter = Const(0, COUNTER_BITS)
        for n, c in enumerate(counters):
            counter = Mux(number == n, c, counter)
        m.d.comb += self.r_data.eq(Mux(self.r_index[-1], counter[ACCESS_DATA_BITS:],
                                       counter[:ACCESS_DATA_BITS]))
        return m
