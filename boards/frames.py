"""The frame layer of the host link: request frames in, response frames out.

:class:`FrameReceiver` turns the byte stream from the host into frames: it
finds the sync byte, takes the command and the length, writes the payload
into a frame buffer through a write port and checks the CRC and the length
against the buffer; each frame, good or bad, comes out as one item of its
``o_frame`` stream (:data:`FRAME`). :class:`FrameSender` does the reverse:
one item of its ``i_respond`` stream (:data:`RESPONSE`) becomes a response
frame, its payload read from the frame buffer through a read port and its
CRC computed on the way out. Frame format and status codes are in
:mod:`lela.protocol`.

Both keep their item until they are done with it: the receiver's frame is
taken (``ready``) when its consumer has finished with the frame buffer, and
until then the receiver takes no byte; the sender takes a response request
when the last byte of its frame has been sent. Between the two the command
engine (:class:`~lela.boards.commands.CommandEngine`) looks at the frame,
reads and writes the buffer and asks for the response;
:class:`~lela.boards.hostlink.HostLink` joins the three.
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela import protocol as P
from lela.rtl.params import check_int

__all__ = ["CRC_PORT", "FRAME", "RESPONSE", "FrameBuffer", "FrameReceiver", "FrameSender",
           "connect_crc"]

#: A received frame: its command and payload length as received, and
#: ``status``: :attr:`~lela.protocol.Status.OK`, or the frame's error
#: (``SYNC``, ``TIMEOUT``, ``CRC``, ``LENGTH``). After a ``SYNC`` error
#: ``command`` is 0; after a ``TIMEOUT`` the fields hold what had arrived.
FRAME = data.StructLayout({"command": unsigned(8), "length": unsigned(16),
                           "status": unsigned(8)})
#: A response to send: the command it echoes, its status and the number of
#: payload bytes, read from address 0 on of the sender's read port.
RESPONSE = data.StructLayout({"command": unsigned(8), "status": unsigned(8),
                              "length": unsigned(16)})


#: What a user of a CRC :class:`~amaranth.lib.crc.Processor` drives and
#: reads (its ports, seen from the user). The receiver and the sender reach
#: their CRC through it, so that one processor serves both: a frame is either
#: being received or being sent (:func:`connect_crc`).
CRC_PORT = wiring.Signature({
    "start": Out(1), "valid": Out(1), "data": Out(8),
    "crc": In(P.CRC_BYTES * 8), "match_detected": In(1),
})


def connect_crc(m, crc, *ports):
    """Let ``ports`` (:data:`CRC_PORT` interfaces, never two in the same
    cycle) share the CRC processor ``crc``: starts and valids are or-ed, the
    data is the data of the port whose ``valid`` is set."""
    data = ports[-1].data
    for port in reversed(ports[:-1]):
        data = Mux(port.valid, port.data, data)
    m.d.comb += [crc.start.eq(Cat(p.start for p in ports).any()),
                 crc.valid.eq(Cat(p.valid for p in ports).any()), crc.data.eq(data)]
    for port in ports:
        m.d.comb += [port.crc.eq(crc.crc), port.match_detected.eq(crc.match_detected)]


def _addr_width(max_payload):
    return max(1, (max_payload - 1).bit_length())


def buffer_port(max_payload):
    """Signature of a frame-buffer user's port (seen from the user): a write
    and a read address, the write data and enable, and the read data, two
    cycles after its address (:class:`FrameBuffer`)."""
    aw = _addr_width(max_payload)
    return wiring.Signature({"wr_addr": Out(aw), "wr_data": Out(8), "wr_en": Out(1),
                             "rd_addr": Out(aw), "rd_data": In(8)})


class FrameBuffer(wiring.Component):
    """The frame buffer: a block RAM of bytes whose read data is registered
    once more (read latency 2), so that no logic follows the block RAM in its
    cycle.

    Parameters
    ----------
    max_payload : int
        Bytes (1..65535).

    Ports
    -----
    port : In(buffer_port(max_payload))
        One write and one read a cycle.
    """

    def __init__(self, *, max_payload):
        self._max_payload = check_int(self, "max_payload", max_payload, 1, 0xFFFF)
        super().__init__({"port": In(buffer_port(max_payload))})

    def elaborate(self, platform):
        """The memory and the read register."""
        m = Module()
        m.submodules.mem = mem = Memory(shape=8, depth=self._max_payload, init=[])
        rd, wr = mem.read_port(), mem.write_port()
        p = self.port
        m.d.comb += [wr.addr.eq(p.wr_addr), wr.data.eq(p.wr_data), wr.en.eq(p.wr_en),
                     rd.addr.eq(p.rd_addr)]
        m.d.sync += p.rd_data.eq(rd.data)
        return m


class FrameReceiver(wiring.Component):
    """Request frames from a byte stream, their payload into a frame buffer.

    Bytes outside a frame that are not the sync byte give one ``SYNC`` frame
    and are then dropped until the next sync byte. A frame that stops
    arriving for ``timeout`` cycles gives a ``TIMEOUT`` frame. A frame's
    payload bytes are written to addresses 0, 1, ... of ``o_buf`` (those
    beyond ``max_payload`` are dropped, the frame is then a ``LENGTH``
    error); after its checksum the frame is checked: ``CRC`` if the
    checksum is wrong, else ``LENGTH`` if the payload did not fit, else
    ``OK``. A ``SYNC`` or ``TIMEOUT`` frame comes out in the cycle its cause
    is seen, a checked frame the cycle after its last byte.

    Parameters
    ----------
    max_payload : int
        Bytes of the frame buffer (1..65535).
    timeout : int
        Clock cycles without a byte after which a half-received frame is
        dropped (at least 16).

    Ports
    -----
    i_rx : In(stream.Signature(8))
        Bytes from the host.
    o_frame : Out(stream.Signature(FRAME))
        The frames. No byte is taken while a frame waits here: the consumer
        takes it when it is done with the buffer.
    o_buf : Out(buffer_port(max_payload))
        Writes the frame buffer (:class:`FrameBuffer`); reads nothing.
    o_crc : Out(CRC_PORT)
        The CRC processor that checks the frames.
    """

    def __init__(self, *, max_payload, timeout):
        self._max_payload = check_int(self, "max_payload", max_payload, 1, 0xFFFF)
        self._timeout = check_int(self, "timeout", timeout, 16)
        super().__init__({
            "i_rx": In(stream.Signature(8)),
            "o_frame": Out(stream.Signature(FRAME)),
            "o_buf": Out(buffer_port(max_payload)),
            "o_crc": Out(CRC_PORT),
        })

    def elaborate(self, platform):
        """The receive state machine and the inter-byte timer."""
        m = Module()
        rx, frame, buf, crc = self.i_rx, self.o_frame, self.o_buf, self.o_crc
        cmd = Signal(8)
        length = Signal(16)
        idx = Signal(16)        # payload bytes received
        last_byte = Signal(16)  # ``length - 1``, registered: the loop ends on an equality
        timer = Signal(range(self._timeout))

        m.d.comb += [crc.data.eq(rx.payload),
                     frame.payload.command.eq(cmd), frame.payload.length.eq(length)]

        def emit(code, state):
            """Present a frame with status ``code`` from this cycle on; hold it in ``state``."""
            m.d.comb += [frame.valid.eq(1), frame.payload.status.eq(code)]
            m.next = state

        def resume(after):
            """``after`` once the frame has been taken."""
            with m.If(frame.ready):
                m.next = after

        def start():
            m.d.comb += crc.start.eq(1)
            m.d.sync += cmd.eq(0)
            m.next = "CMD"

        def receive(state, body):
            """State ``state`` takes a byte of a frame, with the inter-byte timeout."""
            with m.State(state):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += timer.eq(0)
                    m.d.comb += crc.valid.eq(1)
                    body(rx.payload)
                with m.Elif(timer == self._timeout - 1):
                    m.d.sync += timer.eq(0)
                    emit(P.Status.TIMEOUT, "TIMED_OUT")
                    resume("IDLE")
                with m.Else():
                    m.d.sync += timer.eq(timer + 1)

        def goto(state):
            def body(_):
                m.next = state
            return body

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    with m.If(rx.payload == P.SYNC_REQUEST):
                        start()
                    with m.Else():
                        m.d.comb += frame.payload.command.eq(0)
                        m.d.sync += cmd.eq(0)
                        emit(P.Status.SYNC, "SYNC_ERROR")
                        resume("DISCARD")

            with m.State("DISCARD"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid & (rx.payload == P.SYNC_REQUEST)):
                    start()

            def cmd_body(byte):
                m.d.sync += cmd.eq(byte)
                m.next = "LEN0"
            receive("CMD", cmd_body)

            def len0_body(byte):
                m.d.sync += length[:8].eq(byte)
                m.next = "LEN1"
            receive("LEN0", len0_body)

            def len1_body(byte):
                n = Cat(length[:8], byte)
                m.d.sync += [length[8:].eq(byte), idx.eq(0), last_byte.eq(n - 1)]
                with m.If(n == 0):
                    m.next = "CRC0"
                with m.Else():
                    m.next = "PAYLOAD"
            receive("LEN1", len1_body)

            def payload_body(byte):
                with m.If(idx < self._max_payload):
                    m.d.comb += [buf.wr_addr.eq(idx), buf.wr_data.eq(byte), buf.wr_en.eq(1)]
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == last_byte):
                    m.next = "CRC0"
            receive("PAYLOAD", payload_body)

            receive("CRC0", goto("CRC1"))
            receive("CRC1", goto("CHECK"))

            with m.State("CHECK"):
                m.d.comb += frame.valid.eq(1)
                with m.If(~crc.match_detected):
                    m.d.comb += frame.payload.status.eq(P.Status.CRC)
                with m.Elif(length > self._max_payload):
                    m.d.comb += frame.payload.status.eq(P.Status.LENGTH)
                with m.Else():
                    m.d.comb += frame.payload.status.eq(P.Status.OK)
                resume("IDLE")

            with m.State("SYNC_ERROR"):
                emit(P.Status.SYNC, "SYNC_ERROR")
                resume("DISCARD")

            with m.State("TIMED_OUT"):
                emit(P.Status.TIMEOUT, "TIMED_OUT")
                resume("IDLE")
        return m


class FrameSender(wiring.Component):
    """Response frames to a byte stream, their payload from a frame buffer.

    For each request on ``i_respond`` it sends the sync byte, the header
    (command, status, length), ``length`` payload bytes read from addresses
    0, 1, ... of ``o_buf``, and the CRC; the request is taken (``ready``) as
    the last CRC byte is. Each payload byte takes three cycles at least: its
    read address, the block RAM's output into the buffer's read register,
    then the byte on ``o_tx``.

    Parameters
    ----------
    max_payload : int
        Bytes of the frame buffer (1..65535); ``length`` must not exceed it.

    Ports
    -----
    i_respond : In(stream.Signature(RESPONSE))
        Responses to send; each must stay valid until taken.
    o_tx : Out(stream.Signature(8))
        Bytes to the host.
    o_buf : Out(buffer_port(max_payload))
        Reads the frame buffer (:class:`FrameBuffer`, read latency 2); writes nothing.
    o_crc : Out(CRC_PORT)
        The CRC processor that computes the responses' checksums.
    """

    def __init__(self, *, max_payload):
        self._max_payload = check_int(self, "max_payload", max_payload, 1, 0xFFFF)
        super().__init__({
            "i_respond": In(stream.Signature(RESPONSE)),
            "o_tx": Out(stream.Signature(8)),
            "o_buf": Out(buffer_port(max_payload)),
            "o_crc": Out(CRC_PORT),
        })

    def elaborate(self, platform):
        """The send state machine."""
        m = Module()
        req, tx, buf, crc = self.i_respond.payload, self.o_tx, self.o_buf, self.o_crc
        hcnt = Signal(3)
        ptr = Signal(range(self._max_payload + 1))
        m.d.comb += [crc.data.eq(tx.payload), buf.rd_addr.eq(ptr)]

        header = Array([Const(P.SYNC_RESPONSE, 8), req.command, req.status,
                        req.length[:8], req.length[8:]])
        with m.FSM():
            with m.State("HEADER"):
                m.d.comb += [tx.valid.eq(self.i_respond.valid), tx.payload.eq(header[hcnt])]
                with m.If(tx.valid & tx.ready):
                    # the sync byte is not checksummed
                    m.d.comb += [crc.start.eq(hcnt == 0), crc.valid.eq(hcnt != 0)]
                    m.d.sync += [hcnt.eq(hcnt + 1), ptr.eq(0)]
                    with m.If(hcnt == P.RESPONSE_HEADER - 1):
                        m.d.sync += hcnt.eq(0)
                        with m.If(req.length == 0):
                            m.next = "CRC"
                        with m.Else():
                            m.next = "READ"

            with m.State("READ"):
                m.next = "LOAD"
            with m.State("LOAD"):
                m.next = "BYTE"
            with m.State("BYTE"):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(buf.rd_data)]
                with m.If(tx.ready):
                    m.d.comb += crc.valid.eq(1)
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(ptr == req.length - 1):
                        m.next = "CRC"
                    with m.Else():
                        m.next = "READ"

            with m.State("CRC"):
                m.d.comb += [tx.valid.eq(1),
                             tx.payload.eq(Mux(hcnt == 0, crc.crc[8:], crc.crc[:8]))]
                with m.If(tx.ready):
                    m.d.sync += hcnt.eq(hcnt + 1)
                    with m.If(hcnt == P.CRC_BYTES - 1):
                        m.d.sync += hcnt.eq(0)
                        m.d.comb += self.i_respond.ready.eq(1)
                        m.next = "HEADER"
        return m
