"""Lattice ECP5 primitives, instantiated with the registers that Yosys does not set.

Yosys maps a ``*`` to a ``MULT18X18D`` with none of its registers and keeps
the operand and product registers in the fabric (``../shared`` toolchain
notes; one 18x18 multiply between fabric registers routes at 142 MHz, the
same multiply in the primitive with its registers at 479 MHz). Here the
primitive is instantiated directly. Its simulation model,
``rtl/models/ecp5/MULT18X18D.v`` (:data:`SIMULATION_MODELS`), is lela's own,
written from Lattice's documented semantics (the sysDSP usage guide), so
that the netlist a board gets is the one the tests simulate (Verilator,
Icarus). Amaranth's own simulator cannot run an ``Instance``: pysim tests use
the portable form (:class:`lela.rtl.multiplier.Multiplier`), which the
model is compared with bit for bit (``tests/rtl/test_ecp5.py``).
"""

from pathlib import Path

from amaranth.hdl import ClockSignal, Const, Instance, Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lela.config import ECP5_MULT_BITS

from .params import check_int

__all__ = ["BLOCK_RAM_WORDS", "SIMULATION_MODELS", "Mult18x18d"]

#: Words of one DP16KD block RAM at 16 or 18 bits a word (1,024 x 18): the
#: bank of a layer's weight memory (:class:`lela.rtl.banked_memory.BankedMemory`),
#: inferred by synthesis from Amaranth's ``Memory``.
BLOCK_RAM_WORDS = 1024

#: Verilog models of the primitives this module instantiates.
SIMULATION_MODELS = (Path(__file__).parent / "models" / "ecp5" / "MULT18X18D.v",)


class Mult18x18d(wiring.Component):
    """``p = a * b`` in one ``MULT18X18D`` with its input and output registers
    (clock ``sync``, CE tied high, RST tied low, SRIA/SRIB open): the ports
    and the latency of :class:`lela.rtl.multiplier.Multiplier`.

    Parameters
    ----------
    a_width, b_width : int
        Signed operand widths, at most 18 each.

    Attributes
    ----------
    a : In(signed(a_width))
    b : In(signed(b_width))
        Operands (the primitive's input registers).
    p : Out(signed(a_width + b_width))
        Their product from the primitive's output register,
        ``lela.contract.PRODUCT_LATENCY`` cycles later.
    """

    def __init__(self, *, a_width, b_width):
        check_int(self, "a_width", a_width, 2, ECP5_MULT_BITS)
        check_int(self, "b_width", b_width, 2, ECP5_MULT_BITS)
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "p": Out(signed(a_width + b_width))})

    def elaborate(self, platform):
        """The instance; operands sign-extended to 18 bits, the product's low bits."""
        m = Module()
        a, b = Signal(signed(ECP5_MULT_BITS)), Signal(signed(ECP5_MULT_BITS))
        p = Signal(signed(2 * ECP5_MULT_BITS))
        m.d.comb += [a.eq(self.a), b.eq(self.b), self.p.eq(p)]
        registered = "CLK0"
        ports = {f"i_A{n}": a[n] for n in range(ECP5_MULT_BITS)}
        ports |= {f"i_B{n}": b[n] for n in range(ECP5_MULT_BITS)}
        ports |= {f"o_P{n}": p[n] for n in range(2 * ECP5_MULT_BITS)}
        ports |= {f"i_C{n}": Const(0) for n in range(ECP5_MULT_BITS)}   # as Yosys's own mapping
        m.submodules.mult = Instance(
            "MULT18X18D",
            p_REG_INPUTA_CLK=registered, p_REG_INPUTB_CLK=registered,
            p_REG_PIPELINE_CLK="NONE", p_REG_OUTPUT_CLK=registered,
            p_GSR="DISABLED", p_RESETMODE="SYNC",
            i_SIGNEDA=Const(1), i_SIGNEDB=Const(1), i_SOURCEA=Const(0), i_SOURCEB=Const(0),
            i_CLK0=ClockSignal("sync"), i_CE0=Const(1), i_RST0=Const(0),
            **ports)
        return m
