"""The update unit: new weight and bias words."""

from amaranth.hdl import Assert, Cover

from lela.contract import PRODUCT_LATENCY
from lela.golden_model.numerics import signed_range
from lela.rtl.mac_array import MacArray
from lela.rtl.update_unit import UpdateUnit

from .base import Harness, clamp, implies


class UpdateUnitHarness(Harness):
    """Every beat writes exactly one weight word (and the group's first beat
    one bias word) ``write_latency`` cycles after S1 (the product comes
    ``PRODUCT_LATENCY`` cycles after S1), with
    ``sat_W(W - round_shift(d*h, weight_shift))`` and
    ``sat_W(b - round_shift(d, bias_shift))`` of the exact values; a reset
    cancels a pending write."""

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        mac = MacArray.from_config(cfg, layer)
        mac._MustUse__silence = True
        self.dut = UpdateUnit.from_config(cfg, layer, product_width=mac.product_width)
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut = self.cfg, self.dut
        m.submodules.dut = dut
        ww = cfg.weight_width
        n = dut.write_latency    # S1 -> the write-back (S3, or S4)
        # n cycles of history, none of them a reset
        ok = self.ok_past
        for i in range(1, n):
            ok = ok & self.past(self.ok_past, i, name=f"ok{i}")
        m.d.comb += [
            Assert(implies(ok, dut.w_valid == self.past(dut.valid, n, name="valid"))),
            Assert(implies(ok, dut.b_valid == self.past(dut.valid & dut.first, n,
                                                        name="first"))),
            Assert(implies(self.started & self.past_rst, ~dut.w_valid & ~dut.b_valid)),
        ]
        for p in range(len(dut.w_new)):
            # the held words (the access port's read data): the inputs one cycle later
            m.d.comb += [
                Assert(implies(self.ok_past, dut.w_held[p] == self.past(dut.w[p], name=f"wh{p}"))),
                Assert(implies(self.ok_past,
                               dut.b_held[p] == self.past(dut.bias[p], name=f"bh{p}"))),
            ]
            w = self.past(dut.w[p], n, name=f"w{p}")
            b = self.past(dut.bias[p], n, name=f"b{p}")
            d = self.past(dut.d[p], n, name=f"d{p}")
            product = self.past(dut.product[p], n - PRODUCT_LATENCY, name=f"pr{p}")
            w_new = clamp(w - self.rounded(product, dut.weight_shift, f"wr{p}"), ww)
            b_new = clamp(b - self.rounded(d, dut.bias_shift, f"br{p}"), ww)
            m.d.comb += [Assert(implies(dut.w_valid, dut.w_new[p] == w_new)),
                         Assert(implies(dut.b_valid, dut.b_new[p] == b_new))]
            lo, hi = signed_range(ww)
            m.d.comb += [Cover(dut.w_valid & (dut.w_new[p] == hi) & (w != hi)),
                         Cover(dut.w_valid & (dut.w_new[p] == lo) & (w != lo)),
                         Cover(dut.b_valid & (dut.b_new[p] != b))]
