"""Arithmetic: every saturating stage of the numeric contract, in isolation."""

from amaranth.hdl import Assert, Cover, Module, Shape, signed, unsigned
from amaranth.lib import wiring

from lela.contract import bias_shift
from lela.golden_model.numerics import signed_range
from lela.rtl.error_unit import ErrorUnit
from lela.rtl.mac_array import MacArray
from lela.rtl.numerics import round_shift, saturate
from lela.rtl.update_unit import UpdateUnit

from .base import Harness, clamp


def _shape_range(shape):
    shape = Shape.cast(shape)
    if shape.signed:
        return signed_range(shape.width)
    return 0, (1 << shape.width) - 1


def _round_int(x, shift):
    return (x + (1 << (shift - 1))) >> shift if shift > 0 else x << -shift


class SatStage(wiring.Component):
    """One saturating stage of the numeric contract, built from
    ``lela.rtl.numerics``: ``y = saturate(round_shift(x, shift), width)``, or
    with ``subtract``: ``y = saturate(base - round_shift(x, shift), width)``
    (the weight and bias updates)."""

    def __init__(self, *, x_shape, shift, width, subtract=False):
        self.x_shape, self.shift, self.width, self.subtract = x_shape, shift, width, subtract
        members = {"x": wiring.In(x_shape), "y": wiring.Out(signed(width))}
        if subtract:
            members["base"] = wiring.In(signed(width))
        super().__init__(members)

    def stage(self, exact):
        return saturate(exact, self.width)

    def elaborate(self, platform):
        m = Module()
        r = round_shift(self.x, self.shift)
        m.d.comb += self.y.eq(self.stage(self.base - r if self.subtract else r))
        return m


def contract_stages(cfg):
    """Every saturating stage of ``cfg``'s datapath: ``(name, x_shape, shift,
    width, subtract)`` with the widths the RTL blocks use."""
    stages = []
    for i in range(cfg.layers):
        mac = MacArray.from_config(cfg, i)
        eu = ErrorUnit.from_config(cfg, i)
        uu = UpdateUnit.from_config(cfg, i, product_width=mac.product_width, digest=False)
        for unit in (mac, eu, uu):
            unit._MustUse__silence = True   # built for their widths only
        aw, ww = cfg.act_width, cfg.weight_width
        stages += [
            (f"forward{i}", signed(mac.acc_width), cfg.weight_frac, aw, False),
            (f"score{i}", signed(eu.acc_width), cfg.score_shift(i), aw, False),
            (f"error{i}", signed(eu.acc_width), cfg.score_shift(i), aw, False),
            (f"weight{i}", signed(mac.product_width), uu.weight_shift, ww, True),
            (f"bias{i}", signed(aw), bias_shift(cfg, i), ww, True),
        ]
    return stages


#: Shapes around the edges of ``saturate``'s cases (narrower, equal, wider,
#: unsigned), with and without rounding.
EDGE_STAGES = [
    ("narrow_signed", signed(3), 0, 5, False),
    ("equal_signed", signed(5), 0, 5, False),
    ("wide_signed", signed(9), 0, 5, False),
    ("narrow_unsigned", unsigned(4), 0, 5, False),
    ("equal_unsigned", unsigned(5), 0, 5, False),
    ("wide_unsigned", unsigned(9), 0, 5, False),
    ("one_bit", signed(6), 2, 1, False),
    ("shift_left", signed(6), -3, 7, False),
    ("round_wide", signed(12), 5, 4, False),
    ("round_unsigned", unsigned(10), 3, 5, False),
    ("sub_left", signed(5), -2, 6, True),
]


class StageHarness(Harness):
    """Each stage's output equals the contract's saturation of the exact
    result, for every input (combinational: one step proves it)."""

    free_reset = False

    def __init__(self, stages, *, stage_cls=SatStage):
        super().__init__()
        self.units = [(name, stage_cls(x_shape=x, shift=s, width=w, subtract=sub))
                      for name, x, s, w, sub in stages]
        for _, unit in self.units:
            self.free_inputs(unit)

    def check(self, m):
        for name, unit in self.units:
            m.submodules[name] = unit
            exact = self.rounded(unit.x, unit.shift, f"{name}_r")
            if unit.subtract:
                exact = unit.base - exact
            lo, hi = signed_range(unit.width)
            m.d.comb += Assert(unit.y == clamp(exact, unit.width))
            # cover each side of the clamp that the stage's input range can reach
            x_lo, x_hi = _shape_range(unit.x_shape)
            r_lo, r_hi = _round_int(x_lo, unit.shift), _round_int(x_hi, unit.shift)
            if unit.subtract:
                b_lo, b_hi = signed_range(unit.width)
                r_lo, r_hi = b_lo - r_hi, b_hi - r_lo
            m.d.comb += Cover((exact >= lo) & (exact <= hi))
            if r_hi > hi:
                m.d.comb += Cover(exact > hi)
            if r_lo < lo:
                m.d.comb += Cover(exact < lo)
