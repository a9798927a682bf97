"""ECPIX-5 45F (Lattice ECP5 LFE5UM5G-45F): pins, clock, UART and LEDs around the core.

The board's 100 MHz oscillator drives the design directly or through an
``EHXPLLL`` when ``clock_hz`` asks for another frequency. The host link runs
on the FT2232's second channel (the board's USB-UART). RGB LED 0: green =
train mode, blue = a sample in flight, red = flashes for a rejected request
or a UART error; RGB LED 1 green: heartbeat.
"""

import warnings

from amaranth import Signal
from amaranth_boards.ecpix5 import ECPIX545Platform

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

NAME = "ecpix5"
#: The amaranth-boards platform (``lela build`` makes a new one per build).
PLATFORM = ECPIX545Platform
#: openFPGALoader's arguments after ``-b ecpix5``: load the SRAM, not the flash.
PROGRAMMER_ARGS = ("-m",)
#: Oscillator on the board.
OSC_HZ = 100e6
#: Clock of the design (Hz): the oscillator's (docs/boards.md).
CLOCK_HZ = 100e6


class BoardTop(ecp5.Ecp5BoardTop):
    """The lela system on the ECPIX-5 (parameters: :class:`lela.boards.board.BoardTop`;
    ``clock_hz`` other than 100 MHz uses the ``EHXPLLL``)."""

    OSC_HZ = OSC_HZ
    CLOCK_HZ = CLOCK_HZ
    OSC_RESOURCE = "clk100"

    def pins(self, m, platform, core):
        """The FT2232's second channel as UART; RGB LED 0: green train mode, blue
        a sample in flight, red a flash for a rejected request or a UART error;
        RGB LED 1 green: heartbeat."""
        # as on the ULX3S (boards/ulx3s.py): pins through platform.request()
        # without dir="-"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            uart = platform.request("uart", 0)
            status, beat_led = platform.request("rgb_led", 0), platform.request("rgb_led", 1)
        m.d.comb += [core.rx.eq(uart.rx.i), uart.tx.o.eq(core.tx)]

        beat = Signal(27)
        m.d.sync += beat.eq(beat + 1)
        m.d.comb += [status.g.o.eq(core.o_train), status.b.o.eq(core.o_busy),
                     status.r.o.eq(board.flash(m, core.o_error | core.o_rx_error)),
                     beat_led.g.o.eq(beat[-1]), beat_led.r.o.eq(0), beat_led.b.o.eq(0)]
