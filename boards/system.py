"""The network core joined to the host link, with byte streams or a UART outside.

:class:`LinkedCore` is what the simulated board runs (bytes in, bytes out);
:class:`SerialCore` adds the UART and a receive FIFO and is what the board
files instantiate. Neither knows a board: pins, clocks and LEDs are the board
files' business.
"""

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .hostlink import RESULT_DEPTH, HostLink
from .uart import UARTRx, UARTTx

__all__ = ["RX_FIFO_DEPTH", "LinkedCore", "SerialCore"]

#: Bytes buffered between the UART receiver and the link, so that a request
#: that follows a response back to back is not lost while the link finishes.
RX_FIFO_DEPTH = 16


def make_core(cfg):
    from lela.rtl.top import Network
    return Network(cfg, trace=False)


def _link_status_ports():
    return {"o_train": Out(1), "o_busy": Out(1), "o_error": Out(1)}


class LinkedCore(wiring.Component):
    """Network core + :class:`~lela.boards.hostlink.HostLink`.

    Parameters
    ----------
    cfg : lela.config.Config
    timeout : int
        Inter-byte timeout of the link, in clock cycles.
    core : wiring.Component or None
        The core; by default ``lela.rtl.top.Network(cfg, trace=False)``.
    result_depth, max_payload :
        Passed to :class:`~lela.boards.hostlink.HostLink`.

    Ports
    -----
    i_rx : In(stream.Signature(8))
        Bytes from the host.
    o_tx : Out(stream.Signature(8))
        Bytes to the host.
    o_train, o_busy, o_error : Out(1)
        The link's status (for LEDs).
    """

    def __init__(self, cfg, *, timeout, core=None, result_depth=RESULT_DEPTH, max_payload=None):
        self.core = make_core(cfg) if core is None else core
        self.link = HostLink(cfg, self.core.signature, timeout=timeout,
                             result_depth=result_depth, max_payload=max_payload)
        super().__init__({
            "i_rx": In(stream.Signature(8)),
            "o_tx": Out(stream.Signature(8)),
            **_link_status_ports(),
        })

    def elaborate(self, platform):
        """The core and the link, connected."""
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.link = link = self.link
        wiring.connect(m, link.o_sample, core.i_sample)
        wiring.connect(m, core.o_result, link.i_result)
        wiring.connect(m, link.o_acc, core.i_acc)
        wiring.connect(m, core.o_acc, link.i_acc)
        wiring.connect(m, wiring.flipped(self.i_rx), link.i_rx)
        wiring.connect(m, link.o_tx, wiring.flipped(self.o_tx))
        m.d.comb += [
            core.threshold.eq(link.o_threshold),
            core.early_exit.eq(link.o_early_exit),
            self.o_train.eq(link.o_train),
            self.o_busy.eq(link.o_busy),
            self.o_error.eq(link.o_error),
        ]
        return m


class SerialCore(wiring.Component):
    """:class:`LinkedCore` behind an 8N1 UART.

    Parameters
    ----------
    cfg : lela.config.Config
    divisor : int
        Clock cycles per UART bit (:func:`lela.boards.uart.divisor_for`).
    timeout : int
        Inter-byte timeout of the link, in clock cycles.
    core : wiring.Component or None
        As for :class:`LinkedCore`.

    Ports
    -----
    rx : In(1)
        UART line from the host (asynchronous).
    tx : Out(1)
        UART line to the host.
    o_train, o_busy, o_error : Out(1)
        The link's status (for LEDs).
    o_rx_error : Out(1)
        Pulses on a UART framing error or a byte lost to overrun.
    """

    def __init__(self, cfg, *, divisor, timeout, core=None):
        self.linked = LinkedCore(cfg, timeout=timeout, core=core)
        self.uart_rx = UARTRx(divisor=divisor)
        self.uart_tx = UARTTx(divisor=divisor)
        super().__init__({
            "rx": In(1, init=1),
            "tx": Out(1, init=1),
            "o_rx_error": Out(1),
            **_link_status_ports(),
        })

    def elaborate(self, platform):
        """The UART, its receive FIFO and the linked core."""
        m = Module()
        m.submodules.linked = linked = self.linked
        m.submodules.uart_rx = urx = self.uart_rx
        m.submodules.uart_tx = utx = self.uart_tx
        m.submodules.rx_fifo = fifo = SyncFIFOBuffered(width=8, depth=RX_FIFO_DEPTH)
        m.d.comb += [
            urx.rx.eq(self.rx),
            self.tx.eq(utx.tx),
            fifo.w_data.eq(urx.o_data.payload),
            fifo.w_en.eq(urx.o_data.valid),
            urx.o_data.ready.eq(fifo.w_rdy),
            linked.i_rx.payload.eq(fifo.r_data),
            linked.i_rx.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(linked.i_rx.ready),
            self.o_rx_error.eq(urx.o_frame_error | urx.o_overrun),
            self.o_train.eq(linked.o_train),
            self.o_busy.eq(linked.o_busy),
            self.o_error.eq(linked.o_error),
        ]
        wiring.connect(m, linked.o_tx, utx.i_data)
        return m
