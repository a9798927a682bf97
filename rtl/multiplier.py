"""A registered signed multiplier, the MAC lane's: its portable form and the
choice of the primitive that builds it (``Config.primitives``).

``p = a * b`` with the operands registered on their way in and the product
registered on its way out, :data:`lela.contract.PRODUCT_LATENCY` cycles from
the operands to ``p``: the shape of one DSP block with its input and output
registers. The portable form is a ``*`` between registers (any simulator;
synthesis maps it as it can: Yosys sets none of an ECP5 MULT18X18D's
registers and keeps them in the fabric). Each FPGA family whose DSP block
must be instantiated to get its registers has a module of its own beside
this one (:mod:`lela.rtl.ecp5`), with a simulation model of the primitive.
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lela.config import PRIMITIVES
from lela.contract import PRODUCT_LATENCY

from .params import check_int

__all__ = ["Multiplier", "multiplier", "simulation_models"]


class Multiplier(wiring.Component):
    """Portable registered multiplier: ``p = a * b``, :data:`PRODUCT_LATENCY`
    cycles after ``a`` and ``b``.

    Parameters
    ----------
    a_width, b_width : int
        Signed operand widths.
    keep_a : bool
        Mark the ``a`` register ``keep``: synthesis must not merge it with the
        ``a`` registers of other multipliers that share the operand (the MAC
        lanes' copies of ``h`` keep the fanout local, docs/boards.md).

    Attributes
    ----------
    a : In(signed(a_width))
    b : In(signed(b_width))
        Operands (registered on every cycle).
    p : Out(signed(a_width + b_width))
        Their product, :data:`PRODUCT_LATENCY` cycles later.
    """

    def __init__(self, *, a_width, b_width, keep_a=False):
        check_int(self, "a_width", a_width, 2)
        check_int(self, "b_width", b_width, 2)
        self._a_width, self._b_width = a_width, b_width
        self._keep_a = bool(keep_a)
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "p": Out(signed(a_width + b_width))})

    def elaborate(self, platform):
        """Operand registers, multiply, product register (no reset: a DSP
        block's registers; the products are read with their valid only)."""
        m = Module()
        a = Signal.like(self.a, name="a_reg", reset_less=True,
                        attrs={"keep": 1} if self._keep_a else {})
        b = Signal.like(self.b, name="b_reg", reset_less=True)
        p = Signal.like(self.p, name="p_reg", reset_less=True)
        assert PRODUCT_LATENCY == 2, "two register stages: operands, product"
        m.d.sync += [a.eq(self.a), b.eq(self.b), p.eq(a * b)]
        m.d.comb += self.p.eq(p)
        return m


def multiplier(primitives, *, a_width, b_width, keep_a=False):
    """The registered multiplier built from ``primitives`` (``Config.primitives``):
    :class:`Multiplier` for ``portable`` (``keep_a`` as there), :class:`lela.rtl.ecp5.Mult18x18d`
    for ``ecp5`` (its operand registers are the primitive's own); the same
    ports and latency."""
    if primitives not in PRIMITIVES:
        raise ValueError(f"primitives must be one of {', '.join(PRIMITIVES)}, "
                         f"not {primitives!r}")
    if primitives == "ecp5":
        from .ecp5 import Mult18x18d
        return Mult18x18d(a_width=a_width, b_width=b_width)
    return Multiplier(a_width=a_width, b_width=b_width, keep_a=keep_a)


def simulation_models(primitives):
    """Paths of the Verilog models that a simulation of a design built from
    ``primitives`` needs beside its own Verilog (none for ``portable``)."""
    if primitives == "ecp5":
        from .ecp5 import SIMULATION_MODELS
        return SIMULATION_MODELS
    return ()
