"""One layer engine: memory-write discipline, counters, results, slots, pipeline."""

from amaranth.hdl import Assert, Assume, Cat, Cover, Fragment, Signal, Value
from amaranth.lib import data

from lela.config import Config
from lela.contract import COUNTER_BITS, COUNTERS, read_latency, write_latency
from lela.rtl.layer import Layer, token_layout
from lela.rtl.mac_array import OP_UPDATE

from .base import Harness, implies, probe, state_value


class LayerHarness(Harness):
    """One layer engine, with the property groups named in ``groups``:

    ``memory``
        The weight and bias memories are written only through their one
        write port, by the update unit during the update phase of a training
        sample (all lanes of a word), or by the access port (one lane) while
        the layer is idle; always at an in-range word. No update phase in
        inference, nor while the control word ``learn`` is 0; ``learn``
        changes only while the layer is idle. Every beat reads input ``k`` at an in-range word and lane
        of the input slot.
    ``counters``
        Every counter never decreases and grows by at most its per-cycle
        maximum, so it stays below ``max_increment * cycles``: it cannot wrap
        within ``2**(COUNTER_BITS - 3)`` cycles of reset (the documented limit
        is ``2**COUNTER_BITS`` cycles for the cycle counter).
    ``results``
        One result beat per sample (``SKIP`` included), never offered while
        ``ready`` is low, together with the release of the input slot.
    ``slots``
        The output slot handshake follows the stream rules (``o_full`` held
        and ``o_token`` stable until ``i_release``); a sample never
        publishes into a slot that is still full.
    ``pipeline``
        A sample never writes its activations into a slot that is still
        full; the error unit's ``d`` handshake inside the layer follows the
        stream rules (``d_valid`` held and ``d`` stable until ``d_take``),
        and ``d`` is taken only when valid. (Bounded: its induction needs
        invariants tying the error unit's pipeline to the layer's state.)

    Environment (assumed here; the top guarantees it and its check asserts
    it): the input slot follows the same rules; access requests come only
    while the layer is idle and no sample is offered, and no sample is
    offered during an access; ``o_result.ready`` does not fall while a
    sample is in flight.
    """

    GROUPS = ("memory", "counters", "results", "slots", "pipeline")

    def __init__(self, cfg, layer=0, *, groups=GROUPS, trace=True):
        super().__init__()
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg must be a Config, not {cfg!r}")
        unknown = set(groups) - set(self.GROUPS)
        if unknown:
            raise ValueError(f"groups must be among {', '.join(self.GROUPS)}, not {groups!r}")
        self.cfg, self.index, self.groups = cfg, layer, tuple(groups)
        self.dut = Layer(cfg, index=layer, trace=trace)
        self.free_inputs(self.dut)

    def check(self, m):
        dut = self.dut
        m.submodules.dut = frag = Fragment.get(dut, None)
        seq = probe(frag, "seq_state")
        access = probe(frag, "access.access_state")
        self.in_state = {name: seq == state_value(seq, name)
                         for name in ("IDLE", "SKIP", "FWD", "SCORES", "UPD", "DRAIN")}
        access_idle = access == state_value(access, "IDLE")
        self.access_idle = access_idle
        self.train = data.View(token_layout(self.cfg), probe(frag, "tok")).train

        # environment
        self.stream_rules(dut.i_full, dut.o_release, dut.i_token, check=Assume, name="i_slot")
        held = Cat(dut.acc.write, dut.acc.space, dut.acc.index, dut.acc.wdata)
        m.d.comb += [
            Assume(implies(dut.acc.req, ~dut.busy & ~dut.i_full & access_idle)),
            Assume(implies(~access_idle, ~dut.i_full)),
            # the request's fields are held from req until done (the top's register)
            Assume(implies(self.ok_past & ~access_idle, held == self.past(held, name="held"))),
            Assume(implies(dut.busy, dut.o_result.ready)),
        ]
        for group in self.groups:
            getattr(self, f"_check_{group}")(m, frag)

    def _check_memory(self, m, frag):
        dut, in_state, train = self.dut, self.in_state, self.train
        upd_phase = in_state["UPD"] | in_state["DRAIN"]
        learn = probe(frag, "access.learn")
        m.d.comb += [
            # auxiliary invariant (true by design: a request comes only to an idle
            # layer, and no sample starts during it); the induction needs it now
            # that a serial decode keeps an access going for up to 8 cycles
            Assert(implies(~self.access_idle, in_state["IDLE"])),
            Assert(implies(upd_phase, train & learn)),   # no update phase in inference
            Assert(implies(self.ok_past & (learn != self.past(learn, name="learn")),
                           in_state["IDLE"])),
        ]
        for memory, tag in ((dut.weights, "w"), (dut.biases, "b")):
            assert len(memory.write_ports) == 1, f"{tag}: more than one write port"
            port = memory.write_ports[0]
            uu_valid = probe(frag, f"uu.{tag}_valid")   # (the new word: uu.new)
            acc_we = probe(frag, f"access.we_{tag}")
            en = Value.cast(port.en)
            by_uu = uu_valid & ~acc_we
            m.d.comb += [
                Assert(implies(en != 0, port.addr < memory.depth)),
                Assert(implies(en != 0, by_uu | acc_we)),
                Assert(implies(by_uu, upd_phase & train & (en == (1 << len(en)) - 1))),
                Assert(implies(by_uu, Value.cast(port.data) == Value.cast(probe(frag, "uu.new")))),
                Assert(implies(acc_we, in_state["IDLE"] & ~uu_valid)),
                Assert(implies(acc_we, (en != 0) & ((en & (en - 1)) == 0))),   # one lane
                Cover(by_uu), Cover(acc_we),
            ]
        # auxiliary invariant of the beat counters (true by design; the
        # induction needs it to know the write address is g*N_in + k)
        g, k, waddr = probe(frag, "g"), probe(frag, "k"), probe(frag, "waddr")
        beats = in_state["FWD"] | in_state["UPD"]
        # (k == n_in: the group's bias beat)
        m.d.comb += [Assert(implies(beats, (g < dut.groups) & (k <= dut.n_in))),
                     Assert(implies(beats, waddr == g * dut.n_in + k))]
        # each pass starts from its first beat (the counters restart in the
        # cycles before it, not on its start)
        entering = self.ok_past & ((in_state["FWD"] & self.past(in_state["IDLE"], name="was_idle"))
                                   | (in_state["UPD"]
                                      & self.past(in_state["SCORES"], name="was_scoring")))
        m.d.comb += Assert(implies(entering, (g == 0) & (k == 0)))
        # auxiliary invariant of the write-back counters: in the update pass the
        # next weight (bias) word written is the one read as many input beats
        # (bias beats) ago as are between the read and the write-back; none is
        # in flight outside it
        wb_addr, wb_g = probe(frag, "wb_addr"), probe(frag, "wb_g")
        stages = [(probe(frag, f"valid_d{n}") & (probe(frag, f"op_d{n}") == OP_UPDATE),
                   probe(frag, f"last_d{n}")) for n in range(1, read_latency(self.cfg) + 1)]
        stages += [(probe(frag, f"uu.s{n}_valid"), probe(frag, f"uu.s{n}_bias"))
                   for n in range(2, 2 + write_latency(self.cfg))]
        flight = sum(Value.cast(v & ~b) for v, b in stages)
        flight_bias = sum(Value.cast(v & b) for v, b in stages)
        m.d.comb += [
            Assert(implies(~upd_phase, ~Cat(*(v for v, _ in stages)).any())),
            Assert(implies(upd_phase, waddr == (wb_addr + flight)[:len(waddr)])),
            Assert(implies(upd_phase, g == (wb_g + flight_bias)[:len(g)])),
        ]
        # reads of the input slot: word kw, lane kl of input k, in range
        kw, kl = probe(frag, "kw"), probe(frag, "kl")
        m.d.comb += [Assert(implies(beats, (kw < dut.in_words) & (kl < dut.lanes_in))),
                     Assert(implies(beats, kw * dut.lanes_in + kl == k - (k == dut.n_in))),
                     Assert(implies(beats, dut.o_in_addr == kw))]

    def _check_counters(self, m, frag):
        P = self.dut.lanes
        most = {"busy_cycles": 1, "mac_multiplies": P, "classifier_multiplies": 1,
                "weight_reads": P, "weight_writes": P, "act_reads": 1 + P, "act_writes": P}
        assert set(most) == set(COUNTERS), "a counter without a stated maximum increment"
        # runs shorter than 2**(COUNTER_BITS - 3) cycles (the documented limit is
        # 2**COUNTER_BITS cycles of the busy counter; P + 1 <= 8 increments fit)
        limit = (1 << (COUNTER_BITS - 3)) - 1
        assert max(most.values()) <= 8
        for name in COUNTERS:
            c = probe(frag, f"counters.count_{name}")
            prev = self.past(c, name=name)
            # budget = most * cycles since reset, kept by additions (cheap to solve)
            budget = Signal(COUNTER_BITS, name=f"budget_{name}")
            m.d.sync += budget.eq(budget + most[name])
            m.d.comb += [Assume(budget <= most[name] * limit),
                         Assert(implies(self.ok_past, (c >= prev) & (c - prev <= most[name]))),
                         Assert(c <= budget),
                         Cover(self.ok_past & (c > prev))]

    def _check_results(self, m, frag):
        dut, in_state = self.dut, self.in_state
        res = dut.o_result
        m.d.comb += [Assert(implies(res.valid, res.ready)),
                     Assert(res.valid == dut.o_release)]
        # a sample starts when the layer leaves IDLE (SKIP included: it reports too)
        starting = self.ok_past & self.past(in_state["IDLE"], name="idle") & ~in_state["IDLE"]
        samples = self.beats(starting, 4, "samples")
        results = self.beats(res.valid & res.ready, 4, "results")
        m.d.comb += Assert((samples + starting - results)[:4] == dut.busy)
        m.d.comb += [Cover(res.valid & self.train), Cover(res.valid & ~self.train)]

    def _check_slots(self, m, frag):
        dut, in_state = self.dut, self.in_state
        self.stream_rules(dut.o_full, dut.i_release, dut.o_token, check=Assert, name="o_slot")
        full, slot = probe(frag, "activations.full"), probe(frag, "slot")
        m.d.comb += [Assert(implies(in_state["SKIP"] | in_state["FWD"] | in_state["SCORES"],
                                    ~full.bit_select(slot, 1))),
                     Cover(dut.o_full & ~dut.i_release & self.past(dut.o_full, name="o_full"))]

    def _check_pipeline(self, m, frag):
        dut = self.dut
        full = probe(frag, "activations.full")
        a_wr = dut.activations.memory.write_ports[0]
        a_slot = a_wr.addr >= dut.groups
        m.d.comb += [Assert(implies(a_wr.en, ~full.bit_select(a_slot, 1))),
                     Assert(implies(a_wr.en, a_wr.addr < 2 * dut.groups)),
                     # the case that matters: one slot written while the other is read
                     Cover(a_wr.en & full.bit_select(~a_slot, 1))]
        # the error unit's d (one group of local errors) to the update beats
        # (the error unit's inputs are driven by the layer, its outputs inside it)
        d_valid, d_take = probe(frag, "eu.d_valid"), probe(frag, "d_take")
        restart = probe(frag, "start_d") | probe(frag, "start")
        held = self.ok_past & self.past(d_valid & ~d_take & ~restart, name="d_held")
        m.d.comb += [Assert(implies(held, d_valid)),
                     Assert(implies(held, Value.cast(probe(frag, "eu.d")) == self.past(
                         probe(frag, "eu.d"), name="d"))),
                     Assert(implies(d_take, d_valid)),
                     Cover(d_take)]
