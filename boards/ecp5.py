"""What every ECP5 board shares: the family's facts for the build, its clocking.

A board file of this family (:mod:`lela.boards.ulx3s`, :mod:`lela.boards.ecpix5`)
imports these into its own descriptor.
"""

import warnings

from amaranth import Instance

from . import board
from .pll import ecp5_pll

__all__ = [
    "BITSTREAM",
    "FAMILY",
    "KEEP_REGISTERS",
    "RESOURCES",
    "UNIQUE_NAMES",
    "YOSYS_FLIP_FLOP",
    "YOSYS_LUT4",
    "Ecp5BoardTop",
    "ehxplll",
    "synth_options",
]

#: FPGA family (``Config.primitives`` other than "portable" must name it).
FAMILY = "ecp5"
#: nextpnr cell types that ``lela build`` reports: (label, cell type).
RESOURCES = (("LUT4", "TRELLIS_COMB"), ("flip-flops", "TRELLIS_FF"),
             ("slices", "TRELLIS_SLICE"), ("block RAM (DP16KD)", "DP16KD"),
             ("DSP (MULT18X18D)", "MULT18X18D"), ("PLL", "EHXPLLL"), ("I/O", "TRELLIS_IO"))
#: Yosys cell types counted as LUT4s and (prefix) flip-flops where nextpnr's
#: report has none.
YOSYS_LUT4, YOSYS_FLIP_FLOP = "LUT4", "TRELLIS_FF"
#: Suffix of the bitstream file.
BITSTREAM = "bit"

#: Yosys command after reading the design: a register whose signal the RTL
#: marks ``keep`` is kept as its own cell. Amaranth 0.5 puts a signal's
#: attributes on its wire only, and Yosys merges registers of the same input
#: (``opt_merge``) unless the cell has ``keep``: without this the MAC array's
#: per-lane copies of ``h`` become one register driving every lane's
#: MULT18X18D (docs/boards.md).
KEEP_REGISTERS = "setattr -set keep 1 w:* a:keep %i %ci1 t:$dff %i"

#: Yosys commands after reading the design: flatten it and rename the wires
#: whose names need escaping in Verilog. Amaranth names the wires of an
#: array's elements ``x[3]`` beside the wire ``x``; Yosys 0.70's abc9 names
#: the bits it reintegrates the same way and stops on the collision
#: (``abc_ops_reintegrate``: "Assert `count_id(wire->name) == 0'" or
#: "`GetSize(conn.first) == GetSize(conn.second)'", seen from 8 lanes per
#: layer up, docs/boards.md).
UNIQUE_NAMES = "flatten\nrename -unescape"


def synth_options(cfg):
    """Toolchain overrides of the build (ECP5 maps multipliers to MULT18X18D by
    default): :data:`KEEP_REGISTERS`, then :data:`UNIQUE_NAMES`."""
    return {"script_after_read": f"{KEEP_REGISTERS}\n{UNIQUE_NAMES}"}


def ehxplll(pll, *, clki, clk, lock):
    """The ``EHXPLLL`` for setting ``pll``, its output ``CLKOP`` fed back.

    Parameters
    ----------
    pll : lela.boards.pll.Ecp5Pll
        The setting (:func:`lela.boards.pll.ecp5_pll`).
    clki : Value
        The oscillator's input.
    clk, lock : Signal
        To drive with the output clock and lock.

    Returns
    -------
    Instance
        The primitive. nextpnr derives the design clock's constraint from
        ``CLKI``'s (the one ``PLLClock`` adds names a net that synthesis
        renames, and nextpnr ignores it).
    """
    return Instance(
        "EHXPLLL",
        a_FREQUENCY_PIN_CLKI=f"{pll.f_in / 1e6:g}",
        a_FREQUENCY_PIN_CLKOP=f"{pll.f_out / 1e6:g}",
        a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
        a_MFG_GMCREF_SEL="2",
        p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
        p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
        p_CLKI_DIV=pll.clki_div, p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=pll.clkop_div,
        p_CLKOP_CPHASE=pll.clkop_cphase, p_CLKOP_FPHASE=0,
        p_FEEDBK_PATH="CLKOP", p_CLKFB_DIV=pll.clkfb_div,
        i_RST=0, i_STDBY=0, i_CLKI=clki, i_CLKFB=clk,
        i_PHASESEL0=0, i_PHASESEL1=0, i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1,
        i_PLLWAKESYNC=0, i_ENCLKOP=0,
        o_CLKOP=clk, o_LOCK=lock,
    )


class Ecp5BoardTop(board.BoardTop):
    """A board top of this family: the oscillator is the resource named
    ``OSC_RESOURCE``, the PLL an :func:`ehxplll` on it (parameters:
    :class:`lela.boards.board.BoardTop`). The platform's own ``sync`` domain
    is reset-less (GSR resets the device), so a design run from the
    oscillator gets the power-on reset of
    :class:`~lela.boards.clocking.PLLClock` too."""

    #: Name of the oscillator's platform resource.
    OSC_RESOURCE = None
    find_pll = staticmethod(ecp5_pll)

    def oscillator(self, platform):
        """The oscillator's input (resource ``OSC_RESOURCE``)."""
        # through platform.request() without dir="-" (deprecated in Amaranth
        # 0.5, still supported), as the board files' pins
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return platform.request(self.OSC_RESOURCE, 0).i

    def pll_primitive(self, platform, *, clk, lock):
        """:func:`ehxplll` on the oscillator."""
        return ehxplll(self.pll, clki=self.oscillator(platform), clk=clk, lock=lock)
