"""The host link: framed requests in, framed responses out, over a byte stream.

The link sits between a byte stream (a UART on a board, the simulator's
byte queue in :class:`lela.host.driver.SimTransport`) and the ports of the
network core. It knows the core only through its signature; the frame format,
commands and status codes are in :mod:`lela.protocol` and
docs/boards.md.

A whole request is received, stored and checked (sync, length, CRC, command,
every field) before anything reaches the core, so a rejected request changes
nothing: a sample with a bad checksum never enters the network, and a
WRITE_MEM is checked word by word (range and format) before its first write.

:class:`HostLink` is three components joined by streams around one frame
buffer and one CRC processor: :class:`~lela.boards.frames.FrameReceiver`
(bytes to checked frames), :class:`~lela.boards.commands.CommandEngine`
(frames to the core and to response requests) and
:class:`~lela.boards.frames.FrameSender` (response requests to bytes).
"""


from amaranth import Module, Mux
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from lela import protocol as P
from lela.rtl.params import check_int, invalid

from .commands import CommandEngine, core_side
from .frames import FrameBuffer, FrameReceiver, FrameSender, connect_crc

__all__ = ["MIN_MAX_PAYLOAD", "RESULT_DEPTH", "HostLink"]

#: Results the link can hold; a SAMPLE is refused (BUSY) when the samples in
#: flight plus the results waiting would exceed it, so the core's result
#: stream never has to wait on the host and the access port (served only
#: with no sample in flight) is always reached.
RESULT_DEPTH = 16
#: Smallest payload buffer: 255 memory words (a checkpoint chunk) per frame.
MIN_MAX_PAYLOAD = 1024


class HostLink(wiring.Component):
    """Framed host protocol in front of the network core.

    Parameters
    ----------
    cfg : lela.config.Config
        The network's configuration (sizes for range checks, formats).
    core : wiring.Signature or wiring.Component
        The core's signature (``lela.rtl.top.Network``): its ``i_sample``,
        ``o_result``, ``i_acc`` and ``o_acc`` give this link's core-side ports.
    timeout : int
        Clock cycles without a byte after which a half-received frame is
        dropped (status TIMEOUT).
    result_depth : int
        Results held for the host (1..255), :data:`RESULT_DEPTH` by default.
    max_payload : int or None
        Bytes of the frame buffer (largest payload in and out); by default the
        next power of two that holds a SAMPLE payload, at least
        :data:`MIN_MAX_PAYLOAD`.

    Ports
    -----
    i_rx : In(stream.Signature(8))
        Bytes from the host.
    o_tx : Out(stream.Signature(8))
        Bytes to the host.
    o_sample, i_result, o_acc, i_acc : streams
        To and from the core's ``i_sample``, ``o_result``, ``i_acc``, ``o_acc``.
    o_threshold : Out(unsigned(act_width))
        Early-exit threshold (core's ``threshold``).
    o_early_exit : Out(1)
        Early exit enabled (core's ``early_exit``).
    o_train : Out(1)
        Train mode is set.
    o_busy : Out(1)
        A sample is in flight.
    o_error : Out(1)
        Pulses once per rejected request.
    """

    def __init__(self, cfg, core, *, timeout, result_depth=RESULT_DEPTH, max_payload=None):
        sig = core if isinstance(core, wiring.Signature) else getattr(core, "signature", None)
        if not isinstance(sig, wiring.Signature) or not all(
                name in sig.members for name in ("i_sample", "o_result", "i_acc", "o_acc")):
            invalid(self, TypeError(f"core must be the network's signature or component, "
                                    f"not {core!r}"))
        self._cfg = cfg
        self._timeout = check_int(self, "timeout", timeout, 16)
        self._depth = check_int(self, "result_depth", result_depth, 1, 255)
        need = max(P.sample_payload_bytes(cfg), P.STATUS_BYTES,
                   P.ADDRESS_BYTES + P.WORD_BYTES, P.result_bytes(cfg))
        if max_payload is None:
            max_payload = max(MIN_MAX_PAYLOAD, 1 << (need - 1).bit_length())
        self._max_payload = check_int(self, "max_payload", max_payload, need, 0xFFFF)
        self._core = sig
        super().__init__({
            "i_rx": In(stream.Signature(8)),
            "o_tx": Out(stream.Signature(8)),
            **core_side(cfg, sig),
        })

    @property
    def max_payload(self):
        """Bytes of the frame buffer."""
        return self._max_payload

    @property
    def result_depth(self):
        """Results held for the host."""
        return self._depth

    @property
    def timeout(self):
        """Inter-byte timeout (clock cycles)."""
        return self._timeout

    def elaborate(self, platform):
        """The frame buffer, the frame receiver and sender and the command engine, joined."""
        m = Module()
        max_payload = self._max_payload
        m.submodules.buf = buf = FrameBuffer(max_payload=max_payload)
        m.submodules.receiver = receiver = FrameReceiver(max_payload=max_payload,
                                                         timeout=self._timeout)
        m.submodules.engine = engine = CommandEngine(self._cfg, self._core, result_depth=self._depth,
                                                     max_payload=max_payload)
        m.submodules.sender = sender = FrameSender(max_payload=max_payload)
        # one CRC, shared: a frame is either being received or being sent.
        # (A ResetInserter around the processor instead made Yosys 0.70's abc9
        # abort on the 4-lane ULX3S build.)
        m.submodules.crc = crc = P.CRC.create()
        connect_crc(m, crc, sender.o_crc, receiver.o_crc)

        wiring.connect(m, wiring.flipped(self.i_rx), receiver.i_rx)
        wiring.connect(m, receiver.o_frame, engine.i_frame)
        wiring.connect(m, engine.o_respond, sender.i_respond)
        wiring.connect(m, sender.o_tx, wiring.flipped(self.o_tx))
        wiring.connect(m, engine.o_sample, wiring.flipped(self.o_sample))
        wiring.connect(m, wiring.flipped(self.i_result), engine.i_result)
        wiring.connect(m, engine.o_acc, wiring.flipped(self.o_acc))
        wiring.connect(m, wiring.flipped(self.i_acc), engine.i_acc)
        m.d.comb += [
            self.o_threshold.eq(engine.o_threshold), self.o_early_exit.eq(engine.o_early_exit),
            self.o_train.eq(engine.o_train), self.o_busy.eq(engine.o_busy),
            self.o_error.eq(engine.o_error),
        ]

        # the frame buffer: the receiver writes a request's payload, the
        # engine reads it and writes the response's, the sender reads that;
        # never two of them in the same cycle
        port, rx, tx, eng = buf.port, receiver.o_buf, sender.o_buf, engine.o_buf
        m.d.comb += [
            port.wr_addr.eq(Mux(rx.wr_en, rx.wr_addr, eng.wr_addr)),
            port.wr_data.eq(Mux(rx.wr_en, rx.wr_data, eng.wr_data)),
            port.wr_en.eq(rx.wr_en | eng.wr_en),
            port.rd_addr.eq(Mux(engine.o_respond.valid, tx.rd_addr, eng.rd_addr)),
            tx.rd_data.eq(port.rd_data), eng.rd_data.eq(port.rd_data),
        ]
        return m
