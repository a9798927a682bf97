"""The update unit: new weight and bias words."""

from amaranth.hdl import Assert, Assume, Cover, Signal, signed

from lela.contract import PRODUCT_LATENCY, bias_activation, bias_shift
from lela.golden_model.numerics import signed_range
from lela.rtl.mac_array import MacArray
from lela.rtl.update_unit import UpdateUnit

from .base import Harness, clamp, implies


class UpdateUnitHarness(Harness):
    """Every input beat writes exactly one weight word, every bias beat one
    bias word, ``write_latency`` cycles after S1 (the product comes
    ``PRODUCT_LATENCY`` cycles after S1), with
    ``sat_W(W - round_shift(product, weight_shift))`` of the exact values;
    a bias beat whose product is ``d * 1.0`` (``bias_activation``) writes
    ``sat_W(b - round_shift(d, bias_shift))`` for every ``d``; a reset cancels
    a pending write."""

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg, self.layer = cfg, layer
        mac = MacArray.from_config(cfg, layer)
        mac._MustUse__silence = True
        self.dut = UpdateUnit.from_config(cfg, layer, product_width=mac.product_width)
        self.free_inputs(self.dut)
        #: Free: the error whose product with 1.0 a bias beat brings.
        self.d = [Signal(signed(cfg.act_width), name=f"d{p}") for p in range(cfg.lanes[layer])]
        self._ports.extend(self.d)

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
            Assert(implies(ok, dut.w_valid == self.past(dut.valid & ~dut.bias, n,
                                                        name="weight"))),
            Assert(implies(ok, dut.b_valid == self.past(dut.valid & dut.bias, n, name="bias"))),
            Assert(implies(self.started & self.past_rst, ~dut.w_valid & ~dut.b_valid)),
        ]
        bias_product = self.past(dut.valid & dut.bias, PRODUCT_LATENCY, name="bias_product")
        for p in range(len(dut.new)):
            # the held words (the access port's read data): the inputs one cycle later
            m.d.comb += Assert(implies(self.ok_past,
                                       dut.w_held[p] == self.past(dut.w[p], name=f"wh{p}")))
            m.d.comb += Assume(implies(bias_product,
                                       dut.product[p] == self.d[p] * bias_activation(cfg)))
            w = self.past(dut.w[p], n, name=f"w{p}")
            product = self.past(dut.product[p], n - PRODUCT_LATENCY, name=f"pr{p}")
            d = self.past(self.d[p], n - PRODUCT_LATENCY, name=f"dp{p}")
            new = clamp(w - self.rounded(product, dut.weight_shift, f"wr{p}"), ww)
            b_new = clamp(w - self.rounded(d, bias_shift(cfg, self.layer), f"br{p}"), ww)
            m.d.comb += [Assert(implies(dut.w_valid | dut.b_valid, dut.new[p] == new)),
                         Assert(implies(dut.b_valid, dut.new[p] == b_new))]
            lo, hi = signed_range(ww)
            m.d.comb += [Cover(dut.w_valid & (dut.new[p] == hi) & (w != hi)),
                         Cover(dut.w_valid & (dut.new[p] == lo) & (w != lo)),
                         Cover(dut.b_valid & (dut.new[p] != w))]
