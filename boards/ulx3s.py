"""ULX3S 85F (Lattice ECP5 LFE5U-85F): pins, clock, UART and LEDs around the core.

The board's 25 MHz oscillator drives the design directly or through an
``EHXPLLL`` when ``clock_hz`` asks for another frequency. The host link runs
on the FT231X USB-UART (the board's "US1" port). LEDs: 0 = train mode,
1 = a sample in flight, 2 = flashes for a rejected request, 3 = flashes for a
UART framing error or overrun, 7 = heartbeat.
"""

import warnings

from amaranth import Instance, Signal
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from . import board
from .pll import ecp5_pll

__all__ = ["BITSTREAM", "CLOCK_HZ", "FAMILY", "NAME", "PLATFORM", "PROGRAMMER_ARGS", "RESOURCES",
           "YOSYS_FLIP_FLOP", "YOSYS_LUT4", "BoardTop", "platform", "synth_options"]

NAME = "ulx3s"
PLATFORM = ULX3S_85F_Platform
#: FPGA family (``Config.primitives`` other than "portable" must name it).
FAMILY = "ecp5"
#: nextpnr cell types that ``lela build`` reports: (label, cell type).
RESOURCES = (("LUT4", "TRELLIS_COMB"), ("flip-flops", "TRELLIS_FF"),
             ("slices", "TRELLIS_SLICE"), ("block RAM (DP16KD)", "DP16KD"),
             ("DSP (MULT18X18D)", "MULT18X18D"), ("PLL", "EHXPLLL"), ("I/O", "TRELLIS_IO"))
#: Yosys cell types counted as LUT4s and (prefix) flip-flops where nextpnr's
#: report has none.
YOSYS_LUT4, YOSYS_FLIP_FLOP = "LUT4", "TRELLIS_FF"
#: Suffix of the bitstream file.
BITSTREAM = "bit"
#: openFPGALoader's arguments after ``-b ulx3s``: load the SRAM, not the flash.
PROGRAMMER_ARGS = ("-m",)
#: Oscillator on the board.
OSC_HZ = 25e6
#: Clock of the design (Hz), from the PLL: with the read register the default
#: network reaches 100.82 MHz at this clock; at a 100 MHz target builds reached
#: 94.22-104.67 MHz, as placement moves the DSP blocks' fabric registers
#: (docs/boards.md).
CLOCK_HZ = 90e6


#: Yosys command after reading the design: a register whose signal the RTL
#: marks ``keep`` is kept as its own cell. Amaranth 0.5 puts a signal's
#: attributes on its wire only, and Yosys merges registers of the same input
#: (``opt_merge``) unless the cell has ``keep``: without this the MAC array's
#: per-lane copies of ``h`` become one register driving every lane's
#: MULT18X18D (docs/boards.md).
KEEP_REGISTERS = "setattr -set keep 1 w:* a:keep %i %ci1 t:$dff %i"

#: Yosys commands after reading the design: flatten it and rename the wires
#: whose names need escaping in Verilog. Amaranth names the wires of an
#: array's elements ``x[3]`` beside the wire ``x``; Yosys 0.70's abc9 names
#: the bits it reintegrates the same way and stops on the collision
#: (``abc_ops_reintegrate``: "Assert `count_id(wire->name) == 0'" or
#: "`GetSize(conn.first) == GetSize(conn.second)'", seen from 8 lanes per
#: layer up, docs/boards.md).
UNIQUE_NAMES = "flatten\nrename -unescape"


def synth_options(cfg):
    """Toolchain overrides of the build (ECP5 maps multipliers to MULT18X18D by
    default): :data:`KEEP_REGISTERS`, then :data:`UNIQUE_NAMES`."""
    return {"script_after_read": f"{KEEP_REGISTERS}\n{UNIQUE_NAMES}"}


def platform():
    """A new ULX3S 85F platform."""
    return PLATFORM()


class BoardTop(board.BoardTop):
    """The lela system on the ULX3S (parameters: :class:`lela.boards.board.BoardTop`;
    ``clock_hz`` other than 25 MHz uses the ``EHXPLLL``)."""

    OSC_HZ = OSC_HZ
    CLOCK_HZ = CLOCK_HZ
    find_pll = staticmethod(ecp5_pll)

    def pll_primitive(self, platform, *, clk, lock):
        """``EHXPLLL`` on the 25 MHz oscillator, its output ``CLKOP`` fed back."""
        pll = self.pll
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            clk25 = platform.request("clk25", 0)
        # nextpnr derives the design clock's constraint from CLKI's: the one
        # PLLClock adds names a net that synthesis renames, and nextpnr ignores it
        return Instance(
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

    def pins(self, m, platform, core):
        """The FT231X as UART; LEDs 0: train mode, 1: a sample in flight, 2: a
        flash for a rejected request, 3: a flash for a UART error, 7: heartbeat."""
        # Pins through platform.request() without dir="-" (deprecated in Amaranth
        # 0.5, still supported): with io.Buffer on these pins the YoWASP Yosys
        # 0.70 used here aborts in abc9 (ABC_OPS_REINTEGRATE, "GetSize(conn.first)
        # == GetSize(conn.second)") on this design; this form builds.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            uart = platform.request("uart", 0)
            leds = [platform.request("led", i) for i in (0, 1, 2, 3, 7)]
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]

        beat = Signal(25)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += [leds[0].o.eq(core.o_train), leds[1].o.eq(core.o_busy),
                     leds[2].o.eq(board.flash(m, core.o_error)),
                     leds[3].o.eq(board.flash(m, core.o_rx_error)),
                     leds[4].o.eq(beat[-1])]
