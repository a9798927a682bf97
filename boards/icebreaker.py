"""iCEBreaker (Lattice iCE40 UP5K): pins, clock, UART and LEDs around the core.

The board's 12 MHz oscillator drives the design directly or through the
``SB_PLL40_PAD`` when ``clock_hz`` asks for another frequency. The host link
runs on the FTDI's second channel (the board's USB-UART, pins 6/9). LEDs:
green = train mode, red = a sample in flight; the red LED also flashes for
a rejected request or a UART error.
"""

from amaranth import Instance
from amaranth.lib import io
from amaranth_boards.icebreaker import ICEBreakerPlatform

from . import board
from .pll import ice40_pll

__all__ = ["BITSTREAM", "CLOCK_HZ", "FAMILY", "NAME", "PLATFORM", "PROGRAMMER_ARGS", "RESOURCES",
           "YOSYS_FLIP_FLOP", "YOSYS_LUT4", "BoardTop", "synth_options"]

NAME = "icebreaker"
#: The amaranth-boards platform (``lela build`` makes a new one per build).
PLATFORM = ICEBreakerPlatform
#: FPGA family (``Config.primitives`` other than "portable" must name it).
FAMILY = "ice40"
#: nextpnr cell types that ``lela build`` reports: (label, cell type).
RESOURCES = (("logic cells", "ICESTORM_LC"), ("block RAM (4 kbit)", "ICESTORM_RAM"),
             ("SPRAM (256 kbit)", "ICESTORM_SPRAM"), ("DSP (SB_MAC16)", "ICESTORM_DSP"),
             ("PLL", "ICESTORM_PLL"), ("I/O", "SB_IO"), ("global buffers", "SB_GB"))
#: Yosys cell types counted as LUT4s and (prefix) flip-flops, which nextpnr
#: does not report apart on this family.
YOSYS_LUT4, YOSYS_FLIP_FLOP = "SB_LUT4", "SB_DFF"
#: Suffix of the bitstream file.
BITSTREAM = "bin"
#: openFPGALoader's arguments after ``-b icebreaker``.
PROGRAMMER_ARGS = ()
#: Oscillator on the board.
OSC_HZ = 12e6
#: Clock of the design (Hz), from the ``SB_PLL40_PAD`` (12 MHz x 67 / 32):
#: the default network reaches 28.47 MHz at this clock and trains about 510
#: samples a second (docs/boards.md).
CLOCK_HZ = 25.125e6


#: Yosys commands after reading the design: every block-RAM read port may
#: return anything when the same word is written in the same cycle. Without
#: this Yosys emulates read-first behaviour around each iCE40 block RAM (a
#: register of the write data and an address comparator per read port, about
#: 600 logic cells in the 3-hidden-layer build); no memory of the design reads
#: a word in the cycle it is written and uses the data (docs/boards.md). Every
#: memory has one write port, so the mask is one bit (a test checks it).
READ_COLLISION_DONT_CARE = "setparam -set COLLISION_X_MASK 1'1 t:$memrd_v2"


def synth_options(cfg):
    """Toolchain overrides of the build: SB_MAC16 DSPs (``-dsp``), read/write
    collisions as don't-care; a single-port weight memory goes to SPRAM
    (``-spram``, and ``ram_style huge`` so that Yosys does not prefer block
    RAM for narrow or small ones). ABC9 is run without the flip-flops
    (``-dff``): with the registered pipeline it did not finish (docs/boards.md)."""
    if cfg.memory.ports != 1:
        return {"synth_opts": "-dsp", "script_after_read": READ_COLLISION_DONT_CARE}
    return {"synth_opts": "-dsp -spram",
            "script_after_read": f'{READ_COLLISION_DONT_CARE}\n'
                                 'setattr -set ram_style "huge" */m:weights'}


class BoardTop(board.BoardTop):
    """The lela system on the iCEBreaker (parameters: :class:`lela.boards.board.BoardTop`;
    ``clock_hz`` other than 12 MHz uses the ``SB_PLL40_PAD``)."""

    OSC_HZ = OSC_HZ
    CLOCK_HZ = CLOCK_HZ
    find_pll = staticmethod(ice40_pll)

    def pll_primitive(self, platform, *, clk, lock):
        """``SB_PLL40_PAD`` on the 12 MHz oscillator's pin."""
        pll = self.pll
        return Instance(
            "SB_PLL40_PAD",
            p_FEEDBACK_PATH="SIMPLE",
            p_DIVR=pll.divr, p_DIVF=pll.divf, p_DIVQ=pll.divq,
            p_FILTER_RANGE=pll.filter_range,
            io_PACKAGEPIN=platform.request("clk12", dir="-").io,
            i_RESETB=1, i_BYPASS=0,
            o_PLLOUTGLOBAL=clk,
            o_LOCK=lock,
        )

    def pins(self, m, platform, core):
        """The FTDI's second channel as UART; green LED: train mode, red LED: a
        sample in flight or a flash for a rejected request or a UART error."""
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = uart_rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = uart_tx = io.Buffer("o", uart.tx)
        m.d.comb += [core.rx.eq(uart_rx.i), uart_tx.o.eq(core.tx)]

        flashing = board.flash(m, core.o_error | core.o_rx_error)
        m.submodules.led_g = led_g = io.Buffer("o", platform.request("led_g", 0, dir="-"))
        m.submodules.led_r = led_r = io.Buffer("o", platform.request("led_r", 0, dir="-"))
        m.d.comb += [led_g.o.eq(core.o_train), led_r.o.eq(core.o_busy | flashing)]
