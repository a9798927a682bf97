"""``rtl.slot_buffer.SlotBuffer`` against ``SlotTwin``, its cycle-by-cycle Python
twin, and as a stream: producer and consumer four ways (idle, backpressure)."""

import re

import numpy as np
import pytest
from amaranth.hdl import Value, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from lela.rtl.slot_buffer import SlotBuffer

TOKEN = data.StructLayout({"label": 3, "flag": 1, "value": 6})


def _word(width, lanes):
    return data.ArrayLayout(signed(width), lanes)


class SlotTwin:
    """The buffer's state after every clock edge (words and tokens as raw ints)."""

    def __init__(self, depth):
        self.depth = depth
        self.full, self.tokens = [0, 0], [0, 0]
        self.wr = self.rd = 0
        self.mem = [0] * (2 * depth)
        self.o_data = self.own_data = 0

    def outputs(self):
        return {"fill_slot": self.wr, "fill_free": 1 - self.full[self.wr],
                "o_full": self.full[self.rd], "o_token": self.tokens[self.rd],
                "o_data": self.o_data, "own_data": self.own_data,
                "occupied": int(any(self.full))}

    def step(self, i):
        d = self.depth
        # read ports see the memory before this edge's write
        self.o_data = self.mem[self.rd * d + i["i_addr"]]
        self.own_data = self.mem[i["w_slot"] * d + i["own_addr"]]
        if i["w_en"]:
            self.mem[i["w_slot"] * d + i["w_addr"]] = i["w_data"]
        if i["i_release"] and self.full[self.rd]:
            self.full[self.rd] = 0
            self.rd ^= 1
        if i["publish"]:
            self.full[i["w_slot"]] = 1
            self.tokens[i["w_slot"]] = i["publish_token"]
            self.wr = 1 - i["w_slot"]


def _raw(port):
    return Value.cast(port)


@pytest.mark.parametrize("depth, lanes", [(1, 1), (3, 2), (4, 4)])
def test_every_cycle_equals_the_twin(depth, lanes):
    """Free inputs every cycle (any order of writes, publishes and releases,
    including a release and a publish of the same slot): every output equals
    the twin's, cycle by cycle."""
    seed = 900 + 10 * depth + lanes
    rng = np.random.default_rng(seed)
    width = 7
    dut = SlotBuffer(depth=depth, shape=_word(width, lanes), token=TOKEN, own_read=True)
    twin = SlotTwin(depth)
    word_bits, token_bits = width * lanes, TOKEN.size
    cycles = 400

    async def tb(ctx):
        for cycle in range(cycles):
            for name, want in twin.outputs().items():
                got = ctx.get(_raw(getattr(dut, name)))
                assert got == want, f"seed {seed}, cycle {cycle}: {name} is {got}, twin {want}"
            inputs = {
                "w_slot": int(rng.integers(0, 2)), "w_en": int(rng.random() < 0.6),
                "w_addr": int(rng.integers(0, depth)),
                "w_data": int(rng.integers(0, 1 << word_bits)),
                "publish": int(rng.random() < 0.2),
                "publish_token": int(rng.integers(0, 1 << token_bits)),
                "i_addr": int(rng.integers(0, depth)), "i_release": int(rng.random() < 0.3),
                "own_addr": int(rng.integers(0, depth)),
            }
            for name, value in inputs.items():
                ctx.set(_raw(getattr(dut, name)), value)
            twin.step(inputs)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("idle, backpressure", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.6), (0.5, 0.6)])
def test_samples_pass_in_order(idle, backpressure):
    """A producer that fills a slot only when it is free (words in a random
    order, random idle cycles) and a consumer that reads every word and
    releases after random delays: every sample arrives once, in order, with
    its words and token; the producer reads back what it wrote."""
    seed = 950 + int(10 * idle) + int(100 * backpressure)
    rng = np.random.default_rng(seed)
    depth, lanes, width = 5, 3, 8
    dut = SlotBuffer(depth=depth, shape=_word(width, lanes), token=TOKEN, own_read=True)
    count = 14
    samples = [(rng.integers(-128, 128, size=(depth, lanes)).tolist(),
                {"label": int(rng.integers(0, 8)), "flag": n % 2, "value": n})
               for n in range(count)]
    got = []

    async def producer(ctx):
        for n, (words, token) in enumerate(samples):
            while not ctx.get(dut.fill_free):
                await ctx.tick()
            slot = ctx.get(dut.fill_slot)
            ctx.set(dut.w_slot, slot)
            for a in rng.permutation(depth):
                while rng.random() < idle:
                    ctx.set(dut.w_en, 0)
                    await ctx.tick()
                ctx.set(dut.w_en, 1)
                ctx.set(dut.w_addr, int(a))
                ctx.set(dut.w_data, words[a])
                await ctx.tick()
            ctx.set(dut.w_en, 0)
            for a in range(depth):   # the producer's own read port sees the slot it filled
                ctx.set(dut.own_addr, a)
                await ctx.tick()
                back = [ctx.get(dut.own_data[p]) for p in range(lanes)]
                assert back == words[a], f"seed {seed}, sample {n}, word {a}: read back {back}"
            ctx.set(dut.publish, 1)
            ctx.set(dut.publish_token, token)
            await ctx.tick()
            ctx.set(dut.publish, 0)
            assert ctx.get(dut.fill_slot) == 1 - slot, f"seed {seed}, sample {n}: fill_slot"

    async def consumer(ctx):
        while len(got) < count:
            while not ctx.get(dut.o_full):
                await ctx.tick()
            token = ctx.get(dut.o_token)
            words = []
            for a in range(depth):
                ctx.set(dut.i_addr, a)
                await ctx.tick()
                words.append([ctx.get(dut.o_data[p]) for p in range(lanes)])
                assert ctx.get(dut.o_full), f"seed {seed}, sample {len(got)}: slot lost"
                assert ctx.get(dut.o_token) == token, f"seed {seed}, sample {len(got)}: token"
            while rng.random() < backpressure:
                await ctx.tick()
            got.append((words, {"label": token.label, "flag": token.flag,
                                "value": token.value}))
            ctx.set(dut.i_release, 1)
            await ctx.tick()
            ctx.set(dut.i_release, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.run()
    assert len(got) == count, f"seed {seed}: {len(got)} samples of {count}"
    for n, (g, want) in enumerate(zip(got, samples)):
        assert g == want, f"seed {seed}, sample {n}: got {g}, sent {want}"


def test_without_own_read_port():
    dut = SlotBuffer(depth=4, shape=_word(8, 1), token=TOKEN)
    assert "own_addr" not in dut.signature.members and "own_data" not in dut.signature.members
    assert dut.memory_bits() == 2 * 4 * 8 and dut.depth == 4
    dut._MustUse__silence = dut.memory._MustUse__silence = True


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("depth must be an integer >= 1, not 0")):
        SlotBuffer(depth=0, shape=_word(8, 1), token=TOKEN)
    with pytest.raises(TypeError, match=re.escape("shape must be a data.ArrayLayout, not 8")):
        SlotBuffer(depth=2, shape=8, token=TOKEN)
