"""What the board files share (``lela.boards.board``): the oscillator-or-PLL
choice, the PLL clock under both boards' tops, and the LED flash."""

import re
import warnings

import pytest
from amaranth import Module, Signal
from amaranth.sim import Simulator

from lela.boards import BOARDS, board, board_module, ecpix5, icebreaker, ulx3s
from lela.config import Config, config_file

SMALL = Config().with_layers((8, 4, 4)).replace(classes=3)


#: What every board file declares (its descriptor), read by lela build, lela
#: board, lela train --board, lela bench and lela sweep.
DESCRIPTOR = ("NAME", "PLATFORM", "FAMILY", "RESOURCES", "YOSYS_LUT4", "YOSYS_FLIP_FLOP",
              "BITSTREAM", "PROGRAMMER_ARGS", "OSC_HZ", "CLOCK_HZ", "BoardTop", "synth_options")


@pytest.mark.parametrize("name", BOARDS)
def test_every_board_is_a_descriptor(name):
    mod = board_module(name)
    missing = [field for field in DESCRIPTOR if not hasattr(mod, field)]
    assert not missing, f"{name}: {missing}"
    assert mod.NAME == name and mod.PLATFORM().family.lower() == mod.FAMILY
    assert issubclass(mod.BoardTop, board.BoardTop)
    assert (mod.BoardTop.OSC_HZ, mod.BoardTop.CLOCK_HZ) == (mod.OSC_HZ, mod.CLOCK_HZ)
    assert Config.from_toml(config_file(name)).primitives in ("portable", mod.FAMILY)


@pytest.mark.parametrize("mod, pll_hz", [(icebreaker, 24e6), (ulx3s, 40e6), (ecpix5, 90e6)])
def test_oscillator_or_pll(mod, pll_hz):
    top = mod.BoardTop(SMALL, clock_hz=mod.OSC_HZ)
    assert top.pll is None and top.clock_hz == mod.OSC_HZ
    assert top.divisor == round(mod.OSC_HZ / 115200)
    top = mod.BoardTop(SMALL, baud=1_000_000, clock_hz=pll_hz)
    assert top.pll == mod.BoardTop.find_pll(mod.OSC_HZ, pll_hz)
    assert top.clock_hz == top.pll.f_out == pll_hz and top.divisor == round(pll_hz / 1e6)
    assert mod.BoardTop(SMALL).clock_hz == mod.CLOCK_HZ
    assert issubclass(mod.BoardTop, board.BoardTop)


@pytest.mark.parametrize("mod, pll_hz", [(icebreaker, 24e6), (ulx3s, 40e6)])
def test_pll_clock_under_each_board(mod, pll_hz):
    """With a PLL the top defines ``sync`` and the shared PLLClock drives it
    (a domain defined below its users is deprecated in Amaranth 0.5), and the
    clock constraint names the PLLClock's clock."""
    top = mod.BoardTop(SMALL, clock_hz=pll_hz)
    platform = mod.PLATFORM()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        plan = platform.prepare(top, name="top", **mod.synth_options(SMALL))
    assert list(platform._clocks.values()) == [pll_hz]
    if mod is icebreaker:
        pattern = rf"^set_frequency clocking\.\S+ {pll_hz / 1e6}$"
        constraints = plan.files["top.pcf"]
    else:
        pattern = rf'^FREQUENCY NET "clocking\.\S+" {pll_hz} HZ;$'
        constraints = plan.files["top.lpf"]
    assert re.search(pattern, constraints, re.MULTILINE), constraints


def test_flash_lasts_and_restarts():
    m = Module()
    event = Signal()
    lit = board.flash(m, event, bits=3)
    sim = Simulator(m)
    sim.add_clock(1e-6)

    async def tb(ctx):
        assert not ctx.get(lit)
        ctx.set(event, 1)
        await ctx.tick()
        ctx.set(event, 0)
        seen = []
        for _ in range(9):
            seen.append(ctx.get(lit))
            await ctx.tick()
        assert seen == [1] * 7 + [0, 0]  # 2**3 - 1 cycles
        ctx.set(event, 1)
        await ctx.tick()
        ctx.set(event, 0)
        await ctx.tick().repeat(5)
        ctx.set(event, 1)  # a second event restarts the count
        await ctx.tick()
        ctx.set(event, 0)
        await ctx.tick().repeat(6)
        assert ctx.get(lit)

    sim.add_testbench(tb)
    sim.run()
