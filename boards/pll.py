"""PLL parameters for the boards' clocks (what icepll and ecppll compute).

Pure functions, tested in ``tests/boards/test_pll.py``; the board files turn
them into ``SB_PLL40_PAD`` (iCE40) and ``EHXPLLL`` (ECP5) instances.
"""

from dataclasses import dataclass

__all__ = ["Ecp5Pll", "Ice40Pll", "ecp5_pll", "ice40_pll"]


@dataclass(frozen=True)
class Ice40Pll:
    """``SB_PLL40`` in SIMPLE feedback mode: ``f_out = f_in (DIVF+1) / ((DIVR+1) 2**DIVQ)``."""

    divr: int
    divf: int
    divq: int
    filter_range: int
    f_in: float
    f_out: float


@dataclass(frozen=True)
class Ecp5Pll:
    """``EHXPLLL`` with CLKOP feedback: ``f_out = f_in CLKFB_DIV / CLKI_DIV``,
    VCO = ``f_out CLKOP_DIV``."""

    clki_div: int
    clkfb_div: int
    clkop_div: int
    clkop_cphase: int
    f_in: float
    f_out: float


def _check(f_out, got, tolerance):
    if abs(got - f_out) > tolerance * f_out:
        raise ValueError(f"no PLL setting within {tolerance:.1%} of {f_out / 1e6:g} MHz "
                         f"(closest {got / 1e6:g} MHz)")


def ice40_pll(f_in, f_out, *, tolerance=0.01):
    """Closest iCE40 PLL setting to ``f_out`` (Hz) from ``f_in`` (PFD 10..133 MHz,
    VCO 533..1066 MHz, output 16..275 MHz); ValueError if none is within ``tolerance``."""
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10e6 <= pfd <= 133e6:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533e6 <= vco <= 1066e6:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if not 16e6 <= out <= 275e6:
                    continue
                if best is None or abs(out - f_out) < abs(best[3] - f_out):
                    best = (divr, divf, divq, out, pfd)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting from {f_in / 1e6:g} MHz")
    divr, divf, divq, out, pfd = best
    _check(f_out, out, tolerance)
    # loop filter by PFD frequency, as icepll chooses it
    filter_range = next(r for r, hi in enumerate((17e6, 26e6, 44e6, 66e6, 101e6), 1)
                        if pfd < hi) if pfd < 101e6 else 6
    return Ice40Pll(divr, divf, divq, filter_range, f_in, out)


def ecp5_pll(f_in, f_out, *, tolerance=0.01):
    """Closest ECP5 PLL setting to ``f_out`` (Hz) from ``f_in`` (PFD 3.125..400
    MHz, VCO 400..800 MHz); ValueError if none is within ``tolerance``."""
    best = None
    for clki_div in range(1, 129):
        pfd = f_in / clki_div
        if not 3.125e6 <= pfd <= 400e6:
            continue
        for clkfb_div in range(1, 81):
            out = pfd * clkfb_div
            for clkop_div in range(1, 129):
                vco = out * clkop_div
                if not 400e6 <= vco <= 800e6:
                    continue
                key = (abs(out - f_out), abs(vco - 600e6))
                if best is None or key < best[0]:
                    best = (key, clki_div, clkfb_div, clkop_div, out)
                break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting from {f_in / 1e6:g} MHz")
    _, clki_div, clkfb_div, clkop_div, out = best
    _check(f_out, out, tolerance)
    return Ecp5Pll(clki_div, clkfb_div, clkop_div, clkop_div // 2, f_in, out)
