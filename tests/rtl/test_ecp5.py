"""ECP5 primitives (``lela.rtl.ecp5``) and their simulation model
(``rtl/models/ecp5``): the model against the documented semantics, the
primitive against the portable form bit for bit, and the board netlist's
lanes built from it."""

import re
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from lela.config import Config, config_file
from lela.rtl.ecp5 import SIMULATION_MODELS, Mult18x18d
from lela.rtl.generate import generate
from lela.rtl.multiplier import Multiplier, multiplier, simulation_models
from lela.sim.runner import run_testbench
from lela.tools import yosys_for_amaranth

HERE = Path(__file__).parent / "verilog"


def test_model_follows_the_documented_register_stages(sim, tmp_path):
    """Combinational, input + output (lela's) and input + pipeline + output
    registers, clock enable, synchronous reset, signed and unsigned operands,
    the extreme values: equal to the reference on 4,000 random cycles."""
    out = run_testbench([*SIMULATION_MODELS, HERE / "tb_mult18x18d.v"], "tb_mult18x18d", sim,
                        tmp_path)
    assert "checked 3995 mismatches 0" in out


def test_model_check_fails_on_a_model_without_its_output_register(sim, tmp_path):
    """The testbench has teeth: the model with its output stage made a wire
    (one cycle early) is caught."""
    broken = tmp_path / "MULT18X18D.v"
    text = SIMULATION_MODELS[0].read_text()
    text = text.replace(".CLK(REG_OUTPUT_CLK)", '.CLK("NONE")')
    assert '.CLK("NONE")' in text
    broken.write_text(text)
    with pytest.raises(RuntimeError, match="mismatch io at cycle"):
        run_testbench([broken, HERE / "tb_mult18x18d.v"], "tb_mult18x18d", sim, tmp_path / "b")


class _Pair(wiring.Component):
    """The portable multiplier and the MULT18X18D side by side on the same operands."""

    def __init__(self, a_width, b_width):
        self.widths = a_width, b_width
        super().__init__({"a": In(signed(a_width)), "b": In(signed(b_width)),
                          "p_portable": Out(signed(a_width + b_width)),
                          "p_ecp5": Out(signed(a_width + b_width))})

    def elaborate(self, platform):
        m = Module()
        aw, bw = self.widths
        m.submodules.portable = portable = Multiplier(a_width=aw, b_width=bw)
        m.submodules.ecp5 = ecp5 = Mult18x18d(a_width=aw, b_width=bw)
        for mult in (portable, ecp5):
            m.d.comb += [mult.a.eq(self.a), mult.b.eq(self.b)]
        m.d.comb += [self.p_portable.eq(portable.p), self.p_ecp5.eq(ecp5.p)]
        return m


def _pair_testbench(aw, bw, cycles):
    """A Verilog testbench driving ``_pair`` with random and extreme operands,
    comparing the two products on every cycle."""
    return f"""`timescale 1ns/1ps
module tb_pair;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [31:0] rng = 32'd7;
  reg [{aw - 1}:0] a = 0;
  reg [{bw - 1}:0] b = 0;
  wire [{aw + bw - 1}:0] p_portable, p_ecp5;
  integer n = 0;
  pair dut(.clk(clk), .rst(1'b0), .a(a), .b(b), .p_portable(p_portable), .p_ecp5(p_ecp5));
  always @(negedge clk) begin
    if (n > 3 && p_portable !== p_ecp5) begin
      $display("mismatch at cycle %0d: portable %h ecp5 %h", n, p_portable, p_ecp5);
      $fatal(1, "the MULT18X18D differs from the portable multiplier");
    end
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    a = rng[1:0] == 0 ? {{1'b1, {{{aw - 1}{{1'b0}}}}}} : rng[31:{32 - aw}];
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    b = rng[1:0] == 0 ? {{1'b1, {{{bw - 1}{{1'b0}}}}}} : rng[31:{32 - bw}];
    n = n + 1;
    if (n == {cycles}) begin
      $display("checked %0d", n - 4);
      $finish;
    end
  end
endmodule
"""


@pytest.mark.parametrize("widths", [(16, 16), (12, 12), (18, 18), (10, 16)])
def test_mult18x18d_equals_the_portable_multiplier(sim, tmp_path, widths):
    aw, bw = widths
    with yosys_for_amaranth():
        text = verilog.convert(_Pair(aw, bw), name="pair", emit_src=False)
    assert text.count("MULT18X18D") == 1
    (tmp_path / "pair.v").write_text(text)
    (tmp_path / "tb_pair.v").write_text(_pair_testbench(aw, bw, 3000))
    out = run_testbench([*SIMULATION_MODELS, tmp_path / "pair.v", tmp_path / "tb_pair.v"],
                        "tb_pair", sim, tmp_path / "build")
    assert "checked 2996" in out


def test_primitive_choice_and_its_errors():
    for primitives, cls in (("portable", Multiplier), ("ecp5", Mult18x18d)):
        mult = multiplier(primitives, a_width=16, b_width=16)
        mult._MustUse__silence = True   # built to look at, not to elaborate
        assert type(mult) is cls
    assert simulation_models("portable") == ()
    assert simulation_models("ecp5") == SIMULATION_MODELS
    with pytest.raises(ValueError, match=r"^primitives must be one of portable, ecp5, "
                                         r"not 'gowin'$"):
        multiplier("gowin", a_width=16, b_width=16)
    with pytest.raises(ValueError, match=r"^b_width must be an integer in \[2, 18\], not 20$"):
        Mult18x18d(a_width=16, b_width=20)


def test_ulx3s_netlist_builds_every_mac_lane_from_a_registered_mult18x18d(tmp_path):
    """The board configuration's Verilog: one MULT18X18D per MAC lane, each
    with its input and output registers on CLK0, CE high, RST low."""
    cfg = Config.from_toml(config_file("ulx3s"))
    assert cfg.primitives == "ecp5"
    generate(cfg, tmp_path)
    text = (tmp_path / "lela_top.v").read_text()
    cells = re.findall(r"MULT18X18D\s*#\((.*?)\)\s*\w+\s*\(", text, re.DOTALL)
    assert len(cells) == sum(cfg.lanes)
    for params in cells:
        for reg in ("REG_INPUTA_CLK", "REG_INPUTB_CLK", "REG_OUTPUT_CLK"):
            assert re.search(rf'\.{reg}\("CLK0"\)', params), params
        assert re.search(r'\.REG_PIPELINE_CLK\("NONE"\)', params), params
