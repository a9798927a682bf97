"""ULX3S 85F (Lattice ECP5 LFE5U-85F): pins, clock, UART and LEDs around the core.

The board's 25 MHz oscillator drives the design directly or through an
``EHXPLLL`` when ``clock_hz`` asks for another frequency. The host link runs
on the FT231X USB-UART (the board's "US1" port). LEDs: 0 = train mode,
1 = a sample in flight, 2 = flashes for a rejected request, 3 = flashes for a
UART framing error or overrun, 7 = heartbeat.
"""

import warnings

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib.cdc import ResetSynchronizer
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from .icebreaker import FLASH_BITS
from .pll import ecp5_pll
from .system import SerialCore
from .uart import divisor_for

__all__ = ["CLOCK_HZ", "NAME", "PLATFORM", "BoardTop", "platform", "synth_options"]

NAME = "ulx3s"
PLATFORM = ULX3S_85F_Platform
OSC_HZ = 25e6
#: Clock of the design (Hz), from the PLL: the default network routes at
#: about 50 MHz (docs/boards.md), so 40 MHz keeps a 20 % margin and trains
#: 1.6 x faster than the 25 MHz oscillator would.
CLOCK_HZ = 40e6
#: Cycles of reset after the PLL locks.
POR_CYCLES = 1 << 10


def synth_options(cfg):
    """Toolchain overrides of the build (ECP5 maps multipliers to MULT18X18D by default)."""
    return {}


def platform():
    return PLATFORM()


class BoardTop(Elaboratable):
    """The lela system on the ULX3S.

    Parameters
    ----------
    cfg : lela.config.Config
    baud : int
        UART baud rate.
    clock_hz : float
        Design clock; the 25 MHz oscillator unless a PLL frequency is given.
    """

    def __init__(self, cfg, *, baud=115200, clock_hz=CLOCK_HZ):
        self.cfg = cfg
        self.baud = baud
        self.clock_hz = clock_hz
        self.pll = None if clock_hz == OSC_HZ else ecp5_pll(OSC_HZ, clock_hz)
        if self.pll is not None:
            self.clock_hz = self.pll.f_out
        self.divisor = divisor_for(self.clock_hz, baud)

    def elaborate(self, platform):
        m = Module()
        if self.pll is not None:
            m.domains.sync = ClockDomain("sync")
            pll = self.pll
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                clk25 = platform.request("clk25", 0)
            clk = Signal()
            lock = Signal()
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{OSC_HZ / 1e6:g}",
                a_FREQUENCY_PIN_CLKOP=f"{self.clock_hz / 1e6:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
                p_CLKOP_CPHASE=pll.clkop_cphase, p_CLKOP_FPHASE=0,
                p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div,
                i_RST=0, i_STDBY=0, i_CLKI=clk25.i, i_CLKFB=clk,
                i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
                i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_CLKOP=clk, o_LOCK=lock,
            )
            m.d.comb += ClockSignal("sync").eq(clk)
            # nextpnr also derives this constraint from the PLL's input clock
            platform.add_clock_constraint(clk, self.clock_hz)
            por = Signal(range(POR_CYCLES), init=POR_CYCLES - 1)
            m.domains.por = ClockDomain("por", reset_less=True)
            m.d.comb += ClockSignal("por").eq(clk)
            with m.If(~lock):
                m.d.por += por.eq(POR_CYCLES - 1)
            with m.Elif(por != 0):
                m.d.por += por.eq(por - 1)
            m.submodules.reset = ResetSynchronizer(por != 0, domain="sync")

        # Pins through platform.request() without dir="-" (deprecated in Amaranth
        # 0.5, still supported): with io.Buffer on these pins the YoWASP Yosys
        # 0.70 used here aborts in abc9 (ABC_OPS_REINTEGRATE, "GetSize(conn.first)
        # == GetSize(conn.second)") on this design; this form builds.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            uart = platform.request("uart", 0)
            leds = [platform.request("led", i) for i in (0, 1, 2, 3, 7)]
        m.submodules.core = core = SerialCore(self.cfg, divisor=self.divisor,
                                              timeout=int(self.clock_hz // 10))
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]

        flash_err = Signal(FLASH_BITS)
        flash_rx = Signal(FLASH_BITS)
        for flash, event in ((flash_err, core.o_error), (flash_rx, core.o_rx_error)):
            with m.If(event):
                m.d.sync += flash.eq(~0)
            with m.Elif(flash != 0):
                m.d.sync += flash.eq(flash - 1)
        beat = Signal(25)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += [leds[0].o.eq(core.o_train), leds[1].o.eq(core.o_busy),
                     leds[2].o.eq(flash_err != 0), leds[3].o.eq(flash_rx != 0),
                     leds[4].o.eq(beat[-1])]
        return m
