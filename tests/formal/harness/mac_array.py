"""The MAC array: forward groups and products of both passes."""

from amaranth.hdl import Assert, Assume, Const, Cover, Fragment, Mux, Signal, signed

from lela.contract import FORWARD_LATENCY, PRODUCT_LATENCY, group_beats
from lela.rtl.mac_array import OP_FORWARD, OP_UPDATE, MacArray

from .base import Harness, clamp, implies, probe


class MacArrayHarness(Harness):
    """Forward groups: every group (``first`` .. ``last`` beats, ``n_in``
    input beats and the bias beat: free products, as many as the accumulator
    is sized for) produces exactly one ``h_valid`` ``FORWARD_LATENCY``
    cycles after its last beat (S1 -> S4), and ``h_out`` is
    ``relu(sat(round_shift(sum h*w, weight_frac)))`` of the exact sum; the
    accumulator holds its start plus the group's products so far (its start
    again after a group); products of both passes are the exact ``h*w`` /
    ``h*d``."""

    free_reset = False

    def __init__(self, cfg, layer=0, mac_cls=MacArray, hold=False):
        super().__init__()
        self.cfg = cfg
        self.dut = mac_cls(lanes=cfg.lanes[layer], n_in=cfg.sizes[layer],
                           act_width=cfg.act_width, weight_width=cfg.weight_width,
                           weight_frac=cfg.weight_frac, hold=hold)
        self.beats = group_beats(cfg, layer)
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut, beats = self.cfg, self.dut, self.beats
        m.submodules.dut = frag = Fragment.get(dut, None)
        P = dut.lanes
        fwd = dut.valid & (dut.op == OP_FORWARD)
        upd = dut.valid & (dut.op == OP_UPDATE)
        # input contract: forward beats come in groups of ``beats``, first..last
        k = Signal(range(beats), name="k")
        with m.If(fwd):
            m.d.sync += k.eq(Mux(k == beats - 1, 0, k + 1))
        m.d.comb += Assert(k < beats)    # harness state in range (for the induction)
        m.d.comb += [Assume(implies(fwd, dut.first == (k == 0))),
                     Assume(implies(fwd, dut.last == (k == beats - 1)))]
        # reference, updated at S1: the exact sum of the group so far (held
        # after its last beat), and the same restarted after the last beat
        # (the accumulator of the ``hold`` form)
        ref = [Signal(signed(dut.acc_width + 2), name=f"ref{p}") for p in range(P)]
        ref_acc = [Signal(signed(dut.acc_width + 2), name=f"ref_acc{p}") for p in range(P)]
        for p in range(P):
            with m.If(fwd):
                m.d.sync += [ref[p].eq(Mux(dut.first, 0, ref[p]) + dut.h * dut.w[p]),
                             ref_acc[p].eq(Mux(dut.last, 0, ref_acc[p] + dut.h * dut.w[p]))]
        # the sum of j beats is bounded (makes the induction close: the
        # accumulator cannot hold a value no group reaches)
        product_max = 1 << (cfg.act_width + cfg.weight_width - 2)
        bound = Const(beats * product_max)    # k == 0: a whole group (or none)
        products = Const(0)
        for j in range(1, beats):
            bound = Mux(k == j, j * product_max, bound)
            products = Mux(k == j, j * product_max, products)
        for p in range(P):
            m.d.comb += [Assert((ref[p] <= bound) & (ref[p] >= -bound)),
                         Assert((ref_acc[p] <= products) & (ref_acc[p] >= -products)),
                         # the two references agree inside a group
                         Assert(implies(k != 0, ref[p] == ref_acc[p])),
                         Assert(implies(k == 0, ref_acc[p] == 0))]
        # cycles of history needed: S1 -> product (S3) and S1 -> h_valid (S4)
        n_product, n_done = PRODUCT_LATENCY, FORWARD_LATENCY
        history = self.started
        for n in range(1, n_done):
            history = history & self.past(self.started, n, name=f"started{n}")
        done = self.past(fwd & dut.last, n_done, name="done")
        m.d.comb += Assert(implies(history, dut.h_valid == done))
        for p in range(P):
            # the accumulator (the references are one stage ahead of it): the
            # sum so far; in the hold form its start plus the products so far
            acc = probe(frag, f"acc{p}")
            total = self.past(ref[p], n_done - 1, name=f"ref{p}")
            if dut.hold:
                expected = dut.acc_start + self.past(ref_acc[p], n_done - 1, name=f"ref_acc{p}")
            else:
                expected = total
            m.d.comb += Assert(implies(history, acc == expected))
            a = clamp(self.rounded(total, cfg.weight_frac, f"round{p}"), cfg.act_width)
            relu = Mux(a < 0, 0, a)
            m.d.comb += Assert(implies(dut.h_valid, dut.h_out[p] == relu))
            # the operand registers (S2) hold the beat's operands (closes the induction)
            # (the lane multiplier's operand registers, rtl/multiplier.py)
            operand = probe(frag, f"mult{p}.b_reg")
            h_operand = probe(frag, f"mult{p}.a_reg")
            w1, d1 = self.past(dut.w[p], name=f"w1_{p}"), self.past(dut.d[p], name=f"d1_{p}")
            m.d.comb += [
                Assert(implies(self.started, h_operand == self.past(dut.h, name=f"h1_{p}"))),
                Assert(implies(self.started & self.past(fwd, name=f"fwd1_{p}"), operand == w1)),
                Assert(implies(self.started & self.past(upd, name=f"upd1_{p}"), operand == d1)),
            ]
            h1 = self.past(dut.h, n_product, name="h")
            m.d.comb += [
                Assert(implies(history & self.past(fwd, n_product, name="fwd"),
                               dut.product[p] == h1 * self.past(dut.w[p], n_product,
                                                                name=f"w{p}"))),
                Assert(implies(history & self.past(upd, n_product, name="upd"),
                               dut.product[p] == h1 * self.past(dut.d[p], n_product,
                                                                name=f"d{p}"))),
            ]
            m.d.comb += [Cover(dut.h_valid & (dut.h_out[p] == (1 << (cfg.act_width - 1)) - 1)),
                         Cover(dut.h_valid & (dut.h_out[p] == 0) & (total < 0))]
        m.d.comb += Cover(dut.h_valid & self.past(upd, name="upd_before"))
