"""The banked weight memory reads and writes as the single memory it replaces."""

import numpy as np
import pytest
from amaranth.hdl import Module, signed
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from lela.rtl.banked_memory import BankedMemory, bank_depth


class Pair:
    """A BankedMemory and a Memory of the same shape, driven alike."""

    def __init__(self, lanes, depth, banks, init):
        self.banked = BankedMemory(shape=signed(8), lanes=lanes, depth=depth, bank_depth=banks,
                                   init=init)
        self.memory = Memory(shape=data.ArrayLayout(signed(8), lanes), depth=depth, init=init)
        m = Module()
        m.submodules.banked, m.submodules.memory = self.banked, self.memory
        self.rd, self.wr = self.memory.read_port(), self.memory.write_port(granularity=1)
        self.m = m


@pytest.mark.parametrize("lanes, depth, banks", [(3, 40, 8), (2, 37, 16), (1, 9, 4), (4, 16, 16)])
def test_reads_and_writes_as_one_memory(lanes, depth, banks):
    rng = np.random.default_rng(depth)
    init = rng.integers(-128, 128, size=(depth, lanes)).tolist()
    pair = Pair(lanes, depth, banks, init)
    b, rd, wr = pair.banked, pair.rd, pair.wr
    cycles = 600

    async def bench(ctx):
        for cycle in range(cycles):
            r_addr, r_en = int(rng.integers(depth)), int(rng.integers(4) != 0)
            w_addr, w_en = int(rng.integers(depth)), int(rng.integers(1 << lanes))
            w_data = rng.integers(-128, 128, size=lanes).tolist()
            for port_addr, port_en in ((b.r_addr, b.r_en), (rd.addr, rd.en)):
                ctx.set(port_addr, r_addr)
                ctx.set(port_en, r_en)
            ctx.set(b.w_addr, w_addr)
            ctx.set(wr.addr, w_addr)
            ctx.set(b.w_en, w_en)
            ctx.set(wr.en, w_en)
            ctx.set(b.w_data, w_data)
            ctx.set(wr.data, w_data)
            await ctx.tick()
            got, want = list(ctx.get(b.r_data)), list(ctx.get(rd.data))
            assert got == want, (f"cycle {cycle}: read {r_addr} (en {r_en}) gave {got}, "
                                 f"the memory {want}")

    sim = Simulator(pair.m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert pair.banked.banks == -(-depth // banks)


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="bank_depth must be a power of two, not 12"):
        BankedMemory(shape=signed(8), lanes=2, depth=40, bank_depth=12)
    with pytest.raises(ValueError, match="init must have 4 words of 2 lanes"):
        BankedMemory(shape=signed(8), lanes=2, depth=4, bank_depth=2, init=[[0, 0]] * 3)


def test_bank_depth_per_primitive_set():
    assert bank_depth("portable") is None
    assert bank_depth("ecp5") == 1024
    with pytest.raises(ValueError, match="primitives must be one of"):
        bank_depth("ice40")
