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

With ``Q = 1`` the one product is a ``*`` (a DSP block); with ``Q > 1`` each
product shifts and adds the ``m_bits + 1`` bits of its entry in logic, so
that the classifier lanes do not take the MAC lanes' multipliers.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
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

from .lfsr import ClassifierLfsr, entry_shape
from .numerics import round_shift, saturate
from .params import check_choice, check_int, invalid

__all__ = ["ErrorUnit", "shift_add_product"]


def shift_add_product(x, y):
    """``x * y`` for a narrow signed ``x`` as a sum of shifted ``y`` (logic,
    no multiplier): bit ``b`` of ``x`` adds ``y << b``, its sign bit subtracts."""
    top = len(x) - 1
    total = Mux(x[0], y, 0)
    for b in range(1, top):
        total = total + Mux(x[b], y << b, 0)
    return total - Mux(x[top], y << top, 0)



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
        """Stages A (sequencing, products), B (sums), C (finish), the sum and g memories."""
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

        # -- stage A: sequencing ------------------------------------------
        scoring = Signal()       # pass: scores (1) or errors (0)
        active = Signal()        # a pass is running in stage A
        fetch = Signal()         # reading the group's word (else: entries)
        grp = Signal(bits(G))
        step = Signal(bits(J))   # neuron step in the group (R neurons each)
        slc = Signal(bits(S))    # slice of the classes (Q_c each)
        bank_busy = Signal()     # a group of d is in flight or waiting to be taken

        load = Signal()          # the group's word arrives: into h_word
        run = active & ~fetch & ~load
        last_slice, last_step = slc == S - 1, step == J - 1
        slc_next = Signal.like(slc)    # slc after this cycle: read address of g
        m.d.comb += [
            self.rd_addr.eq(grp),
            lfsr.en.eq(run),
            lfsr.rewind.eq(self.start | self.start_d),
            self.mult.eq(run),
        ]
        can_fetch = Mux(scoring, self.groups_ready > grp, ~bank_busy)
        m.d.comb += self.word_read.eq(active & fetch & can_fetch)

        m.d.comb += slc_next.eq(slc)
        m.d.sync += slc.eq(slc_next)
        with m.If(self.start | self.start_d):
            m.d.comb += slc_next.eq(0)
            m.d.sync += [scoring.eq(self.start), active.eq(1), fetch.eq(1), load.eq(0),
                         grp.eq(0), step.eq(0), bank_busy.eq(0)]
        with m.Elif(active & fetch), m.If(can_fetch):
            m.d.sync += [fetch.eq(0), load.eq(1)]
            with m.If(~scoring):
                m.d.sync += bank_busy.eq(1)
        with m.Elif(load):
            m.d.sync += load.eq(0)
        with m.Elif(run):
            with m.If(last_slice):
                m.d.comb += slc_next.eq(0)
                with m.If(last_step):
                    m.d.sync += [step.eq(0), fetch.eq(1)]
                    with m.If(grp == G - 1):
                        m.d.sync += active.eq(0)
                    with m.Else():
                        m.d.sync += grp.eq(grp + 1)
                with m.Else():
                    m.d.sync += step.eq(step + 1)
            with m.Else():
                m.d.comb += slc_next.eq(slc + 1)
        with m.If(self.d_take):
            m.d.sync += bank_busy.eq(0)

        # -- stage A2: the entries and operands registered (a DSP block's
        # input registers), with the beat's control
        a2_run, a2_scoring, a2_first_j = Signal(), Signal(), Signal()
        a2_first_c, a2_last_c, a2_last = Signal(), Signal(), Signal()
        a2_slc = Signal.like(slc)
        m.d.sync += [
            a2_run.eq(run), a2_scoring.eq(scoring),
            a2_first_j.eq((grp == 0) & (step == 0)),
            a2_first_c.eq(slc == 0), a2_last_c.eq(last_slice), a2_slc.eq(slc),
            a2_last.eq(last_slice & last_step & (grp == G - 1)),
        ]

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
        m.d.sync += fin_wait.eq(a2_run & a2_scoring & a2_last)
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
        r_valid, r_cls = Signal(), Signal.like(fin_cls)
        m.d.sync += [r_valid.eq(fin_active & ~self.start), r_cls.eq(fin_cls)]
        r_word, r_elem = word_elem("r", r_cls, (fin_word, fin_elem))

        # g of the slice, read a cycle ahead so that it is there with the entries
        if S > 1:
            g_mems = [Memory(shape=act, depth=S, init=[]) for _ in range(QC)]
            for i, mem in enumerate(g_mems):
                m.submodules[f"g_mem{i}" if QC > 1 else "g_mem"] = mem
            g_rds = [mem.read_port() for mem in g_mems]
            g_wrs = [mem.write_port() for mem in g_mems]
            m.d.comb += [rd.addr.eq(slc_next) for rd in g_rds]
            g_slice = [rd.data for rd in g_rds]
        else:
            g_slice = [Signal(act, name=f"g{i}", reset_less=True) for i in range(QC)]

        # -- products -------------------------------------------------------
        b_valid, b_scoring = Signal(), Signal()
        b_first_j, b_first_c, b_last_c = Signal(), Signal(), Signal()
        b_slc = Signal.like(slc)
        b_mask = [Signal(name=f"b_mask{r}" if R > 1 else "b_mask") for r in range(R)]
        b_prod = []
        ew = entry_shape(self._m_bits).width
        pw = ew + aw
        # the group's word, registered straight from the activation buffer's
        # read port (no logic behind the memory in its cycle)
        h_word = Signal(data.ArrayLayout(act, P), reset_less=True)
        with m.If(load):
            m.d.sync += h_word.eq(self.rd_data)
        for r in range(R):
            h = h_word[step * R + r] if J > 1 else h_word[r]
            a2_mask = Signal(name=f"a2_mask{r}" if R > 1 else "a2_mask")
            m.d.sync += [a2_mask.eq(h > 0), b_mask[r].eq(a2_mask)]
            row = []
            for i in range(QC):
                e = r * QC + i
                suffix = f"{r}_{i}" if Q > 1 else ""
                # no reset (read only with b_valid): the DSP's input and
                # output registers can hold them
                x = Signal(signed(ew), reset_less=True, name=f"a2_x{suffix}")
                y = Signal(act, reset_less=True, name=f"a2_y{suffix}")
                m.d.sync += [x.eq(Mux(scoring, lfsr.m[e], lfsr.k[e])),
                             y.eq(Mux(scoring, h, g_slice[i]))]
                prod = Signal(signed(pw), reset_less=True, name=f"b_prod{suffix}")
                m.d.sync += prod.eq(x * y if Q == 1 else shift_add_product(x, y))
                row.append(prod)
            b_prod.append(row)
        m.d.sync += [
            b_valid.eq(a2_run), b_scoring.eq(a2_scoring), b_first_j.eq(a2_first_j),
            b_first_c.eq(a2_first_c), b_last_c.eq(a2_last_c), b_slc.eq(a2_slc),
        ]

        # -- stage B: accumulate ------------------------------------------
        # the score sums of a slice: one per class of the slice, summed over
        # the R neurons of the step
        tree_s = [sum(b_prod[r][i] for r in range(R)) for i in range(QC)]
        if S > 1:
            s_mems = [Memory(shape=acc, depth=S, init=[]) for _ in range(QC)]
            for i, mem in enumerate(s_mems):
                m.submodules[f"sums{i}" if QC > 1 else "sums"] = mem
            s_rds = [mem.read_port() for mem in s_mems]
            for i, mem in enumerate(s_mems):
                wr = mem.write_port()
                sum_s = Mux(b_first_j, 0, s_rds[i].data) + tree_s[i]
                m.d.comb += [wr.addr.eq(b_slc), wr.data.eq(sum_s),
                             wr.en.eq(b_valid & b_scoring)]
            m.d.comb += [rd.addr.eq(Mux(fin_active, fin_word, a2_slc)) for rd in s_rds]
            if QC == 1:
                fin_data = s_rds[0].data
            else:
                fin_data = Signal(acc, name="fin_data")
                with m.Switch(r_elem):
                    for i, rd in enumerate(s_rds):
                        with m.Case(i):
                            m.d.comb += fin_data.eq(rd.data)
        else:
            sums = [Signal(acc, name=f"sum{i}", reset_less=True) for i in range(QC)]
            with m.If(b_valid & b_scoring):
                m.d.sync += [sums[i].eq(Mux(b_first_j, 0, sums[i]) + tree_s[i])
                             for i in range(QC)]
            # the read, a register like a memory's
            fin_data = Signal(acc, name="fin_data", reset_less=True)
            with m.Switch(fin_elem):
                for i in range(QC):
                    with m.Case(i):
                        m.d.sync += fin_data.eq(sums[i])

        # the error sums: one per neuron of the step, over the classes of the slice
        dacc = [Signal(acc, name=f"dacc{r}" if R > 1 else "dacc") for r in range(R)]
        c_fin = Signal(acc)
        c_cls = Signal(bits(C))
        c_word, c_elem = word_elem("c", c_cls, (r_word, r_elem))
        c_mask = [Signal(name=f"c_mask{r}" if R > 1 else "c_mask") for r in range(R)]
        c_fin_valid = Signal()
        c_dfin_valid = Signal()
        # (b_scoring: a finish never shares stage C with an error sum, by construction)
        m.d.sync += [c_fin_valid.eq(r_valid & b_scoring & ~self.start), c_dfin_valid.eq(0),
                     c_fin.eq(fin_data), c_cls.eq(r_cls)]
        with m.If(b_valid & ~b_scoring):
            for r in range(R):
                m.d.sync += dacc[r].eq(Mux(b_first_c, 0, dacc[r])
                                       + sum(b_prod[r][i] for i in range(QC)))
            with m.If(b_last_c):
                m.d.sync += [c_dfin_valid.eq(1)] + [c_mask[r].eq(b_mask[r]) for r in range(R)]

        # -- stage C: round and saturate ----------------------------------
        # the error sums are dacc themselves, one cycle after their last entry;
        # one rounding and saturation for both passes (they never overlap),
        # plus one for each other neuron of an error step
        f_s = Signal(act)                   # the score, or the step's first error sum
        f_cls = Signal.like(c_cls)
        f_word, f_elem = word_elem("f", f_cls, (c_word, c_elem))
        f_mask = [Signal(name=f"f_mask{r}" if R > 1 else "f_mask") for r in range(R)]
        f_other = [Signal(act, name=f"f_other{r}") for r in range(1, R)]
        f_fin_valid, f_dfin_valid = Signal(), Signal()
        m.d.sync += [
            f_s.eq(saturate(round_shift(Mux(c_dfin_valid, dacc[0], c_fin), ss), aw)),
            f_cls.eq(c_cls), f_fin_valid.eq(c_fin_valid & ~self.start),
            f_dfin_valid.eq(c_dfin_valid & ~self.start_d),
        ]
        m.d.sync += [f_mask[r].eq(c_mask[r]) for r in range(R)]
        m.d.sync += [f_other[r - 1].eq(saturate(round_shift(dacc[r], ss), aw))
                     for r in range(1, R)]

        # -- stage F: finish ----------------------------------------------
        # the loss gradient (square hinge), without a negation:
        # t = +1 (label): -max(ONE - s, 0) = min(s - ONE, 0); t = -1: max(ONE + s, 0)
        s = f_s
        one = 1 << self._act_frac
        up, down = s - one, s + one
        g = saturate(Mux(f_cls == self.label, Mux(up < 0, up, 0), Mux(down > 0, down, 0)), aw)
        g_new = Signal(act)   # g_c of the class in stage F, written to its g memory
        m.d.comb += g_new.eq(g)
        s_ring = [self.scores[c] for c in range(C)]
        top1 = Signal(act)
        top2 = Signal(signed(aw + 1))
        with m.If(self.start):
            m.d.sync += self.scores_done.eq(0)
        with m.Elif(f_fin_valid):
            m.d.sync += [s_ring[c].eq(s_ring[c + 1]) for c in range(C - 1)]
            m.d.sync += [s_ring[C - 1].eq(s)]
            for i in range(QC):
                here = f_elem == i
                if S > 1:
                    m.d.comb += [g_wrs[i].addr.eq(f_word), g_wrs[i].data.eq(g_new),
                                 g_wrs[i].en.eq(here)]
                else:
                    with m.If(here):
                        m.d.sync += g_slice[i].eq(g_new)
            with m.If(f_cls == 0):
                m.d.sync += [top1.eq(s), top2.eq(-(1 << aw)), self.pred.eq(0)]
            with m.Elif(s > top1):
                m.d.sync += [top1.eq(s), top2.eq(top1), self.pred.eq(f_cls)]
            with m.Elif(s > top2):
                m.d.sync += top2.eq(s)
            with m.If(f_cls == C - 1):
                m.d.sync += self.scores_done.eq(1)
        m.d.comb += self.margin.eq(top1 - top2)

        d_count = Signal(bits(J))
        d = Signal.like(self.d, name="d_bank", reset_less=True)   # read with d_valid only
        m.d.comb += self.d.eq(d)
        dj = [Mux(f_mask[r], v, Const(0, act)) for r, v in enumerate([s] + f_other)]
        with m.If(self.start_d):
            m.d.sync += [self.d_valid.eq(0), d_count.eq(0)]
        with m.Elif(f_dfin_valid):
            m.d.sync += [d[p].eq(d[p + R]) for p in range(P - R)]
            m.d.sync += [d[P - R + r].eq(dj[r]) for r in range(R)]
            with m.If(d_count == J - 1):
                m.d.sync += [d_count.eq(0), self.d_valid.eq(1)]
            with m.Else():
                m.d.sync += d_count.eq(d_count + 1)
        with m.If(self.d_take):
            m.d.sync += self.d_valid.eq(0)
        return m
