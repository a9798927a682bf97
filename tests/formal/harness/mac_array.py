"""The MAC array: forward groups and products of both passes."""

from amaranth.hdl import Assert, Assume, Const, Cover, Fragment, Mux, Signal, signed

from lela.rtl.mac_array import OP_FORWARD, OP_UPDATE, MacArray

from .base import Harness, clamp, implies, probe


class MacArrayHarness(Harness):
    """Forward groups: every group (``first`` .. ``last`` beats) produces
    exactly one ``h_valid`` two cycles after its last beat, and ``h_out`` is
    ``relu(sat(round_shift(b << act_frac + sum h*w, weight_frac)))`` of the
    exact sum; products of both passes are the exact ``h*w`` / ``h*d``."""

    free_reset = False

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        self.dut = MacArray.from_config(cfg, layer)
        self.n_in = cfg.sizes[layer]
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut, n_in = self.cfg, self.dut, self.n_in
        m.submodules.dut = frag = Fragment.get(dut, None)
        P = dut.lanes
        fwd = dut.valid & (dut.op == OP_FORWARD)
        upd = dut.valid & (dut.op == OP_UPDATE)
        # input contract: forward beats come in groups of n_in, first..last
        k = Signal(range(n_in), name="k")
        with m.If(fwd):
            m.d.sync += k.eq(Mux(k == n_in - 1, 0, k + 1))
        m.d.comb += Assert(k < n_in)    # harness state in range (for the induction)
        m.d.comb += [Assume(implies(fwd, dut.first == (k == 0))),
                     Assume(implies(fwd, dut.last == (k == n_in - 1)))]
        # reference: the exact sum of the group so far, updated at S1
        ref = [Signal(signed(dut.acc_width + 2), name=f"ref{p}") for p in range(P)]
        for p in range(P):
            start = Mux(dut.first, dut.bias[p] * (1 << cfg.act_frac), ref[p])
            with m.If(fwd):
                m.d.sync += ref[p].eq(start + dut.h * dut.w[p])
        # the sum of j beats is bounded (makes the induction close: the
        # accumulator cannot hold a value no group reaches)
        product_max = 1 << (cfg.act_width + cfg.weight_width - 2)
        bias_max = 1 << (cfg.weight_width - 1 + cfg.act_frac)
        bound = Const(n_in * product_max + bias_max)    # k == 0: a whole group (or none)
        for j in range(1, n_in):
            bound = Mux(k == j, j * product_max + bias_max, bound)
        for p in range(P):
            m.d.comb += Assert((ref[p] <= bound) & (ref[p] >= -bound))
        two_ago = self.started & self.past(self.started, name="started")
        done = self.past(fwd & dut.last, 2, name="done")
        m.d.comb += Assert(implies(two_ago, dut.h_valid == done))
        for p in range(P):
            acc = probe(frag, f"acc{p}")
            ref_s2 = self.past(ref[p], name=f"ref{p}")
            m.d.comb += Assert(implies(self.started, acc == ref_s2))
            a = clamp(self.rounded(ref_s2, cfg.weight_frac, f"round{p}"), cfg.act_width)
            relu = Mux(a < 0, 0, a)
            m.d.comb += Assert(implies(dut.h_valid, dut.h_out[p] == relu))
            h1 = self.past(dut.h, name="h")
            m.d.comb += [
                Assert(implies(self.started & self.past(fwd, name="fwd"),
                               dut.product[p] == h1 * self.past(dut.w[p], name=f"w{p}"))),
                Assert(implies(self.started & self.past(upd, name="upd"),
                               dut.product[p] == h1 * self.past(dut.d[p], name=f"d{p}"))),
            ]
            m.d.comb += [Cover(dut.h_valid & (dut.h_out[p] == (1 << (cfg.act_width - 1)) - 1)),
                         Cover(dut.h_valid & (dut.h_out[p] == 0) & (ref_s2 < 0))]
        m.d.comb += Cover(dut.h_valid & self.past(upd, name="upd_before"))
