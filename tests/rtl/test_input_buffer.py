"""``rtl.input_buffer.InputBuffer`` against its cycle-by-cycle Python twin, and as
a stream four ways (producer idle, consumer backpressure): every sample
reaches the first layer once, in order, with its token."""

import re

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.lib import data
from amaranth.sim import Simulator

from lela.config import Config
from lela.rtl.input_buffer import InputBuffer
from lela.rtl.layer import token_layout

from .test_slot_buffer import SlotTwin

CFG = Config(sizes=(5, 4, 4), classes=3, lanes=(2, 4), m_seeds=(1, 2), k_seeds=(3, 4))


class InputTwin:
    """The input buffer: a beat counter in front of a :class:`SlotTwin`."""

    def __init__(self, cfg):
        self.cfg, self.n0 = cfg, cfg.sizes[0]
        self.layout = data.Layout.cast(token_layout(cfg))
        self.slots = SlotTwin(self.n0)
        self.k = 0

    def outputs(self, enable):
        out = self.slots.outputs()
        return {"i_sample.ready": int(enable and out["fill_free"]), "o_full": out["o_full"],
                "o_token": out["o_token"], "o_data": out["o_data"],
                "busy": int(self.k != 0 or out["occupied"])}

    def step(self, i):
        ready = self.outputs(i["enable"])["i_sample.ready"]
        take = i["valid"] and ready
        last = take and self.k == self.n0 - 1
        token = self.layout.const({"label": i["label"], "train": i["train"],
                                   "early_exit": i["early_exit"], "threshold": i["threshold"],
                                   "exited": 0, "exit": self.cfg.layers - 1}).as_bits()
        mask = (1 << self.cfg.act_width) - 1
        self.slots.step({"w_slot": self.slots.wr, "w_en": take, "w_addr": self.k,
                         "w_data": i["x"] & mask, "publish": last, "publish_token": token,
                         "i_addr": i["i_addr"], "i_release": i["i_release"], "own_addr": 0})
        if take:
            self.k = 0 if last else self.k + 1


def _port(dut, name):
    obj = dut
    for part in name.split("."):
        obj = getattr(obj, part)
    return Value.cast(obj)


def test_every_cycle_equals_the_twin():
    """Free inputs every cycle: ready, busy and the slot interface equal the twin's."""
    seed = 960
    rng = np.random.default_rng(seed)
    dut = InputBuffer(CFG)
    twin = InputTwin(CFG)
    aw = CFG.act_width

    async def tb(ctx):
        for cycle in range(600):
            i = {"valid": int(rng.random() < 0.7), "enable": int(rng.random() < 0.8),
                 "x": int(rng.integers(-(1 << (aw - 1)), 1 << (aw - 1))),
                 "label": int(rng.integers(0, CFG.classes)), "train": int(rng.integers(0, 2)),
                 "early_exit": int(rng.integers(0, 2)),
                 "threshold": int(rng.integers(0, 1 << aw)),
                 "i_addr": int(rng.integers(0, CFG.sizes[0])),
                 "i_release": int(rng.random() < 0.15)}
            ctx.set(dut.i_sample.valid, i["valid"])
            ctx.set(dut.i_sample.payload, {"x": i["x"], "label": i["label"], "train": i["train"]})
            for name in ("enable", "early_exit", "threshold", "i_addr", "i_release"):
                ctx.set(getattr(dut, name), i[name])
            for name, want in twin.outputs(i["enable"]).items():
                got = ctx.get(_port(dut, name))
                assert got == want, f"seed {seed}, cycle {cycle}: {name} is {got}, twin {want}"
            twin.step(i)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


@pytest.mark.parametrize("idle, backpressure", [(0.0, 0.0), (0.5, 0.0), (0.0, 0.7), (0.5, 0.7)])
def test_samples_reach_the_first_layer(idle, backpressure):
    """Samples streamed in with random idle cycles (and ``enable`` low now
    and then, as while the top serves an access) reach the layer side in
    order, every input and the token (label and train of the last beat,
    threshold and early exit of its cycle) intact."""
    seed = 970 + int(10 * idle) + int(100 * backpressure)
    rng = np.random.default_rng(seed)
    dut = InputBuffer(CFG)
    n0, aw, count = CFG.sizes[0], CFG.act_width, 12
    sent = [(rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), size=n0).tolist(),
             int(rng.integers(0, CFG.classes)), n % 2, int(rng.integers(0, 2)),
             int(rng.integers(0, 1 << aw))) for n in range(count)]
    got = []

    async def producer(ctx):
        for x, label, train, early_exit, threshold in sent:
            for k in range(n0):
                while rng.random() < idle:
                    ctx.set(dut.i_sample.valid, 0)
                    await ctx.tick()
                last = k == n0 - 1
                ctx.set(dut.i_sample.payload, {"x": x[k], "label": label if last else 0,
                                               "train": train if last else 0})
                ctx.set(dut.early_exit, early_exit if last else 1 - early_exit)
                ctx.set(dut.threshold, threshold if last else 0)
                ctx.set(dut.i_sample.valid, 1)
                await ctx.tick().until(dut.i_sample.ready)
            ctx.set(dut.i_sample.valid, 0)

    async def enabler(ctx):
        while len(got) < count:
            ctx.set(dut.enable, int(rng.random() < 0.85))
            await ctx.tick()

    async def consumer(ctx):
        while len(got) < count:
            if not ctx.get(dut.o_full):
                await ctx.tick()
                continue
            tok = ctx.get(dut.o_token)
            x = []
            for k in range(n0):
                ctx.set(dut.i_addr, k)
                await ctx.tick()
                x.append(ctx.get(dut.o_data[0]))
            while rng.random() < backpressure:
                await ctx.tick()
            assert ctx.get(dut.busy), f"seed {seed}: not busy with a sample waiting"
            got.append((x, tok.label, tok.train, tok.early_exit, tok.threshold,
                        tok.exited, tok.exit))
            ctx.set(dut.i_release, 1)
            await ctx.tick()
            ctx.set(dut.i_release, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(enabler)
    sim.add_testbench(consumer)
    sim.run()
    for n, (g, s) in enumerate(zip(got, sent)):
        assert g == (*s, 0, CFG.layers - 1), f"seed {seed}, sample {n}: got {g}, sent {s}"
    assert len(got) == count


def test_memory_and_validation():
    buf = InputBuffer(CFG)
    assert buf.memory_bits() == {"inputs": 2 * CFG.sizes[0] * CFG.act_width}
    buf._MustUse__silence = buf.slots._MustUse__silence = True
    buf.slots.memory._MustUse__silence = True
    with pytest.raises(TypeError, match=re.escape("cfg must be a lela.config.Config, not 5")):
        InputBuffer(5)
