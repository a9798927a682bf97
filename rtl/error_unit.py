"""Local error unit (the layer's random classifier): twin of
``lela.golden_model.error_unit``.

``Q`` multiply-accumulates per cycle (the classifier lanes,
:func:`lela.contract.classifier_lanes`), fed by the classifier LFSR with the
next ``Q`` entries of its j-major, c-minor order: ``Q_c`` classes of one
neuron, or ``R`` whole neurons (``Q = R * Q_c``,
:func:`lela.contract.classifier_split`). A neuron's ``C`` classes take
``S = C / Q_c`` cycles (slices); a group of ``P`` neurons takes
``P C / Q`` cycles.

* **scores** ``s = sat(round_shift(M h, score_shift))``: the ``C`` partial
  sums live in ``Q_c`` memories of ``S`` words (block or distributed RAM, not
  registers; registers when ``S = 1``): slice ``q``'s sums are read in stage A
  and written back in stage B with the slice's products added (summed over
  the ``R`` neurons of the cycle). After the last neuron the sums are read
  back one class per cycle, rounded and saturated, and the loss gradient
  ``g_c`` (square hinge) is formed and stored in ``Q_c`` more memories; the
  running top-two scores give the prediction and the margin.
* **errors** ``d_j = sat(round_shift(K[:, j] . g, score_shift))`` where
  ``h_j > 0``, else 0: the LFSR rewinds and replays the same order (``K``
  for the feedback mode); ``g`` of a slice is read a cycle ahead of its
  entries. ``d`` is delivered ``P`` neurons (one MAC-array group) at a time,
  ``R`` per neuron step; the next group is computed while the layer updates
  with the current one.

``h`` comes from the layer's own activation buffer: one word (``P``
activations, one group) is read per group and registered, two cycles before
its entries (``lela.contract.EU_FETCH_CYCLES``). The scores can therefore trail the
forward pass by any amount.

Pipeline: A (LFSR entries and operands -> operand registers), A2 (entries
x operands -> product registers), B (score sums
or error accumulators), C (round/saturate, one unit shared by both passes
plus ``R - 1`` for the other neurons of an error step), F (gradient,
top-two, d bank). The last entry of an error pass (stage A) is visible in ``d_valid``
``lela.contract.EU_PIPELINE_CYCLES`` cycles later; the scores are final
``C + lela.contract.EU_FINISH_CYCLES`` cycles after the last entry of the
scores pass. The accumulator is ``lela.contract.score_acc_width`` bits wide.

The stages are the components of :mod:`lela.rtl.error_stages`, each tested
on its own: :class:`~lela.rtl.error_stages.ClassifierSequencer` (A),
:class:`~lela.rtl.error_stages.ClassifierProducts` (A2 and the products),
:class:`~lela.rtl.error_stages.ScoreSums` and
:class:`~lela.rtl.error_stages.GradientMemory` (the memories of the sums and
of ``g``), :class:`~lela.rtl.error_stages.ScoreFinish` and
:class:`~lela.rtl.error_stages.ErrorBank` (F). The unit joins them around
its own LFSR, the finish's class counter, the error accumulators and stage
C; the signals it names between them (``fin_cls``, ``c_fin``, ``f_s``,
``g_new``, ...) are the ones the formal harnesses probe.

With ``Q = 1`` the one product is a ``*`` (a DSP block); with ``Q > 1`` each
product shifts and adds the ``m_bits + 1`` bits of its entry in logic, so
that the classifier lanes do not take the MAC lanes' multipliers.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.config import FEEDBACK_MODES
from lela.contract import (
    bits,
    classifier_choices,
    classifier_lanes,
    classifier_split,
    label_bits,
    score_acc_width,
)

from .error_stages import (
    ClassifierProducts,
    ClassifierSequencer,
    ErrorBank,
    GradientMemory,
    ScoreFinish,
    ScoreSums,
    shift_add_product,
)
from .lfsr import ClassifierLfsr, entry_shape
from .numerics import round_shift, saturate
from .params import check_choice, check_int, invalid

__all__ = ["ErrorUnit", "shift_add_product"]


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
    classifier_lanes : int
        ``Q``: products per cycle, one of
        :func:`lela.contract.classifier_choices` ``(classes, lanes)``.

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
        ``Q`` classifier multiplies happen this cycle.
    word_read : Out(1)
        An activation word (``lanes`` values) is consumed this cycle.
    """

    def __init__(self, *, classes, neurons, lanes, act_width, act_frac, m_bits, m_seed,
                 k_seed, feedback, score_shift, classifier_lanes=1):
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
        choices = classifier_choices(classes, lanes)
        if classifier_lanes not in choices or isinstance(classifier_lanes, bool):
            invalid(self, ValueError(
                f"classifier_lanes must be one of {', '.join(map(str, choices))} "
                f"({classes} classes, {lanes} lanes), not {classifier_lanes!r}"))
        self._classes, self._neurons, self._lanes = classes, neurons, lanes
        self._act_width, self._act_frac = act_width, act_frac
        self._m_bits, self._m_seed, self._k_seed = m_bits, m_seed, k_seed
        self._feedback, self._score_shift = feedback, score_shift
        self.groups = neurons // lanes
        #: ``Q``: classifier products per cycle.
        self.classifier_lanes = classifier_lanes
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
                   feedback=cfg.feedback, score_shift=cfg.score_shift(layer),
                   classifier_lanes=classifier_lanes(cfg, layer))

    def elaborate(self, platform):
        """The stages joined (:mod:`lela.rtl.error_stages`); the finish counter,
        the error sums and stage C (round and saturate) are the unit's own."""
        m = Module()
        C, P, G = self._classes, self._lanes, self.groups
        Q = self.classifier_lanes
        R, QC = classifier_split(C, Q)
        S, J = C // QC, P // R          # slices per neuron, neuron steps per group
        aw, ss = self._act_width, self._score_shift
        act = signed(aw)
        acc = signed(self.acc_width)

        m.submodules.lfsr = lfsr = ClassifierLfsr(
            m_bits=self._m_bits, m_seed=self._m_seed, k_seed=self._k_seed,
            feedback=self._feedback, entries=Q)
        m.submodules.seq = seq = ClassifierSequencer(groups=G, steps=J, slices=S)
        m.submodules.products = prod = ClassifierProducts(
            lanes=P, neurons=R, slice_classes=QC, slices=S, act_width=aw,
            entry_width=entry_shape(self._m_bits).width)
        m.submodules.sums = sums = ScoreSums(
            acc_width=self.acc_width, neurons=R, slice_classes=QC, slices=S,
            prod_width=entry_shape(self._m_bits).width + aw)
        m.submodules.g_mem = g_mem = GradientMemory(act_width=aw, slice_classes=QC, slices=S)
        m.submodules.finish = finish = ScoreFinish(classes=C, act_width=aw,
                                                   act_frac=self._act_frac)
        m.submodules.bank = bank = ErrorBank(lanes=P, neurons=R, act_width=aw)

        # -- stage A (sequencing) and stages A2, B (products) ---------------
        m.d.comb += [
            seq.start.eq(self.start), seq.start_d.eq(self.start_d),
            seq.groups_ready.eq(self.groups_ready), seq.d_take.eq(self.d_take),
            self.rd_addr.eq(seq.rd_addr), self.word_read.eq(seq.word_read),
            lfsr.en.eq(seq.beat.run), lfsr.rewind.eq(self.start | self.start_d),
            self.mult.eq(seq.beat.run),
            prod.rd_data.eq(self.rd_data), prod.m.eq(lfsr.m), prod.k.eq(lfsr.k),
            prod.g.eq(g_mem.rd_data),
            # g of the slice, read a cycle ahead so that it is there with the entries
            g_mem.rd_addr.eq(seq.slc_next),
        ]
        wiring.connect(m, seq.beat, prod.beat)

        # -- the finish: the C sums read back one class per cycle ---------
        # from two cycles after the last entry (its sums are written in B)
        fin_wait = Signal()      # the last entry's sums are being written
        fin_active = Signal()    # reading class fin_cls's sum
        fin_cls = Signal(bits(C))
        # class c is element c % Q_c of word c // Q_c: counted apart only
        # when neither is trivial
        split = 1 < QC < C

        def word_elem(stage, cls, before=None):
            """(word, elem) of the class in ``cls``: counters (``before`` is
            None), registered copies of ``before``'s, or ``cls`` itself."""
            if not split:
                return (cls if QC == 1 else Const(0, 1)), (cls if S == 1 else Const(0, 1))
            word = Signal(bits(S), name=f"{stage}_word")
            elem = Signal(bits(QC), name=f"{stage}_elem")
            if before is not None:
                m.d.sync += [word.eq(before[0]), elem.eq(before[1])]
            return word, elem

        fin_word, fin_elem = word_elem("fin", fin_cls)
        m.d.sync += fin_wait.eq(prod.a2_run & prod.a2_scoring & prod.a2_last)
        with m.If(self.start | self.start_d):
            m.d.sync += fin_active.eq(0)
        with m.Elif(fin_wait):
            m.d.sync += [fin_active.eq(1), fin_cls.eq(0)]
            if split:
                m.d.sync += [fin_word.eq(0), fin_elem.eq(0)]
        with m.Elif(fin_active):
            m.d.sync += fin_cls.eq(fin_cls + 1)
            with m.If(fin_cls == C - 1):
                m.d.sync += fin_active.eq(0)
            if split:
                with m.If(fin_elem == QC - 1):
                    m.d.sync += [fin_elem.eq(0), fin_word.eq(fin_word + 1)]
                with m.Else():
                    m.d.sync += fin_elem.eq(fin_elem + 1)
        r_valid = Signal()
        r_cls = Signal.like(fin_cls)
        m.d.sync += [r_valid.eq(fin_active & ~self.start), r_cls.eq(fin_cls)]
        r_word, r_elem = word_elem("r", r_cls, (fin_word, fin_elem))

        # -- stage B: the score sums, and the error sums: one per neuron of
        # the step, over the classes of the slice
        m.d.comb += [
            sums.add.eq(prod.b_valid & prod.b_scoring), sums.first.eq(prod.b_first_j),
            sums.addr.eq(prod.b_slc), sums.pre_addr.eq(prod.a2_slc), sums.prod.eq(prod.b_prod),
            sums.rd_en.eq(fin_active), sums.rd_word.eq(fin_word), sums.rd_elem.eq(fin_elem),
        ]
        dacc = [Signal(acc, name=f"dacc{r}" if R > 1 else "dacc") for r in range(R)]
        c_fin = Signal(acc, name="c_fin")
        c_cls = Signal(bits(C), name="c_cls")
        c_word, c_elem = word_elem("c", c_cls, (r_word, r_elem))
        c_mask = [Signal(name=f"c_mask{r}" if R > 1 else "c_mask") for r in range(R)]
        c_fin_valid = Signal(name="c_fin_valid")
        c_dfin_valid = Signal(name="c_dfin_valid")
        # (b_scoring: a finish never shares stage C with an error sum, by construction)
        m.d.sync += [c_fin_valid.eq(r_valid & prod.b_scoring & ~self.start),
                     c_dfin_valid.eq(0), c_fin.eq(sums.rd_data), c_cls.eq(r_cls)]
        with m.If(prod.b_valid & ~prod.b_scoring):
            for r in range(R):
                m.d.sync += dacc[r].eq(Mux(prod.b_first_c, 0, dacc[r])
                                       + sum(prod.b_prod[r][i] for i in range(QC)))
            with m.If(prod.b_last_c):
                m.d.sync += [c_dfin_valid.eq(1)] + [c_mask[r].eq(prod.b_mask[r])
                                                    for r in range(R)]

        # -- stage C: round and saturate ----------------------------------
        # the error sums are dacc themselves, one cycle after their last entry;
        # one rounding and saturation for both passes (they never overlap),
        # plus one for each other neuron of an error step
        f_s = Signal(act, name="f_s")       # the score, or the step's first error sum
        f_cls = Signal.like(c_cls, name="f_cls")
        f_word, f_elem = word_elem("f", f_cls, (c_word, c_elem))
        f_mask = [Signal(name=f"f_mask{r}" if R > 1 else "f_mask") for r in range(R)]
        f_other = [Signal(act, name=f"f_other{r}") for r in range(1, R)]
        f_fin_valid = Signal(name="f_fin_valid")
        f_dfin_valid = Signal(name="f_dfin_valid")
        m.d.sync += [
            f_s.eq(saturate(round_shift(Mux(c_dfin_valid, dacc[0], c_fin), ss), aw)),
            f_cls.eq(c_cls), f_fin_valid.eq(c_fin_valid & ~self.start),
            f_dfin_valid.eq(c_dfin_valid & ~self.start_d),
        ]
        m.d.sync += [f_mask[r].eq(c_mask[r]) for r in range(R)]
        m.d.sync += [f_other[r - 1].eq(saturate(round_shift(dacc[r], ss), aw))
                     for r in range(1, R)]

        # -- stage F: the scores (g into its memory) and the bank of d -----
        g_new = Signal(act, name="g_new")   # g_c of the class in stage F
        m.d.comb += [
            finish.start.eq(self.start), finish.valid.eq(f_fin_valid), finish.s.eq(f_s),
            finish.cls.eq(f_cls), finish.label.eq(self.label), g_new.eq(finish.g),
            g_mem.wr_en.eq(finish.g_we), g_mem.wr_word.eq(f_word),
            g_mem.wr_elem.eq(f_elem), g_mem.wr_data.eq(g_new),
            self.scores.eq(finish.scores), self.pred.eq(finish.pred),
            self.margin.eq(finish.margin), self.scores_done.eq(finish.scores_done),
            bank.clear.eq(self.start_d), bank.valid.eq(f_dfin_valid), bank.take.eq(self.d_take),
            bank.e[0].eq(f_s), *(bank.e[r].eq(f_other[r - 1]) for r in range(1, R)),
            *(bank.mask[r].eq(f_mask[r]) for r in range(R)),
            self.d.eq(bank.d), self.d_valid.eq(bank.d_valid),
        ]
        return m
