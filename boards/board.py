"""What every board file shares: the system on a board clock, its UART and LEDs.

A board file (:mod:`lela.boards.icebreaker`, :mod:`lela.boards.ulx3s`)
subclasses :class:`BoardTop` and gives only what differs between boards:
its oscillator, its design clock, the PLL parameter search and primitive, and
the pins (UART, LEDs). The choice between oscillator and PLL, the power-on
reset (:class:`~lela.boards.clocking.PLLClock`), the UART divisor, the core
and the LED flashes are written here once.
"""

from amaranth import ClockDomain, Elaboratable, Module, Signal

from .clocking import PLLClock
from .system import SerialCore
from .uart import divisor_for

__all__ = ["FLASH_BITS", "BoardTop", "flash"]

#: Bits of an LED's flash counter: a flash lasts ``2**FLASH_BITS - 1`` clock
#: cycles (22 ms at 12 MHz, 6.6 ms at 40 MHz), long enough to be seen.
FLASH_BITS = 18


def flash(m, event, *, bits=FLASH_BITS):
    """A flash of ``2**bits - 1`` cycles of the ``sync`` domain from each ``event``.

    Parameters
    ----------
    m : amaranth.hdl.Module
        The module that gets the flash counter.
    event : Value
        Starts (or restarts) the flash while high.
    bits : int
        Width of the counter.

    Returns
    -------
    Value
        High while the flash lasts (for an LED).
    """
    count = Signal(bits)
    with m.If(event):
        m.d.sync += count.eq(~0)
    with m.Elif(count != 0):
        m.d.sync += count.eq(count - 1)
    return count != 0


class BoardTop(Elaboratable):
    """The lela system on a board (subclassed by each board file).

    The design runs from the board's oscillator when ``clock_hz`` is
    ``OSC_HZ`` (the platform's default clock domain, or :meth:`oscillator`
    through a power-on reset), else from the PLL
    setting ``find_pll(OSC_HZ, clock_hz)`` finds, whose output then is the
    design clock (:class:`~lela.boards.clocking.PLLClock`). The core is a
    :class:`~lela.boards.system.SerialCore` with a 100 ms link timeout.

    A subclass sets ``OSC_HZ`` and ``CLOCK_HZ`` (Hz) and ``find_pll`` (a
    function of :mod:`lela.boards.pll`), and defines :meth:`pll_primitive`
    and :meth:`pins`.

    Parameters
    ----------
    cfg : lela.config.Config
        The network's configuration.
    baud : int
        UART baud rate.
    clock_hz : float or None
        Design clock (Hz); ``CLOCK_HZ`` by default.

    Attributes
    ----------
    pll : Ice40Pll or Ecp5Pll or None
        The PLL setting, None on the oscillator.
    clock_hz : float
        The design clock reached (the PLL's output frequency).
    divisor : int
        Clock cycles per UART bit.
    """

    #: The board's oscillator (Hz).
    OSC_HZ = None
    #: The default design clock (Hz).
    CLOCK_HZ = None
    #: PLL parameter search, ``find_pll(f_in, f_out)`` (a setting with ``f_out``).
    find_pll = None

    def __init__(self, cfg, *, baud=115200, clock_hz=None):
        self.cfg = cfg
        self.baud = baud
        self.clock_hz = self.CLOCK_HZ if clock_hz is None else clock_hz
        self.pll = (None if self.clock_hz == self.OSC_HZ
                    else self.find_pll(self.OSC_HZ, self.clock_hz))
        if self.pll is not None:
            self.clock_hz = self.pll.f_out
        self.divisor = divisor_for(self.clock_hz, baud)

    def pll_primitive(self, platform, *, clk, lock):
        """The board's PLL primitive.

        Parameters
        ----------
        platform : amaranth.build.Platform
            Where the oscillator pin is requested.
        clk, lock : Signal
            To drive with the PLL's output clock and lock.

        Returns
        -------
        Elaboratable
            The instance.
        """
        raise NotImplementedError

    def oscillator(self, platform):
        """The oscillator's clock input, for a design run from it without a PLL.

        None (this default): the design uses the platform's own ``sync``
        domain (on the iCE40 it has a power-on reset). A board whose platform
        domain has none (the ECP5's is reset-less, reset by GSR) returns the
        input; the design then runs from it through
        :class:`~lela.boards.clocking.PLLClock` with the lock tied high (the
        power-on reset alone).
        """

    def pins(self, m, platform, core):
        """Join ``core`` (a :class:`~lela.boards.system.SerialCore`) to the
        board's UART and LEDs in ``m``."""
        raise NotImplementedError

    def elaborate(self, platform):
        """The clock (PLL and reset, if any), the core and the board's pins."""
        m = Module()
        osc = self.oscillator(platform) if self.pll is None else None
        if self.pll is not None or osc is not None:
            m.domains.sync = ClockDomain("sync")
            m.submodules.clocking = clocking = PLLClock(clock_hz=self.clock_hz)
            if self.pll is not None:
                m.submodules.pll = self.pll_primitive(platform, clk=clocking.clk,
                                                      lock=clocking.lock)
            else:
                m.d.comb += [clocking.clk.eq(osc), clocking.lock.eq(1)]
        m.submodules.core = core = SerialCore(self.cfg, divisor=self.divisor,
                                              timeout=int(self.clock_hz // 10))
        self.pins(m, platform, core)
        return m
