"""An 8N1 UART: the physical layer beside the host link.

Amaranth 0.5 ships no UART and amaranth-stdio is not on PyPI, so this is a
small one: one start bit, eight data bits LSB first, one stop bit, no parity,
no flow control. The bit period is a whole number of clock cycles
(``divisor``); the board file computes it from its clock and the baud rate
and checks the rounding error (:func:`divisor_for`).
"""

from amaranth import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from lela.rtl.params import check_int

__all__ = ["MAX_BAUD_ERROR", "MIN_DIVISOR", "UARTRx", "UARTTx", "divisor_for"]

#: Fewest clock cycles per bit: the receiver samples mid-bit, counted from a
#: start edge seen through a two-flop synchronizer.
MIN_DIVISOR = 4
#: Largest relative error of the bit period accepted by :func:`divisor_for`;
#: 8N1 tolerates about 4.5 % of total mismatch between the two ends.
MAX_BAUD_ERROR = 0.02


def divisor_for(clk_freq, baud):
    """Clock cycles per bit for ``baud`` at ``clk_freq`` Hz; ValueError if the
    rounding error exceeds :data:`MAX_BAUD_ERROR` or the clock is too slow."""
    divisor = round(clk_freq / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"baud rate {baud!r} needs at least {MIN_DIVISOR} clock cycles per bit; "
                         f"a {clk_freq / 1e6:g} MHz clock gives {clk_freq / baud:.2f}")
    error = abs(clk_freq / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud rate {baud!r} is {error:.1%} off at {clk_freq / 1e6:g} MHz "
                         f"(divisor {divisor}); more than {MAX_BAUD_ERROR:.0%}")
    return divisor


class _UART(wiring.Component):
    """What both directions share: the bit period, validated."""

    def __init__(self, members, *, divisor):
        self._divisor = check_int(self, "divisor", divisor, MIN_DIVISOR)
        super().__init__(members)

    @property
    def divisor(self):
        """Clock cycles per bit."""
        return self._divisor


class UARTTx(_UART):
    """8N1 transmitter.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``>= MIN_DIVISOR``.

    Ports
    -----
    i_data : In(stream.Signature(8))
        Bytes to send; a byte is taken when the previous one's stop bit ends.
    tx : Out(1)
        The serial line (idle high).
    """

    def __init__(self, *, divisor):
        super().__init__({
            "i_data": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        }, divisor=divisor)

    def elaborate(self, platform):
        """Shift register and bit timer."""
        m = Module()
        timer = Signal(range(self._divisor))
        bits = Signal(range(11))           # bits still to shift out, stop bit included
        shreg = Signal(10, init=0x3FF)     # stop, data[7:0], start; LSB goes out first

        m.d.comb += self.tx.eq(shreg[0])
        # the next byte's start bit follows the stop bit's last cycle back to back
        m.d.comb += self.i_data.ready.eq((bits == 0) | ((bits == 1) & (timer == 0)))
        with m.If(self.i_data.valid & self.i_data.ready):
            m.d.sync += [
                shreg.eq(Cat(Const(0, 1), self.i_data.payload, Const(1, 1))),
                bits.eq(10),
                timer.eq(self._divisor - 1),
            ]
        with m.Elif(bits == 0):
            pass
        with m.Elif(timer == 0):
            m.d.sync += [
                shreg.eq(Cat(shreg[1:], Const(1, 1))),
                bits.eq(bits - 1),
                timer.eq(self._divisor - 1),
            ]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
        return m


class UARTRx(_UART):
    """8N1 receiver.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, ``>= MIN_DIVISOR``.

    Ports
    -----
    rx : In(1)
        The serial line, asynchronous (synchronized inside).
    o_data : Out(stream.Signature(8))
        Received bytes. The line cannot wait: a byte that completes while the
        previous one is still unread is dropped and ``o_overrun`` pulses.
    o_frame_error : Out(1)
        Pulses when a stop bit reads 0; that byte is dropped and the receiver
        waits for the line to go idle (high) again.
    o_overrun : Out(1)
        Pulses when a byte is dropped because ``o_data`` was not read in time.
    """

    def __init__(self, *, divisor):
        super().__init__({
            "rx": In(1, init=1),
            "o_data": Out(stream.Signature(8)),
            "o_frame_error": Out(1),
            "o_overrun": Out(1),
        }, divisor=divisor)

    def elaborate(self, platform):
        """Input synchronizer, bit timer and the start/data/stop state machine."""
        m = Module()
        rx = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, rx, init=1)

        timer = Signal(range(self._divisor * 3 // 2 + 1))
        bit = Signal(range(8))
        shreg = Signal(8)

        with m.If(self.o_data.ready):
            m.d.sync += self.o_data.valid.eq(0)

        with m.FSM():
            with m.State("IDLE"), m.If(~rx):
                # middle of the start bit
                m.d.sync += timer.eq(self._divisor // 2 - 1)
                m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):
                    m.next = "IDLE"  # a glitch, not a start bit
                with m.Else():
                    m.d.sync += [timer.eq(self._divisor - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], rx)), timer.eq(self._divisor - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(rx):
                    with m.If(self.o_data.valid & ~self.o_data.ready):
                        m.d.comb += self.o_overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.o_data.payload.eq(shreg), self.o_data.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.o_frame_error.eq(1)
                    m.next = "BREAK"
            with m.State("BREAK"), m.If(rx):
                m.next = "IDLE"
        return m

