"""The PLL clock's power-on reset, in simulation: ``sync`` waits for the
lock and ``por_cycles - 1`` cycles more (plus the synchronizer), and a lost
lock starts the wait again."""

import pytest
from amaranth import ClockDomain, ClockSignal, Elaboratable, Module, Signal
from amaranth.sim import Simulator

from lela.boards.clocking import POR_CYCLES, PLLClock

#: Stages of amaranth's ResetSynchronizer between the counter and ``sync``'s reset.
SYNC_STAGES = 2


class Bench(Elaboratable):
    """A free-running ``osc`` clock as the PLL's output, and a counter in
    ``sync`` that shows when the reset is released."""

    def __init__(self, por_cycles):
        self.dut = PLLClock(clock_hz=24e6, por_cycles=por_cycles)
        self.count = Signal(16)

    def elaborate(self, platform):
        m = Module()
        m.domains.osc = ClockDomain()
        m.domains.sync = ClockDomain()
        m.submodules.dut = self.dut
        m.d.comb += self.dut.clk.eq(ClockSignal("osc"))
        m.d.sync += self.count.eq(self.count + 1)
        return m


@pytest.mark.parametrize("por_cycles", [2, 5, 16])
def test_reset_waits_for_the_lock(por_cycles):
    bench = Bench(por_cycles)
    wait = por_cycles - 1 + SYNC_STAGES
    sim = Simulator(bench)
    sim.add_clock(1e-6, domain="osc")

    async def tb(ctx):
        for attempt in range(2):
            ctx.set(bench.dut.lock, 0)
            await ctx.tick("osc").repeat(3 * por_cycles)
            assert ctx.get(bench.count) == 0, f"attempt {attempt}: counted without a lock"
            ctx.set(bench.dut.lock, 1)
            await ctx.tick("osc").repeat(wait)
            assert ctx.get(bench.count) == 0, f"attempt {attempt}: released too early"
            await ctx.tick("osc").repeat(3)
            assert ctx.get(bench.count) == 3, f"attempt {attempt}: not released after {wait}"

    sim.add_testbench(tb)
    sim.run()


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=r"clock_hz must be a positive frequency in Hz, not 0"):
        PLLClock(clock_hz=0)
    with pytest.raises(ValueError, match=r"clock_hz must be a positive frequency in Hz, "
                                         r"not '24e6'"):
        PLLClock(clock_hz="24e6")
    with pytest.raises(ValueError, match=r"por_cycles must be an integer >= 2, not 1"):
        PLLClock(clock_hz=24e6, por_cycles=1)
    dut = PLLClock(clock_hz=24e6)
    dut._MustUse__silence = True
    assert (dut.clock_hz, dut.por_cycles) == (24e6, POR_CYCLES)
