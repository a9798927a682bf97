"""iCEBreaker (Lattice iCE40 UP5K): pins, clock, UART and LEDs around the core.

The board's 12 MHz oscillator drives the design directly or through the
``SB_PLL40_PAD`` when ``clock_hz`` asks for another frequency. The host link
runs on the FTDI's second channel (the board's USB-UART, pins 6/9). LEDs:
green = train mode, red = a sample in flight; the red LED also flashes for
a rejected request or a UART error.
"""

from amaranth import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
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


#: Yosys commands after reading the design: every block-RAM read port may
#: return anything when the same word is written in the same cycle. Without
#: this Yosys emulates read-first behaviour around each iCE40 block RAM (a
#: register of the write data and an address comparator per read port, about
#: 600 logic cells in the 3-hidden-layer build); no memory of the design reads
#: a word in the cycle it is written and uses the data (docs/boards.md). Every
#: memory has one write port, so the mask is one bit (a test checks it).
READ_COLLISION_DONT_CARE = "setparam -set COLLISION_X_MASK 1'1 t:$memrd_v2"


def synth_options(cfg):
    """Toolchain overrides of the build: SB_MAC16 DSPs (``-dsp``), ABC9 with the
    flip-flops (``-dff``), read/write collisions as don't-care; a single-port
    weight memory goes to SPRAM (``-spram``, and ``ram_style huge`` so that
    Yosys does not prefer block RAM for narrow or small ones)."""
    if cfg.weight_memory != "single_port":
        return {"synth_opts": "-dsp -dff", "script_after_read": READ_COLLISION_DONT_CARE}
    return {"synth_opts": "-dsp -dff -spram",
            "script_after_read": "\n".join([READ_COLLISION_DONT_CARE,
                                            'setattr -set ram_style "huge" */m:weights'])}


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
            m.domains.sync = cd_sync = ClockDomain("sync")
            pll = self.pll
            clk_pin = platform.request("clk12", dir="-")
            lock = Signal()
            m.submodules.pll = Instance(
                "SB_PLL40_PAD",
                p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq,
                p_FILTER_RANGE=pll.filter_range,
                io_PACKAGEPIN=clk_pin.io,
                i_RESETB=1, i_BYPASS=0,
                o_PLLOUTGLOBAL=cd_sync.clk,
                o_LOCK=lock,
            )
            platform.add_clock_constraint(cd_sync.clk, self.clock_hz)
            por = Signal(range(POR_CYCLES), init=POR_CYCLES - 1)
            m.domains.por = ClockDomain("por", reset_less=True)
            m.d.comb += ClockSignal("por").eq(cd_sync.clk)
            with m.If(~lock):
                m.d.por += por.eq(POR_CYCLES - 1)
            with m.Elif(por != 0):
                m.d.por += por.eq(por - 1)
            m.submodules.reset = ResetSynchronizer(por != 0, domain="sync")

        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.submodules.core = core = SerialCore(self.cfg, divisor=self.divisor,
                                              timeout=int(self.clock_hz // 10))
        m.d.comb += [core.rx.eq(uart_rx.i), uart_tx.o.eq(core.tx)]

        flash = Signal(FLASH_BITS)
        with m.If(core.o_error | core.o_rx_error):
            m.d.sync += flash.eq(~0)
        with m.Elif(flash != 0):
            m.d.sync += flash.eq(flash - 1)
        m.submodules.led_g = led_g = io.Buffer("o", platform.request("led_g", 0, dir="-"))
        m.submodules.led_r = led_r = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += [led_g.o.eq(core.o_train), led_r.o.eq(core.o_busy | (flash != 0))]
        return m
