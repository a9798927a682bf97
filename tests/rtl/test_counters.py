"""``rtl.counters.Counters`` against ``CounterTwin``, cycle by cycle: random
events, every counter word read through the read port (low and high words,
across the 32-bit boundary and the counter width)."""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.contract import ACCESS_DATA_BITS, COUNTER_BITS, COUNTER_HIGH, COUNTERS
from lela.rtl.counters import COUNTER_INDEX_BITS, EVENTS, Counters


class CounterTwin:
    """What each counter counts per event (docs/architecture.md, the RTL's
    docstring), written out again here so that the two can disagree."""

    def __init__(self, lanes):
        self.lanes = lanes
        self.values = dict.fromkeys(COUNTERS, 0)
        self.pending = None

    def step(self, ev):
        """One clock edge: the events of the cycle before are added, ``ev`` is
        registered."""
        ev, self.pending = self.pending, ev
        if ev is None:
            return
        P = self.lanes
        inc = {"busy_cycles": ev["busy"], "mac_multiplies": P * ev["beat"],
               "classifier_multiplies": ev["classifier_multiply"],
               "weight_reads": P * ev["beat"], "weight_writes": P * ev["weight_write"],
               "act_reads": ev["beat"] + P * ev["word_read"], "act_writes": P * ev["act_write"]}
        for name in COUNTERS:
            self.values[name] = (self.values[name] + inc[name]) % (1 << COUNTER_BITS)

    def read(self, index):
        n, high = index % COUNTER_HIGH, index >= COUNTER_HIGH
        if n >= len(COUNTERS):
            return 0
        value = self.values[COUNTERS[n]]
        return value >> ACCESS_DATA_BITS if high else value & ((1 << ACCESS_DATA_BITS) - 1)


@pytest.mark.parametrize("lanes, start", [(1, 0), (4, 0), (3, (1 << 32) - 40),
                                          (8, (1 << COUNTER_BITS) - 30)])
def test_every_cycle_equals_the_twin(lanes, start):
    """Every cycle: random events (now and then all at once, the largest
    increments), a random word read back; the counters start at ``start``
    (set through the backdoor) so that carries into the high word and the
    wrap at ``2**COUNTER_BITS`` are crossed."""
    seed = 980 + lanes
    rng = np.random.default_rng(seed)
    dut = Counters(lanes=lanes)
    twin = CounterTwin(lanes)
    seen_high = set()

    async def tb(ctx):
        for name in COUNTERS:
            ctx.set(dut.counts[name], start)
            twin.values[name] = start
        for cycle in range(300):
            busy = rng.random() < 0.2
            ev = {name: int(busy or rng.random() < 0.4) for name in EVENTS}
            index = int(rng.integers(0, 1 << COUNTER_INDEX_BITS))
            for name, value in ev.items():
                ctx.set(getattr(dut, name), value)
            ctx.set(dut.r_index, index)
            got, want = ctx.get(dut.r_data), twin.read(index)
            assert got == want, (f"seed {seed}, cycle {cycle}: index {index} reads {got:#x}, "
                                 f"twin {want:#x}")
            if index >= COUNTER_HIGH and index % COUNTER_HIGH < len(COUNTERS):
                seen_high.add(want)
            twin.step(ev)
            await ctx.tick()
        # the last cycle's events land one edge later
        for name in EVENTS:
            ctx.set(getattr(dut, name), 0)
        twin.step(dict.fromkeys(EVENTS, 0))
        await ctx.tick()
        for n, name in enumerate(COUNTERS):
            for index in (n, n + COUNTER_HIGH):
                ctx.set(dut.r_index, index)
                assert ctx.get(dut.r_data) == twin.read(index), f"seed {seed}: {name}"

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    if start:   # the high word changed during the run: the carry was crossed
        assert len(seen_high) > 1, f"seed {seed}: high words {seen_high}"


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("lanes must be an integer >= 1, not 0")):
        Counters(lanes=0)
