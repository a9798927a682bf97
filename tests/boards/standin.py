"""A tiny stand-in with the ports of ``lela.rtl.top.Network``, for fast protocol tests.

Test code only: it lets the host-link tests exercise every command and every
rejection in a few thousand cycles. Its datapath is trivial and fully
predictable: per-layer prediction ``(label + layer) % classes``; a training
sample adds 1 to ``W_0[0]`` (so a sample that must not reach the core is seen
if it does); counters ``[samples, trained samples]``; layer info
``[N_in, N_out]``. Like the real core it serves the access port only with no
sample in flight, and answers error=1 (changing nothing) for out-of-range
addresses and writes to the read-only spaces.
"""

from amaranth import Array, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import (
    ACCESS_INDEX_BITS,
    LAYER_SHIFT,
    SPACE_B,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_SHIFT,
    SPACE_W,
    exit_bits,
    label_bits,
)

#: cycles from a sample's last beat to its result
LATENCY = 300


class StandIn(wiring.Component):
    def __init__(self, cfg):
        self.cfg = cfg
        lb = label_bits(cfg.classes)
        sample = data.StructLayout({"x": signed(cfg.act_width), "label": unsigned(lb),
                                    "train": unsigned(1)})
        result = data.StructLayout({
            "pred": data.ArrayLayout(unsigned(lb), cfg.layers),
            "exit": unsigned(exit_bits(cfg)),
            "label": unsigned(lb), "train": unsigned(1)})
        super().__init__({
            "i_sample": In(stream.Signature(sample)),
            "o_result": Out(stream.Signature(result)),
            "threshold": In(unsigned(cfg.act_width)),
            "early_exit": In(1),
            "i_acc": In(stream.Signature(data.StructLayout(
                {"addr": unsigned(32), "data": unsigned(32), "write": unsigned(1)}))),
            "o_acc": Out(stream.Signature(data.StructLayout(
                {"data": unsigned(32), "error": unsigned(1)}))),
        })

    def elaborate(self, platform):
        cfg = self.cfg
        m = Module()
        ww = cfg.weight_width
        w = [[Signal(signed(ww), name=f"w{i}_{k}") for k in range(cfg.sizes[i] * cfg.sizes[i + 1])]
             for i in range(cfg.layers)]
        b = [[Signal(signed(ww), name=f"b{i}_{k}") for k in range(cfg.sizes[i + 1])]
             for i in range(cfg.layers)]
        samples = Signal(32)
        trained = Signal(32)
        beats = Signal(range(cfg.sizes[0] + 1))
        label = Signal(self.i_sample.payload.label.shape())
        train = Signal()
        timer = Signal(range(LATENCY + 1))

        req = self.i_acc.payload
        layer, space, index = (req.addr[LAYER_SHIFT:], req.addr[SPACE_SHIFT:LAYER_SHIFT],
                               req.addr[:ACCESS_INDEX_BITS])

        with m.FSM():
            with m.State("IDLE"):
                m.d.comb += [self.i_sample.ready.eq(1), self.i_acc.ready.eq(beats == 0)]
                with m.If(self.i_sample.valid):
                    m.d.sync += beats.eq(beats + 1)
                    with m.If(beats == cfg.sizes[0] - 1):
                        m.d.sync += [beats.eq(0), label.eq(self.i_sample.payload.label),
                                     train.eq(self.i_sample.payload.train), timer.eq(LATENCY)]
                        m.next = "BUSY"
                with m.Elif(self.i_acc.valid & (beats == 0)):
                    m.d.sync += [self.o_acc.payload.error.eq(1), self.o_acc.payload.data.eq(0)]
                    for i in range(cfg.layers):
                        for sp, words, writable in ((SPACE_W, w[i], True),
                                                    (SPACE_B, b[i], True),
                                                    (SPACE_COUNTERS, [samples, trained], False),
                                                    (SPACE_INFO,
                                                     [Const(cfg.sizes[i], 32),
                                                      Const(cfg.sizes[i + 1], 32)], False)):
                            arr = Array(words)
                            hit = (layer == i) & (space == sp) & (index < len(words))
                            with m.If(hit & (~req.write | writable)):
                                m.d.sync += [self.o_acc.payload.error.eq(0),
                                             self.o_acc.payload.data.eq(arr[index])]
                                if writable:
                                    with m.If(req.write):
                                        m.d.sync += arr[index].eq(req.data[:ww].as_signed())
                    m.next = "ACC"
            with m.State("ACC"):
                m.d.comb += self.o_acc.valid.eq(1)
                with m.If(self.o_acc.ready):
                    m.next = "IDLE"
            with m.State("BUSY"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.next = "RESULT"
            with m.State("RESULT"):
                res = self.o_result.payload
                m.d.comb += [self.o_result.valid.eq(1), res.label.eq(label), res.train.eq(train),
                             res.exit.eq(cfg.layers - 1)]
                for i in range(cfg.layers):
                    m.d.comb += res.pred[i].eq((label + i) % cfg.classes)
                with m.If(self.o_result.ready):
                    m.d.sync += samples.eq(samples + 1)
                    with m.If(train):
                        m.d.sync += [trained.eq(trained + 1), w[0][0].eq(w[0][0] + 1)]
                    m.next = "IDLE"
        return m
