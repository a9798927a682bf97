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
"""


from amaranth import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela import protocol as P
from lela.contract import ACCESS_INDEX_BITS, CONTROL, LAYER_SHIFT, SPACE_SHIFT, bits
from lela.rtl.params import check_int, invalid

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
        self._sample_sig = sig.members["i_sample"].signature.flip()
        self._result_sig = sig.members["o_result"].signature
        self._acc_req_sig = sig.members["i_acc"].signature.flip()
        self._acc_resp_sig = sig.members["o_acc"].signature
        super().__init__({
            "i_rx": In(stream.Signature(8)),
            "o_tx": Out(stream.Signature(8)),
            "o_sample": Out(self._sample_sig),
            "i_result": In(self._result_sig),
            "o_acc": Out(self._acc_req_sig),
            "i_acc": In(self._acc_resp_sig),
            "o_threshold": Out(cfg.act_width),
            "o_early_exit": Out(1),
            "o_train": Out(1),
            "o_busy": Out(1),
            "o_error": Out(1),
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
        """Frame buffer, result FIFO, CRC and the request/response state machine."""
        cfg = self._cfg
        m = Module()
        n0, layers, aw, ww = cfg.sizes[0], cfg.layers, cfg.act_width, cfg.weight_width
        ab = P.act_bytes(cfg)
        rec_bytes = P.result_bytes(cfg)
        max_payload = self._max_payload

        # -- frame buffer: request payload in, response payload out ----------
        m.submodules.buf = buf = Memory(shape=8, depth=max_payload, init=[])
        rd = buf.read_port()
        wr = buf.write_port()

        # -- results, packed as the protocol's record ------------------------
        m.submodules.results = fifo = SyncFIFOBuffered(width=rec_bytes * 8, depth=self._depth)
        res = self.i_result.payload
        m.d.comb += [fifo.w_en.eq(self.i_result.valid), self.i_result.ready.eq(fifo.w_rdy)]
        def field(value, width):
            value = Value.cast(value)
            return Cat(value[:width], Const(0, max(0, width - len(value))))

        packed = Cat(*(field(res.pred[i], 16) for i in range(layers)),
                     field(res.exit, 8), field(res.label, 16), field(res.train, 8))
        assert len(packed) == rec_bytes * 8
        m.d.comb += fifo.w_data.eq(packed)

        in_flight = Signal(range(self._depth + 1))
        fed = Signal()  # a sample's last beat was taken this cycle
        done = fifo.w_en & fifo.w_rdy
        m.d.sync += in_flight.eq(in_flight + fed - done)

        # -- settings ---------------------------------------------------------
        train = Signal()
        early_exit = Signal()
        threshold = Signal(aw)
        rejected = Signal(16)
        m.d.comb += [
            self.o_threshold.eq(threshold), self.o_early_exit.eq(early_exit),
            self.o_train.eq(train), self.o_busy.eq(in_flight != 0),
        ]

        # -- frame state --------------------------------------------------------
        cmd = Signal(8)
        length = Signal(16)
        idx = Signal(16)        # payload bytes received / items done
        ptr = Signal(range(max_payload + 1))   # buffer read pointer
        wptr = Signal(range(max_payload + 1))  # buffer write pointer (responses)
        status = Signal(8)
        resp_len = Signal(16)
        discard = Signal()      # after the response, drop bytes until a sync byte
        timer = Signal(range(self._timeout))
        word = Signal(32)       # bytes gathered from the buffer, little-endian
        gathered = Signal(32)   # ``word`` with the byte arriving this cycle
        gcnt = Signal(range(max(P.WORD_BYTES, P.ADDRESS_BYTES) + 4))
        byte = Signal(8)        # the frame buffer's read data, registered
        scnt = Signal(range(max(P.STATUS_BYTES, rec_bytes, P.WORD_BYTES) + 1))
        hcnt = Signal(3)
        addr = Signal(32)
        count = Signal(16)
        # ``length - 1`` and ``count - 1``, registered: the loops end on an
        # equality with a register instead of a subtraction's carry chain
        last_byte = Signal(16)
        last_item = Signal(16)
        label = Signal(16)
        record = Signal(rec_bytes * 8)
        snap_in_flight = Signal(8)
        snap_pending = Signal(8)
        acc_error = Signal()
        addr_bad = Signal()     # the address range of a WRITE_MEM frame is out of bounds

        rx = self.i_rx
        tx = self.o_tx

        # one CRC, shared: a frame is either being received or being sent. It
        # takes the byte on ``o_tx`` (sending) or ``i_rx`` when ``valid``;
        # ``start`` clears it for the next frame. (A ResetInserter around the
        # processor instead made Yosys 0.70's abc9 abort on the 4-lane ULX3S build.)
        m.submodules.crc = crc = P.CRC.create()
        crc_start = crc.start
        sending = Signal()
        m.d.comb += crc.data.eq(Mux(sending, tx.payload, rx.payload))

        def respond(code, n_bytes=0, *, then_discard=False):
            m.d.sync += [status.eq(code), resp_len.eq(n_bytes), hcnt.eq(0),
                         discard.eq(then_discard)]
            m.next = "RESPOND"

        def receive(body):
            """A state that takes a byte of a frame (with the inter-byte timeout)."""
            m.d.comb += rx.ready.eq(1)
            with m.If(rx.valid):
                m.d.sync += timer.eq(0)
                m.d.comb += crc.valid.eq(1)
                body(rx.payload)
            with m.Elif(timer == self._timeout - 1):
                m.d.sync += timer.eq(0)
                respond(P.Status.TIMEOUT)
            with m.Else():
                m.d.sync += timer.eq(timer + 1)

        def gather(name, nbytes, then, *, late=0):
            """State ``name``: ``word`` <- ``nbytes`` little-endian bytes from
            ``buf[ptr:]`` (``ptr`` advances past them), then, two cycles later
            (``2 + late``), ``then()`` (which reads ``word``, or with ``late``
            registers computed from it). Each byte goes from the block RAM's
            output into ``byte`` before it is placed, and the checks start
            from ``word``: no logic follows the block RAM in its cycle, which
            limited Fmax."""
            with m.State(name):
                with m.If(gcnt <= nbytes + 1):
                    m.d.sync += word.eq(Mux(gcnt == 0, 0, gathered))
                with m.If(gcnt == nbytes + 2 + late):
                    m.d.sync += gcnt.eq(0)
                    then()
                with m.Else():
                    m.d.sync += gcnt.eq(gcnt + 1)
                    with m.If(gcnt < nbytes):
                        m.d.sync += ptr.eq(ptr + 1)

        def scatter(name, value, nbytes, then):
            """State ``name``: ``buf[wptr:]`` <- the ``nbytes`` bytes of ``value``."""
            with m.State(name):
                m.d.comb += [wr.addr.eq(wptr), wr.data.eq(value.word_select(scnt, 8)),
                             wr.en.eq(1)]
                m.d.sync += wptr.eq(wptr + 1)
                with m.If(scnt == nbytes - 1):
                    m.d.sync += scnt.eq(0)
                    then()
                with m.Else():
                    m.d.sync += scnt.eq(scnt + 1)

        def goto(state):
            def then(*_):
                m.next = state
            return then

        sample_len = P.sample_payload_bytes(cfg)
        w_sizes = Array(Const(cfg.sizes[i] * cfg.sizes[i + 1], ACCESS_INDEX_BITS + 1)
                        for i in range(layers))
        b_sizes = Array(Const(cfg.sizes[i + 1], ACCESS_INDEX_BITS + 1) for i in range(layers))

        # the gather datapath, shared by every gather state; the read port
        # follows ``ptr`` unless a state says otherwise
        m.d.comb += [rd.addr.eq(ptr), gathered.eq(word)]
        m.d.sync += byte.eq(rd.data)
        with m.If(gcnt >= 2):
            m.d.comb += gathered.word_select((gcnt - 2).as_unsigned(), 8).eq(byte)

        # the address range check, registered from ``word`` every cycle
        # and read one cycle late: its carry chain in front of the
        # response's enable was the ECP5 build's critical path
        layer, space, index = (word[LAYER_SHIFT:], word[SPACE_SHIFT:LAYER_SHIFT],
                               word[:ACCESS_INDEX_BITS])
        sel = layer[:bits(layers)]
        limit = Mux(space == P.SPACE_W, w_sizes[sel], b_sizes[sel])
        writable = space <= P.SPACE_B
        if cfg.control:   # the control words too
            limit = Mux(space == P.SPACE_CONTROL, len(CONTROL), limit)
            writable |= space == P.SPACE_CONTROL
        m.d.sync += addr_bad.eq((layer >= layers) | ~writable | (index + count > limit))

        with m.FSM() as fsm:
            # ---------------------------------------------------------- receive
            with m.State("IDLE"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.comb += crc_start.eq(1)
                    m.d.sync += cmd.eq(0)
                    with m.If(rx.payload == P.SYNC_REQUEST):
                        m.next = "CMD"
                    with m.Else():
                        respond(P.Status.SYNC, then_discard=True)

            with m.State("DISCARD"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid & (rx.payload == P.SYNC_REQUEST)):
                    m.d.comb += crc_start.eq(1)
                    m.d.sync += cmd.eq(0)
                    m.next = "CMD"

            with m.State("CMD"):
                def body(byte):
                    m.d.sync += cmd.eq(byte)
                    m.next = "LEN0"
                receive(body)

            with m.State("LEN0"):
                def body(byte):
                    m.d.sync += length[:8].eq(byte)
                    m.next = "LEN1"
                receive(body)

            with m.State("LEN1"):
                def body(byte):
                    m.d.sync += [length[8:].eq(byte), idx.eq(0),
                                 last_byte.eq(Cat(length[:8], byte) - 1)]
                    with m.If(Cat(length[:8], byte) == 0):
                        m.next = "CRC0"
                    with m.Else():
                        m.next = "PAYLOAD"
                receive(body)

            with m.State("PAYLOAD"):
                def body(byte):
                    with m.If(idx < max_payload):
                        m.d.comb += [wr.addr.eq(idx), wr.data.eq(byte), wr.en.eq(1)]
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(idx == last_byte):
                        m.next = "CRC0"
                receive(body)

            with m.State("CRC0"):
                receive(goto("CRC1"))

            with m.State("CRC1"):
                receive(goto("CHECK"))

            # ------------------------------------------------------------ check
            with m.State("CHECK"):
                m.d.sync += [ptr.eq(0), wptr.eq(0), idx.eq(0), gcnt.eq(0), scnt.eq(0),
                             snap_in_flight.eq(in_flight), snap_pending.eq(fifo.level),
                             acc_error.eq(0)]
                C = P.Command
                with m.If(~crc.match_detected):
                    respond(P.Status.CRC)
                with m.Elif(length > max_payload):
                    respond(P.Status.LENGTH)
                with m.Else(), m.Switch(cmd):
                    # commands with a fixed payload length: (length, first state)
                    for command, (n_bytes, state) in {
                            C.STATUS: (0, "STATUS"),
                            C.SET_MODE: (1, "MODE"),
                            C.SET_THRESHOLD: (P.THRESHOLD_BYTES, "THRESHOLD"),
                            C.READ_RESULTS: (1, "R_COUNT"),
                            C.READ_MEM: (P.ADDRESS_BYTES + P.COUNT_BYTES, "M_ADDR")}.items():
                        with m.Case(command):
                            with m.If(length != n_bytes):
                                respond(P.Status.LENGTH)
                            with m.Else():
                                m.next = state
                    with m.Case(C.SAMPLE):
                        with m.If(length != sample_len):
                            respond(P.Status.LENGTH)
                        with m.Elif(in_flight + fifo.level >= self._depth):
                            respond(P.Status.BUSY)
                        with m.Else():
                            m.next = "S_LABEL"
                    with m.Case(C.WRITE_MEM):
                        with m.If((length < P.ADDRESS_BYTES + P.WORD_BYTES)
                                  | (length[:2] != 0)):
                            respond(P.Status.LENGTH)
                        with m.Elif(train | (in_flight != 0)):
                            respond(P.Status.TRAINING)
                        with m.Else():
                            m.d.sync += [count.eq((length >> 2) - 1),
                                         last_item.eq((length >> 2) - 2)]
                            m.next = "W_ADDR"
                    with m.Default():
                        respond(P.Status.COMMAND)

            # ----------------------------------------------------------- status
            flags = Cat(train, early_exit, snap_in_flight != 0, Const(0, 5))
            status_block = Cat(
                Const(P.PROTOCOL_VERSION, 8), flags, snap_in_flight, snap_pending,
                Const(self._depth, 8), Const(layers, 8), Const(max_payload, 16),
                Const(n0, 16), Const(cfg.classes, 16), Const(aw, 8), Const(ww, 8),
                threshold.as_unsigned(), Const(0, 32 - aw), rejected)
            assert len(status_block) == P.STATUS_BYTES * 8
            scatter("STATUS", status_block, P.STATUS_BYTES,
                    lambda: respond(P.Status.OK, P.STATUS_BYTES))

            # ------------------------------------------------- mode, threshold
            def setting(name, nbytes, bad, assign):
                """State ``name``: a static setting from ``nbytes`` payload
                bytes: VALUE if ``bad``, BUSY with a sample in flight, else
                ``assign`` (statements, applied once)."""
                def then():
                    with m.If(bad):
                        respond(P.Status.VALUE)
                    with m.Elif(in_flight != 0):
                        respond(P.Status.BUSY)
                    with m.Else():
                        m.d.sync += assign
                        respond(P.Status.OK)
                gather(name, nbytes, then)

            setting("MODE", 1, word[2:8] != 0, [train.eq(word[0]), early_exit.eq(word[1])])
            setting("THRESHOLD", P.THRESHOLD_BYTES, word[aw:] != 0 if aw < 32 else Const(0),
                    threshold.eq(word[:aw]))

            # ----------------------------------------------------------- sample
            def label_then():
                m.d.sync += [label.eq(word[:16]), idx.eq(0)]
                with m.If(word[:16] >= cfg.classes):
                    respond(P.Status.VALUE)
                with m.Else():
                    m.next = "S_VALIDATE" if ab * 8 > aw else "S_VALUE"
            gather("S_LABEL", P.LABEL_BYTES, label_then)

            if ab * 8 > aw:
                # every input must be a sign-extended act_width-bit value
                def validate_then():
                    top = word[aw - 1:ab * 8]
                    with m.If((top != 0) & (top != (1 << len(top)) - 1)):
                        respond(P.Status.VALUE)
                    with m.Elif(idx == n0 - 1):
                        m.d.sync += [idx.eq(0), ptr.eq(P.LABEL_BYTES)]
                        m.next = "S_VALUE"
                    with m.Else():
                        m.d.sync += idx.eq(idx + 1)
                gather("S_VALIDATE", ab, validate_then)

            gather("S_VALUE", ab, goto("S_BEAT"))

            with m.State("S_BEAT"):
                last = idx == n0 - 1
                beat = self.o_sample.payload
                m.d.comb += [
                    self.o_sample.valid.eq(1),
                    beat.x.eq(word[:aw].as_signed()),
                    beat.label.eq(Mux(last, label, 0)),
                    beat.train.eq(last & train),
                ]
                with m.If(self.o_sample.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(last):
                        m.d.comb += fed.eq(1)
                        respond(P.Status.OK)
                    with m.Else():
                        m.next = "S_VALUE"

            # ---------------------------------------------------------- results
            max_records = max_payload // rec_bytes

            def count_then():
                n = word[:8]
                with m.If((n == 0) | (n > snap_in_flight + snap_pending) | (n > max_records)):
                    respond(P.Status.VALUE)
                with m.Else():
                    m.d.sync += [count.eq(n), last_item.eq(n - 1), idx.eq(0)]
                    m.next = "R_WAIT"
            gather("R_COUNT", 1, count_then)

            with m.State("R_WAIT"), m.If(fifo.r_rdy):
                m.d.comb += fifo.r_en.eq(1)
                m.d.sync += record.eq(fifo.r_data)
                m.next = "R_RECORD"

            def record_then():
                m.d.sync += idx.eq(idx + 1)
                with m.If(idx == last_item):
                    respond(P.Status.OK, wptr + 1)
                with m.Else():
                    m.next = "R_WAIT"
            scatter("R_RECORD", record, rec_bytes, record_then)

            # ------------------------------------------------------ memory read
            def m_addr_then():
                m.d.sync += addr.eq(word)
                m.next = "M_COUNT"
            gather("M_ADDR", P.ADDRESS_BYTES, m_addr_then)

            def m_count_then():
                n = word[:16]
                with m.If((n == 0) | (n > max_payload // P.WORD_BYTES)):
                    respond(P.Status.VALUE)
                with m.Else():
                    m.d.sync += [count.eq(n), last_item.eq(n - 1), idx.eq(0)]
                    m.next = "M_REQ"
            gather("M_COUNT", P.COUNT_BYTES, m_count_then)

            with m.State("M_REQ"):
                m.d.comb += [self.o_acc.valid.eq(1), self.o_acc.payload.addr.eq(addr),
                             self.o_acc.payload.write.eq(0)]
                with m.If(self.o_acc.ready):
                    m.next = "M_RESP"

            with m.State("M_RESP"):
                m.d.comb += self.i_acc.ready.eq(1)
                with m.If(self.i_acc.valid):
                    m.d.sync += word.eq(self.i_acc.payload.data)
                    with m.If(self.i_acc.payload.error):
                        respond(P.Status.ADDRESS)
                    with m.Else():
                        m.next = "M_WORD"

            def m_word_then():
                m.d.sync += [addr.eq(addr + 1), idx.eq(idx + 1)]
                with m.If(idx == last_item):
                    respond(P.Status.OK, wptr + 1)
                with m.Else():
                    m.next = "M_REQ"
            scatter("M_WORD", word, P.WORD_BYTES, m_word_then)

            # ----------------------------------------------------- memory write
            def w_addr_then():
                m.d.sync += addr.eq(word)
                with m.If(addr_bad):
                    respond(P.Status.ADDRESS)
                with m.Else():
                    m.d.sync += idx.eq(0)
                    m.next = "W_VALIDATE" if ww < 32 else "W_VALUE"
            gather("W_ADDR", P.ADDRESS_BYTES, w_addr_then, late=1)

            if ww < 32:
                # every word must be a sign-extended weight_width-bit value
                def w_validate_then():
                    top = word[ww - 1:]
                    with m.If((top != 0) & (top != (1 << len(top)) - 1)):
                        respond(P.Status.VALUE)
                    with m.Elif(idx == last_item):
                        m.d.sync += [idx.eq(0), ptr.eq(P.ADDRESS_BYTES)]
                        m.next = "W_VALUE"
                    with m.Else():
                        m.d.sync += idx.eq(idx + 1)
                gather("W_VALIDATE", P.WORD_BYTES, w_validate_then)

            gather("W_VALUE", P.WORD_BYTES, goto("W_REQ"))

            with m.State("W_REQ"):
                m.d.comb += [self.o_acc.valid.eq(1), self.o_acc.payload.addr.eq(addr),
                             self.o_acc.payload.data.eq(word), self.o_acc.payload.write.eq(1)]
                with m.If(self.o_acc.ready):
                    m.next = "W_RESP"

            with m.State("W_RESP"):
                m.d.comb += self.i_acc.ready.eq(1)
                with m.If(self.i_acc.valid):
                    m.d.sync += [addr.eq(addr + 1), idx.eq(idx + 1)]
                    with m.If(self.i_acc.payload.error):
                        # unreachable after the range check above; reported, not hidden
                        respond(P.Status.ADDRESS)
                    with m.Elif(idx == last_item):
                        respond(P.Status.OK)
                    with m.Else():
                        m.next = "W_VALUE"

            # ---------------------------------------------------------- respond
            header = Array([Const(P.SYNC_RESPONSE, 8), cmd, status, resp_len[:8], resp_len[8:]])
            with m.State("RESPOND"):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(header[hcnt])]
                with m.If(tx.ready):
                    # the sync byte is not checksummed
                    m.d.comb += [crc_start.eq(hcnt == 0), crc.valid.eq(hcnt != 0)]
                    m.d.sync += [hcnt.eq(hcnt + 1), ptr.eq(0)]
                    with m.If(hcnt == P.RESPONSE_HEADER - 1):
                        m.d.sync += hcnt.eq(0)
                        with m.If(resp_len == 0):
                            m.next = "SEND_CRC"
                        with m.Else():
                            m.next = "SEND_PAYLOAD"

            # each payload byte: its read (SEND_PAYLOAD), the read data into
            # ``byte`` (SEND_LOAD), then sent from there (SEND_BYTE)
            with m.State("SEND_PAYLOAD"):
                m.next = "SEND_LOAD"
            with m.State("SEND_LOAD"):
                m.next = "SEND_BYTE"
            with m.State("SEND_BYTE"):
                m.d.comb += [tx.valid.eq(1), tx.payload.eq(byte)]
                with m.If(tx.ready):
                    m.d.comb += crc.valid.eq(1)
                    m.d.sync += ptr.eq(ptr + 1)
                    with m.If(ptr == resp_len - 1):
                        m.next = "SEND_CRC"
                    with m.Else():
                        m.next = "SEND_PAYLOAD"

            with m.State("SEND_CRC"):
                m.d.comb += [tx.valid.eq(1),
                             tx.payload.eq(Mux(hcnt == 0, crc.crc[8:], crc.crc[:8]))]
                with m.If(tx.ready):
                    m.d.sync += hcnt.eq(hcnt + 1)
                    with m.If(hcnt == 1):
                        m.d.sync += hcnt.eq(0)
                        with m.If(status != P.Status.OK):
                            m.d.comb += self.o_error.eq(1)
                            with m.If(rejected != 0xFFFF):
                                m.d.sync += rejected.eq(rejected + 1)
                        with m.If(discard):
                            m.next = "DISCARD"
                        with m.Else():
                            m.next = "IDLE"
        m.d.comb += sending.eq(fsm.ongoing("RESPOND") | fsm.ongoing("SEND_BYTE"))
        return m

