"""The banked weight memory reads and writes as the single memory it replaces,
and its block RAM form (the ECP5's DP16KD, through lela's model) as its
portable form."""

import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from lela.rtl.banked_memory import BankedMemory, block_ram_words
from lela.rtl.ecp5 import SIMULATION_MODELS
from lela.sim.runner import run_testbench
from lela.tools import yosys_for_amaranth


class Pair:
    """A BankedMemory and a Memory of the same shape, driven alike."""

    def __init__(self, lanes, depth, banks, init, output_register, write_register):
        self.banked = BankedMemory(shape=signed(8), lanes=lanes, depth=depth, bank_depth=banks,
                                   init=init, output_register=output_register,
                                   write_register=write_register)
        self.memory = Memory(shape=data.ArrayLayout(signed(8), lanes), depth=depth, init=init)
        m = Module()
        m.submodules.banked, m.submodules.memory = self.banked, self.memory
        self.rd, self.wr = self.memory.read_port(), self.memory.write_port(granularity=1)
        # the write as it comes, or registered once more as the write register does
        self.w_addr, self.w_data, self.w_en = self.wr.addr, self.wr.data, self.wr.en
        if write_register:
            self.w_addr, self.w_data, self.w_en = (
                Signal.like(self.wr.addr), Signal.like(self.wr.data), Signal.like(self.wr.en))
            m.d.sync += [self.wr.addr.eq(self.w_addr), self.wr.data.eq(self.w_data),
                         self.wr.en.eq(self.w_en)]
        # the memory's read data registered once more, as the output register does
        self.data = self.rd.data
        if output_register:
            self.data = Signal.like(self.rd.data)
            m.d.sync += self.data.eq(self.rd.data)
        self.m = m


@pytest.mark.parametrize("output_register, write_register", [(False, False), (True, False),
                                                             (True, True)])
@pytest.mark.parametrize("lanes, depth, banks", [(3, 40, 8), (2, 37, 16), (1, 9, 4), (4, 16, 16)])
def test_reads_and_writes_as_one_memory(lanes, depth, banks, output_register, write_register):
    rng = np.random.default_rng(depth)
    init = rng.integers(-128, 128, size=(depth, lanes)).tolist()
    pair = Pair(lanes, depth, banks, init, output_register, write_register)
    b, rd = pair.banked, pair.rd
    cycles = 600

    async def bench(ctx):
        for cycle in range(cycles):
            r_addr, r_en = int(rng.integers(depth)), int(rng.integers(4) != 0)
            w_addr, w_en = int(rng.integers(depth)), int(rng.integers(1 << lanes))
            w_data = rng.integers(-128, 128, size=lanes).tolist()
            for port_addr, port_en in ((b.r_addr, b.r_en), (rd.addr, rd.en)):
                ctx.set(port_addr, r_addr)
                ctx.set(port_en, r_en)
            for addr, en, value in ((b.w_addr, b.w_en, b.w_data),
                                    (pair.w_addr, pair.w_en, pair.w_data)):
                ctx.set(addr, w_addr)
                ctx.set(en, w_en)
                ctx.set(value, w_data)
            await ctx.tick()
            got, want = list(ctx.get(b.r_data)), list(ctx.get(pair.data))
            assert got == want, (f"cycle {cycle}: read {r_addr} (en {r_en}) gave {got}, "
                                 f"the memory {want}")

    sim = Simulator(pair.m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert pair.banked.banks == -(-depth // banks)
    assert pair.banked.latency == 1 + output_register


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="bank_depth must be a power of two, not 12"):
        BankedMemory(shape=signed(8), lanes=2, depth=40, bank_depth=12)
    with pytest.raises(ValueError, match="init must have 4 words of 2 lanes"):
        BankedMemory(shape=signed(8), lanes=2, depth=4, bank_depth=2, init=[[0, 0]] * 3)
    with pytest.raises(ValueError, match="bank_depth must be 1024 with primitives = 'ecp5', not 512"):
        BankedMemory(shape=signed(8), lanes=2, depth=4000, bank_depth=512, primitives="ecp5")


def test_block_ram_words_per_primitive_set():
    assert block_ram_words("portable") is None
    assert block_ram_words("ecp5") == 1024
    with pytest.raises(ValueError, match="primitives must be one of"):
        block_ram_words("ice40")


class _Banks(wiring.Component):
    """The banked memory built from the ECP5's block RAMs and its portable
    form, side by side on the same ports."""

    def __init__(self, lanes, depth, init):
        self.args = lanes, depth, init
        layout = data.ArrayLayout(signed(16), lanes)
        super().__init__({"w_addr": In(range(depth)), "w_data": In(layout), "w_en": In(lanes),
                          "r_addr": In(range(depth)), "r_en": In(1),
                          "r_portable": Out(layout), "r_ecp5": Out(layout)})

    def elaborate(self, platform):
        m = Module()
        lanes, depth, init = self.args
        for name, primitives in (("portable", "portable"), ("ecp5", "ecp5")):
            m.submodules[name] = mem = BankedMemory(
                shape=signed(16), lanes=lanes, depth=depth, bank_depth=1024, init=init,
                output_register=True, write_register=True, primitives=primitives)
            m.d.comb += [mem.w_addr.eq(self.w_addr), mem.w_data.eq(self.w_data),
                         mem.w_en.eq(self.w_en), mem.r_addr.eq(self.r_addr),
                         mem.r_en.eq(self.r_en), getattr(self, f"r_{name}").eq(mem.r_data)]
        return m


def test_block_ram_banks_equal_the_portable_banks(sim, tmp_path):
    """Three banks of DP16KD per lane (2,500 words: the last bank partly
    used) with their output registers and registered writes, through lela's model of the
    primitive: the same read data as the portable form on every cycle of
    random writes (per lane), reads and read enables, from random contents."""
    lanes, depth, cycles = 2, 2500, 6000
    rng = np.random.default_rng(3)
    init = rng.integers(-(1 << 15), 1 << 15, size=(depth, lanes)).tolist()
    with yosys_for_amaranth():
        text = verilog.convert(_Banks(lanes, depth, init), name="banks", emit_src=False)
    assert text.count("DP16KD #(") == lanes * 3 and 'REGMODE_B("OUTREG")' in text
    (tmp_path / "banks.v").write_text(text)
    (tmp_path / "tb_banks.v").write_text(f"""`timescale 1ns/1ps
module tb_banks;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [31:0] rng = 32'd5;
  reg [11:0] w_addr = 0, r_addr = 0;
  reg [31:0] w_data = 0;
  reg [1:0] w_en = 0;
  reg r_en = 1'b1;
  wire [31:0] r_portable, r_ecp5;
  integer n = 0, nonzero = 0;
  banks dut(.clk(clk), .rst(1'b0), .w_addr(w_addr), .w_data(w_data), .w_en(w_en),
            .r_addr(r_addr), .r_en(r_en), .r_portable(r_portable), .r_ecp5(r_ecp5));
  always @(negedge clk) begin
    if (n > 1 && r_portable !== r_ecp5) begin
      $display("mismatch at cycle %0d: portable %h ecp5 %h", n, r_portable, r_ecp5);
      $fatal(1, "the block RAM banks differ from the portable banks");
    end
    if (r_ecp5 != 0) nonzero = nonzero + 1;
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    w_data = rng;
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    r_en = rng[0] | rng[1];
    r_addr = n < {depth} ? n : rng[13:2] % {depth};
    w_en = n < {depth} ? 2'd0 : rng[15:14];
    w_addr = rng[27:16] % {depth};
    n = n + 1;
    if (n == {cycles}) begin
      $display("checked %0d nonzero %0d", n, nonzero);
      $finish;
    end
  end
endmodule
""")
    out = run_testbench([*SIMULATION_MODELS, tmp_path / "banks.v", tmp_path / "tb_banks.v"],
                        "tb_banks", sim, tmp_path / "build")
    checked, nonzero = map(int, re.search(r"checked (\d+) nonzero (\d+)", out).groups())
    assert checked == cycles and nonzero > cycles * 0.9
