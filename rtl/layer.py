"""One layer engine: forward, local classifier, local error and in-place update.

A layer owns everything it needs and nothing that grows with the depth of the
network:

* its **weight memory** (``P`` weights per word, word ``g*N_in + k``: the
  update order, so both passes walk it with one incrementing address),
* its **bias memory** (``P`` biases per word, word ``g``),
* its **activation buffer**, two slots of ``N_out`` activations (``P`` per
  word) written by this layer and read by the next one (ping-pong): one slot
  holds sample ``n`` for the next layer while this layer fills the other with
  sample ``n+1``,
* a MAC array (one multiplier per lane, shared by the forward and the update
  pass), an error unit (one small multiplier, the LFSR) and an update unit.

There is no gradient memory and no weight copy: ``d`` exists only ``P`` values
at a time.

Schedule of one training sample (``G = N_out/P`` groups, cycles from start)::

    FWD      G*N_in beats, back to back across groups: W word, h_k -> MAC
             (the error unit computes scores from each finished group word
              while the next group accumulates)
    SCORES   wait for the last scores; publish h + token to the next layer
    UPD      G*N_in beats: d of group g (error unit, computed while group g-1
             updates) x h_k -> new W word written 2 cycles after its read
    DRAIN    last writes, digest final; result out, input slot released

The exact cycle count is :func:`lela.golden_model.counters.busy_cycles`.
An inference sample stops after SCORES; a sample that an earlier layer
already answered (early exit) passes through in one cycle.

The access port reads and writes W and b and reads counters and layer
information while the layer is idle (the top guarantees it).

``cfg.weight_memory == "single_port"`` builds the weight memory as a
single-port RAM without initial contents (the iCE40's SPRAM): update beats
are issued every other cycle and each write-back takes the cycle between two
reads; the weights must be written through the access port first.
``cfg.counters == False`` leaves the seven counters out (counter reads are
then access errors).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import Config
from lela.contract import (
    ACCESS_DATA_BITS,
    ACCESS_INDEX_BITS,
    ACCESS_SPACE_BITS,
    COUNTER_BITS,
    COUNTERS,
    DIGEST_BITS,
    DRAIN_CYCLES,
    INFO,
    SPACE_B,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_W,
    bits,
    exit_bits,
    label_bits,
)
from lela.golden_model.network import initial_weights, update_order

from ._params import check_int, invalid
from .error_unit import ErrorUnit
from .mac_array import OP_FORWARD, OP_UPDATE, MacArray
from .numerics import divmod_const
from .update_unit import UpdateUnit

__all__ = ["AccessSignature", "Layer", "result_layout", "token_layout"]


def token_layout(cfg):
    """Sideband data that travels with a sample from layer to layer."""
    return data.StructLayout({
        "label": label_bits(cfg.classes),
        "train": 1,
        "early_exit": 1,
        "threshold": cfg.act_width,
        "exited": 1,             # an earlier layer answered: pass through
        "exit": exit_bits(cfg),  # the answering layer (L-1 until one answers)
    })


def result_layout(cfg, trace=True):
    """What a layer reports per sample (one entry of its result FIFO)."""
    fields = {"pred": label_bits(cfg.classes), "label": label_bits(cfg.classes), "train": 1,
              "exit": exit_bits(cfg)}
    if trace:
        fields["scores"] = data.ArrayLayout(signed(cfg.act_width), cfg.classes)
        fields["digest"] = DIGEST_BITS
    return data.StructLayout(fields)


#: One access of the layer's memories, counters or information (requester's
#: view). ``write``, ``space``, ``index`` and ``wdata`` are held from ``req``
#: until ``done`` (the top holds its request register): the layer keeps no copy.
AccessSignature = wiring.Signature({
    "req": Out(1), "write": Out(1), "space": Out(ACCESS_SPACE_BITS),
    "index": Out(ACCESS_INDEX_BITS), "wdata": Out(ACCESS_DATA_BITS),
    "done": In(1), "rdata": In(ACCESS_DATA_BITS), "error": In(1),
})


class Layer(wiring.Component):
    """Layer ``index`` of the training engine.

    Parameters
    ----------
    cfg : Config
        The configuration (``check_hardware`` must pass).
    index : int
        0-based hidden layer.
    trace : bool
        Report scores and the weight digest per sample.

    Attributes
    ----------
    i_full : In(1)
        The input slot (the previous layer's activation buffer) holds a sample.
    i_token : In(token_layout)
        Its token.
    o_release : Out(1)
        Pulse: this layer is done with the input slot.
    o_in_addr : Out(unsigned)
        Word of the input slot to read (the previous layer adds its slot base).
    i_in_data : In(ArrayLayout(signed(act_width), P_in))
        That word, one cycle later (``P_in``: the previous layer's lanes, 1
        for the network input).
    o_full, o_token, i_release, i_out_addr, o_out_data
        The same interface on this layer's activation buffer, for the next layer.
    o_result : Out(stream.Signature(result_layout))
        One beat per sample, when the layer is done with it. ``ready`` is
        checked before a sample starts, so the beat is always taken.
    busy : Out(1)
        A sample is being processed.
    acc : In(AccessSignature)
        Memory/counter access (only while no sample is in flight).
    """

    def __init__(self, cfg, *, index, trace=True):
        if not isinstance(cfg, Config):
            invalid(self, TypeError(f"cfg must be a lela.config.Config, not {cfg!r}"))
        check_int(self, "index", index, 0, cfg.layers - 1)
        self._cfg = cfg
        self._index = index
        self._trace = bool(trace)
        self.n_in, self.n_out = cfg.sizes[index], cfg.sizes[index + 1]
        self.lanes = cfg.lanes[index]
        self.lanes_in = cfg.lanes[index - 1] if index else 1
        self.groups = self.n_out // self.lanes
        self.in_words = self.n_in // self.lanes_in
        act = signed(cfg.act_width)
        tok = token_layout(cfg)
        super().__init__({
            "i_full": In(1), "i_token": In(tok), "o_release": Out(1),
            "o_in_addr": Out(bits(self.in_words)),
            "i_in_data": In(data.ArrayLayout(act, self.lanes_in)),
            "o_full": Out(1), "o_token": Out(tok), "i_release": In(1),
            "i_out_addr": In(bits(self.groups)),
            "o_out_data": Out(data.ArrayLayout(act, self.lanes)),
            "o_result": Out(stream.Signature(result_layout(cfg, trace))),
            "busy": Out(1),
            "acc": In(AccessSignature),
        })
        # the memories, public for simulation backdoors (tests, testbenches)
        w0, b0 = initial_weights(cfg)[index]
        P, G = self.lanes, self.groups
        #: Weight memory: word ``g*N_in + k`` holds ``W[g*P + p, k]`` in lane ``p``.
        #: With ``cfg.weight_memory == "single_port"`` it has no initial contents
        #: (zeros in simulation): the weights are written through the access port.
        self.single_port = cfg.weight_memory == "single_port"
        w_init = [] if self.single_port else update_order(w0, P).reshape(G * self.n_in, P).tolist()
        self.weights = Memory(shape=data.ArrayLayout(signed(cfg.weight_width), P),
                              depth=G * self.n_in, init=w_init)
        #: Bias memory: word ``g`` holds ``b[g*P + p]`` in lane ``p``.
        self.biases = Memory(shape=data.ArrayLayout(signed(cfg.weight_width), P), depth=G,
                             init=b0.reshape(G, P).tolist())
        #: Activation buffer: two slots of ``G`` words.
        self.activations = Memory(shape=data.ArrayLayout(act, P), depth=2 * G, init=[])

    @property
    def index(self):
        return self._index

    def memory_bits(self):
        """Bits of every memory this layer owns, by name."""
        cfg = self._cfg
        return {"weights": self.n_in * self.n_out * cfg.weight_width,
                "biases": self.n_out * cfg.weight_width,
                "activations": 2 * self.n_out * cfg.act_width}

    def info_words(self):
        cfg, i = self._cfg, self._index
        return {"n_in": self.n_in, "n_out": self.n_out, "lanes": self.lanes,
                "classes": cfg.classes, "m_seed": cfg.m_seeds[i], "k_seed": cfg.k_seeds[i],
                "act_width": cfg.act_width, "weight_width": cfg.weight_width}

    def elaborate(self, platform):
        m = Module()
        cfg, i = self._cfg, self._index
        P, G, N_in = self.lanes, self.groups, self.n_in
        aw, ww = cfg.act_width, cfg.weight_width
        act = signed(aw)
        tok_layout = token_layout(cfg)

        m.submodules.weights = wmem = self.weights
        m.submodules.biases = bmem = self.biases
        m.submodules.activations = amem = self.activations
        w_rd, w_wr = wmem.read_port(), wmem.write_port(granularity=1)
        b_rd, b_wr = bmem.read_port(), bmem.write_port(granularity=1)
        a_wr = amem.write_port()
        a_rd_next = amem.read_port()   # the next layer's forward and update passes
        a_rd_own = amem.read_port()    # this layer's error unit (scores, relu')

        m.submodules.mac = mac = MacArray.from_config(cfg, i)
        m.submodules.eu = eu = ErrorUnit.from_config(cfg, i)
        m.submodules.uu = uu = UpdateUnit.from_config(cfg, i, product_width=mac.product_width,
                                                      digest=self._trace)

        # -- output slots (ping-pong) -------------------------------------------
        full = Signal(2)
        tokens = [Signal(tok_layout, name=f"token{s}") for s in range(2)]
        wr_slot, rd_slot = Signal(), Signal()
        m.d.comb += [
            self.o_full.eq(full.bit_select(rd_slot, 1)),
            self.o_token.eq(Mux(rd_slot, tokens[1], tokens[0])),
            a_rd_next.addr.eq(rd_slot * G + self.i_out_addr),
            self.o_out_data.eq(a_rd_next.data),
        ]
        with m.If(self.i_release & self.o_full):
            m.d.sync += [full.bit_select(rd_slot, 1).eq(0), rd_slot.eq(~rd_slot)]

        # -- sample state -----------------------------------------------------
        tok = Signal(tok_layout)        # the token of the sample in the layer
        tok_out = Signal(tok_layout)    # the token passed on (after early exit)
        slot = Signal()                 # output slot of the sample
        g = Signal(bits(G))            # group of the beat being issued
        k = Signal(bits(N_in))         # its input
        kw = Signal(bits(self.in_words))   # word of h_k in the input slot
        kl = Signal(bits(self.lanes_in))   # lane of h_k in that word
        waddr = Signal(bits(G * N_in))     # weight word = g*N_in + k
        g_out = Signal(bits(G + 1))        # activation words written so far
        d_cur = Signal(data.ArrayLayout(act, P))
        drain = Signal(range(DRAIN_CYCLES + 1))

        issue = Signal()
        op = Signal()
        gap = Signal()    # single port: the cycle after an update beat
        if self.single_port:
            m.d.sync += gap.eq(issue & (op == OP_UPDATE))
        first, last = k == 0, k == N_in - 1
        last_beat = last & (g == G - 1)
        m.d.comb += self.o_in_addr.eq(kw)

        def restart_beats():
            return [g.eq(0), k.eq(0), kw.eq(0), kl.eq(0), waddr.eq(0)]

        with m.If(issue):
            m.d.sync += waddr.eq(waddr + 1)
            with m.If(last):
                m.d.sync += [k.eq(0), kw.eq(0), kl.eq(0), g.eq(g + 1)]
            with m.Else():
                m.d.sync += k.eq(k + 1)
                if self.lanes_in > 1:
                    with m.If(kl == self.lanes_in - 1):
                        m.d.sync += [kl.eq(0), kw.eq(kw + 1)]
                    with m.Else():
                        m.d.sync += kl.eq(kl + 1)
                else:
                    m.d.sync += kw.eq(kw + 1)

        def publish(token):
            return [full.bit_select(slot, 1).eq(1),
                    tokens[0].eq(Mux(slot, tokens[0], token)),
                    tokens[1].eq(Mux(slot, token, tokens[1])),
                    wr_slot.eq(~slot), tok_out.eq(token)]

        result = self.o_result.payload
        m.d.comb += [result.pred.eq(eu.pred), result.label.eq(tok_out.label),
                     result.train.eq(tok_out.train), result.exit.eq(tok_out.exit)]
        if self._trace:
            m.d.comb += [result.scores.eq(eu.scores),
                         result.digest.eq(Mux(tok.train, uu.digest, 0))]

        # early exit: an inference sample whose margin reaches the threshold
        answers = (~tok.train & tok.early_exit & (eu.margin >= tok.threshold)
                   if i < cfg.layers - 1 else Const(0))
        passed_on = Signal(tok_layout)
        m.d.comb += [passed_on.eq(tok), passed_on.exited.eq(answers),
                     passed_on.exit.eq(Mux(answers, i, tok.exit))]

        with m.FSM(name="seq") as fsm:
            with m.State("IDLE"):
                start = (self.i_full & ~full.bit_select(wr_slot, 1) & self.o_result.ready)
                with m.If(start):
                    m.d.sync += [tok.eq(self.i_token), slot.eq(wr_slot), g_out.eq(0)]
                    m.d.sync += restart_beats()
                    with m.If(self.i_token.exited):
                        m.next = "SKIP"
                    with m.Else():
                        m.d.comb += [eu.start.eq(1), uu.clear.eq(1)]
                        m.next = "FWD"
            with m.State("SKIP"):
                # an earlier layer answered: pass the token on, report zeros
                m.d.sync += publish(tok)
                m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1),
                             result.pred.eq(0), result.label.eq(tok.label),
                             result.train.eq(tok.train), result.exit.eq(tok.exit)]
                if self._trace:
                    m.d.comb += [result.scores.eq(0), result.digest.eq(0)]
                m.next = "IDLE"
            with m.State("FWD"):
                m.d.comb += [issue.eq(1), op.eq(OP_FORWARD)]
                with m.If(last_beat):
                    m.next = "SCORES"
            with m.State("SCORES"), m.If(eu.scores_done):
                m.d.sync += publish(passed_on)
                with m.If(tok.train):
                    m.d.comb += eu.start_d.eq(1)
                    m.d.sync += restart_beats()
                    m.next = "UPD"
                with m.Else():
                    m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1),
                                 result.label.eq(passed_on.label),
                                 result.train.eq(passed_on.train),
                                 result.exit.eq(passed_on.exit)]
                    m.next = "IDLE"
            with m.State("UPD"):
                # single port: no beat in the cycle after one (its write-back's turn)
                take = first & eu.d_valid & ~gap
                go = (~first & ~gap) | take
                m.d.comb += [issue.eq(go), op.eq(OP_UPDATE), eu.d_take.eq(take)]
                with m.If(take):
                    m.d.sync += d_cur.eq(eu.d)
                with m.If(go & last_beat):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += drain.eq(drain + 1)
                with m.If(drain == DRAIN_CYCLES - 1):
                    m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1)]
                    m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))

        # -- datapath: issue -> S1 ---------------------------------------------
        s1_valid, s1_op, s1_first, s1_last = Signal(), Signal(), Signal(), Signal()
        s1_kl = Signal.like(kl)
        m.d.sync += [s1_valid.eq(issue), s1_op.eq(op), s1_first.eq(first),
                     s1_last.eq(last), s1_kl.eq(kl)]
        s2_waddr, s2_waddr_d = Signal.like(waddr), Signal.like(waddr)
        s2_g, s2_g_d = Signal.like(g), Signal.like(g)
        m.d.sync += [s2_waddr_d.eq(waddr), s2_waddr.eq(s2_waddr_d), s2_g_d.eq(g),
                     s2_g.eq(s2_g_d)]

        acc_active = Signal()
        acc_word = Signal(bits(G * N_in))
        acc_group = Signal(bits(G))
        acc_lane = Signal(bits(P))
        acc_wdata = self.acc.wdata      # held until done
        acc_we_w, acc_we_b = Signal(), Signal()
        m.d.comb += [
            b_rd.addr.eq(Mux(acc_active, acc_group, g)),
            mac.valid.eq(s1_valid), mac.op.eq(s1_op), mac.first.eq(s1_first),
            mac.last.eq(s1_last), mac.h.eq(self.i_in_data[s1_kl]), mac.w.eq(w_rd.data),
            mac.d.eq(d_cur), mac.bias.eq(b_rd.data),
            uu.valid.eq(s1_valid & (s1_op == OP_UPDATE)), uu.first.eq(s1_first),
            uu.w.eq(w_rd.data), uu.bias.eq(b_rd.data), uu.d.eq(d_cur),
            uu.product.eq(mac.product),
        ]
        # write-back (S2; S3 with a single port), or one lane from the access port
        lane_en = Const(1, P) << acc_lane
        acc_word_data = Cat(*([acc_wdata[:ww]] * P))
        wb_valid, wb_addr = Signal(), Signal.like(waddr)
        wb_data = Signal.like(uu.w_new)
        wb = [wb_valid.eq(uu.w_valid), wb_addr.eq(s2_waddr), wb_data.eq(uu.w_new)]
        if self.single_port:
            m.d.sync += wb   # S3: between two update beats
        else:
            m.d.comb += wb
        with m.If(acc_we_w):
            m.d.comb += [w_wr.data.as_value().eq(acc_word_data), w_wr.en.eq(lane_en)]
        with m.Else():
            m.d.comb += [w_wr.data.eq(wb_data), w_wr.en.eq(Mux(wb_valid, (1 << P) - 1, 0))]
        w_rd_addr = Mux(acc_active, acc_word, waddr)
        w_wr_addr = Mux(acc_we_w, acc_word, wb_addr)
        if self.single_port:
            # one address for both ports and no read while writing: a single-port RAM
            w_addr = Signal.like(waddr)
            m.d.comb += [w_addr.eq(Mux(w_wr.en.any(), w_wr_addr, w_rd_addr)),
                         w_rd.addr.eq(w_addr), w_wr.addr.eq(w_addr),
                         w_rd.en.eq(~w_wr.en.any())]
        else:
            m.d.comb += [w_rd.addr.eq(w_rd_addr), w_wr.addr.eq(w_wr_addr)]
        with m.If(acc_we_b):
            m.d.comb += [b_wr.addr.eq(acc_group), b_wr.data.as_value().eq(acc_word_data),
                         b_wr.en.eq(lane_en)]
        with m.Else():
            m.d.comb += [b_wr.addr.eq(s2_g), b_wr.data.eq(uu.b_new),
                         b_wr.en.eq(Mux(uu.b_valid, (1 << P) - 1, 0))]

        # activations out (S3) and the error unit's reads of them
        m.d.comb += [a_wr.addr.eq(slot * G + g_out), a_wr.data.eq(mac.h_out),
                     a_wr.en.eq(mac.h_valid)]
        with m.If(mac.h_valid):
            m.d.sync += g_out.eq(g_out + 1)
        m.d.comb += [eu.groups_ready.eq(g_out), a_rd_own.addr.eq(slot * G + eu.rd_addr),
                     eu.rd_data.eq(a_rd_own.data), eu.label.eq(tok.label)]

        # -- counters -----------------------------------------------------------
        names = COUNTERS if cfg.counters else ()
        counters = [Signal(COUNTER_BITS, name=f"count_{n}") for n in names]
        increments = {
            "busy_cycles": self.busy,
            "mac_multiplies": Mux(issue, P, 0),
            "classifier_multiplies": eu.mult,
            "weight_reads": Mux(issue, P, 0),
            "weight_writes": Mux(uu.w_valid, P, 0),
            "act_reads": Mux(issue, 1, 0) + Mux(eu.word_read, P, 0),
            "act_writes": Mux(mac.h_valid, P, 0),
        }
        for name, counter in zip(names, counters):
            m.d.sync += counter.eq(counter + increments[name])

        # -- access port ----------------------------------------------------------
        self._elaborate_access(m, counters, acc_active, acc_word, acc_group, acc_lane,
                               acc_wdata, acc_we_w, acc_we_b, w_rd, b_rd)
        return m

    def _elaborate_access(self, m, counters, active, word, group, lane, wdata, we_w, we_b,
                          w_rd, b_rd):
        P, N_in, N = self.lanes, self.n_in, self.n_out
        acc = self.acc
        write, space, index = acc.write, acc.space, acc.index   # held until done
        error = Signal()
        rdata = Signal(32)
        info = self.info_words()

        n_counters = len(counters)   # 0 when the configuration leaves them out
        in_range = Mux(space == SPACE_W, index < N_in * N,
                   Mux(space == SPACE_B, index < N,
                   Mux(space == SPACE_COUNTERS, (index < 32) & (index[:4] < n_counters),
                   Mux(space == SPACE_INFO, index < len(info), 0))))
        read_only = (space == SPACE_COUNTERS) | (space == SPACE_INFO)

        # j*N_in + k -> word g*N_in + k, lane p (j = g*P + p); j -> word g, lane p
        wg, wr = divmod_const(index, P * N_in, N_in * N)
        wp, wk = divmod_const(wr, N_in, P * N_in)
        bg, bp = divmod_const(index, P, N)
        w_word, w_lane = Signal.like(word), Signal.like(lane)
        b_word, b_lane = Signal.like(group), Signal.like(lane)

        with m.FSM(name="access"):
            with m.State("IDLE"), m.If(acc.req):
                m.next = "DECODE"
            with m.State("DECODE"):
                m.d.comb += active.eq(1)
                m.d.sync += [error.eq(~in_range | (write & read_only)),
                             w_word.eq(wg * N_in + wk), w_lane.eq(wp),
                             b_word.eq(bg), b_lane.eq(bp)]
                m.next = "ADDRESS"
            with m.State("ADDRESS"):
                m.d.comb += active.eq(1)
                is_w = space == SPACE_W
                m.d.comb += [word.eq(w_word), group.eq(b_word),
                             lane.eq(Mux(is_w, w_lane, b_lane))]
                with m.If(~error & write):
                    m.d.comb += [we_w.eq(is_w), we_b.eq(space == SPACE_B)]
                m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += active.eq(1)
                m.d.comb += lane.eq(Mux(space == SPACE_W, w_lane, b_lane))
                counter = Const(0, COUNTER_BITS)
                for n, c in enumerate(counters):
                    counter = Mux(index[:4] == n, c, counter)
                counter_word = Mux(index[4], counter[32:], counter[:32])
                info_word = Const(0, 32)
                for n, name in enumerate(INFO):
                    info_word = Mux(index == n, info[name], info_word)
                with m.Switch(space):
                    with m.Case(SPACE_W):
                        m.d.comb += rdata.eq(w_rd.data[w_lane])
                    with m.Case(SPACE_B):
                        m.d.comb += rdata.eq(b_rd.data[b_lane])
                    with m.Case(SPACE_COUNTERS):
                        m.d.comb += rdata.eq(counter_word)
                    with m.Case(SPACE_INFO):
                        m.d.comb += rdata.eq(info_word)
                m.d.comb += [acc.done.eq(1), acc.error.eq(error),
                             acc.rdata.eq(Mux(error | write, 0, rdata))]
                m.next = "IDLE"
