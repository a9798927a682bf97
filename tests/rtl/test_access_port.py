"""``rtl.access_port.AccessPort`` driving a weight and a bias memory (wired as
the layer wires them) against ``AccessTwin``: random requests of every space,
in and out of range, reads and writes, with random gaps between them; every
response, its timing and at the end every memory word are compared."""

import re

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Mux, Signal, signed
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from lela.contract import (
    ACCESS_INDEX_BITS,
    CONTROL,
    CONTROL_RESET,
    COUNTER_HIGH,
    COUNTERS,
    INFO,
    SPACE_B,
    SPACE_CONTROL,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_W,
    bits,
)
from lela.rtl.access_port import ACCESS_CYCLES, AccessPort

MASK32 = (1 << 32) - 1


def _sign(v, width):
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


class AccessTwin:
    """The address map of one layer (lela.contract, docs/architecture.md)."""

    def __init__(self, w, b, counters, info, weight_width, control=True):
        self.w, self.b = w.copy(), b.copy()
        self.has_control = control
        self.counters, self.info, self.ww = counters, info, weight_width
        self.control = [CONTROL_RESET[name] for name in CONTROL]

    def access(self, write, space, index, wdata):
        n_out, n_in = self.w.shape
        if space == SPACE_W and index < n_in * n_out:
            j, k = divmod(index, n_in)
            if write:
                self.w[j, k] = _sign(wdata, self.ww)
                return 0, 0
            return int(self.w[j, k]) & MASK32, 0
        if space == SPACE_B and index < n_out:
            if write:
                self.b[index] = _sign(wdata, self.ww)
                return 0, 0
            return int(self.b[index]) & MASK32, 0
        if (space == SPACE_COUNTERS and self.counters is not None and not write
                and index < 2 * COUNTER_HIGH and index % COUNTER_HIGH < len(COUNTERS)):
            value = self.counters[index % COUNTER_HIGH]
            return (value >> 32 if index >= COUNTER_HIGH else value & MASK32), 0
        if space == SPACE_INFO and not write and index < len(INFO):
            return self.info[index], 0
        if space == SPACE_CONTROL and index < len(CONTROL) and self.has_control:
            if write:
                self.control[index] = wdata & 1
                return 0, 0
            return self.control[index], 0
        return 0, 1


class _Bench(Elaboratable):
    def __init__(self, n_in, n_out, lanes, ww, counters, w0, b0, info, register):
        # the layers without counters are also built without the control word
        self.port = AccessPort(n_in=n_in, n_out=n_out, lanes=lanes, weight_width=ww,
                               info=info, counters=counters, control=counters,
                               register_request=register)
        words = n_out // lanes
        shape = data.ArrayLayout(signed(ww), lanes)
        order = w0.reshape(words, lanes, n_in).transpose(0, 2, 1).reshape(words * n_in, lanes)
        self.weights = Memory(shape=shape, depth=words * n_in, init=order.tolist())
        self.biases = Memory(shape=shape, depth=words, init=b0.reshape(words, lanes).tolist())

    def elaborate(self, platform):
        m = Module()
        m.submodules.port = port = self.port
        m.submodules.weights = self.weights
        m.submodules.biases = self.biases
        for mem, addr, we in ((self.weights, port.word, port.we_w),
                              (self.biases, port.group, port.we_b)):
            rd, wr = mem.read_port(), mem.write_port(granularity=1)
            # the layer's address register follows the port's word while it is active
            raddr = Signal.like(addr)
            with m.If(port.active):
                m.d.sync += raddr.eq(addr)
            m.d.comb += [rd.addr.eq(raddr), wr.addr.eq(addr),
                         wr.data.eq(port.word_data), wr.en.eq(Mux(we, port.lane_en, 0))]
            # the layer registers the read data (its update unit's S2) on every cycle
            m.d.sync += (port.w_rdata if mem is self.weights else port.b_rdata).eq(rd.data)
        return m


@pytest.mark.parametrize("n_in, n_out, lanes, ww, counters", [
    (3, 4, 2, 5, True), (5, 3, 1, 16, False), (4, 8, 4, 12, True), (7, 12, 3, 9, True),
    (3, 12, 6, 8, True), (2, 16, 8, 10, False)])
@pytest.mark.parametrize("gaps", [0.0, 0.6])
@pytest.mark.parametrize("register", [False, True])
def test_requests_against_the_twin(n_in, n_out, lanes, ww, counters, gaps, register):
    seed = 990 + n_in + 10 * lanes + int(10 * gaps)
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (ww - 1)), (1 << (ww - 1)) - 1
    w0 = rng.integers(lo, hi + 1, size=(n_out, n_in))
    b0 = rng.integers(lo, hi + 1, size=n_out)
    values = [int(v) for v in rng.integers(0, 1 << 48, size=len(COUNTERS), dtype=np.uint64)]
    info = tuple(int(v) for v in rng.integers(0, 1 << 31, size=len(INFO)))
    bench = _Bench(n_in, n_out, lanes, ww, counters, w0, b0, info, register)
    twin = AccessTwin(w0, b0, values if counters else None, info, ww, control=counters)
    port = bench.port
    # a divisor that is not a power of two takes the serial decode: a cycle
    # per quotient bit of the group and of the lane, and one to finish
    serial = any(d & (d - 1) for d in (lanes * n_in, n_in, lanes))
    assert port.cycles == ACCESS_CYCLES + serial * (bits(n_out // lanes) + bits(lanes) + 1)
    limits = {SPACE_W: n_in * n_out, SPACE_B: n_out, SPACE_COUNTERS: 2 * COUNTER_HIGH,
              SPACE_INFO: len(INFO), SPACE_CONTROL: len(CONTROL)}
    log, learn_seen = [], []

    def request():
        space = int(rng.choice([SPACE_W, SPACE_B, SPACE_COUNTERS, SPACE_INFO, SPACE_CONTROL,
                                int(rng.integers(5, 16))], p=[0.3, 0.25, 0.2, 0.1, 0.1, 0.05]))
        limit = limits.get(space, 4)
        index = int(rng.integers(0, limit + 2)) if rng.random() < 0.9 else int(
            rng.integers(0, 1 << ACCESS_INDEX_BITS))
        write, wdata = int(rng.random() < 0.3), int(rng.integers(0, 1 << 32))
        if space == SPACE_CONTROL and rng.random() < 0.7:   # learn, flipped
            index, wdata = 0, wdata & ~1 | (1 - twin.control[0])
        return write, space, index, wdata

    def counters_read(ctx):   # the counters' read word, as Counters.r_data (comb)
        number = ctx.get(port.counter_index) % COUNTER_HIGH
        value = values[number] if number < len(COUNTERS) else 0
        ctx.set(port.counter_data, (value >> 32) if ctx.get(port.counter_index) >= COUNTER_HIGH
                else value & MASK32)

    async def tb(ctx):
        for n in range(160):
            while rng.random() < gaps:
                await ctx.tick()
            write, space, index, wdata = request()
            for name, value in (("write", write), ("space", space), ("index", index),
                                ("wdata", wdata)):
                ctx.set(getattr(port.acc, name), value)
            ctx.set(port.acc.req, 1)
            await ctx.tick()
            ctx.set(port.acc.req, 0)
            if register:   # the port took the request with req: new fields change nothing
                for name, value in zip(("write", "space", "index", "wdata"), request()):
                    ctx.set(getattr(port.acc, name), value)
            cycles, active = 1, 0
            while not ctx.get(port.acc.done):
                counters_read(ctx)
                active += ctx.get(port.active)
                await ctx.tick()
                cycles += 1
            active += ctx.get(port.active)
            got = (ctx.get(port.acc.rdata), ctx.get(port.acc.error))
            want = twin.access(write, space, index, wdata)
            where = f"seed {seed}, request {n} (write {write}, space {space}, index {index})"
            assert got == want, f"{where}: response {got}, twin {want}"
            assert cycles == port.cycles and active == port.cycles, f"{where}: {cycles} cycles"
            assert ctx.get(port.learn) == twin.control[CONTROL.index("learn")], f"{where}: learn"
            log.append(want[1])
            learn_seen.append(twin.control[0])
            await ctx.tick()
            assert not ctx.get(port.acc.done), f"{where}: done held"
        words = n_out // lanes
        w = [[ctx.get(bench.weights.data[g * n_in + k])[p] for k in range(n_in)]
             for g in range(words) for p in range(lanes)]
        b = [ctx.get(bench.biases.data[g])[p] for g in range(words) for p in range(lanes)]
        np.testing.assert_array_equal(np.array(w), twin.w, err_msg=f"seed {seed}: weights")
        np.testing.assert_array_equal(np.array(b), twin.b, err_msg=f"seed {seed}: biases")

    sim = Simulator(bench)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert 0 < sum(log) < len(log), f"seed {seed}: errors {sum(log)} of {len(log)}"
    assert not np.array_equal(twin.w, w0), f"seed {seed}: no weight was written"
    assert len(set(learn_seen)) == (2 if counters else 1), f"seed {seed}: learn {learn_seen}"


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("n_out must be a multiple of lanes (2), "
                                                   "not 3")):
        AccessPort(n_in=2, n_out=3, lanes=2, weight_width=8, info=(0,) * len(INFO),
                   counters=True)
    with pytest.raises(ValueError, match=re.escape(f"info must be {len(INFO)} integers")):
        AccessPort(n_in=2, n_out=2, lanes=2, weight_width=8, info=(1, 2), counters=True)
