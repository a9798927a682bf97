"""iCEBreaker (Lattice iCE40 UP5K): pins, clock, UART and LEDs around the core.

The board's 12 MHz oscillator drives the design directly or through the
``SB_PLL40_PAD`` when ``clock_hz`` asks for another frequency. The host link
runs on the FTDI's second channel (the board's USB-UART, pins 6/9). LEDs:
green = train mode, red = a sample in flight; the red LED also flashes for
a rejected request or a UART error.
"""

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer
from amaranth_boards.icebreaker import ICEBreakerPlatform

from .pll import ice40_pll
from .system import SerialCore
from .uart import divisor_for

__all__ = ["CLOCK_HZ", "NAME", "PLATFORM", "BoardTop", "platform", "synth_options"]

NAME = "icebreaker"
PLATFORM = ICEBreakerPlatform
#: Oscillator on the board.
OSC_HZ = 12e6
#: Clock of the design (Hz); see docs/boards.md for the Fmax it leaves.
CLOCK_HZ = 12e6
#: Cycles of the power-on reset after the PLL locks: iCE40 block RAMs read as
#: zero for ~3 us after configuration (amaranth's own iCE40 reset waits 15 us).
POR_CYCLES = 1 << 10
#: Cycles an error flash lasts on the LED (~20 ms at 12 MHz).
FLASH_BITS = 18


def synth_options():
    """Toolchain overrides of the build: SB_MAC16 DSPs need ``-dsp``."""
    return {"synth_opts": "-dsp"}


def platform():
    return PLATFORM()


class BoardTop(Elaboratable):
    """The lela system on the iCEBreaker.

    Parameters
    ----------
    cfg : lela.config.Config
    baud : int
        UART baud rate.
    clock_hz : float
        Design clock; the 12 MHz oscillator unless a PLL frequency is given.
    """

    def __init__(self, cfg, *, baud=115200, clock_hz=CLOCK_HZ):
        self.cfg = cfg
        self.baud = baud
        self.clock_hz = clock_hz
        self.pll = None if clock_hz == OSC_HZ else ice40_pll(OSC_HZ, clock_hz)
        if self.pll is not None:
            self.clock_hz = self.pll.f_out
        self.divisor = divisor_for(self.clock_hz, baud)

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            m.domains.sync = ClockDomain("sync")
            pll = self.pll
            clk_pin = platform.request("clk12", dir="-")
            lock = Signal()
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq,
                p_FILTER_RANGE=pll.filter_range,
                io_PACKAGEPIN=clk_pin,
                i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=ClockSignal("sync"),
                o_LOCK=lock,
            )
            platform.add_clock_constraint(ClockSignal("sync"), self.clock_hz)
            por = Signal(range(POR_CYCLES), init=POR_CYCLES - 1)
            m.domains.por = ClockDomain("por", reset_less=True)
            m.d.comb += ClockSignal("por").eq(ClockSignal("sync"))
            with m.If(~lock):
                m.d.por += por.eq(POR_CYCLES - 1)
            with m.Elif(por != 0):
                m.d.por += por.eq(por - 1)
            m.submodules.reset = ResetSynchronizer(por != 0, domain="sync")

        uart = platform.request("uart", 0)
        m.submodules.core = core = SerialCore(self.cfg, divisor=self.divisor,
                                              timeout=int(self.clock_hz // 10))
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]

        flash = Signal(FLASH_BITS)
        with m.If(core.o_error | core.o_rx_error):
            m.d.sync += flash.eq(~0)
        with m.Elif(flash != 0):
            m.d.sync += flash.eq(flash - 1)
        led_g = platform.request("led_g", 0)
        led_r = platform.request("led_r", 0)
        m.d.comb += [led_g.o.eq(core.o_train), led_r.o.eq(core.o_busy | (flash != 0))]
        return m
