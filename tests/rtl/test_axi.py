"""``rtl.axi``: the packet FIFO, and the AXI wrapper in Amaranth's simulator
(register writes with AW and W in either order, the error responses, samples
in and results out against the fixed-point model). The cocotbext-axi test of
the generated ``lela_axi`` is tests/sim/test_axi.py."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import (
    AXI_OKAY,
    AXI_SLVERR,
    AXIL_CONTROL,
    AXIL_DROPPED_FRAMES,
    AXIL_ID,
    AXIL_ID_VALUE,
    AXIL_THRESHOLD,
    AXIS_RESULT_BITS,
    INFO,
    SPACE_CONTROL,
    SPACE_INFO,
    SPACE_W,
    axil_window_address,
    label_bits,
    packet_fifo_depth,
)
from lela.golden_model.network import FixedNetwork
from lela.rtl.axi import AxiNetwork, PacketFIFO
from lela.rtl.top import network_result_layout

#: Bound on a simulation's cycles (a design that hangs fails, not the test run).
MAX_CYCLES = 20_000
TINY = Config(sizes=(4, 4), lanes=(2,), classes=4, m_seeds=(5,), k_seeds=(6,), eta_shift=3)


def _watchdog(finished):
    """A testbench that ends when ``finished()`` or after ``MAX_CYCLES``."""
    async def watchdog(ctx):
        for _ in range(MAX_CYCLES):
            if finished():
                return
            await ctx.tick()
    return watchdog


def _frames(rng, length, kinds):
    """Frames of random bytes: ``good`` (length beats), ``short``, ``long``."""
    sizes = {"good": length, "short": max(1, length - 1 - int(rng.integers(length - 1))),
             "long": length + 1 + int(rng.integers(3))}
    return [(kind, [int(v) for v in rng.integers(256, size=sizes[kind])]) for kind in kinds]


def _run_fifo(kinds, *, seed, idle=0.0, backpressure=0.0, length=4, depth=8):
    rng = np.random.default_rng(seed)
    frames = _frames(rng, length, kinds)
    dut = PacketFIFO(shape=8, length=length, depth=depth)
    out, committed_at, first_out = [], [], []
    state = {"cycle": 0}

    async def clock(ctx):
        async for _ in ctx.tick():
            state["cycle"] += 1

    async def producer(ctx):
        for kind, beats in frames:
            for k, v in enumerate(beats):
                while idle and rng.random() < idle:
                    ctx.set(dut.i_stream.valid, 0)
                    await ctx.tick()
                ctx.set(dut.i_stream.payload, {"data": v, "last": k == len(beats) - 1})
                ctx.set(dut.i_stream.valid, 1)
                await ctx.tick().until(dut.i_stream.ready)
            if kind == "good":
                committed_at.append(state["cycle"])
        ctx.set(dut.i_stream.valid, 0)

    async def consumer(ctx):
        want = sum(len(b) for kind, b in frames if kind == "good")
        while len(out) < want:
            ctx.set(dut.o_stream.ready, not (backpressure and rng.random() < backpressure))
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.o_stream.valid, dut.o_stream.ready, dut.o_stream.payload)
            if valid and ready:
                if len(out) % length == 0:
                    first_out.append(state["cycle"])
                out.append(payload)
        for _ in range(3 * length):        # nothing more comes out
            _, _, valid = await ctx.tick().sample(dut.o_stream.valid)
            assert not valid, f"seed {seed}: a beat after the last good frame"
        state["dropped"] = ctx.get(dut.dropped)
        state["end"] = state["cycle"]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(clock)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer, background=True)
    sim.add_testbench(_watchdog(lambda: "end" in state))
    sim.run()
    assert "end" in state, f"seed {seed}: the frames did not come out in {MAX_CYCLES} cycles"
    good = [v for kind, beats in frames if kind == "good" for v in beats]
    return frames, out, good, committed_at, first_out, state


@pytest.mark.parametrize("idle, backpressure", [(0.0, 0.0), (0.4, 0.0), (0.0, 0.5), (0.4, 0.5)])
def test_fifo_passes_good_frames_and_drops_malformed_ones(idle, backpressure):
    kinds = ["good", "short", "good", "long", "long", "good", "short", "good", "good"]
    seed = 7 + int(10 * idle) + int(100 * backpressure)
    _, out, good, committed_at, first_out, state = _run_fifo(
        kinds, seed=seed, idle=idle, backpressure=backpressure)
    assert out == good, f"seed {seed}: {out} != {good}"
    assert state["dropped"] == kinds.count("short") + kinds.count("long"), f"seed {seed}"
    # store and forward: no beat of a frame leaves before the frame's last beat came in
    for f, (done, first) in enumerate(zip(committed_at, first_out)):
        assert first > done, f"seed {seed}: good frame {f} left at {first}, complete at {done}"


def test_fifo_streams_back_to_back_frames_at_one_beat_per_cycle():
    """Depth 2 * length: a frame is written while the one before it is read,
    so good frames flow at the input's rate (one frame of latency)."""
    n, length = 6, 4
    _, out, good, _, _, state = _run_fifo(["good"] * n, seed=3, length=length, depth=8)
    assert out == good
    assert state["end"] <= n * length + length + 3 + 3 * length


def test_fifo_parameters_are_checked():
    with pytest.raises(ValueError, match=r"depth must be an integer >= 8, not 6"):
        PacketFIFO(shape=8, length=4, depth=6)
    with pytest.raises(ValueError, match=r"depth must be a power of two, not 12"):
        PacketFIFO(shape=8, length=4, depth=12)
    with pytest.raises(ValueError, match=r"length must be an integer >= 1, not 0"):
        PacketFIFO(shape=8, length=0, depth=8)
    assert packet_fifo_depth(4) == 8 and packet_fifo_depth(5) == 16 and packet_fifo_depth(64) == 128


class _Axi:
    """AXI4-Lite and AXI4-Stream handshakes with an :class:`AxiNetwork` in pysim."""

    def __init__(self, dut):
        self.dut = dut

    async def write(self, ctx, addr, value, *, strb=0xF, order="together", gap=2):
        """One AXI4-Lite write; ``order`` is ``together``, ``aw_first`` or ``w_first``
        (the other channel ``gap`` cycles later). Returns BRESP."""
        dut = self.dut
        aw = [(dut.s_axil_awaddr, addr), (dut.s_axil_awvalid, 1)]
        w = [(dut.s_axil_wdata, value), (dut.s_axil_wstrb, strb), (dut.s_axil_wvalid, 1)]
        first, second = {"together": (aw + w, []), "aw_first": (aw, w),
                         "w_first": (w, aw)}[order]
        for sig, v in first:
            ctx.set(sig, v)
        pending = {"aw": True, "w": True}
        for cycle in range(gap if second else 0):
            await self._write_tick(ctx, pending)
        for sig, v in second:
            ctx.set(sig, v)
        while pending["aw"] or pending["w"]:
            await self._write_tick(ctx, pending)
        ctx.set(dut.s_axil_bready, 1)
        (resp,) = await ctx.tick().sample(dut.s_axil_bresp).until(dut.s_axil_bvalid)
        ctx.set(dut.s_axil_bready, 0)
        return resp

    async def _write_tick(self, ctx, pending):
        dut = self.dut
        _, _, awv, awr, wv, wr = await ctx.tick().sample(
            dut.s_axil_awvalid, dut.s_axil_awready, dut.s_axil_wvalid, dut.s_axil_wready)
        if awv and awr:
            pending["aw"] = False
            ctx.set(dut.s_axil_awvalid, 0)
        if wv and wr:
            pending["w"] = False
            ctx.set(dut.s_axil_wvalid, 0)

    async def read(self, ctx, addr):
        """One AXI4-Lite read; returns ``(data, RRESP)``."""
        dut = self.dut
        ctx.set(dut.s_axil_araddr, addr)
        ctx.set(dut.s_axil_arvalid, 1)
        await ctx.tick().until(dut.s_axil_arready)
        ctx.set(dut.s_axil_arvalid, 0)
        ctx.set(dut.s_axil_rready, 1)
        data, resp = await ctx.tick().sample(dut.s_axil_rdata, dut.s_axil_rresp).until(
            dut.s_axil_rvalid)
        ctx.set(dut.s_axil_rready, 0)
        return data, resp

    async def send(self, ctx, beats, tuser):
        dut = self.dut
        for k, v in enumerate(beats):
            ctx.set(dut.s_axis_tdata, v)
            ctx.set(dut.s_axis_tlast, k == len(beats) - 1)
            ctx.set(dut.s_axis_tuser, tuser)
            ctx.set(dut.s_axis_tvalid, 1)
            await ctx.tick().until(dut.s_axis_tready)
        ctx.set(dut.s_axis_tvalid, 0)

    async def receive(self, ctx):
        """One result: the words up to ``tlast``, joined low word first."""
        dut = self.dut
        ctx.set(dut.m_axis_tready, 1)
        value, k = 0, 0
        while True:
            data, last = await ctx.tick().sample(dut.m_axis_tdata, dut.m_axis_tlast).until(
                dut.m_axis_tvalid)
            value |= data << (AXIS_RESULT_BITS * k)
            k += 1
            if last:
                return value, k


def _simulate(dut, bench):
    done = []

    async def bounded(ctx):
        await bench(ctx)
        done.append(True)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bounded, background=True)
    sim.add_testbench(_watchdog(lambda: done))
    sim.run()
    assert done, f"the testbench did not finish in {MAX_CYCLES} cycles"


def test_registers_take_aw_and_w_in_either_order_and_reject_what_they_must():
    dut = AxiNetwork(TINY)
    axi = _Axi(dut)
    seen = {}
    window = lambda space, index: axil_window_address(TINY.layers, 0, space, index)

    async def bench(ctx):
        for n, order in enumerate(("together", "aw_first", "w_first")):
            value = 0x123 + 0x111 * n
            assert await axi.write(ctx, AXIL_THRESHOLD, value, order=order) == AXI_OKAY, order
            assert await axi.read(ctx, AXIL_THRESHOLD) == (value, AXI_OKAY), order
            assert ctx.get(dut.core.threshold) == value, order
        # byte strobes on a control register: only byte 1 changes
        assert await axi.write(ctx, AXIL_THRESHOLD, 0xABCD, strb=0b0010) == AXI_OKAY
        seen["threshold"] = await axi.read(ctx, AXIL_THRESHOLD)
        assert await axi.write(ctx, AXIL_CONTROL, 1, order="w_first") == AXI_OKAY
        seen["control"] = (await axi.read(ctx, AXIL_CONTROL), ctx.get(dut.core.early_exit))
        seen["id"] = await axi.read(ctx, AXIL_ID)
        # read-only and unmapped addresses: SLVERR, nothing changes
        seen["ro"] = [await axi.write(ctx, AXIL_ID, 0), await axi.write(ctx, AXIL_DROPPED_FRAMES, 5),
                      await axi.write(ctx, 0x40, 1, order="aw_first"), await axi.read(ctx, 0x40)]
        seen["after_ro"] = [await axi.read(ctx, AXIL_ID), await axi.read(ctx, AXIL_DROPPED_FRAMES)]
        # the window: INFO words, a bad index, a write to a read-only space,
        # a partial write to a weight
        seen["info"] = [await axi.read(ctx, window(SPACE_INFO, n)) for n in range(len(INFO))]
        seen["bad_index"] = await axi.read(ctx, window(SPACE_INFO, len(INFO)))
        seen["info_write"] = await axi.write(ctx, window(SPACE_INFO, 0), 9)
        w0 = await axi.read(ctx, window(SPACE_W, 3))
        seen["partial"] = await axi.write(ctx, window(SPACE_W, 3), 0x55, strb=0b0001)
        seen["w_kept"] = (w0, await axi.read(ctx, window(SPACE_W, 3)))
        assert await axi.write(ctx, window(SPACE_W, 3), 0x55, order="aw_first") == AXI_OKAY
        seen["w_written"] = await axi.read(ctx, window(SPACE_W, 3))
        # the control word learn: 1 after reset, written 0, read back
        seen["learn"] = [await axi.read(ctx, window(SPACE_CONTROL, 0)),
                         await axi.write(ctx, window(SPACE_CONTROL, 0), 0),
                         await axi.read(ctx, window(SPACE_CONTROL, 0)),
                         await axi.read(ctx, window(SPACE_CONTROL, 1))]

    _simulate(dut, bench)
    assert seen["threshold"] == (0xAB45 & 0xFFFF, AXI_OKAY)   # 0x345 with byte 1 = 0xAB
    assert seen["control"] == ((1, AXI_OKAY), 1)
    assert seen["id"] == (AXIL_ID_VALUE, AXI_OKAY)
    assert seen["ro"] == [AXI_SLVERR, AXI_SLVERR, AXI_SLVERR, (0, AXI_SLVERR)]
    assert seen["after_ro"] == [(AXIL_ID_VALUE, AXI_OKAY), (0, AXI_OKAY)]
    info = {"n_in": 4, "n_out": 4, "lanes": 2, "classes": 4, "m_seed": 5, "k_seed": 6,
            "act_width": TINY.act_width, "weight_width": TINY.weight_width}
    assert seen["info"] == [(info[name], AXI_OKAY) for name in INFO]
    assert seen["bad_index"][1] == AXI_SLVERR and seen["info_write"] == AXI_SLVERR
    assert seen["partial"] == AXI_SLVERR
    assert seen["w_kept"][0] == seen["w_kept"][1] and seen["w_kept"][0][1] == AXI_OKAY
    assert seen["w_written"] == (0x55, AXI_OKAY)
    assert seen["learn"] == [(1, AXI_OKAY), AXI_OKAY, (0, AXI_OKAY), (0, AXI_SLVERR)]


def test_samples_in_results_out_equal_the_model():
    """Three frames (two training, one inference) and a short one between
    them: the result words, joined, are the model's result beats."""
    rng = np.random.default_rng(11)
    model = FixedNetwork(TINY)
    x = model.quantize(rng.uniform(-1, 1, size=(3, TINY.sizes[0])))
    labels, trains = [1, 3, 2], [1, 1, 0]
    mask = (1 << TINY.act_width) - 1
    lb = label_bits(TINY.classes)
    layout = network_result_layout(TINY)
    dut = AxiNetwork(TINY)
    axi = _Axi(dut)
    got = []

    async def bench(ctx):
        for n in range(3):
            if n == 1:
                await axi.send(ctx, [1, 2], 1 | 1 << lb)      # short: dropped
            await axi.send(ctx, [int(v) & mask for v in x[n]], labels[n] | trains[n] << lb)
        for _ in range(3):
            got.append(await axi.receive(ctx))
        got.append(await axi.read(ctx, AXIL_DROPPED_FRAMES))

    _simulate(dut, bench)
    assert got[-1] == (1, AXI_OKAY)
    for n, (value, words) in enumerate(got[:3]):
        assert words == -(-layout.size // AXIS_RESULT_BITS) == dut.result_words
        assert value >> layout.size == 0, "the padding of the last word is not zero"
        want = model.step(x[n], labels[n], train=bool(trains[n])).result()
        v = layout.from_bits(value)
        assert [int(v.pred[0]), int(v.label), int(v.train)] == \
            [want["pred"][0], want["label"], want["train"]], f"sample {n}"
        assert [int(v.scores[0][c]) for c in range(TINY.classes)] == \
            [int(s) for s in want["scores"][0]], f"sample {n}: scores"
        assert int(v.digest[0]) == want["digest"][0], f"sample {n}: digest"
