"""ULX3S 85F (Lattice ECP5 LFE5U-85F): pins, clock, UART and LEDs around the core.

The board's 25 MHz oscillator drives the design directly or through an
``EHXPLLL`` when ``clock_hz`` asks for another frequency. The host link runs
on the FT231X USB-UART (the board's "US1" port). LEDs: 0 = train mode,
1 = a sample in flight, 2 = flashes for a rejected request, 3 = flashes for a
UART framing error or overrun, 7 = heartbeat.
"""

import warnings

from amaranth import Signal
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from . import board, ecp5
from .ecp5 import (  # the family's facts, part of this board's descriptor
    BITSTREAM,
    FAMILY,
    RESOURCES,
    YOSYS_FLIP_FLOP,
    YOSYS_LUT4,
    synth_options,
)

__all__ = ["BITSTREAM", "CLOCK_HZ", "FAMILY", "NAME", "PLATFORM", "PROGRAMMER_ARGS", "RESOURCES",
           "YOSYS_FLIP_FLOP", "YOSYS_LUT4", "BoardTop", "synth_options"]

NAME = "ulx3s"
#: The amaranth-boards platform (``lela build`` makes a new one per build).
PLATFORM = ULX3S_85F_Platform
#: openFPGALoader's arguments after ``-b ulx3s``: load the SRAM, not the flash.
PROGRAMMER_ARGS = ("-m",)
#: Oscillator on the board.
OSC_HZ = 25e6
#: Clock of the design (Hz), from the PLL: with the read register the default
#: network reaches 100.82 MHz at this clock; at a 100 MHz target builds reached
#: 94.22-104.67 MHz, as placement moves the DSP blocks' fabric registers
#: (docs/boards.md).
CLOCK_HZ = 90e6


class BoardTop(ecp5.Ecp5BoardTop):
    """The lela system on the ULX3S (parameters: :class:`lela.boards.board.BoardTop`;
    ``clock_hz`` other than 25 MHz uses the ``EHXPLLL``)."""

    OSC_HZ = OSC_HZ
    CLOCK_HZ = CLOCK_HZ
    OSC_RESOURCE = "clk25"

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
