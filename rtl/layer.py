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
  pass), an error unit (one small multiplier, the LFSR), an update unit and,
  with dropout, the dropout between the MAC array and the activation buffer.

There is no gradient memory and no weight copy: ``d`` exists only ``P`` values
at a time.

Schedule of one training sample (``G = N_out/P`` groups, cycles from start)::

    FWD      G*(N_in+1) beats, back to back across groups: W word, h_k -> MAC,
             then the group's bias beat: bias word, 1.0 -> MAC
             (the error unit computes scores from each finished group word
              while the next group accumulates)
    SCORES   wait for the last scores; publish h + token to the next layer
    UPD      G*(N_in+1) beats: d of group g (error unit, computed while group
             g-1 updates) x h_k -> new W word written back to the word it
             read, ``read_latency + write_latency`` cycles after the read
             (``lela.contract``); the bias beat's d x 1.0 -> new bias word
    DRAIN    last writes, digest final; result out, input slot released

The exact cycle count is :func:`lela.golden_model.counters.busy_cycles`.
An inference sample stops after SCORES, and so does a training sample while
the layer's control word ``learn`` is 0 (the access port holds it); a sample
that an earlier layer answered (early exit) passes through in one cycle.

The blocks of a layer, one file each: :class:`~lela.rtl.slot_buffer.SlotBuffer`
(the activation buffer), :class:`~lela.rtl.mac_array.MacArray`,
:class:`~lela.rtl.error_unit.ErrorUnit`, :class:`~lela.rtl.update_unit.UpdateUnit`,
:class:`~lela.rtl.counters.Counters` and :class:`~lela.rtl.access_port.AccessPort`
(reads and writes W and b and reads counters and layer information while the
layer is idle; the top guarantees it). This file is the engine that sequences
them and owns the weight and bias memories. Its golden twin is
:func:`lela.golden_model.layer.layer_step`.

A single-port weight memory (``cfg.memory``, :class:`lela.config.WeightMemory`:
``weight_memory = "single_port"``) is built as a RAM without initial
contents (the iCE40's SPRAM): update beats
are issued every other cycle, so that reads and write-backs take turns on
the port; the weights must be written through the access port first. A
write disables the read, and the port holds its last read word: the address
of the next beat is on the port from the cycle after an issue, so a beat
issued in a cycle that writes (with ``cfg.read_register`` every update beat;
without it a group's first beat, when its error comes just then) has had its
word read in the cycle before, and gets it.
``cfg.counters == False`` leaves the seven counters out (counter reads are
then access errors).
"""

from types import SimpleNamespace

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import Config
from lela.contract import (
    DIGEST_BITS,
    INFO,
    bias_activation,
    bits,
    drain_cycles,
    exit_bits,
    label_bits,
    read_latency,
)
from lela.golden_model.network import initial_weights, update_order

from .access_port import AccessPort, AccessSignature
from .banked_memory import BankedMemory, block_ram_words
from .counters import Counters
from .dropout import Dropout
from .error_unit import ErrorUnit
from .mac_array import OP_FORWARD, OP_UPDATE, MacArray
from .params import check_int, invalid
from .slot_buffer import SlotBuffer
from .update_unit import UpdateUnit

__all__ = ["Layer", "result_layout", "token_layout"]


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


def _delayed(m, value, cycles=1, *, name, reset_less=False):
    """``value`` ``cycles`` cycles later (a chain of registers; ``value`` itself
    for 0). Data registers are ``reset_less`` so that a block RAM or a DSP
    block can hold them."""
    for n in range(cycles):
        reg = Signal(value.shape(), name=f"{name}_d{n + 1}", reset_less=reset_less)
        m.d.sync += reg.eq(value)
        value = reg
    return value


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
    o_in_addr : Out(unsigned(bits(N_in / P_in)))
        Word of the input slot to read (the previous layer adds its slot base).
    i_in_data : In(ArrayLayout(signed(act_width), P_in))
        That word, one cycle later (``P_in``: the previous layer's lanes, 1
        for the network input).
    o_full : Out(1)
        This layer's activation buffer holds a sample for the next layer
        (:class:`~lela.rtl.slot_buffer.SlotBuffer` ``o_full``).
    o_token : Out(token_layout)
        Its token.
    i_release : In(1)
        The next layer is done with it.
    i_out_addr : In(unsigned(bits(N_out / P)))
        Word of it to read.
    o_out_data : Out(ArrayLayout(signed(act_width), P))
        That word, one cycle later.
    o_result : Out(stream.Signature(result_layout))
        One beat per sample, when the layer is done with it. ``ready`` is
        checked before a sample starts, so the beat is always taken.
    busy : Out(1)
        A sample is being processed.
    acc : In(AccessSignature)
        Memory/counter access (only while no sample is in flight; see
        :class:`~lela.rtl.access_port.AccessPort`).
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
        #: Without ``cfg.memory.initial_contents`` it starts empty (zeros in
        #: simulation): the weights are written through the access port. Built
        #: from the block RAMs of ``cfg.primitives`` (a
        #: :class:`~lela.rtl.banked_memory.BankedMemory`, its read data through
        #: the block RAM's output register with ``cfg.read_register``, its
        #: writes registered per lane on their way in), or as a ``Memory`` with
        #: the portable primitives.
        self.single_port = cfg.memory.ports == 1
        w_init = (update_order(w0, P).reshape(G * self.n_in, P).tolist()
                  if cfg.memory.initial_contents else [])
        banks = block_ram_words(cfg.primitives)
        if banks is None:
            self.weights = Memory(shape=data.ArrayLayout(signed(cfg.weight_width), P),
                                  depth=G * self.n_in, init=w_init)
        else:   # the family's block RAMs, with the read register as their own
            self.weights = BankedMemory(shape=signed(cfg.weight_width), lanes=P,
                                        depth=G * self.n_in, bank_depth=banks, init=w_init,
                                        output_register=cfg.read_register,
                                        write_register=True, primitives=cfg.primitives)
        #: Bias memory: word ``g`` holds ``b[g*P + p]`` in lane ``p``.
        self.biases = Memory(shape=data.ArrayLayout(signed(cfg.weight_width), P), depth=G,
                             init=b0.reshape(G, P).tolist())
        #: Activation buffer: two slots of ``G`` words (its memory:
        #: ``activations.memory``), a second read port for the error unit.
        self.activations = SlotBuffer(depth=G, shape=data.ArrayLayout(act, P), token=tok,
                                      own_read=True)

    @property
    def index(self):
        """0-based hidden layer."""
        return self._index

    def memory_bits(self):
        """Bits of every memory this layer owns, by name."""
        cfg = self._cfg
        return {"weights": self.n_in * self.n_out * cfg.weight_width,
                "biases": self.n_out * cfg.weight_width,
                "activations": self.activations.memory_bits()}

    def info_words(self):
        """The layer-information words of the access port, by name (``INFO``)."""
        cfg, i = self._cfg, self._index
        return {"n_in": self.n_in, "n_out": self.n_out, "lanes": self.lanes,
                "classes": cfg.classes, "m_seed": cfg.m_seeds[i], "k_seed": cfg.k_seeds[i],
                "act_width": cfg.act_width, "weight_width": cfg.weight_width}

    def elaborate(self, platform):
        """The engine: the sample sequence, the beat counters and the memory ports."""
        m = Module()
        cfg, i = self._cfg, self._index
        P, G, N_in = self.lanes, self.groups, self.n_in
        ww = cfg.weight_width
        act = signed(cfg.act_width)
        tok_layout = token_layout(cfg)

        m.submodules.weights = wmem = self.weights
        m.submodules.biases = bmem = self.biases
        m.submodules.activations = slots = self.activations
        if isinstance(wmem, BankedMemory):
            w_rd = SimpleNamespace(addr=wmem.r_addr, en=wmem.r_en, data=wmem.r_data)
            w_wr = SimpleNamespace(addr=wmem.w_addr, data=wmem.w_data, en=wmem.w_en)
        else:
            w_rd, w_wr = wmem.read_port(), wmem.write_port(granularity=1)
        b_rd, b_wr = bmem.read_port(), bmem.write_port(granularity=1)

        m.submodules.mac = mac = MacArray.from_config(cfg, i)
        m.submodules.eu = eu = ErrorUnit.from_config(cfg, i)
        m.submodules.uu = uu = UpdateUnit.from_config(cfg, i, product_width=mac.product_width,
                                                      digest=self._trace)
        info = self.info_words()
        m.submodules.access = access = AccessPort(
            n_in=N_in, n_out=self.n_out, lanes=P, weight_width=ww,
            info=tuple(info[name] for name in INFO), counters=cfg.counters, control=cfg.control,
            register_request=cfg.read_register)
        wiring.connect(m, wiring.flipped(self.acc), access.acc)
        # a training sample updates the layer only while its control word
        # ``learn`` is set; else the layer treats it as an inference sample
        learning = Signal()

        # -- output slots: the next layer reads one, this layer fills the other
        m.d.comb += [
            self.o_full.eq(slots.o_full), self.o_token.eq(slots.o_token),
            slots.i_release.eq(self.i_release), slots.i_addr.eq(self.i_out_addr),
            self.o_out_data.eq(slots.o_data),
        ]

        # -- sample state -----------------------------------------------------
        tok = Signal(tok_layout)        # the token of the sample in the layer
        tok_out = Signal(tok_layout)    # the token passed on (after early exit)
        m.d.comb += learning.eq(tok.train & access.learn)
        slot = Signal()                 # output slot of the sample
        g = Signal(bits(G))            # group of the beat being issued
        k = Signal(range(N_in + 1))    # its input (N_in: the group's bias beat)
        kw = Signal(bits(self.in_words))   # word of h_k in the input slot
        kl = Signal(bits(self.lanes_in))   # lane of h_k in that word
        waddr = Signal(range(G * N_in + 1))   # weight word = g*N_in + k
        wb_addr = Signal.like(waddr)       # weight word of the next write-back
        wb_g = Signal.like(g)              # bias word of the next write-back
        g_out = Signal(bits(G + 1))        # activation words written so far
        d_cur = Signal(data.ArrayLayout(act, P), reset_less=True)
        drain = Signal(range(drain_cycles(cfg) + 1))

        issue = Signal()
        op = Signal()
        take = Signal()   # the first beat of an update group takes its errors
        gap = Signal()    # single port: the cycle after an update beat
        if self.single_port:
            m.d.sync += gap.eq(issue & (op == OP_UPDATE))
        first, last = k == 0, k == N_in    # last: the bias beat
        last_beat = last & (g == G - 1)
        m.d.comb += [self.o_in_addr.eq(kw), slots.w_slot.eq(slot)]

        def restart_beats():
            return [g.eq(0), k.eq(0), kw.eq(0), kl.eq(0), waddr.eq(0), wb_addr.eq(0),
                    wb_g.eq(0)]

        # the memories' read addresses are these registers (no multiplexer in
        # front of block RAMs that spread over the die): while the access port
        # serves a request (the layer idle) they follow its word and group
        with m.If(access.active):
            m.d.sync += [waddr.eq(access.word), g.eq(access.group)]
        with m.If(issue):
            with m.If(last):    # the bias beat reads no weight and no input
                m.d.sync += [k.eq(0), kw.eq(0), kl.eq(0), g.eq(g + 1)]
            with m.Else():
                m.d.sync += [k.eq(k + 1), waddr.eq(waddr + 1)]
                with m.If(k != N_in - 1):
                    if self.lanes_in > 1:
                        with m.If(kl == self.lanes_in - 1):
                            m.d.sync += [kl.eq(0), kw.eq(kw + 1)]
                        with m.Else():
                            m.d.sync += kl.eq(kl + 1)
                    else:
                        m.d.sync += kw.eq(kw + 1)

        def publish():
            m.d.comb += slots.publish.eq(1)
            m.d.sync += tok_out.eq(passed_on)

        result = self.o_result.payload
        m.d.comb += [result.pred.eq(eu.pred), result.label.eq(tok_out.label),
                     result.train.eq(tok_out.train), result.exit.eq(tok_out.exit)]
        if self._trace:
            m.d.comb += [result.scores.eq(eu.scores),
                         result.digest.eq(Mux(learning, uu.digest, 0))]

        # early exit: an inference sample whose margin reaches the threshold
        # answers; a sample an earlier layer answered passes on as it came
        answers = (~tok.exited & ~tok.train & tok.early_exit & (eu.margin >= tok.threshold)
                   if i < cfg.layers - 1 else Const(0))
        passed_on = Signal(tok_layout)
        m.d.comb += [passed_on.eq(tok), passed_on.exited.eq(tok.exited | answers),
                     passed_on.exit.eq(Mux(answers, i, tok.exit)),
                     slots.publish_token.eq(passed_on)]

        # the input slot's state: with the read register it is registered where
        # it enters the layer (the slots of two layers can be far apart on the
        # die), and the slot this layer released in the cycle before, still
        # seen full in that register, does not start a sample
        # (lela.contract.handover_cycles)
        i_full, i_token = self.i_full, self.i_token
        if cfg.read_register:
            full_seen = Signal(name="in_full")
            i_token = Signal.like(self.i_token, name="in_token", reset_less=True)
            released = Signal(name="in_released")
            m.d.sync += [full_seen.eq(self.i_full), i_token.eq(self.i_token),
                         released.eq(self.o_release)]
            i_full = full_seen & ~released

        with m.FSM(name="seq") as fsm:
            with m.State("IDLE"):
                start = i_full & slots.fill_free & self.o_result.ready
                with m.If(start):
                    m.d.sync += [tok.eq(i_token), slot.eq(slots.fill_slot), g_out.eq(0)]
                    with m.If(i_token.exited):
                        m.next = "SKIP"
                    with m.Else():
                        m.d.comb += [eu.start.eq(1), uu.clear.eq(1)]
                        m.next = "FWD"
            with m.State("SKIP"):
                # an earlier layer answered: pass the token on, report zeros
                publish()
                m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1),
                             result.pred.eq(0), result.label.eq(passed_on.label),
                             result.train.eq(passed_on.train), result.exit.eq(passed_on.exit)]
                if self._trace:
                    m.d.comb += [result.scores.eq(0), result.digest.eq(0)]
                m.next = "IDLE"
            with m.State("FWD"):
                m.d.comb += [issue.eq(1), op.eq(OP_FORWARD)]
                with m.If(last_beat):
                    m.next = "SCORES"
            with m.State("SCORES"), m.If(eu.scores_done):
                publish()
                with m.If(learning):
                    m.d.comb += eu.start_d.eq(1)
                    m.next = "UPD"
                with m.Else():
                    m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1),
                                 result.label.eq(passed_on.label),
                                 result.train.eq(passed_on.train),
                                 result.exit.eq(passed_on.exit)]
                    m.next = "IDLE"
            with m.State("UPD"):
                # single port: no beat in the cycle after one (its write-back's turn)
                m.d.comb += take.eq(first & eu.d_valid & ~gap)
                go = (~first & ~gap) | take
                m.d.comb += [issue.eq(go), op.eq(OP_UPDATE), eu.d_take.eq(take)]
                with m.If(go & last_beat):
                    m.d.sync += drain.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.d.sync += drain.eq(drain + 1)
                with m.If(drain == drain_cycles(cfg) - 1):
                    m.d.comb += [self.o_result.valid.eq(1), self.o_release.eq(1)]
                    m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE"))
        # the beat counters restart in every cycle before a pass that issues
        # no beat (idle and not serving the access port, or waiting for the
        # scores), not on the start of the pass: no start condition in front
        # of the registers that address block RAMs spread over the die (it set
        # the 96-multiplier build's clock, docs/boards.md)
        with m.If((fsm.ongoing("IDLE") & ~access.active) | fsm.ongoing("SCORES")):
            m.d.sync += restart_beats()

        # -- datapath: issue -> S1 (read_latency: the memories' read, then
        # with cfg.read_register their read data registered once more, and
        # once more on the way to the lanes) ----------------------------------
        lat, reg = read_latency(cfg), int(cfg.read_register)
        s1_valid, s1_op, s1_first, s1_last = (
            _delayed(m, v, lat, name=n) for v, n in ((issue, "valid"), (op, "op"),
                                                      (first, "first"), (last, "last")))
        # the read data registered once (a banked memory registers it itself:
        # lela.rtl.banked_memory); the bias beat's operands are the bias word
        # and 1.0 (lela.contract.bias_activation); then, with the read
        # register, the lanes' word registered once more
        w_read = (w_rd.data if isinstance(wmem, BankedMemory)
                  else _delayed(m, w_rd.data, reg, name="w_read", reset_less=True))
        b_read = _delayed(m, b_rd.data, reg, name="b_read", reset_less=True)
        bias_beat = _delayed(m, last, lat - reg, name="bias_beat")
        w_data = _delayed(m, Mux(bias_beat, b_read, w_read), reg, name="w_data",
                          reset_less=True)
        # the input word (registered whole with the read register), then its
        # lane: with the read register one cycle before S1, the MAC array
        # registers it in copies (MacArray h_lead)
        in_word = _delayed(m, self.i_in_data, reg, name="in_word", reset_less=True)
        h_data = Mux(bias_beat, bias_activation(cfg), in_word[_delayed(m, kl, lat - reg,
                                                                      name="kl")])
        # the group's errors, from the S1 of its first beat until the S1 of
        # the next group's first (the error unit holds d for more than
        # ``2 * reg`` cycles after the take: its next group needs a fetch and
        # its pipeline first)
        with m.If(_delayed(m, take, lat - 1, name="take")):
            m.d.sync += d_cur.eq(eu.d)
        # the words written back (S3): the update pass writes its words and
        # its groups' bias words in the order it read them, so two counters
        # give their addresses (a counter takes a logic cell per bit, a delay
        # line one per bit and cycle of latency; the iCE40 has no cells to spare)
        # (no write is in flight while restart_beats() clears them)
        with m.If(uu.w_valid):
            m.d.sync += wb_addr.eq(wb_addr + 1)
        with m.If(uu.b_valid):
            m.d.sync += wb_g.eq(wb_g + 1)

        m.d.comb += [
            b_rd.addr.eq(g),
            mac.valid.eq(s1_valid), mac.op.eq(s1_op), mac.first.eq(s1_first),
            mac.last.eq(s1_last), mac.h.eq(h_data), mac.w.eq(w_data), mac.d.eq(d_cur),
            uu.valid.eq(s1_valid & (s1_op == OP_UPDATE)), uu.bias.eq(s1_last),
            uu.w.eq(w_data), uu.product.eq(mac.product),
        ]
        # the access port takes the read data registered once: the read
        # register, or without it the update unit's S2 register (the layer
        # is idle: that is the weight word) and a register of the bias word
        if reg:
            m.d.comb += [access.w_rdata.eq(w_read), access.b_rdata.eq(b_read)]
        else:
            m.d.comb += [access.w_rdata.eq(uu.w_held),
                         access.b_rdata.eq(_delayed(m, b_rd.data, name="b_held",
                                                    reset_less=True))]
        # write-back (S3), or one lane from the access port
        wb_valid, wb_data = uu.w_valid, uu.new
        with m.If(access.we_w):
            m.d.comb += [w_wr.data.eq(access.word_data), w_wr.en.eq(access.lane_en)]
        with m.Else():
            m.d.comb += [w_wr.data.eq(wb_data), w_wr.en.eq(Mux(wb_valid, (1 << P) - 1, 0))]
        w_rd_addr = waddr
        w_wr_addr = Mux(access.we_w, access.word, wb_addr)
        if self.single_port:
            # one address for both ports and no read while writing: a single-port RAM
            w_addr = Signal.like(waddr)
            m.d.comb += [w_addr.eq(Mux(w_wr.en.any(), w_wr_addr, w_rd_addr)),
                         w_rd.addr.eq(w_addr), w_wr.addr.eq(w_addr),
                         w_rd.en.eq(~w_wr.en.any())]
        else:
            m.d.comb += [w_rd.addr.eq(w_rd_addr), w_wr.addr.eq(w_wr_addr)]
        with m.If(access.we_b):
            m.d.comb += [b_wr.addr.eq(access.group), b_wr.data.eq(access.word_data),
                         b_wr.en.eq(access.lane_en)]
        with m.Else():
            m.d.comb += [b_wr.addr.eq(wb_g), b_wr.data.eq(uu.new),
                         b_wr.en.eq(Mux(uu.b_valid, (1 << P) - 1, 0))]

        # activations out (S4), after dropout, and the error unit's reads of them
        h_out = mac.h_out
        if cfg.dropout_thresholds[i]:
            m.submodules.dropout = drop = Dropout.from_config(cfg, i)
            m.d.comb += [drop.valid.eq(mac.h_valid), drop.training.eq(learning),
                         drop.h.eq(mac.h_out)]
            h_out = drop.h_out
        # with the read register the word is registered once more on its way
        # into the buffer's memory (S5): no adder drives a memory input in its
        # cycle (the ECP5 builds' distributed RAM)
        act_valid = _delayed(m, mac.h_valid, reg, name="act_valid")
        act_data = _delayed(m, h_out, reg, name="act_data", reset_less=True)
        m.d.comb += [slots.w_addr.eq(g_out), slots.w_data.eq(act_data),
                     slots.w_en.eq(act_valid)]
        with m.If(act_valid):
            m.d.sync += g_out.eq(g_out + 1)
        m.d.comb += [eu.groups_ready.eq(g_out), slots.own_addr.eq(eu.rd_addr),
                     eu.rd_data.eq(slots.own_data), eu.label.eq(tok.label)]

        # -- counters -----------------------------------------------------------
        if cfg.counters:
            m.submodules.counters = counters = Counters(
                lanes=P, classifier_lanes=eu.classifier_lanes)
            m.d.comb += [counters.busy.eq(self.busy), counters.beat.eq(issue & ~last),
                         counters.classifier_multiply.eq(eu.mult),
                         counters.weight_write.eq(uu.w_valid),
                         counters.word_read.eq(eu.word_read), counters.act_write.eq(act_valid),
                         counters.r_index.eq(access.counter_index),
                         access.counter_data.eq(counters.r_data)]
        return m
