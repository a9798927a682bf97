"""The command engine of the host link: checked frames in, the core driven,
responses asked for.

:class:`CommandEngine` sits between the frame layer (:mod:`lela.boards.frames`)
and the network core. It takes a received frame (``i_frame``), checks the
command and every field from the frame buffer, only then drives the core
(samples, access-port reads and writes, settings), writes any response
payload back into the frame buffer and asks for the response
(``o_respond``). It takes the frame when the response has been sent, which
lets the receiver go on. Commands and status codes are in
:mod:`lela.protocol` and docs/boards.md.

The frame buffer is read a byte at a time into a word (*gather*: each byte
goes from the block RAM's output into a register before it is placed, so no
logic follows the block RAM in its cycle) and written a byte at a time from
a value (*scatter*).
"""

from types import SimpleNamespace

from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from lela import protocol as P
from lela.contract import ACCESS_INDEX_BITS, CONTROL, LAYER_SHIFT, SPACE_SHIFT, bits
from lela.rtl.params import check_int

from .frames import FRAME, RESPONSE, buffer_port

__all__ = ["CommandEngine", "core_side"]


def core_side(cfg, core):
    """The members of the host link (and of its command engine) on the core's
    side: streams to and from the core's ``i_sample``, ``o_result``,
    ``i_acc`` and ``o_acc`` (``core`` is its signature), and the settings and
    flags the link drives."""
    return {
        "o_sample": Out(core.members["i_sample"].signature.flip()),
        "i_result": In(core.members["o_result"].signature),
        "o_acc": Out(core.members["i_acc"].signature.flip()),
        "i_acc": In(core.members["o_acc"].signature),
        "o_threshold": Out(cfg.act_width),
        "o_early_exit": Out(1),
        "o_train": Out(1),
        "o_busy": Out(1),
        "o_error": Out(1),
    }


class CommandEngine(wiring.Component):
    """The host link's commands, between the frame layer and the core.

    Parameters
    ----------
    cfg : lela.config.Config
        The network's configuration (sizes for range checks, formats).
    core : wiring.Signature
        The core's signature; its ``i_sample``, ``o_result``, ``i_acc`` and
        ``o_acc`` give this engine's core-side ports.
    result_depth : int
        Results held for the host (1..255).
    max_payload : int
        Bytes of the frame buffer.

    Ports
    -----
    i_frame : In(stream.Signature(FRAME))
        Received frames; one is taken when its response has been sent.
    o_respond : Out(stream.Signature(RESPONSE))
        Responses to send; the payload is in the frame buffer from address 0.
    o_buf : Out(buffer_port(max_payload))
        Reads and writes the frame buffer (:class:`~lela.boards.frames.FrameBuffer`,
        read latency 2).
    o_sample, i_result, o_acc, i_acc : streams
        To and from the core's ``i_sample``, ``o_result``, ``i_acc``, ``o_acc``.
    o_threshold, o_early_exit, o_train, o_busy, o_error :
        As :class:`~lela.boards.hostlink.HostLink`'s.
    """

    def __init__(self, cfg, core, *, result_depth, max_payload):
        self._cfg = cfg
        self._depth = check_int(self, "result_depth", result_depth, 1, 255)
        self._max_payload = check_int(self, "max_payload", max_payload, 1, 0xFFFF)
        super().__init__({
            "i_frame": In(stream.Signature(FRAME)),
            "o_respond": Out(stream.Signature(RESPONSE)),
            "o_buf": Out(buffer_port(max_payload)),
            **core_side(cfg, core),
        })

    def elaborate(self, platform):
        """Result FIFO, settings, the gather datapath and the command state machine."""
        m = Module()
        r = self._registers()
        self._result_fifo(m, r)
        m.d.comb += [
            self.o_threshold.eq(r.threshold), self.o_early_exit.eq(r.early_exit),
            self.o_train.eq(r.train), self.o_busy.eq(r.in_flight != 0),
        ]

        # the gather datapath, shared by every gather state; the read port
        # follows ``ptr``, its data (registered in the buffer) comes two cycles later
        m.d.comb += [self.o_buf.rd_addr.eq(r.ptr), r.gathered.eq(r.word)]
        with m.If(r.gcnt >= 2):
            m.d.comb += r.gathered.word_select((r.gcnt - 2).as_unsigned(), 8).eq(
                self.o_buf.rd_data)
        self._address_check(m, r)

        with m.FSM():
            self._check(m, r)
            self._status(m, r)
            self._settings(m, r)
            self._sample(m, r)
            self._read_results(m, r)
            self._read_mem(m, r)
            self._write_mem(m, r)
            with m.State("RESPOND"):
                # the frame is taken as its response's last byte is sent
                m.d.comb += [self.o_respond.valid.eq(1),
                             self.o_respond.payload.command.eq(self.i_frame.payload.command),
                             self.o_respond.payload.status.eq(r.status),
                             self.o_respond.payload.length.eq(r.resp_len)]
                with m.If(self.o_respond.ready):
                    m.d.comb += self.i_frame.ready.eq(1)
                    with m.If(r.status != P.Status.OK):
                        m.d.comb += self.o_error.eq(1)
                        with m.If(r.rejected != 0xFFFF):
                            m.d.sync += r.rejected.eq(r.rejected + 1)
                    m.next = "CHECK"
        return m

    # -- registers and the datapath outside the state machine -----------------------
    def _registers(self):
        cfg, max_payload = self._cfg, self._max_payload
        rec_bytes = P.result_bytes(cfg)
        # items of a frame: inputs, records (a u8 count) or words; counts
        # above ``max_payload / 4`` are refused before they are set
        items = range(max(cfg.sizes[0], 255, max_payload // P.WORD_BYTES) + 1)
        return SimpleNamespace(
            train=Signal(), early_exit=Signal(), threshold=Signal(cfg.act_width),
            rejected=Signal(16),
            in_flight=Signal(range(self._depth + 1)),
            fed=Signal(),                           # a sample's last beat was taken this cycle
            idx=Signal(items),                      # items done
            ptr=Signal(range(max_payload + 1)),     # buffer read pointer
            wptr=Signal(range(max_payload + 1)),    # buffer write pointer (responses)
            status=Signal(8), resp_len=Signal(16),
            word=Signal(32),       # bytes gathered from the buffer, little-endian
            gathered=Signal(32),   # ``word`` with the byte arriving this cycle
            gcnt=Signal(range(max(P.WORD_BYTES, P.ADDRESS_BYTES) + 4)),
            scnt=Signal(range(max(P.STATUS_BYTES, rec_bytes, P.WORD_BYTES) + 1)),
            addr=Signal(32), count=Signal(items),
            # ``count - 1``, registered: the loops end on an equality with a
            # register instead of a subtraction's carry chain
            last_item=Signal(items),
            label=Signal(16), record=Signal(rec_bytes * 8),
            snap_in_flight=Signal(8), snap_pending=Signal(8),
            addr_bad=Signal(),     # the address range of a WRITE_MEM frame is out of bounds
        )

    def _result_fifo(self, m, r):
        """Results, packed as the protocol's record, and the samples in flight."""
        cfg = self._cfg
        m.submodules.results = r.fifo = fifo = SyncFIFOBuffered(
            width=P.result_bytes(cfg) * 8, depth=self._depth)
        res = self.i_result.payload
        m.d.comb += [fifo.w_en.eq(self.i_result.valid), self.i_result.ready.eq(fifo.w_rdy)]

        def field(value, width):
            value = Value.cast(value)
            return Cat(value[:width], Const(0, max(0, width - len(value))))

        packed = Cat(*(field(res.pred[i], 16) for i in range(cfg.layers)),
                     field(res.exit, 8), field(res.label, 16), field(res.train, 8))
        assert len(packed) == P.result_bytes(cfg) * 8
        m.d.comb += fifo.w_data.eq(packed)
        m.d.sync += r.in_flight.eq(r.in_flight + r.fed - (fifo.w_en & fifo.w_rdy))

    def _address_check(self, m, r):
        """The address range check, registered from ``word`` every cycle and
        read one cycle late: its carry chain in front of the response's enable
        was the ECP5 build's critical path."""
        cfg, layers = self._cfg, self._cfg.layers
        w_sizes = Array(Const(cfg.sizes[i] * cfg.sizes[i + 1], ACCESS_INDEX_BITS + 1)
                        for i in range(layers))
        b_sizes = Array(Const(cfg.sizes[i + 1], ACCESS_INDEX_BITS + 1) for i in range(layers))
        word = r.word
        layer, space, index = (word[LAYER_SHIFT:], word[SPACE_SHIFT:LAYER_SHIFT],
                               word[:ACCESS_INDEX_BITS])
        sel = layer[:bits(layers)]
        limit = Mux(space == P.SPACE_W, w_sizes[sel], b_sizes[sel])
        writable = space <= P.SPACE_B
        if cfg.control:   # the control words too
            limit = Mux(space == P.SPACE_CONTROL, len(CONTROL), limit)
            writable |= space == P.SPACE_CONTROL
        m.d.sync += r.addr_bad.eq((layer >= layers) | ~writable | (index + r.count > limit))

    # -- state-machine helpers ------------------------------------------------------------
    @staticmethod
    def _respond(m, r, code, n_bytes=0):
        m.d.sync += [r.status.eq(code), r.resp_len.eq(n_bytes)]
        m.next = "RESPOND"

    @staticmethod
    def _gather(m, r, name, nbytes, then, *, late=0):
        """State ``name``: ``word`` <- ``nbytes`` little-endian bytes from
        ``buf[ptr:]`` (``ptr`` advances past them), then, two cycles later
        (``2 + late``), ``then()`` (which reads ``word``, or with ``late``
        registers computed from it). Each byte goes from the block RAM's
        output into the buffer's read register before it is placed, and the
        checks start from ``word``: no logic follows the block RAM in its
        cycle, which limited Fmax."""
        with m.State(name):
            with m.If(r.gcnt <= nbytes + 1):
                m.d.sync += r.word.eq(Mux(r.gcnt == 0, 0, r.gathered))
            with m.If(r.gcnt == nbytes + 2 + late):
                m.d.sync += r.gcnt.eq(0)
                then()
            with m.Else():
                m.d.sync += r.gcnt.eq(r.gcnt + 1)
                with m.If(r.gcnt < nbytes):
                    m.d.sync += r.ptr.eq(r.ptr + 1)

    def _scatter(self, m, r, name, value, nbytes, then):
        """State ``name``: ``buf[wptr:]`` <- the ``nbytes`` bytes of ``value``."""
        with m.State(name):
            m.d.comb += [self.o_buf.wr_addr.eq(r.wptr),
                         self.o_buf.wr_data.eq(value.word_select(r.scnt, 8)),
                         self.o_buf.wr_en.eq(1)]
            m.d.sync += r.wptr.eq(r.wptr + 1)
            with m.If(r.scnt == nbytes - 1):
                m.d.sync += r.scnt.eq(0)
                then()
            with m.Else():
                m.d.sync += r.scnt.eq(r.scnt + 1)

    @staticmethod
    def _goto(m, state):
        def then(*_):
            m.next = state
        return then

    def _in_range(self, m, r, top, last, ok):
        """``then`` of a validation pass: VALUE unless ``top`` is a sign
        extension; after item ``last``, back to the first item and ``ok``."""
        def then():
            with m.If((top != 0) & (top != (1 << len(top)) - 1)):
                self._respond(m, r, P.Status.VALUE)
            with m.Elif(last):
                ok()
            with m.Else():
                m.d.sync += r.idx.eq(r.idx + 1)
        return then

    # -- the commands -------------------------------------------------------------------
    def _check(self, m, r):
        """CHECK: wait for a frame; its errors, then its command and length."""
        frame = self.i_frame
        length = frame.payload.length
        C = P.Command
        with m.State("CHECK"):
            m.d.sync += [r.ptr.eq(0), r.wptr.eq(0), r.idx.eq(0), r.gcnt.eq(0), r.scnt.eq(0),
                         r.snap_in_flight.eq(r.in_flight), r.snap_pending.eq(r.fifo.level)]
            with m.If(frame.valid & (frame.payload.status != P.Status.OK)):
                self._respond(m, r, frame.payload.status)
            with m.Elif(frame.valid), m.Switch(frame.payload.command):
                # commands with a fixed payload length: (length, first state)
                for command, (n_bytes, state) in {
                        C.STATUS: (0, "STATUS"),
                        C.SET_MODE: (1, "MODE"),
                        C.SET_THRESHOLD: (P.THRESHOLD_BYTES, "THRESHOLD"),
                        C.READ_RESULTS: (1, "R_COUNT"),
                        C.READ_MEM: (P.ADDRESS_BYTES + P.COUNT_BYTES, "M_ADDR")}.items():
                    with m.Case(command):
                        with m.If(length != n_bytes):
                            self._respond(m, r, P.Status.LENGTH)
                        with m.Else():
                            m.next = state
                with m.Case(C.SAMPLE):
                    with m.If(length != P.sample_payload_bytes(self._cfg)):
                        self._respond(m, r, P.Status.LENGTH)
                    with m.Elif(r.in_flight + r.fifo.level >= self._depth):
                        self._respond(m, r, P.Status.BUSY)
                    with m.Else():
                        m.next = "S_LABEL"
                with m.Case(C.WRITE_MEM):
                    with m.If((length < P.ADDRESS_BYTES + P.WORD_BYTES) | (length[:2] != 0)):
                        self._respond(m, r, P.Status.LENGTH)
                    with m.Elif(r.train | (r.in_flight != 0)):
                        self._respond(m, r, P.Status.TRAINING)
                    with m.Else():
                        m.d.sync += [r.count.eq((length >> 2) - 1),
                                     r.last_item.eq((length >> 2) - 2)]
                        m.next = "W_ADDR"
                with m.Default():
                    self._respond(m, r, P.Status.COMMAND)

    def _status(self, m, r):
        """STATUS: the status block into the buffer."""
        cfg = self._cfg
        flags = Cat(r.train, r.early_exit, r.snap_in_flight != 0, Const(0, 5))
        status_block = Cat(
            Const(P.PROTOCOL_VERSION, 8), flags, r.snap_in_flight, r.snap_pending,
            Const(self._depth, 8), Const(cfg.layers, 8), Const(self._max_payload, 16),
            Const(cfg.sizes[0], 16), Const(cfg.classes, 16), Const(cfg.act_width, 8),
            Const(cfg.weight_width, 8), r.threshold.as_unsigned(),
            Const(0, 32 - cfg.act_width), r.rejected)
        assert len(status_block) == P.STATUS_BYTES * 8
        self._scatter(m, r, "STATUS", status_block, P.STATUS_BYTES,
                      lambda: self._respond(m, r, P.Status.OK, P.STATUS_BYTES))

    def _settings(self, m, r):
        """SET_MODE, SET_THRESHOLD: static settings, refused with a sample in flight."""
        aw, word = self._cfg.act_width, r.word

        def setting(name, nbytes, bad, assign):
            """State ``name``: a setting from ``nbytes`` payload bytes: VALUE
            if ``bad``, BUSY with a sample in flight, else ``assign``."""
            def then():
                with m.If(bad):
                    self._respond(m, r, P.Status.VALUE)
                with m.Elif(r.in_flight != 0):
                    self._respond(m, r, P.Status.BUSY)
                with m.Else():
                    m.d.sync += assign
                    self._respond(m, r, P.Status.OK)
            self._gather(m, r, name, nbytes, then)

        setting("MODE", 1, word[2:8] != 0, [r.train.eq(word[0]), r.early_exit.eq(word[1])])
        setting("THRESHOLD", P.THRESHOLD_BYTES, word[aw:] != 0 if aw < 32 else Const(0),
                r.threshold.eq(word[:aw]))

    def _sample(self, m, r):
        """SAMPLE: the label, every input's format, then the beats to the core."""
        cfg, word = self._cfg, r.word
        n0, aw, ab = cfg.sizes[0], cfg.act_width, P.act_bytes(cfg)

        def label_then():
            m.d.sync += [r.label.eq(word[:16]), r.idx.eq(0)]
            with m.If(word[:16] >= cfg.classes):
                self._respond(m, r, P.Status.VALUE)
            with m.Else():
                m.next = "S_VALIDATE" if ab * 8 > aw else "S_VALUE"
        self._gather(m, r, "S_LABEL", P.LABEL_BYTES, label_then)

        if ab * 8 > aw:
            # every input must be a sign-extended act_width-bit value
            def valid():
                m.d.sync += [r.idx.eq(0), r.ptr.eq(P.LABEL_BYTES)]
                m.next = "S_VALUE"
            self._gather(m, r, "S_VALIDATE", ab, self._in_range(
                m, r, word[aw - 1:ab * 8], r.idx == n0 - 1, valid))

        self._gather(m, r, "S_VALUE", ab, self._goto(m, "S_BEAT"))

        with m.State("S_BEAT"):
            last = r.idx == n0 - 1
            beat = self.o_sample.payload
            m.d.comb += [
                self.o_sample.valid.eq(1),
                beat.x.eq(word[:aw].as_signed()),
                beat.label.eq(Mux(last, r.label, 0)),
                beat.train.eq(last & r.train),
            ]
            with m.If(self.o_sample.ready):
                m.d.sync += r.idx.eq(r.idx + 1)
                with m.If(last):
                    m.d.comb += r.fed.eq(1)
                    self._respond(m, r, P.Status.OK)
                with m.Else():
                    m.next = "S_VALUE"

    def _read_results(self, m, r):
        """READ_RESULTS: ``n`` records from the FIFO into the buffer, waiting for them."""
        max_records = self._max_payload // P.result_bytes(self._cfg)

        def count_then():
            n = r.word[:8]
            with m.If((n == 0) | (n > r.snap_in_flight + r.snap_pending) | (n > max_records)):
                self._respond(m, r, P.Status.VALUE)
            with m.Else():
                m.d.sync += [r.count.eq(n), r.last_item.eq(n - 1), r.idx.eq(0)]
                m.next = "R_WAIT"
        self._gather(m, r, "R_COUNT", 1, count_then)

        with m.State("R_WAIT"), m.If(r.fifo.r_rdy):
            m.d.comb += r.fifo.r_en.eq(1)
            m.d.sync += r.record.eq(r.fifo.r_data)
            m.next = "R_RECORD"

        def record_then():
            m.d.sync += r.idx.eq(r.idx + 1)
            with m.If(r.idx == r.last_item):
                self._respond(m, r, P.Status.OK, r.wptr + 1)
            with m.Else():
                m.next = "R_WAIT"
        self._scatter(m, r, "R_RECORD", r.record, P.result_bytes(self._cfg), record_then)

    def _read_mem(self, m, r):
        """READ_MEM: ``count`` words from the access port into the buffer."""
        def m_addr_then():
            m.d.sync += r.addr.eq(r.word)
            m.next = "M_COUNT"
        self._gather(m, r, "M_ADDR", P.ADDRESS_BYTES, m_addr_then)

        def m_count_then():
            n = r.word[:16]
            with m.If((n == 0) | (n > self._max_payload // P.WORD_BYTES)):
                self._respond(m, r, P.Status.VALUE)
            with m.Else():
                m.d.sync += [r.count.eq(n), r.last_item.eq(n - 1), r.idx.eq(0)]
                m.next = "M_REQ"
        self._gather(m, r, "M_COUNT", P.COUNT_BYTES, m_count_then)

        with m.State("M_REQ"):
            m.d.comb += [self.o_acc.valid.eq(1), self.o_acc.payload.addr.eq(r.addr),
                         self.o_acc.payload.write.eq(0)]
            with m.If(self.o_acc.ready):
                m.next = "M_RESP"

        with m.State("M_RESP"):
            m.d.comb += self.i_acc.ready.eq(1)
            with m.If(self.i_acc.valid):
                m.d.sync += r.word.eq(self.i_acc.payload.data)
                with m.If(self.i_acc.payload.error):
                    self._respond(m, r, P.Status.ADDRESS)
                with m.Else():
                    m.next = "M_WORD"

        def m_word_then():
            m.d.sync += [r.addr.eq(r.addr + 1), r.idx.eq(r.idx + 1)]
            with m.If(r.idx == r.last_item):
                self._respond(m, r, P.Status.OK, r.wptr + 1)
            with m.Else():
                m.next = "M_REQ"
        self._scatter(m, r, "M_WORD", r.word, P.WORD_BYTES, m_word_then)

    def _write_mem(self, m, r):
        """WRITE_MEM: the address range and every word's format, then the writes."""
        ww = self._cfg.weight_width

        def w_addr_then():
            m.d.sync += r.addr.eq(r.word)
            with m.If(r.addr_bad):
                self._respond(m, r, P.Status.ADDRESS)
            with m.Else():
                m.d.sync += r.idx.eq(0)
                m.next = "W_VALIDATE" if ww < 32 else "W_VALUE"
        self._gather(m, r, "W_ADDR", P.ADDRESS_BYTES, w_addr_then, late=1)

        if ww < 32:
            # every word must be a sign-extended weight_width-bit value
            def valid():
                m.d.sync += [r.idx.eq(0), r.ptr.eq(P.ADDRESS_BYTES)]
                m.next = "W_VALUE"
            self._gather(m, r, "W_VALIDATE", P.WORD_BYTES, self._in_range(
                m, r, r.word[ww - 1:], r.idx == r.last_item, valid))

        self._gather(m, r, "W_VALUE", P.WORD_BYTES, self._goto(m, "W_REQ"))

        with m.State("W_REQ"):
            m.d.comb += [self.o_acc.valid.eq(1), self.o_acc.payload.addr.eq(r.addr),
                         self.o_acc.payload.data.eq(r.word), self.o_acc.payload.write.eq(1)]
            with m.If(self.o_acc.ready):
                m.next = "W_RESP"

        with m.State("W_RESP"):
            m.d.comb += self.i_acc.ready.eq(1)
            with m.If(self.i_acc.valid):
                m.d.sync += [r.addr.eq(r.addr + 1), r.idx.eq(r.idx + 1)]
                with m.If(self.i_acc.payload.error):
                    # unreachable after the range check above; reported, not hidden
                    self._respond(m, r, P.Status.ADDRESS)
                with m.Elif(r.idx == r.last_item):
                    self._respond(m, r, P.Status.OK)
                with m.Else():
                    m.next = "W_VALUE"
