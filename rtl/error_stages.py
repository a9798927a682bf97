"""The stages of the error unit, each a component;
:class:`~lela.rtl.error_unit.ErrorUnit` joins them (the finish counter and
the rounding stage C are its own).

* :class:`ClassifierSequencer` (stage A): the order of a pass, group by
  group, neuron step by neuron step, slice by slice; it fetches each group's
  activation word and hands out one :func:`beat_signature` per cycle.
* :class:`ClassifierProducts` (stages A2, B): the group's word, the
  operands of the ``Q`` products (the classifier's entries times ``h`` or
  ``g``), the products and the beat's control, registered.
* :class:`ScoreSums` (stage B, scores pass): the ``C`` partial score sums
  in ``Q_c`` memories of ``S`` words (registers when ``S = 1``), and their
  read-back one class at a time.
* :class:`GradientMemory`: the ``C`` gradients ``g_c`` in ``Q_c`` memories
  of ``S`` words (registers when ``S = 1``), one slice read per cycle.
* :class:`ScoreFinish` (stage F, scores pass): the scores, the loss
  gradient, the top two (prediction and margin).
* :class:`ErrorBank` (stage F, error pass): the bank of ``P`` errors and its
  ``d_valid``/``d_take`` handshake.

All of them are plain valid-qualified pipelines: no stage waits for another,
so the ports carry no ready except the error bank's ``take``.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.contract import bits, label_bits

from .numerics import saturate

__all__ = ["ClassifierProducts", "ClassifierSequencer", "ErrorBank", "GradientMemory",
           "ScoreFinish", "ScoreSums", "beat_signature", "shift_add_product"]


def shift_add_product(x, y):
    """``x * y`` for a narrow signed ``x`` as a sum of shifted ``y`` (logic,
    no multiplier): bit ``b`` of ``x`` adds ``y << b``, its sign bit subtracts."""
    top = len(x) - 1
    total = Mux(x[0], y, 0)
    for b in range(1, top):
        total = total + Mux(x[b], y << b, 0)
    return total - Mux(x[top], y << top, 0)


def beat_signature(steps, slices):
    """One cycle of stage A, from the sequencer's side.

    Parameters
    ----------
    steps, slices : int
        ``J`` neuron steps per group, ``S`` slices per neuron.

    Returns
    -------
    wiring.Signature
        ``run`` (the generator's entries are this beat's), ``load`` (the
        group's activation word arrives), ``scoring`` (the pass), ``step``
        and ``slc`` (the beat's neuron step and slice), ``first_j`` (first
        step of the pass), ``first_c`` and ``last_c`` (first and last slice
        of a neuron), ``last`` (last beat of the pass).
    """
    return wiring.Signature({
        "run": Out(1), "load": Out(1), "scoring": Out(1),
        "step": Out(bits(steps)), "slc": Out(bits(slices)),
        "first_j": Out(1), "first_c": Out(1), "last_c": Out(1), "last": Out(1),
    })


class ClassifierSequencer(wiring.Component):
    """Stage A: the order of the scores pass and of the error pass.

    A pass reads group ``g``'s activation word (``word_read``, once the
    scores pass has ``groups_ready > g``, or once the error pass's previous
    group was taken), registers it (``beat.load``) and then runs its
    ``J S`` beats, slice-minor.

    Parameters
    ----------
    groups, steps, slices : int
        ``G`` groups per pass, ``J`` neuron steps per group, ``S`` slices
        per neuron step.

    Attributes
    ----------
    start, start_d : In(1)
        Begin the scores pass, the error pass.
    groups_ready : In(unsigned)
        Activation words already written (scores pass).
    d_take : In(1)
        The current group of ``d`` was taken (error pass).
    rd_addr : Out(unsigned)
        The group whose word is read.
    word_read : Out(1)
        The word is read this cycle.
    slc_next : Out(unsigned)
        ``beat.slc`` of the next cycle.
    beat : Out(beat_signature(steps, slices))
        This cycle's beat.
    """

    def __init__(self, *, groups, steps, slices):
        self.groups, self.steps, self.slices = groups, steps, slices
        super().__init__({
            "start": In(1), "start_d": In(1),
            "groups_ready": In(bits(groups + 1)),
            "d_take": In(1),
            "rd_addr": Out(bits(groups)),
            "word_read": Out(1),
            "slc_next": Out(bits(slices)),
            "beat": Out(beat_signature(steps, slices)),
        })

    def elaborate(self, platform):
        """The pass's counters and the fetch of each group's word."""
        m = Module()
        G, J, S = self.groups, self.steps, self.slices
        beat = self.beat
        scoring, load, step, slc = beat.scoring, beat.load, beat.step, beat.slc
        active = Signal()        # a pass is running in stage A
        fetch = Signal()         # reading the group's word (else: entries)
        grp = Signal(bits(G))
        bank_busy = Signal()     # a group of d is in flight or waiting to be taken

        run = active & ~fetch & ~load
        last_slice, last_step = slc == S - 1, step == J - 1
        m.d.comb += [
            beat.run.eq(run), self.rd_addr.eq(grp),
            beat.first_j.eq((grp == 0) & (step == 0)), beat.first_c.eq(slc == 0),
            beat.last_c.eq(last_slice), beat.last.eq(last_slice & last_step & (grp == G - 1)),
        ]
        can_fetch = Mux(scoring, self.groups_ready > grp, ~bank_busy)
        m.d.comb += self.word_read.eq(active & fetch & can_fetch)

        slc_next = self.slc_next
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
        return m


class ClassifierProducts(wiring.Component):
    """Stages A2 and B: the ``Q = R Q_c`` classifier products of a beat.

    The group's word is registered on ``beat.load``; each beat registers its
    operands (A2: entry ``r Q_c + i`` of ``M`` times ``h`` of neuron ``r`` of
    the step in the scores pass, of ``K`` times ``g_i`` in the error pass)
    and then their products (B), with the beat's control alongside. With
    ``Q = 1`` the product is a ``*`` (a DSP block with its input and output
    registers), else :func:`shift_add_product`.

    Parameters
    ----------
    lanes : int
        ``P``: activations per word.
    neurons, slice_classes : int
        ``R`` neurons and ``Q_c`` classes per beat.
    slices : int
        ``S`` slices per neuron.
    act_width, entry_width : int
        Widths of ``h`` and ``g``, of the classifier's entries.

    Attributes
    ----------
    beat : In(beat_signature(P / R, slices))
        The beat (stage A).
    rd_data : In(ArrayLayout(signed(act_width), lanes))
        The group's word, the cycle of ``beat.load``.
    m, k : In(ArrayLayout(signed(entry_width), Q))
        The beat's entries of ``M`` and ``K``.
    g : In(ArrayLayout(signed(act_width), slice_classes))
        ``g`` of the beat's slice.
    a2_run, a2_scoring, a2_last : Out(1)
        The beat's control in stage A2.
    a2_slc : Out(unsigned)
        The beat's slice in stage A2.
    b_valid, b_scoring, b_first_j, b_first_c, b_last_c : Out(1)
        The beat's control in stage B (``b_valid``: it ran).
    b_slc : Out(unsigned)
        The beat's slice in stage B.
    b_mask : Out(unsigned(neurons))
        Bit ``r``: ``h > 0`` for neuron ``r`` of the beat (``relu'``).
    b_prod : Out(ArrayLayout(ArrayLayout(signed, slice_classes), neurons))
        The products, ``[r][i]``.
    """

    def __init__(self, *, lanes, neurons, slice_classes, slices, act_width, entry_width):
        self.lanes, self.neurons, self.slice_classes = lanes, neurons, slice_classes
        self.slices, self.act_width, self.entry_width = slices, act_width, entry_width
        act = signed(act_width)
        J, Q = lanes // neurons, neurons * slice_classes
        sl = bits(slices)
        super().__init__({
            "beat": In(beat_signature(J, slices)),
            "rd_data": In(data.ArrayLayout(act, lanes)),
            "m": In(data.ArrayLayout(signed(entry_width), Q)),
            "k": In(data.ArrayLayout(signed(entry_width), Q)),
            "g": In(data.ArrayLayout(act, slice_classes)),
            "a2_run": Out(1), "a2_scoring": Out(1), "a2_last": Out(1), "a2_slc": Out(sl),
            "b_valid": Out(1), "b_scoring": Out(1), "b_first_j": Out(1), "b_first_c": Out(1),
            "b_last_c": Out(1), "b_slc": Out(sl), "b_mask": Out(neurons),
            "b_prod": Out(data.ArrayLayout(data.ArrayLayout(
                signed(entry_width + act_width), slice_classes), neurons)),
        })

    def elaborate(self, platform):
        """The word register, the operand registers and the product registers."""
        m = Module()
        P, R, QC = self.lanes, self.neurons, self.slice_classes
        J, Q = P // R, R * QC
        beat, act, ew = self.beat, signed(self.act_width), self.entry_width
        pw = ew + self.act_width
        # stage A2: the beat's control
        a2_first_j, a2_first_c, a2_last_c = Signal(), Signal(), Signal()
        m.d.sync += [
            self.a2_run.eq(beat.run), self.a2_scoring.eq(beat.scoring),
            a2_first_j.eq(beat.first_j), a2_first_c.eq(beat.first_c),
            a2_last_c.eq(beat.last_c), self.a2_slc.eq(beat.slc), self.a2_last.eq(beat.last),
        ]
        # the group's word, registered straight from the activation buffer's
        # read port (no logic behind the memory in its cycle)
        h_word = Signal(data.ArrayLayout(act, P), reset_less=True)
        with m.If(beat.load):
            m.d.sync += h_word.eq(self.rd_data)
        for r in range(R):
            h = h_word[beat.step * R + r] if J > 1 else h_word[r]
            a2_mask = Signal(name=f"a2_mask{r}" if R > 1 else "a2_mask")
            m.d.sync += [a2_mask.eq(h > 0), self.b_mask[r].eq(a2_mask)]
            for i in range(QC):
                e = r * QC + i
                suffix = f"{r}_{i}" if Q > 1 else ""
                # no reset (read only with b_valid): the DSP's input and
                # output registers can hold them
                x = Signal(signed(ew), reset_less=True, name=f"a2_x{suffix}")
                y = Signal(act, reset_less=True, name=f"a2_y{suffix}")
                m.d.sync += [x.eq(Mux(beat.scoring, self.m[e], self.k[e])),
                             y.eq(Mux(beat.scoring, h, self.g[i]))]
                prod = Signal(signed(pw), reset_less=True, name=f"b_prod{suffix}")
                m.d.sync += prod.eq(x * y if Q == 1 else shift_add_product(x, y))
                m.d.comb += self.b_prod[r][i].eq(prod)
        # stage B: the beat's control
        m.d.sync += [
            self.b_valid.eq(self.a2_run), self.b_scoring.eq(self.a2_scoring),
            self.b_first_j.eq(a2_first_j), self.b_first_c.eq(a2_first_c),
            self.b_last_c.eq(a2_last_c), self.b_slc.eq(self.a2_slc),
        ]
        return m


class ScoreSums(wiring.Component):
    """The ``C`` partial score sums: ``Q_c`` memories of ``S`` words
    (registers when ``S = 1``), class ``c`` in element ``c % Q_c`` of word
    ``c // Q_c``.

    ``add`` writes word ``addr``'s sums plus the products (summed over the
    ``R`` neurons of the beat), or the products alone with ``first``; the
    memories read that word a cycle ahead (``pre_addr``). With ``rd_en``
    the read is word ``rd_word`` instead, and ``rd_data`` is its element
    ``rd_elem`` the next cycle (also without ``rd_en`` when ``S = 1``).

    Parameters
    ----------
    acc_width : int
        Bits of a sum.
    neurons, slice_classes, slices : int
        ``R``, ``Q_c``, ``S``.
    prod_width : int
        Bits of a product.

    Attributes
    ----------
    add, first : In(1)
    addr, pre_addr : In(unsigned)
    prod : In(ArrayLayout(ArrayLayout(signed(prod_width), slice_classes), neurons))
    rd_en : In(1)
    rd_word : In(unsigned)
    rd_elem : In(unsigned)
    rd_data : Out(signed(acc_width))
    """

    def __init__(self, *, acc_width, neurons, slice_classes, slices, prod_width):
        self.acc_width, self.neurons = acc_width, neurons
        self.slice_classes, self.slices = slice_classes, slices
        sl = bits(slices)
        super().__init__({
            "add": In(1), "first": In(1), "addr": In(sl), "pre_addr": In(sl),
            "prod": In(data.ArrayLayout(data.ArrayLayout(signed(prod_width), slice_classes),
                                        neurons)),
            "rd_en": In(1), "rd_word": In(sl), "rd_elem": In(bits(slice_classes)),
            "rd_data": Out(signed(acc_width)),
        })

    def elaborate(self, platform):
        """The memories (or registers) and their read multiplexer."""
        m = Module()
        R, QC, S = self.neurons, self.slice_classes, self.slices
        acc = signed(self.acc_width)
        # the score sums of a slice: one per class of the slice, summed over
        # the R neurons of the beat
        tree_s = [sum(self.prod[r][i] for r in range(R)) for i in range(QC)]
        if S > 1:
            s_mems = [Memory(shape=acc, depth=S, init=[]) for _ in range(QC)]
            for i, mem in enumerate(s_mems):
                m.submodules[f"sums{i}" if QC > 1 else "sums"] = mem
            s_rds = [mem.read_port() for mem in s_mems]
            for i, mem in enumerate(s_mems):
                wr = mem.write_port()
                sum_s = Mux(self.first, 0, s_rds[i].data) + tree_s[i]
                m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(sum_s), wr.en.eq(self.add)]
            m.d.comb += [rd.addr.eq(Mux(self.rd_en, self.rd_word, self.pre_addr))
                         for rd in s_rds]
            if QC == 1:
                m.d.comb += self.rd_data.eq(s_rds[0].data)
            else:
                r_elem = Signal.like(self.rd_elem)      # the element of the read
                m.d.sync += r_elem.eq(self.rd_elem)
                with m.Switch(r_elem):
                    for i, rd in enumerate(s_rds):
                        with m.Case(i):
                            m.d.comb += self.rd_data.eq(rd.data)
        else:
            sums = [Signal(acc, name=f"sum{i}", reset_less=True) for i in range(QC)]
            with m.If(self.add):
                m.d.sync += [sums[i].eq(Mux(self.first, 0, sums[i]) + tree_s[i])
                             for i in range(QC)]
            # the read, a register like a memory's
            fin_data = Signal(acc, name="fin_data", reset_less=True)
            with m.Switch(self.rd_elem):
                for i in range(QC):
                    with m.Case(i):
                        m.d.sync += fin_data.eq(sums[i])
            m.d.comb += self.rd_data.eq(fin_data)
        return m


class GradientMemory(wiring.Component):
    """The ``C`` gradients ``g_c``: ``Q_c`` memories of ``S`` words
    (registers when ``S = 1``), class ``c`` in element ``c % Q_c`` of word
    ``c // Q_c``. ``rd_data`` is word ``rd_addr`` of the previous cycle
    (with ``S = 1``: the one word, at once).

    Parameters
    ----------
    act_width : int
        Bits of a gradient.
    slice_classes, slices : int
        ``Q_c``, ``S``.

    Attributes
    ----------
    wr_en : In(1)
    wr_word, wr_elem : In(unsigned)
    wr_data : In(signed(act_width))
    rd_addr : In(unsigned)
    rd_data : Out(ArrayLayout(signed(act_width), slice_classes))
    """

    def __init__(self, *, act_width, slice_classes, slices):
        self.act_width, self.slice_classes, self.slices = act_width, slice_classes, slices
        act = signed(act_width)
        super().__init__({
            "wr_en": In(1), "wr_word": In(bits(slices)), "wr_elem": In(bits(slice_classes)),
            "wr_data": In(act), "rd_addr": In(bits(slices)),
            "rd_data": Out(data.ArrayLayout(act, slice_classes)),
        })

    def elaborate(self, platform):
        """The memories, or the registers."""
        m = Module()
        QC, S = self.slice_classes, self.slices
        act = signed(self.act_width)
        for i in range(QC):
            here = self.wr_en & (self.wr_elem == i)
            if S > 1:
                mem = Memory(shape=act, depth=S, init=[])
                m.submodules[f"g_mem{i}" if QC > 1 else "g_mem"] = mem
                rd, wr = mem.read_port(), mem.write_port()
                m.d.comb += [rd.addr.eq(self.rd_addr), self.rd_data[i].eq(rd.data),
                             wr.addr.eq(self.wr_word), wr.data.eq(self.wr_data), wr.en.eq(here)]
            else:
                g = Signal(act, name=f"g{i}", reset_less=True)
                with m.If(here):
                    m.d.sync += g.eq(self.wr_data)
                m.d.comb += self.rd_data[i].eq(g)
        return m


class ScoreFinish(wiring.Component):
    """Stage F of the scores pass: the ``C`` scores, arriving in class
    order, their loss gradient (square hinge) and their top two.

    Parameters
    ----------
    classes : int
        ``C``.
    act_width, act_frac : int
        Format of the scores and of ``g``.

    Attributes
    ----------
    start : In(1)
        A new scores pass: ``scores_done`` falls (wins over ``valid``).
    valid : In(1)
        ``s`` is the score of class ``cls``.
    s : In(signed(act_width))
    cls : In(unsigned)
    label : In(unsigned)
        The sample's class.
    g : Out(signed(act_width))
        ``g_cls = sat(-t max(0, ONE - t s))`` of ``s`` (``t = +1`` for the label).
    g_we : Out(1)
        ``g`` is to be stored (``valid``, not ``start``).
    scores : Out(ArrayLayout(signed(act_width), classes))
        The scores so far, shifted in at the top (final with ``scores_done``).
    pred : Out(unsigned)
        Index of the top score (lowest index on a tie).
    margin : Out(unsigned(act_width))
        Top score minus second score.
    scores_done : Out(1)
        Class ``C - 1`` has arrived.
    """

    def __init__(self, *, classes, act_width, act_frac):
        self.classes, self.act_width, self.act_frac = classes, act_width, act_frac
        act, lb = signed(act_width), label_bits(classes)
        super().__init__({
            "start": In(1), "valid": In(1), "s": In(act), "cls": In(bits(classes)),
            "label": In(lb),
            "g": Out(act), "g_we": Out(1),
            "scores": Out(data.ArrayLayout(act, classes)), "pred": Out(lb),
            "margin": Out(act_width), "scores_done": Out(1),
        })

    def elaborate(self, platform):
        """The gradient, the ring of scores and the top two."""
        m = Module()
        C, aw = self.classes, self.act_width
        act = signed(aw)
        # the loss gradient (square hinge), without a negation:
        # t = +1 (label): -max(ONE - s, 0) = min(s - ONE, 0); t = -1: max(ONE + s, 0)
        s = self.s
        one = 1 << self.act_frac
        up, down = s - one, s + one
        m.d.comb += self.g.eq(saturate(Mux(self.cls == self.label, Mux(up < 0, up, 0),
                                           Mux(down > 0, down, 0)), aw))
        m.d.comb += self.g_we.eq(self.valid & ~self.start)
        s_ring = [self.scores[c] for c in range(C)]
        top1 = Signal(act)
        top2 = Signal(signed(aw + 1))
        with m.If(self.start):
            m.d.sync += self.scores_done.eq(0)
        with m.Elif(self.valid):
            m.d.sync += [s_ring[c].eq(s_ring[c + 1]) for c in range(C - 1)]
            m.d.sync += [s_ring[C - 1].eq(s)]
            with m.If(self.cls == 0):
                m.d.sync += [top1.eq(s), top2.eq(-(1 << aw)), self.pred.eq(0)]
            with m.Elif(s > top1):
                m.d.sync += [top1.eq(s), top2.eq(top1), self.pred.eq(self.cls)]
            with m.Elif(s > top2):
                m.d.sync += top2.eq(s)
            with m.If(self.cls == C - 1):
                m.d.sync += self.scores_done.eq(1)
        m.d.comb += self.margin.eq(top1 - top2)
        return m


class ErrorBank(wiring.Component):
    """Stage F of the error pass: the bank of ``P`` errors, ``R`` shifted in
    per ``valid`` (zero where their mask bit is clear: ``relu'``), offered
    as ``d`` with ``d_valid`` after ``P / R`` of them until ``take``.

    Parameters
    ----------
    lanes : int
        ``P``.
    neurons : int
        ``R``: errors per ``valid``.
    act_width : int
        Bits of an error.

    Attributes
    ----------
    clear : In(1)
        A new error pass: empty bank, ``d_valid`` falls (wins over ``valid``).
    valid : In(1)
        ``e`` holds the next ``R`` errors.
    e : In(ArrayLayout(signed(act_width), neurons))
    mask : In(unsigned(neurons))
    take : In(1)
        ``d`` was taken: ``d_valid`` falls.
    d : Out(ArrayLayout(signed(act_width), lanes))
    d_valid : Out(1)
    """

    def __init__(self, *, lanes, neurons, act_width):
        self.lanes, self.neurons, self.act_width = lanes, neurons, act_width
        act = signed(act_width)
        super().__init__({
            "clear": In(1), "valid": In(1), "e": In(data.ArrayLayout(act, neurons)),
            "mask": In(neurons), "take": In(1),
            "d": Out(data.ArrayLayout(act, lanes)), "d_valid": Out(1),
        })

    def elaborate(self, platform):
        """The shift register and its count."""
        m = Module()
        P, R = self.lanes, self.neurons
        J = P // R
        act = signed(self.act_width)
        d_count = Signal(bits(J))
        d = Signal.like(self.d, name="d_bank", reset_less=True)   # read with d_valid only
        m.d.comb += self.d.eq(d)
        dj = [Mux(self.mask[r], self.e[r], Const(0, act)) for r in range(R)]
        with m.If(self.clear):
            m.d.sync += [self.d_valid.eq(0), d_count.eq(0)]
        with m.Elif(self.valid):
            m.d.sync += [d[p].eq(d[p + R]) for p in range(P - R)]
            m.d.sync += [d[P - R + r].eq(dj[r]) for r in range(R)]
            with m.If(d_count == J - 1):
                m.d.sync += [d_count.eq(0), self.d_valid.eq(1)]
            with m.Else():
                m.d.sync += d_count.eq(d_count + 1)
        with m.If(self.take):
            m.d.sync += self.d_valid.eq(0)
        return m
