"""The clock and power-on reset of a board design run from a PLL.

When a board runs the design from a PLL instead of the oscillator, the
platform's own clock domain is not used: the board top defines ``sync``, the
PLL's output clocks it through :class:`PLLClock`, which holds it in reset
from configuration until the PLL has locked and :data:`POR_CYCLES` more
cycles have passed (a lost lock starts the count again). The board file
instantiates the PLL primitive and connects its clock and lock outputs to
the ports. An ECP5 board run from its oscillator uses it too, with the lock
tied high: that platform's own domain has no reset
(:class:`lela.boards.ecp5.Ecp5BoardTop`).
"""

from amaranth import ClockDomain, ClockSignal, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import ResetSynchronizer
from amaranth.lib.wiring import In

from lela.rtl.params import check_int, invalid

__all__ = ["POR_CYCLES", "PLLClock"]

#: Cycles of the power-on reset after the PLL locks: iCE40 block RAMs read as
#: zero for ~3 us after configuration (amaranth's own iCE40 reset waits 15 us).
POR_CYCLES = 1 << 10


class PLLClock(wiring.Component):
    """``sync`` clocked by a PLL and in reset until the PLL has locked.

    Drives the clock of ``sync`` (which a parent defines) with ``clk`` and its
    reset with the power-on reset, through a
    :class:`~amaranth.lib.cdc.ResetSynchronizer`; the counter runs in a local
    domain ``por`` on the same clock without a reset (it must not reset
    itself). On a platform it also adds the clock constraint of ``clk``.

    Parameters
    ----------
    clock_hz : float
        Frequency of ``clk`` (Hz), for the clock constraint.
    por_cycles : int
        Period of the reset counter, at least 2: ``sync`` is in reset while
        ``lock`` is low and for ``por_cycles - 1`` cycles after it rises (and
        the synchronizer's two); :data:`POR_CYCLES` by default.

    Ports
    -----
    clk : In(1)
        The PLL's output clock.
    lock : In(1)
        The PLL's lock output (high once the output is stable).
    """

    def __init__(self, *, clock_hz, por_cycles=POR_CYCLES):
        if (not isinstance(clock_hz, (int, float)) or isinstance(clock_hz, bool)
                or not clock_hz > 0):
            invalid(self, ValueError(f"clock_hz must be a positive frequency in Hz, "
                                     f"not {clock_hz!r}"))
        self._clock_hz = clock_hz
        self._por_cycles = check_int(self, "por_cycles", por_cycles, 2)
        super().__init__({"clk": In(1), "lock": In(1)})

    @property
    def clock_hz(self):
        """Frequency of ``clk`` (Hz)."""
        return self._clock_hz

    @property
    def por_cycles(self):
        """Period of the reset counter."""
        return self._por_cycles

    def elaborate(self, platform):
        """The domain's clock, the reset counter and its synchronizer."""
        m = Module()
        m.d.comb += ClockSignal("sync").eq(self.clk)
        if platform is not None:
            platform.add_clock_constraint(self.clk, self._clock_hz)

        n = self._por_cycles
        por = Signal(range(n), init=n - 1)
        m.domains.por = ClockDomain("por", reset_less=True, local=True)
        m.d.comb += ClockSignal("por").eq(self.clk)
        with m.If(~self.lock):
            m.d.por += por.eq(n - 1)
        with m.Elif(por != 0):
            m.d.por += por.eq(por - 1)
        m.submodules.reset = ResetSynchronizer(por != 0, domain="sync")
        return m
