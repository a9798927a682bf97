"""Local error unit (the layer's random classifier): twin of
``lela.golden_model.error_unit``.

One multiply-accumulate per cycle, fed by the classifier LFSR in its
j-major, c-minor order:

* **scores** ``s = sat(round_shift(M h, score_shift))``: for neuron ``j`` the
  ``C`` entries ``M[0, j] .. M[C-1, j]`` meet ``h_j``. The ``C`` partial sums
  live in a ``C``-word memory (block or distributed RAM, not registers):
  class ``c``'s sum is read with its entry in stage A and written back in
  stage B. After the last neuron each sum is rounded and saturated, and its
  loss gradient ``g_c`` (square hinge) is formed at once and stored in a
  second ``C``-word memory; the running top-two scores give the prediction
  and the margin.
* **errors** ``d_j = sat(round_shift(K[:, j] . g, score_shift))`` where
  ``h_j > 0``, else 0: the LFSR rewinds and replays the same order (``K``
  for the feedback mode); ``g_c`` is read a cycle ahead of its entry. ``d``
  is delivered ``P`` neurons (one MAC-array group) at a time; the next group
  is computed while the layer updates with the current one.

``h`` comes from the layer's own activation buffer: one word (``P``
activations, one group) is read per group, a cycle before its entries
(``lela.contract.EU_FETCH_CYCLES``). The scores can therefore trail the
forward pass by any amount.

Pipeline: A (LFSR entry x operand -> product register), B (score sum or error
accumulator), C (round/saturate, shared by both passes; gradient, top-two,
d bank). The last entry of a pass (stage A) is visible in ``scores_done`` /
``d_valid`` ``lela.contract.EU_PIPELINE_CYCLES`` cycles later; the
accumulator is ``lela.contract.score_acc_width`` bits wide.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import FEEDBACK_MODES
from lela.contract import bits, label_bits, score_acc_width

from ._params import check_choice, check_int, invalid
from .lfsr import ClassifierLfsr, entry_shape
from .numerics import round_shift, saturate

__all__ = ["ErrorUnit"]


class ErrorUnit(wiring.Component):
    """Scores, loss gradient and local errors of one layer.

    Parameters
    ----------
    classes : int
        ``C``.
    neurons : int
        ``N``: width of the layer.
    lanes : int
        ``P``: neurons per activation word / per delivered group of ``d``.
    act_width, act_frac : int
        Format of ``h``, scores, ``g`` and ``d``.
    m_bits, m_seed, k_seed, feedback
        Classifier generator (see :class:`~lela.rtl.lfsr.ClassifierLfsr`).
    score_shift : int
        Scale of the classifier entries (``Config.score_shift``).

    Attributes
    ----------
    start : In(1)
        Begin the scores pass (rewinds the generator).
    groups_ready : In(unsigned)
        Number of activation words already written for this sample.
    rd_addr : Out(unsigned)
        Word (group) of the activation buffer to read; data one cycle later.
    rd_data : In(ArrayLayout(signed(act_width), lanes))
        The read word.
    label : In(unsigned(label_bits))
        The sample's class (stable during the sample).
    scores_done : Out(1)
        ``scores``, ``pred`` and ``margin`` are final (until the next ``start``).
    scores : Out(ArrayLayout(signed(act_width), classes))
    pred : Out(unsigned(label_bits))
        Index of the top score (lowest index on a tie).
    margin : Out(unsigned(act_width))
        Top score minus second score.
    start_d : In(1)
        Begin the error pass (after ``scores_done``).
    d_valid : Out(1)
        ``d`` holds the next group's errors.
    d : Out(ArrayLayout(signed(act_width), lanes))
    d_take : In(1)
        The layer took ``d`` (when ``d_valid``); the next group starts.
    mult : Out(1)
        A classifier multiply happens this cycle.
    word_read : Out(1)
        An activation word (``lanes`` values) is consumed this cycle.
    """

    def __init__(self, *, classes, neurons, lanes, act_width, act_frac, m_bits, m_seed,
                 k_seed, feedback, score_shift):
        check_int(self, "classes", classes, 2)
        check_int(self, "lanes", lanes, 1)
        check_int(self, "neurons", neurons, lanes)
        if neurons % lanes:
            invalid(self, ValueError(f"neurons must be a multiple of lanes ({lanes}), "
                                     f"not {neurons!r}"))
        check_int(self, "act_width", act_width, 2, 32)
        check_int(self, "act_frac", act_frac, 0, act_width - 1)
        check_int(self, "m_bits", m_bits, 1, 8)
        check_int(self, "m_seed", m_seed, 1, 2**32 - 1)
        check_int(self, "k_seed", k_seed, 1, 2**32 - 1)
        check_choice(self, "feedback", feedback, FEEDBACK_MODES)
        if not isinstance(score_shift, int) or isinstance(score_shift, bool):
            invalid(self, ValueError(f"score_shift must be an integer, not {score_shift!r}"))
        self._classes, self._neurons, self._lanes = classes, neurons, lanes
        self._act_width, self._act_frac = act_width, act_frac
        self._m_bits, self._m_seed, self._k_seed = m_bits, m_seed, k_seed
        self._feedback, self._score_shift = feedback, score_shift
        self.groups = neurons // lanes
        #: Accumulator bits of the score and error sums (no overflow).
        self.acc_width = score_acc_width(act_width, m_bits, neurons, classes)
        act = signed(act_width)
        lb = label_bits(classes)
        super().__init__({
            "start": In(1),
            "groups_ready": In(bits(self.groups + 1)),
            "rd_addr": Out(bits(self.groups)),
            "rd_data": In(data.ArrayLayout(act, lanes)),
            "label": In(lb),
            "scores_done": Out(1),
            "scores": Out(data.ArrayLayout(act, classes)),
            "pred": Out(lb),
            "margin": Out(act_width),
            "start_d": In(1),
            "d_valid": Out(1),
            "d": Out(data.ArrayLayout(act, lanes)),
            "d_take": In(1),
            "mult": Out(1),
            "word_read": Out(1),
        })

    @classmethod
    def from_config(cls, cfg, layer):
        """The error unit of hidden layer ``layer`` (0-based) of ``cfg``."""
        return cls(classes=cfg.classes, neurons=cfg.sizes[layer + 1], lanes=cfg.lanes[layer],
                   act_width=cfg.act_width, act_frac=cfg.act_frac, m_bits=cfg.m_bits,
                   m_seed=cfg.m_seeds[layer], k_seed=cfg.k_seeds[layer],
                   feedback=cfg.feedback, score_shift=cfg.score_shift(layer))

    def elaborate(self, platform):
        """Stages A (sequencing, product), B (sums), C (finish), the two C-word memories."""
        m = Module()
        C, P, G = self._classes, self._lanes, self.groups
        aw, ss = self._act_width, self._score_shift
        act = signed(aw)

        m.submodules.lfsr = lfsr = ClassifierLfsr(
            m_bits=self._m_bits, m_seed=self._m_seed, k_seed=self._k_seed,
            feedback=self._feedback)

        # -- stage A: sequencing ------------------------------------------
        scoring = Signal()       # pass: scores (1) or errors (0)
        active = Signal()        # a pass is running in stage A
        fetch = Signal()         # reading the group's word (else: entries)
        grp = Signal(bits(G))
        lane = Signal(bits(P))
        cls = Signal(bits(C))
        bank_busy = Signal()     # a group of d is in flight or waiting to be taken

        run = active & ~fetch
        cls_next = Signal.like(cls)    # cls after this cycle: read address of g
        m.d.comb += [
            self.rd_addr.eq(grp),
            lfsr.en.eq(run),
            lfsr.rewind.eq(self.start | self.start_d),
            self.mult.eq(run),
        ]
        can_fetch = Mux(scoring, self.groups_ready > grp, ~bank_busy)
        m.d.comb += self.word_read.eq(active & fetch & can_fetch)

        m.d.comb += cls_next.eq(cls)
        m.d.sync += cls.eq(cls_next)
        with m.If(self.start | self.start_d):
            m.d.comb += cls_next.eq(0)
            m.d.sync += [scoring.eq(self.start), active.eq(1), fetch.eq(1),
                         grp.eq(0), lane.eq(0), bank_busy.eq(0)]
        with m.Elif(active & fetch), m.If(can_fetch):
            m.d.sync += fetch.eq(0)
            with m.If(~scoring):
                m.d.sync += bank_busy.eq(1)
        with m.Elif(run):
            with m.If(cls == C - 1):
                m.d.comb += cls_next.eq(0)
                with m.If(lane == P - 1):
                    m.d.sync += [lane.eq(0), fetch.eq(1)]
                    with m.If(grp == G - 1):
                        m.d.sync += active.eq(0)
                    with m.Else():
                        m.d.sync += grp.eq(grp + 1)
                with m.Else():
                    m.d.sync += lane.eq(lane + 1)
            with m.Else():
                m.d.comb += cls_next.eq(cls + 1)
        with m.If(self.d_take):
            m.d.sync += bank_busy.eq(0)

        # g_c, read a cycle ahead so that g[cls] is there with the entry
        m.submodules.g_mem = g_mem = Memory(shape=act, depth=C, init=[])
        g_rd, g_wr = g_mem.read_port(), g_mem.write_port()
        m.d.comb += g_rd.addr.eq(cls_next)

        x = Mux(scoring, lfsr.m, lfsr.k)
        h = self.rd_data[lane]
        y = Mux(scoring, h, g_rd.data)
        b_valid, b_scoring = Signal(), Signal()
        # no reset (read only with b_valid): the DSP's output register can hold it
        b_prod = Signal(signed(entry_shape(self._m_bits).width + aw), reset_less=True)
        b_first_j, b_last_j, b_first_c, b_last_c = Signal(), Signal(), Signal(), Signal()
        b_cls = Signal(bits(C))
        b_mask = Signal()
        m.d.sync += [
            b_valid.eq(run), b_scoring.eq(scoring), b_prod.eq(x * y),
            b_first_j.eq((grp == 0) & (lane == 0)),
            b_last_j.eq((grp == G - 1) & (lane == P - 1)),
            b_first_c.eq(cls == 0), b_last_c.eq(cls == C - 1),
            b_cls.eq(cls), b_mask.eq(h > 0),
        ]

        # -- stage B: accumulate ------------------------------------------
        # the C partial score sums live in a small memory: class c's sum is
        # read in stage A (address cls) and written back here (address b_cls)
        acc = signed(self.acc_width)
        m.submodules.sums = sums = Memory(shape=acc, depth=C, init=[])
        sums_rd, sums_wr = sums.read_port(), sums.write_port()
        m.d.comb += sums_rd.addr.eq(cls)
        dacc = Signal(acc)
        # one rounding and saturation for both passes (they never overlap)
        c_fin = Signal(acc)
        c_cls = Signal(bits(C))
        c_mask = Signal()
        c_fin_valid = Signal()
        c_dfin_valid = Signal()
        sum_s = Mux(b_first_j, 0, sums_rd.data) + b_prod
        sum_d = Mux(b_first_c, 0, dacc) + b_prod
        m.d.comb += [sums_wr.addr.eq(b_cls), sums_wr.data.eq(sum_s),
                     sums_wr.en.eq(b_valid & b_scoring)]
        m.d.sync += [c_fin_valid.eq(0), c_dfin_valid.eq(0)]
        with m.If(b_valid & b_scoring & b_last_j):
            m.d.sync += [c_fin.eq(sum_s), c_fin_valid.eq(1), c_cls.eq(b_cls)]
        with m.If(b_valid & ~b_scoring):
            m.d.sync += dacc.eq(sum_d)
            with m.If(b_last_c):
                m.d.sync += [c_dfin_valid.eq(1), c_mask.eq(b_mask)]

        # -- stage C: finish ----------------------------------------------
        # the error sum is dacc itself, one cycle after its last entry
        s = saturate(round_shift(Mux(c_dfin_valid, dacc, c_fin), ss), aw)
        one = 1 << self._act_frac
        up, down = one - s, one + s   # t = +1 (label) / t = -1
        g = saturate(Mux(c_cls == self.label, -Mux(up > 0, up, 0), Mux(down > 0, down, 0)), aw)
        g_new = Signal(act)   # g_c of the class in stage C, written to g_mem
        m.d.comb += g_new.eq(g)
        s_ring = [self.scores[c] for c in range(C)]
        top1 = Signal(act)
        top2 = Signal(signed(aw + 1))
        with m.If(self.start):
            m.d.sync += self.scores_done.eq(0)
        with m.Elif(c_fin_valid):
            m.d.sync += [s_ring[c].eq(s_ring[c + 1]) for c in range(C - 1)]
            m.d.sync += [s_ring[C - 1].eq(s)]
            m.d.comb += [g_wr.addr.eq(c_cls), g_wr.data.eq(g_new), g_wr.en.eq(1)]
            with m.If(c_cls == 0):
                m.d.sync += [top1.eq(s), top2.eq(-(1 << aw)), self.pred.eq(0)]
            with m.Elif(s > top1):
                m.d.sync += [top1.eq(s), top2.eq(top1), self.pred.eq(c_cls)]
            with m.Elif(s > top2):
                m.d.sync += top2.eq(s)
            with m.If(c_cls == C - 1):
                m.d.sync += self.scores_done.eq(1)
        m.d.comb += self.margin.eq(top1 - top2)

        d_count = Signal(bits(P))
        dj = Mux(c_mask, s, Const(0, act))
        with m.If(self.start_d):
            m.d.sync += [self.d_valid.eq(0), d_count.eq(0)]
        with m.Elif(c_dfin_valid):
            m.d.sync += [self.d[p].eq(self.d[p + 1]) for p in range(P - 1)]
            m.d.sync += self.d[P - 1].eq(dj)
            with m.If(d_count == P - 1):
                m.d.sync += [d_count.eq(0), self.d_valid.eq(1)]
            with m.Else():
                m.d.sync += d_count.eq(d_count + 1)
        with m.If(self.d_take):
            m.d.sync += self.d_valid.eq(0)
        return m
