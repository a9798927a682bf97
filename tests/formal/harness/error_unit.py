"""The error unit: its finishing stages and its ``d`` handshake."""

from amaranth.hdl import Assert, Assume, Cover, Fragment, Mux, Signal, Value, signed

from lela.golden_model.numerics import signed_range
from lela.rtl.error_unit import ErrorUnit

from .base import Harness, clamp, implies, probe


class ErrorStagesHarness(Harness):
    """In the error unit, the score stage, the loss gradient and the error
    stage compute exactly the contract from the accumulator they are fed:
    ``s = sat_A(rs(sum, score_shift))``,
    ``g = sat_A(-t max(0, ONE - t s))`` (``t = +1`` for the label, else -1),
    ``d = h > 0 ? sat_A(rs(e, score_shift)) : 0``. The accumulator is free
    in the inductive step, so this holds for every accumulator value."""

    free_reset = False

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        self.dut = ErrorUnit.from_config(cfg, layer)
        self.shift = cfg.score_shift(layer)
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut = self.cfg, self.dut
        m.submodules.dut = frag = Fragment.get(dut, None)
        aw, C, P = cfg.act_width, cfg.classes, dut.signature.members["d"].shape.length
        ok = self.ok_past
        acc = signed(dut.acc_width)
        # stage C (round and saturate): from the sum in stage C to f_s
        fin_valid_c = self.past(probe(frag, "c_fin_valid", 1) & ~dut.start, name="fin_valid_c")
        fin = self.past(probe(frag, "c_fin", acc), name="fin")
        f_s = probe(frag, "f_s", signed(aw))
        s = clamp(self.rounded(fin, self.shift, "s_round"), aw)
        m.d.comb += Assert(implies(ok & fin_valid_c, f_s == s))
        # stage F (gradient, scores): from f_s to the scores and g
        fin_valid = self.past(probe(frag, "f_fin_valid", 1) & ~dut.start, name="fin_valid")
        s_f = self.past(f_s, name="s_f")
        is_label = self.past(probe(frag, "f_cls") == dut.label, name="is_label")
        t = Mux(is_label, 1, -1)
        one = 1 << cfg.act_frac
        inner = one - t * s_f
        g = clamp(-t * Mux(inner > 0, inner, 0), aw)
        # auxiliary invariant: the passes share the rounding stage, never in one cycle
        m.d.comb += Assert(~(probe(frag, "c_fin_valid") & probe(frag, "c_dfin_valid")))
        g_written = self.past(probe(frag, "g_new"), name="g_written")  # to g_mem
        m.d.comb += [Assert(implies(ok & fin_valid, dut.scores[C - 1] == s_f)),
                     Assert(implies(ok & fin_valid, g_written == g))]
        # the error sum of the step's last neuron (R neurons per step): stage C
        # rounds it (f_s or f_other), stage F masks it into d
        R = max(dut.classifier_lanes // C, 1)
        dfin_valid_c = self.past(probe(frag, "c_dfin_valid", 1) & ~dut.start_d,
                                 name="dfin_valid_c")
        dfin = self.past(probe(frag, f"dacc{R - 1}" if R > 1 else "dacc", acc), name="dfin")
        f_last = probe(frag, f"f_other{R - 1}" if R > 1 else "f_s", signed(aw))
        m.d.comb += Assert(implies(ok & dfin_valid_c,
                                   f_last == clamp(self.rounded(dfin, self.shift, "d_round"),
                                                   aw)))
        dfin_valid = self.past(probe(frag, "f_dfin_valid", 1) & ~dut.start_d,
                               name="dfin_valid")
        mask = self.past(probe(frag, f"f_mask{R - 1}" if R > 1 else "f_mask"), name="mask")
        d = Mux(mask, self.past(f_last, name="d_last"), 0)
        m.d.comb += Assert(implies(ok & dfin_valid, dut.d[P - 1] == d))
        lo, hi = signed_range(aw)
        m.d.comb += [Cover(ok & fin_valid & (dut.scores[C - 1] == hi)),
                     Cover(ok & fin_valid & (dut.scores[C - 1] == lo)),
                     Cover(ok & fin_valid & is_label & (g_written < 0)),
                     Cover(ok & dfin_valid & mask & (dut.d[P - 1] == lo))]


class ErrorHandshakeHarness(Harness):
    """The error unit's ``d`` port on its own, with a free consumer: the
    stream rules (``d_valid`` held and ``d`` stable until ``d_take``, which
    the consumer gives only when valid), and ``N/P`` groups per error pass,
    never more. And the finish of the scores: stage F sees the ``C`` classes
    once each, in order, before ``scores_done``.

    Environment (how the layer drives it): ``start`` when no pass is in
    flight (first, or after the scores of an inference sample, or after all
    groups of ``d`` were taken); ``start_d`` once per sample, after
    ``scores_done``. A restart in the middle of a pass is outside the
    contract: the products still in the pipeline would land in the new pass.
    """

    def __init__(self, cfg, layer=0, *, restarts=False, eu_cls=ErrorUnit):
        super().__init__()
        self.classes = cfg.classes
        self.dut = eu_cls.from_config(cfg, layer)
        #: Let the environment restart a pass at any time (outside the contract).
        self.restarts = restarts
        self.free_inputs(self.dut)

    def check(self, m):
        dut, C = self.dut, self.classes
        m.submodules.dut = frag = Fragment.get(dut, None)
        G = dut.groups
        # the environment's phase: 0 no sample, 1 scores pass, 2 error pass
        phase = Signal(2, name="phase")
        taken = Signal(range(G + 2), name="taken")    # groups taken this error pass
        with m.If(dut.start):
            m.d.sync += [phase.eq(1), taken.eq(0)]
        with m.Elif(dut.start_d):
            m.d.sync += [phase.eq(2), taken.eq(0)]
        with m.Elif(dut.d_take & (taken <= G)):
            m.d.sync += taken.eq(taken + 1)
            with m.If(taken == G - 1):
                m.d.sync += phase.eq(0)
        m.d.comb += [Assume(implies(dut.d_take, dut.d_valid)), Assert(phase != 3)]
        if not self.restarts:
            m.d.comb += [
                Assume(~(dut.start & dut.start_d)),
                Assume(implies(dut.start, (phase == 0) | ((phase == 1) & dut.scores_done))),
                Assume(implies(dut.start_d, (phase == 1) & dut.scores_done)),
            ]
        held = self.ok_past & self.past(dut.d_valid & ~dut.d_take & ~dut.start_d & ~dut.start,
                                        name="held")
        m.d.comb += [Assert(implies(held, dut.d_valid)),
                     Assert(implies(held, Value.cast(dut.d) == self.past(dut.d, name="d"))),
                     Assert(implies(dut.d_valid, phase == 2)),
                     Assert(taken <= G),
                     Cover(held & dut.d_take), Cover((taken == G) & (phase == 0))]
        # the finish: class c is the c-th to reach stage F, all C before scores_done
        fin_valid, fin_cls = probe(frag, "f_fin_valid"), probe(frag, "f_cls")
        fins = Signal(range(C + 2), name="fins")
        with m.If(dut.start):
            m.d.sync += fins.eq(0)
        with m.Elif(fin_valid & (fins <= C)):
            m.d.sync += fins.eq(fins + 1)
        m.d.comb += [Assert(implies(fin_valid, fin_cls == fins)),
                     Assert(implies(dut.scores_done, fins == C)),
                     Cover(dut.scores_done & (phase == 1))]
