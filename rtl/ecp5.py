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

Yosys maps a memory to ``DP16KD`` block RAMs with ``REGMODE = "NOREG"``
(clock-to-output about 5.8 ns; with the output register, ``OUTREG``, about
0.95 ns). :class:`Dp16kd` instantiates one block RAM with the output
register as an option; its model, ``rtl/models/ecp5/DP16KD.v``, is compared
with Amaranth's ``Memory`` (plus one register) bit for bit.
"""

from pathlib import Path

from amaranth.hdl import ClockSignal, Const, Instance, Module, Shape, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lela.config import ECP5_MULT_BITS

from .params import check_int, invalid

__all__ = ["BLOCK_RAM_BITS", "BLOCK_RAM_WORDS", "SIMULATION_MODELS", "Dp16kd", "Mult18x18d",
           "dp16kd_initvals"]

#: Words of one DP16KD block RAM at 16 or 18 bits a word (1,024 x 18): the
#: bank of a layer's weight memory (:class:`lela.rtl.banked_memory.BankedMemory`),
#: inferred by synthesis from Amaranth's ``Memory``.
BLOCK_RAM_WORDS = 1024

#: Bits of one block RAM word in its 1Kx18 mode (:class:`Dp16kd`).
BLOCK_RAM_BITS = 18

_MODELS = Path(__file__).parent / "models" / "ecp5"
#: Verilog models of the primitives this module instantiates.
SIMULATION_MODELS = (_MODELS / "MULT18X18D.v", _MODELS / "DP16KD.v")


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


def dp16kd_initvals(init, shape):
    """The ``INITVAL_00`` .. ``INITVAL_3F`` parameters of a 1Kx18 ``DP16KD``
    holding ``init`` (word ``i`` of ``init`` at address ``i``, the rest 0).

    Each value is one of ``shape`` extended to 18 bits as a write of it is
    (two's complement for a signed shape, zeros above an unsigned one). As
    Yosys's ``init_slice`` (``share/lattice/brams_map_16kd.v``) packs them:
    ``INITVAL_k`` holds words ``16 k`` to ``16 k + 15``, word ``16 k + j`` in
    bits ``[20 j + 17 : 20 j]``, bits ``20 j + 18`` and ``20 j + 19`` zero.

    Parameters
    ----------
    init : sequence of int
        At most :data:`BLOCK_RAM_WORDS` values of ``shape``.
    shape : ShapeLike
        The words' shape, at most :data:`BLOCK_RAM_BITS` bits.

    Returns
    -------
    dict
        ``{"INITVAL_00": int, ...}``: 64 integers of 320 bits.
    """
    shape = Shape.cast(shape)
    words = list(init)
    if len(words) > BLOCK_RAM_WORDS:
        raise ValueError(f"init must have at most {BLOCK_RAM_WORDS} words, not {len(words)}")
    lo, hi = (-(1 << shape.width - 1), (1 << shape.width - 1) - 1) if shape.signed \
        else (0, (1 << shape.width) - 1)
    mask = (1 << BLOCK_RAM_BITS) - 1
    rows = [0] * (BLOCK_RAM_WORDS // 16)
    for i, word in enumerate(words):
        if not isinstance(word, int) or isinstance(word, bool) or not lo <= word <= hi:
            raise ValueError(f"init word {i} must be an integer of {shape}, not {word!r}")
        rows[i // 16] |= (word & mask) << (20 * (i % 16))
    return {f"INITVAL_{k:02X}": row for k, row in enumerate(rows)}


class Dp16kd(wiring.Component):
    """One ``DP16KD`` block RAM in its 1Kx18 mode: port A writes, port B reads.

    Words of ``shape`` (at most 18 bits): a write extends ``w_data`` to the
    block's 18 bits as Amaranth extends a value of ``shape`` (sign bits for a
    signed shape, zeros for an unsigned one), a read returns the low
    ``shape.width`` bits. Port A: ``WEA = w_en``, both byte enables set,
    ``CEA`` high. Port B: ``CEB = r_en``, ``OCEB`` high, ``WEB`` low.
    ``WRITEMODE`` ``NORMAL``, ``RESETMODE`` ``SYNC`` with ``RST`` low,
    ``CSDECODE`` ``0b000`` with ``CS`` low, ``GSR`` ``DISABLED``; clock ``sync``.
    A read of the word written in the same cycle returns the old word, as a
    non-transparent Amaranth read port does (the hardware does not guarantee
    it: lela's designs do not use such data).

    Parameters
    ----------
    shape : ShapeLike
        One word, at most :data:`BLOCK_RAM_BITS` bits.
    output_register : bool
        ``REGMODE_B = "OUTREG"`` (read latency 2) if true, ``"NOREG"`` (1) if not.
    init : sequence of int
        Initial contents: at most :data:`BLOCK_RAM_WORDS` values of ``shape``
        (the rest 0), in ``INITVAL_00`` .. ``INITVAL_3F``
        (:func:`dp16kd_initvals`).

    Attributes
    ----------
    w_addr : In(range(BLOCK_RAM_WORDS))
    w_data : In(shape)
    w_en : In(1)
        Write address, data and enable: the word is written at the clock edge.
    r_addr : In(range(BLOCK_RAM_WORDS))
    r_en : In(1)
        Read address and enable (1 by default).
    r_data : Out(shape)
        Without the output register: the word at ``r_addr`` of a cycle with
        ``r_en`` high, the next cycle, held while ``r_en`` is low. With it:
        that data one cycle later: the word read in a cycle ``t`` with
        ``r_en`` high appears in cycle ``t + 2`` and stays until the word of
        the next enabled read replaces it (the output register loads the
        read latch on every edge; ``r_en`` holds only the latch). Both
        registers start at 0.
    latency : int
        Cycles from ``r_addr`` to ``r_data``: 2 with the output register, 1 without.
    """

    def __init__(self, *, shape, output_register, init=()):
        shape = Shape.cast(shape)
        if not 1 <= shape.width <= BLOCK_RAM_BITS:
            invalid(self, ValueError(f"shape must have 1 to {BLOCK_RAM_BITS} bits, "
                                     f"not {shape.width}"))
        if not isinstance(output_register, bool):
            invalid(self, TypeError(f"output_register must be a bool, not {output_register!r}"))
        try:
            self._initvals = dp16kd_initvals(init, shape)
        except ValueError as exc:
            invalid(self, exc)
        self._shape, self._output_register = shape, output_register
        super().__init__({
            "w_addr": In(range(BLOCK_RAM_WORDS)), "w_data": In(shape), "w_en": In(1),
            "r_addr": In(range(BLOCK_RAM_WORDS)), "r_en": In(1, init=1), "r_data": Out(shape),
        })

    @property
    def latency(self):
        """Cycles from ``r_addr`` to ``r_data``."""
        return 2 if self._output_register else 1

    def elaborate(self, platform):
        """The instance; the data extended to 18 bits, the read data's low bits."""
        m = Module()
        bits = BLOCK_RAM_BITS
        di, do = Signal(bits), Signal(bits)
        m.d.comb += [di.eq(self.w_data), self.r_data.eq(do[:self._shape.width])]
        # AD[13:4] the word address; AD[1:0] the byte enables of a write, AD[3:2] unused
        ports = {f"i_ADA{n}": Const(1) for n in (0, 1)}
        ports |= {f"i_ADA{n}": Const(0) for n in (2, 3)}
        ports |= {f"i_ADA{n + 4}": self.w_addr[n] for n in range(10)}
        ports |= {f"i_ADB{n}": Const(0) for n in range(4)}
        ports |= {f"i_ADB{n + 4}": self.r_addr[n] for n in range(10)}
        ports |= {f"i_DIA{n}": di[n] for n in range(bits)}
        ports |= {f"i_DIB{n}": Const(0) for n in range(bits)}
        ports |= {f"o_DOB{n}": do[n] for n in range(bits)}
        ports |= {f"i_CS{p}{n}": Const(0) for p in "AB" for n in range(3)}
        params = {f"p_{name}": Const(value, 320) for name, value in self._initvals.items()}
        m.submodules.bram = Instance(
            "DP16KD",
            p_DATA_WIDTH_A=bits, p_DATA_WIDTH_B=bits,
            p_REGMODE_A="NOREG", p_REGMODE_B="OUTREG" if self._output_register else "NOREG",
            p_RESETMODE="SYNC", p_ASYNC_RESET_RELEASE="SYNC",
            p_CSDECODE_A="0b000", p_CSDECODE_B="0b000",
            p_WRITEMODE_A="NORMAL", p_WRITEMODE_B="NORMAL",
            p_CLKAMUX="CLKA", p_CLKBMUX="CLKB", p_GSR="DISABLED",
            i_CLKA=ClockSignal("sync"), i_CEA=Const(1), i_OCEA=Const(1), i_WEA=self.w_en,
            i_RSTA=Const(0),
            i_CLKB=ClockSignal("sync"), i_CEB=self.r_en, i_OCEB=Const(1), i_WEB=Const(0),
            i_RSTB=Const(0),
            **params, **ports)
        return m
