"""The network top as an IP block: AXI4-Stream samples in, AXI4-Stream results
out, AXI4-Lite registers and the access port (``lela generate --bus axi``).

:class:`AxiNetwork` wraps :class:`lela.rtl.top.Network`; its Verilog module is
``lela_axi``, with flat ports named as AXI names them (``s_axis_*``,
``m_axis_*``, ``s_axil_*``). The formats, the register map and the errors are
in ``docs/axi.md``; the addresses and widths are facts of ``lela.contract``.

- Samples in: one input value per beat, ``N_0`` beats per frame, ``tlast`` on
  the last; ``tuser`` (``label | train << label_bits``) is read on the
  ``tlast`` beat. Frames pass through a :class:`PacketFIFO`, which releases a
  frame to the core only once its ``tlast`` came on beat ``N_0``; any other
  frame is dropped whole and counted (``DROPPED_FRAMES``), so a malformed
  frame never reaches the core.
- Results out: each result payload in 32-bit words, low bits first, the last
  word zero-padded, ``tlast`` on the last word.
- AXI4-Lite: control registers at the bottom of the address space, and above
  ``lela.contract.axil_window`` the access port, one request per read or
  write.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from lela.config import ConfigError
from lela.contract import (
    ACCESS_DATA_BITS,
    AXI_OKAY,
    AXI_SLVERR,
    AXIL_CONTROL,
    AXIL_CONTROL_EARLY_EXIT,
    AXIL_DATA_BITS,
    AXIL_DROPPED_FRAMES,
    AXIL_ID,
    AXIL_ID_VALUE,
    AXIL_THRESHOLD,
    AXIS_RESULT_BITS,
    axil_address_bits,
    axil_window,
    axis_input_bits,
    axis_result_words,
    label_bits,
    packet_fifo_depth,
)

from .input_buffer import sample_layout
from .params import check_int, invalid
from .top import Network, check_buildable, network_result_layout

__all__ = ["DROPPED_BITS", "AxiNetwork", "PacketFIFO"]

#: Width of the dropped-frame count (it saturates at ``2**DROPPED_BITS - 1``).
DROPPED_BITS = AXIL_DATA_BITS


class PacketFIFO(wiring.Component):
    """A FIFO of whole frames of ``length`` beats: a frame is released only
    once it is complete and well formed, and a malformed one is dropped whole.

    A frame is well formed if its ``last`` beat is beat ``length``. A frame
    whose ``last`` comes earlier is dropped at that beat; one without ``last``
    on beat ``length`` is dropped there, and its remaining beats up to and
    including its ``last`` are taken and thrown away. The beats of the frame
    being written are stored at once but become readable only when it
    commits, so a frame can be written while the one before it is read
    (``depth >= 2 * length``) and a beat never waits for the commit.

    Parameters
    ----------
    shape : ShapeLike
        The payload of a beat (stored as it is, every beat).
    length : int
        Beats of a well-formed frame (>= 1).
    depth : int
        Entries: a power of two, at least ``2 * length``.

    Attributes
    ----------
    i_stream : In(stream.Signature({data: shape, last: 1}))
        The beats; ``last`` marks the end of a frame.
    o_stream : Out(stream.Signature(shape))
        The beats of the committed frames, in order (one per cycle at most).
    dropped : Out(DROPPED_BITS)
        Malformed frames dropped since reset (saturating).
    """

    def __init__(self, *, shape, length, depth):
        check_int(self, "length", length, 1)
        check_int(self, "depth", depth, 2 * length)
        if depth & (depth - 1):
            invalid(self, ValueError(f"depth must be a power of two, not {depth!r}"))
        self._length, self._depth = length, depth
        super().__init__({
            "i_stream": In(stream.Signature(data.StructLayout({"data": shape, "last": 1}))),
            "o_stream": Out(stream.Signature(shape)),
            "dropped": Out(DROPPED_BITS),
        })
        #: The storage (public for simulation backdoors).
        self.storage = memory.Memory(shape=shape, depth=depth, init=[])

    @property
    def length(self):
        """Beats of a well-formed frame."""
        return self._length

    @property
    def depth(self):
        """Entries of the storage."""
        return self._depth

    def memory_bits(self):
        """Bits of the storage."""
        return self._depth * Shape.cast(self.storage.shape).width

    def elaborate(self, platform):
        """Three pointers: written, committed, read; a beat counter and the
        discard state of an overlong frame."""
        m = Module()
        n, depth = self._length, self._depth
        abits = (depth - 1).bit_length()
        m.submodules.storage = mem = self.storage
        wp, rp = mem.write_port(), mem.read_port()

        # pointers with one wrap bit: wr - rd == depth is full
        wr, start, rd = (Signal(abits + 1, name=name) for name in ("wr", "start", "rd"))
        k = Signal(range(n))
        discard = Signal()
        full = (wr[abits] != rd[abits]) & (wr[:abits] == rd[:abits])
        beat = self.i_stream
        take = beat.valid & beat.ready
        m.d.comb += [beat.ready.eq(discard | ~full),
                     wp.addr.eq(wr[:abits]), wp.data.eq(beat.payload.data),
                     wp.en.eq(take & ~discard)]
        drop = Signal()
        with m.If(take):
            with m.If(discard):
                m.d.sync += discard.eq(~beat.payload.last)
            with m.Elif(k == n - 1):
                m.d.sync += k.eq(0)
                with m.If(beat.payload.last):
                    m.d.sync += [wr.eq(wr + 1), start.eq(wr + 1)]      # commit
                with m.Else():
                    m.d.comb += drop.eq(1)
                    m.d.sync += [wr.eq(start), discard.eq(1)]          # too long
            with m.Elif(beat.payload.last):
                m.d.comb += drop.eq(1)
                m.d.sync += [wr.eq(start), k.eq(0)]                     # too short
            with m.Else():
                m.d.sync += [wr.eq(wr + 1), k.eq(k + 1)]
        with m.If(drop & ~self.dropped.all()):
            m.d.sync += self.dropped.eq(self.dropped + 1)

        # read side: a fetched entry waits in the read port's register
        valid = Signal()
        fetch = (rd != start) & (~valid | self.o_stream.ready)
        m.d.comb += [rp.addr.eq(rd[:abits]), rp.en.eq(fetch),
                     self.o_stream.valid.eq(valid), self.o_stream.payload.eq(rp.data)]
        with m.If(fetch):
            m.d.sync += [rd.eq(rd + 1), valid.eq(1)]
        with m.Elif(self.o_stream.ready):
            m.d.sync += valid.eq(0)
        return m


def _axi_signature(cfg, trace):
    layers = cfg.layers
    abits = axil_address_bits(layers)
    w = AXIL_DATA_BITS
    return {
        "s_axis_tdata": In(axis_input_bits(cfg.act_width)), "s_axis_tvalid": In(1),
        "s_axis_tready": Out(1), "s_axis_tlast": In(1),
        "s_axis_tuser": In(label_bits(cfg.classes) + 1),
        "m_axis_tdata": Out(AXIS_RESULT_BITS), "m_axis_tvalid": Out(1),
        "m_axis_tready": In(1), "m_axis_tlast": Out(1),
        "s_axil_awaddr": In(abits), "s_axil_awprot": In(3), "s_axil_awvalid": In(1),
        "s_axil_awready": Out(1),
        "s_axil_wdata": In(w), "s_axil_wstrb": In(w // 8), "s_axil_wvalid": In(1),
        "s_axil_wready": Out(1),
        "s_axil_bresp": Out(2), "s_axil_bvalid": Out(1), "s_axil_bready": In(1),
        "s_axil_araddr": In(abits), "s_axil_arprot": In(3), "s_axil_arvalid": In(1),
        "s_axil_arready": Out(1),
        "s_axil_rdata": Out(w), "s_axil_rresp": Out(2), "s_axil_rvalid": Out(1),
        "s_axil_rready": In(1),
    }


class AxiNetwork(wiring.Component):
    """:class:`~lela.rtl.top.Network` behind AXI4-Stream and AXI4-Lite ports.

    Clock and reset are the core's (``clk``, ``rst``: synchronous, active
    high). The register map and the formats are ``lela.contract``'s
    ``AXIL_*`` and ``axil_*``/``axis_*`` facts; ``docs/axi.md`` tabulates
    them.

    Parameters
    ----------
    cfg : Config
        Must pass :func:`~lela.rtl.top.check_buildable`.
    trace : bool
        Results carry every layer's scores and weight digest.

    Attributes
    ----------
    s_axis_tdata : In(axis_input_bits(act_width))
        One input value (its low ``act_width`` bits, two's complement).
    s_axis_tvalid, s_axis_tready, s_axis_tlast : In(1), Out(1), In(1)
        The sample stream's handshake; ``tlast`` on beat ``N_0``.
    s_axis_tuser : In(label_bits + 1)
        ``label | train << label_bits``, read on the ``tlast`` beat.
    m_axis_tdata : Out(AXIS_RESULT_BITS)
        A word of a result payload (``network_result_layout``), low word first.
    m_axis_tvalid, m_axis_tready, m_axis_tlast : Out(1), In(1), Out(1)
        The result stream's handshake; ``tlast`` on a result's last word.
    s_axil_awaddr, s_axil_araddr : In(axil_address_bits(layers))
        AXI4-Lite byte addresses (the low two bits are ignored).
    s_axil_awprot, s_axil_arprot : In(3)
        Ignored.
    s_axil_wdata, s_axil_wstrb : In(32), In(4)
        Write data and byte strobes.
    s_axil_rdata : Out(32)
        Read data.
    s_axil_bresp, s_axil_rresp : Out(2)
        ``AXI_OKAY`` or ``AXI_SLVERR``.
    s_axil_*valid, s_axil_*ready
        The handshakes of the five channels.
    """

    def __init__(self, cfg, *, trace=True):
        try:
            check_buildable(cfg)
        except (ConfigError, TypeError) as e:
            invalid(self, e)
        super().__init__(_axi_signature(cfg, trace))
        #: The wrapped core.
        self.core = Network(cfg, trace=trace)
        #: The input frames' packet FIFO.
        self.frames = PacketFIFO(shape=sample_layout(cfg), length=cfg.sizes[0],
                                 depth=packet_fifo_depth(cfg.sizes[0]))

    @property
    def cfg(self):
        """The configuration (the core's)."""
        return self.core.cfg

    @property
    def trace(self):
        """Results carry every layer's scores and weight digest."""
        return self.core.trace

    @property
    def result_words(self):
        """Words of ``m_axis_tdata`` per result."""
        return axis_result_words(network_result_layout(self.cfg, self.trace).size)

    def elaborate(self, platform):
        """The packet FIFO, the result serializer and the AXI4-Lite slave."""
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.frames = frames = self.frames
        self._samples(m, core, frames)
        self._results(m, core)
        self._registers(m, core, frames)
        return m

    def _samples(self, m, core, frames):
        lb = label_bits(self.cfg.classes)
        beat = frames.i_stream
        m.d.comb += [
            beat.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(beat.ready),
            beat.payload.last.eq(self.s_axis_tlast),
            beat.payload.data.x.eq(self.s_axis_tdata[:self.cfg.act_width]),
            beat.payload.data.label.eq(self.s_axis_tuser[:lb]),
            beat.payload.data.train.eq(self.s_axis_tuser[lb]),
        ]
        wiring.connect(m, frames.o_stream, core.i_sample)

    def _results(self, m, core):
        words = self.result_words
        shift = Signal(words * AXIS_RESULT_BITS)
        word = Signal(range(words))
        busy = Signal()
        last = word == words - 1
        res = core.o_result
        m.d.comb += [self.m_axis_tvalid.eq(busy), self.m_axis_tdata.eq(shift[:AXIS_RESULT_BITS]),
                     self.m_axis_tlast.eq(last),
                     res.ready.eq(~busy | (last & self.m_axis_tready))]
        with m.If(res.valid & res.ready):
            m.d.sync += [shift.eq(res.payload.as_value()), word.eq(0), busy.eq(1)]
        with m.Elif(busy & self.m_axis_tready):
            m.d.sync += [shift.eq(shift >> AXIS_RESULT_BITS), word.eq(word + 1)]
            with m.If(last):
                m.d.sync += busy.eq(0)

    def _registers(self, m, core, frames):
        cfg = self.cfg
        window_bit = axil_window(cfg.layers).bit_length() - 1
        early_exit = Signal()
        threshold = Signal(cfg.act_width)
        m.d.comb += [core.early_exit.eq(early_exit), core.threshold.eq(threshold)]

        # the address and data channels, each held until its response is taken
        aw_have, w_have, ar_have = Signal(), Signal(), Signal()
        aw_addr, ar_addr = Signal.like(self.s_axil_awaddr), Signal.like(self.s_axil_araddr)
        w_data, w_strb = Signal.like(self.s_axil_wdata), Signal.like(self.s_axil_wstrb)
        m.d.comb += [self.s_axil_awready.eq(~aw_have), self.s_axil_wready.eq(~w_have),
                     self.s_axil_arready.eq(~ar_have)]
        with m.If(self.s_axil_awvalid & ~aw_have):
            m.d.sync += [aw_have.eq(1), aw_addr.eq(self.s_axil_awaddr)]
        with m.If(self.s_axil_wvalid & ~w_have):
            m.d.sync += [w_have.eq(1), w_data.eq(self.s_axil_wdata),
                         w_strb.eq(self.s_axil_wstrb)]
        with m.If(self.s_axil_arvalid & ~ar_have):
            m.d.sync += [ar_have.eq(1), ar_addr.eq(self.s_axil_araddr)]

        bresp, rresp = Signal(2), Signal(2)
        rdata = Signal(AXIL_DATA_BITS)
        m.d.comb += [self.s_axil_bresp.eq(bresp), self.s_axil_rresp.eq(rresp),
                     self.s_axil_rdata.eq(rdata)]

        # control registers, word index = byte address >> 2
        def word(addr):
            return addr[2:window_bit]
        current = Cat(threshold, Const(0, AXIL_DATA_BITS - cfg.act_width))
        strobed = Cat(*(Mux(w_strb[b], w_data[8 * b:8 * b + 8], current[8 * b:8 * b + 8])
                        for b in range(AXIL_DATA_BITS // 8)))
        ctrl = {AXIL_CONTROL >> 2: early_exit, AXIL_THRESHOLD >> 2: threshold,
                AXIL_DROPPED_FRAMES >> 2: frames.dropped, AXIL_ID >> 2: AXIL_ID_VALUE}

        req = Signal(core.i_acc.payload.shape())
        resp = Signal(2)
        prefer_read = Signal()
        do_write = aw_have & w_have & (~ar_have | ~prefer_read)
        do_read = ar_have & ~do_write
        with m.FSM(name="axil"):
            with m.State("IDLE"):
                with m.If(do_write):
                    m.d.sync += prefer_read.eq(1)
                    with m.If(aw_addr[window_bit]):
                        with m.If(w_strb.all()):
                            m.d.sync += [req.addr.eq(aw_addr[2:window_bit]),
                                         req.data.eq(w_data), req.write.eq(1)]
                            m.next = "REQUEST"
                        with m.Else():
                            m.d.sync += bresp.eq(AXI_SLVERR)
                            m.next = "WRITE_RESPONSE"
                    with m.Else():
                        m.d.sync += bresp.eq(AXI_SLVERR)
                        with m.Switch(word(aw_addr)):
                            with m.Case(AXIL_CONTROL >> 2):
                                with m.If(w_strb[0]):
                                    m.d.sync += early_exit.eq(
                                        w_data[AXIL_CONTROL_EARLY_EXIT.bit_length() - 1])
                                m.d.sync += bresp.eq(AXI_OKAY)
                            with m.Case(AXIL_THRESHOLD >> 2):
                                m.d.sync += [threshold.eq(strobed), bresp.eq(AXI_OKAY)]
                        m.next = "WRITE_RESPONSE"
                with m.Elif(do_read):
                    m.d.sync += prefer_read.eq(0)
                    with m.If(ar_addr[window_bit]):
                        m.d.sync += [req.addr.eq(ar_addr[2:window_bit]), req.data.eq(0),
                                     req.write.eq(0)]
                        m.next = "REQUEST"
                    with m.Else():
                        m.d.sync += [rdata.eq(0), rresp.eq(AXI_SLVERR)]
                        with m.Switch(word(ar_addr)):
                            for index, value in ctrl.items():
                                with m.Case(index):
                                    m.d.sync += [rdata.eq(value), rresp.eq(AXI_OKAY)]
                        m.next = "READ_RESPONSE"
            with m.State("REQUEST"):
                m.d.comb += [core.i_acc.valid.eq(1), core.i_acc.payload.eq(req)]
                with m.If(core.i_acc.ready):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += core.o_acc.ready.eq(1)
                with m.If(core.o_acc.valid):
                    m.d.comb += resp.eq(Mux(core.o_acc.payload.error, AXI_SLVERR, AXI_OKAY))
                    with m.If(req.write):
                        m.d.sync += bresp.eq(resp)
                        m.next = "WRITE_RESPONSE"
                    with m.Else():
                        m.d.sync += [rdata.eq(core.o_acc.payload.data[:ACCESS_DATA_BITS]),
                                     rresp.eq(resp)]
                        m.next = "READ_RESPONSE"
            with m.State("WRITE_RESPONSE"):
                m.d.comb += self.s_axil_bvalid.eq(1)
                with m.If(self.s_axil_bready):
                    m.d.sync += [aw_have.eq(0), w_have.eq(0)]
                    m.next = "IDLE"
            with m.State("READ_RESPONSE"):
                m.d.comb += self.s_axil_rvalid.eq(1)
                with m.If(self.s_axil_rready):
                    m.d.sync += ar_have.eq(0)
                    m.next = "IDLE"
