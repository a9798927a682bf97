"""The network top and its input buffer."""

from amaranth.hdl import Assert, Assume, Cover, Fragment, Mux, Signal

from .base import Harness, implies, probe, state_value


class InputBufferHarness(Harness):
    """The input buffer: ``i_sample`` follows the stream rules (assumed);
    the slot it hands to layer 0 follows them too (asserted); no beat is
    lost or duplicated: the accepted beats are always ``N_0`` per sample
    handed over or waiting, plus the beats of the sample being received."""

    def __init__(self, cfg, *, buffer_cls=None):
        super().__init__()
        from lela.rtl.input_buffer import InputBuffer
        self.cfg = cfg
        self.dut = (buffer_cls or InputBuffer)(cfg)
        self.free_inputs(self.dut)

    def check(self, m):
        dut, n0 = self.dut, self.cfg.sizes[0]
        m.submodules.dut = frag = Fragment.get(dut, None)
        beat = dut.i_sample
        self.stream_rules(beat.valid, beat.ready, beat.payload, check=Assume, name="i_sample")
        self.stream_rules(dut.o_full, dut.i_release, dut.o_token, check=Assert, name="o_slot")
        width = 8
        accepted = self.beats(beat.valid & beat.ready, width, "accepted")
        released = self.beats(dut.i_release & dut.o_full, width, "released")
        full, k = probe(frag, "slots.full"), probe(frag, "k")
        waiting = full[0] + full[1]
        m.d.comb += [Assert(k < n0),
                     Assert(accepted == ((released + waiting) * n0 + k)[:width]),
                     Assert(implies(dut.busy == 0, (k == 0) & (full == 0))),
                     Cover(full == 0b11), Cover((released == 2) & (k != 0))]


class NetworkHarness(Harness):
    """The network top, bounded from reset: every stream port follows the
    stream rules (``i_sample`` and ``i_acc`` assumed, ``o_result`` and
    ``o_acc`` asserted); exactly one access response per request; never
    more results than samples; and the environment every layer's own proof
    assumes is guaranteed here: no layer result is offered while its FIFO
    is full, access requests reach a layer only while it is idle with no
    sample offered, and no sample is offered during an access."""

    def __init__(self, cfg, *, trace=True, cover_training=True, network_cls=None):
        super().__init__()
        from lela.rtl.top import Network
        self.cfg = cfg
        self.cover_training = cover_training
        self.dut = (network_cls or Network)(cfg, trace=trace)
        self.free_inputs(self.dut)

    def check(self, m):
        dut, cfg = self.dut, self.cfg
        m.submodules.dut = frag = Fragment.get(dut, None)
        n0 = cfg.sizes[0]
        self.stream_rules(dut.i_sample.valid, dut.i_sample.ready, dut.i_sample.payload,
                          check=Assume, name="i_sample")
        self.stream_rules(dut.i_acc.valid, dut.i_acc.ready, dut.i_acc.payload,
                          check=Assume, name="i_acc")
        self.stream_rules(dut.o_result.valid, dut.o_result.ready, dut.o_result.payload,
                          check=Assert, name="o_result")
        self.stream_rules(dut.o_acc.valid, dut.o_acc.ready, dut.o_acc.payload,
                          check=Assert, name="o_acc")
        width = 8
        # access port: one response per request, in order
        access = probe(frag, "access_state")
        serving = access != state_value(access, "IDLE")
        requests = self.beats(dut.i_acc.valid & dut.i_acc.ready, width, "requests")
        responses = self.beats(dut.o_acc.valid & dut.o_acc.ready, width, "responses")
        m.d.comb += Assert((requests - responses)[:width] == serving)
        # samples: never more results than complete samples in
        beat_k = Signal(range(n0), name="beat_k")
        take = dut.i_sample.valid & dut.i_sample.ready
        with m.If(take):
            m.d.sync += beat_k.eq(Mux(beat_k == n0 - 1, 0, beat_k + 1))
        samples = self.beats(take & (beat_k == n0 - 1), width, "samples")
        results = self.beats(dut.o_result.valid & dut.o_result.ready, width, "results")
        m.d.comb += Assert(results <= samples)
        # the layers' environment
        for i, layer in enumerate(dut.layers):
            l_access = probe(frag, f"layer{i}.access.access_state")
            l_idle = l_access == state_value(l_access, "IDLE")
            m.d.comb += [
                Assert(implies(layer.acc.req, ~layer.busy & ~layer.i_full & l_idle)),
                Assert(implies(~l_idle, ~layer.i_full)),
                Assert(implies(layer.busy, layer.o_result.ready)),
                Assert(implies(layer.o_result.valid, layer.o_result.ready)),
            ]
        out = dut.o_result.valid & dut.o_result.ready
        m.d.comb += [Cover(out & ~dut.o_result.payload.train),
                     Cover(dut.o_acc.valid & dut.o_acc.ready & ~dut.o_acc.payload.error)]
        if self.cover_training:   # a trained sample takes the longest to come out
            m.d.comb += Cover(out & dut.o_result.payload.train)
