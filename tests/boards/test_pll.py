"""PLL parameter search for the iCE40 and ECP5 board clocks."""

import pytest

from lela.boards.pll import ecp5_pll, ice40_pll


@pytest.mark.parametrize("f_out", [16e6, 18e6, 24e6, 30e6, 48e6])
def test_ice40_pll(f_out):
    p = ice40_pll(12e6, f_out)
    pfd = 12e6 / (p.divr + 1)
    vco = pfd * (p.divf + 1)
    assert 10e6 <= pfd <= 133e6 and 533e6 <= vco <= 1066e6
    assert p.f_out == vco / 2 ** p.divq
    assert abs(p.f_out - f_out) <= 0.01 * f_out
    assert p.filter_range == 1  # a 12 MHz PFD


@pytest.mark.parametrize("f_out", [12.5e6, 40e6, 50e6, 62.5e6, 100e6])
def test_ecp5_pll(f_out):
    p = ecp5_pll(25e6, f_out)
    out = 25e6 / p.clki_div * p.clkfb_div
    assert out == p.f_out == f_out
    assert 400e6 <= out * p.clkop_div <= 800e6
    assert p.clkop_cphase == p.clkop_div // 2


def test_unreachable_frequencies():
    with pytest.raises(ValueError, match=r"no PLL setting within 1.0% of 300 MHz"):
        ice40_pll(12e6, 300e6)
    with pytest.raises(ValueError, match=r"no PLL setting within 1.0% of 0.1 MHz"):
        ecp5_pll(25e6, 0.1e6)
