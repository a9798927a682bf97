"""``rtl.top.Network`` in Amaranth's simulator against ``golden_model.network.FixedNetwork``.

Digits samples stream in; every result beat (per-layer predictions, scores,
weight digests, exit layer) must equal the model's (``FixedNetwork.step``),
and at the end every weight and bias, read back through the access port, must
equal the model's.
"""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.config import Config, ConfigError
from lela.contract import (
    COUNTER_HIGH,
    COUNTERS,
    SPACE_B,
    SPACE_CONTROL,
    SPACE_COUNTERS,
    SPACE_W,
    access_address,
)
from lela.data import load_digits
from lela.golden_model import counters as golden_counters
from lela.golden_model.network import FixedNetwork, update_order
from lela.golden_model.numerics import signed_range
from lela.rtl.top import Network

SMALL = Config(sizes=(64, 16, 16), lanes=(4, 2), m_seeds=(0x1234567, 0x89ABCDE),
               k_seeds=(0x2468ACE, 0x13579BD), eta_shift=(5, 4))


class _Bench:
    """Drives a :class:`Network` in pysim: samples in, results out, access port."""

    def __init__(self, cfg, seed, *, idle=0.0, backpressure=0.0, trace=True):
        self.cfg, self.seed = cfg, seed
        self.dut = Network(cfg, trace=trace)
        self.rng = np.random.default_rng(seed)
        self.idle, self.backpressure = idle, backpressure
        self.results, self.out_cycles = [], []
        self.cycle = 0

    async def clock(self, ctx):
        async for _ in ctx.tick():
            self.cycle += 1

    async def feed(self, ctx, x, label, train):
        dut = self.dut
        n0 = len(x)
        for k in range(n0):
            while self.idle and self.rng.random() < self.idle:
                ctx.set(dut.i_sample.valid, 0)
                await ctx.tick()
            last = k == n0 - 1
            ctx.set(dut.i_sample.payload, {"x": int(x[k]), "label": int(label) if last else 0,
                                           "train": int(train) if last else 0})
            ctx.set(dut.i_sample.valid, 1)
            await ctx.tick().until(dut.i_sample.ready)
        ctx.set(dut.i_sample.valid, 0)

    async def monitor(self, ctx, count):
        """Record every result handshake (valid & ready at a clock edge)."""
        dut, cfg = self.dut, self.cfg
        trace = self.dut.trace
        while len(self.results) < count:
            _, _, valid, ready, payload = await ctx.tick().sample(
                dut.o_result.valid, dut.o_result.ready, dut.o_result.payload)
            if valid and ready:
                r = {"pred": [payload.pred[i] for i in range(cfg.layers)], "exit": payload.exit,
                     "label": payload.label, "train": payload.train}
                if trace:
                    r["scores"] = [np.array([payload.scores[i][c] for c in range(cfg.classes)])
                                   for i in range(cfg.layers)]
                    r["digest"] = [payload.digest[i] for i in range(cfg.layers)]
                self.results.append(r)
                self.out_cycles.append(self.cycle)

    async def consume(self, ctx, count):
        dut = self.dut
        while len(self.results) < count:
            ready = not (self.backpressure and self.rng.random() < self.backpressure)
            ctx.set(dut.o_result.ready, ready)
            await ctx.tick()

    async def access(self, ctx, addr, data=0, write=0):
        dut = self.dut
        ctx.set(dut.i_acc.payload, {"addr": addr, "data": data, "write": write})
        ctx.set(dut.i_acc.valid, 1)
        await ctx.tick().until(dut.i_acc.ready)
        ctx.set(dut.i_acc.valid, 0)
        ctx.set(dut.o_acc.ready, 1)
        (payload,) = await ctx.tick().sample(dut.o_acc.payload).until(dut.o_acc.valid)
        ctx.set(dut.o_acc.ready, 0)
        return payload.data, payload.error

    async def read_layer(self, ctx, i):
        cfg = self.cfg
        n_in, n_out = cfg.sizes[i], cfg.sizes[i + 1]
        ww = cfg.weight_width

        def sign(v):
            v &= (1 << ww) - 1
            return v - (1 << ww) if v >> (ww - 1) else v
        w, b = [], []
        for idx in range(n_in * n_out):
            v, err = await self.access(ctx, access_address(i, SPACE_W, idx))
            assert not err, f"seed {self.seed}, layer {i}: W[{idx}] read error"
            w.append(sign(v))
        for j in range(n_out):
            v, err = await self.access(ctx, access_address(i, SPACE_B, j))
            assert not err, f"seed {self.seed}, layer {i}: b[{j}] read error"
            b.append(sign(v))
        return np.array(w).reshape(n_out, n_in), np.array(b)

    async def read_counters(self, ctx):
        out = []
        for i in range(self.cfg.layers):
            row = {}
            for c, name in enumerate(COUNTERS):
                lo, e1 = await self.access(ctx, access_address(i, SPACE_COUNTERS, c))
                hi, e2 = await self.access(ctx, access_address(i, SPACE_COUNTERS, COUNTER_HIGH + c))
                assert not (e1 or e2)
                row[name] = hi << 32 | lo
            out.append(row)
        return out


def _compare(cfg, seed, n, got, exp):
    where = f"seed {seed}, sample {n}"
    for key in ("label", "train", "exit"):
        assert got[key] == exp[key], f"{where}: {key} is {got[key]}, model says {exp[key]}"
    for i in range(cfg.layers):
        assert got["pred"][i] == exp["pred"][i], f"{where}, layer {i}: prediction"
        if "scores" in got:
            np.testing.assert_array_equal(got["scores"][i], exp["scores"][i],
                                          err_msg=f"{where}, layer {i}: scores")
            assert got["digest"][i] == exp["digest"][i], f"{where}, layer {i}: weight digest"


def _run(bench, xs, labels, trains, *, early_exit=0, threshold=0, readback=True,
         counters=False, backdoor=False, learn=None):
    cfg, dut = bench.cfg, bench.dut
    model = FixedNetwork(cfg)
    if learn is not None:
        model.learn = list(learn)
    expected = [model.step(x, int(t), train=bool(tr), early_exit=early_exit,
                           threshold=threshold).result()
                for x, t, tr in zip(xs, labels, trains)]
    state = {}

    async def producer(ctx):
        ctx.set(dut.early_exit, early_exit)
        ctx.set(dut.threshold, threshold)
        if learn is not None:   # the control words, written before the first sample
            for i, on in enumerate(learn):
                assert await bench.access(ctx, access_address(i, SPACE_CONTROL), int(on), 1) \
                    == (0, 0), f"seed {bench.seed}, layer {i}: control write"
            state["learn"] = [await bench.access(ctx, access_address(i, SPACE_CONTROL))
                              for i in range(cfg.layers)]
        for x, t, tr in zip(xs, labels, trains):
            await bench.feed(ctx, x, t, tr)

    async def host(ctx):
        await bench.consume(ctx, len(xs))
        if readback:
            state["weights"] = [await bench.read_layer(ctx, i) for i in range(cfg.layers)]
        if counters:
            state["counters"] = await bench.read_counters(ctx)
        if backdoor:  # read the memories directly (no cycles)
            state["memories"] = []
            for layer in dut.layers:
                words = [ctx.get(layer.weights.data[a]) for a in range(layer.weights.depth)]
                w = np.array([[v[p] for p in range(layer.lanes)] for v in words]).reshape(-1)
                words = [ctx.get(layer.biases.data[a]) for a in range(layer.biases.depth)]
                b = np.array([[v[p] for p in range(layer.lanes)] for v in words]).reshape(-1)
                state["memories"].append((w, b))

    async def monitor(ctx):
        await bench.monitor(ctx, len(xs))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_process(bench.clock)
    sim.add_testbench(producer, background=True)
    sim.add_testbench(host)
    sim.add_testbench(monitor)
    sim.run()
    for n, (got, exp) in enumerate(zip(bench.results, expected)):
        _compare(cfg, bench.seed, n, got, exp)
    assert len(bench.results) == len(xs)
    if readback:
        for i, (w, b) in enumerate(state["weights"]):
            for name, got, want in (("W", w, model.w[i]), ("b", b, model.b[i])):
                if not np.array_equal(got, want):
                    idx = int(np.flatnonzero(got.reshape(-1) != want.reshape(-1))[0])
                    raise AssertionError(
                        f"seed {bench.seed}, layer {i}: {name} flat index {idx} is "
                        f"{got.reshape(-1)[idx]}, model says {want.reshape(-1)[idx]}")
    return model, state


def _digits(cfg, count, seed, offset=0):
    ds = load_digits()
    order = np.random.default_rng(seed).permutation(len(ds.y_train))[offset:offset + count]
    model = FixedNetwork(cfg)
    return model.quantize(ds.x_train[order]), ds.y_train[order]


@pytest.mark.parametrize("idle, backpressure", [(0.0, 0.0), (0.3, 0.5)])
def test_train_on_digits(idle, backpressure):
    """20 digits (12 with random idle cycles and backpressure), every result and
    at the end every weight and bias equal the model."""
    seed = 21 + int(idle * 10)
    count = 20 if idle == 0.0 else 12
    xs, labels = _digits(SMALL, count, seed)
    bench = _Bench(SMALL, seed, idle=idle, backpressure=backpressure)
    _, state = _run(bench, xs, labels, np.ones(len(xs), dtype=int), counters=idle == 0.0)
    if "counters" in state:
        exp = golden_counters.totals(SMALL, [golden_counters.layer_modes(SMALL, True)] * count)
        for i, (got, want) in enumerate(zip(state["counters"], exp)):
            assert got == want, f"seed {seed}, layer {i}: counters {got} != {want}"


def test_layer_learns_only_while_its_control_word_says_so():
    """Layer 1's ``learn`` cleared through the access port: training samples
    (early exit on, which they ignore) leave its weights alone and train layer
    2, bit-exact with the model; the counters count layer 1 as inferring."""
    seed, count = 47, 10
    xs, labels = _digits(SMALL, count, seed)
    bench = _Bench(SMALL, seed)
    model, state = _run(bench, xs, labels, np.ones(count, dtype=int), learn=(False, True),
                        early_exit=1, threshold=0, counters=True)
    assert state["learn"] == [(0, 0), (1, 0)], f"seed {seed}: control words read back"
    assert all(r["digest"][0] == 0 and r["digest"][1] != 0 and r["exit"] == 1
               for r in bench.results), f"seed {seed}: digests or exits"
    w0 = FixedNetwork(SMALL).w
    np.testing.assert_array_equal(model.w[0], w0[0], err_msg=f"seed {seed}: layer 1 learned")
    assert not np.array_equal(model.w[1], w0[1]), f"seed {seed}: layer 2 did not learn"
    exp = golden_counters.totals(SMALL, [golden_counters.layer_modes(
        SMALL, True, learn=(False, True))] * count)
    for i, (got, want) in enumerate(zip(state["counters"], exp)):
        assert got == want, f"seed {seed}, layer {i}: counters {got} != {want}"


def test_dropout_train_then_infer():
    """Dropout 1/2 in layer 1 and 1/4 in layer 2: 14 training samples (then
    every weight read back) and 6 inference samples, bit-exact with the model."""
    seed = 53
    cfg = SMALL.replace(dropout=(0.5, 0.25))
    xs, labels = _digits(cfg, 20, seed)
    bench = _Bench(cfg, seed, idle=0.2, backpressure=0.3)
    model, _ = _run(bench, xs, labels, np.array([1] * 14 + [0] * 6))
    assert all(d is not None for d in model.drop)


def test_early_exit_after_training():
    """Training samples, then inference samples with early exit: the answering
    layer, its prediction and the zeros of the skipped layers match the model."""
    seed = 33
    cfg = SMALL
    xs, labels = _digits(cfg, 20, seed)
    trains = np.array([1] * 12 + [0] * 8)
    threshold = 1 << (cfg.act_frac - 2)
    bench = _Bench(cfg, seed)
    _, state = _run(bench, xs, labels, trains, early_exit=1, threshold=threshold,
                        readback=False, counters=True)
    exits = [r["exit"] for r in bench.results[12:]]
    modes = [golden_counters.layer_modes(cfg, bool(t), r["exit"])
             for t, r in zip(trains, bench.results)]
    exp = golden_counters.totals(cfg, modes)
    for i, (got, want) in enumerate(zip(state["counters"], exp)):
        assert got == want, f"seed {seed}, layer {i}: counters {got} != {want}"
    assert len(set(exits)) > 1, f"seed {seed}: threshold {threshold} never varied the exit {exits}"


@pytest.mark.parametrize("idle, backpressure", [(0.0, 0.0), (0.4, 0.0), (0.0, 0.6), (0.4, 0.6)])
def test_extreme_values_without_trace(idle, backpressure):
    """Saturating inputs (all max, all min, alternating) on a trace-free build,
    under the four stream conditions: predictions, exits and every weight
    equal the model."""
    seed = 44 + int(10 * idle + 100 * backpressure)
    cfg = Config(sizes=(8, 4, 4), classes=3, lanes=(2, 4), m_seeds=(5, 6), k_seeds=(7, 8),
                 eta_shift=0, feedback="sign_concordant")
    lo, hi = signed_range(cfg.act_width)
    rng = np.random.default_rng(seed)
    xs = np.array([[hi] * 8, [lo] * 8, [hi, lo] * 4] * 2 + [rng.choice([lo, hi, 0], 8)
                                                            for _ in range(4)])
    labels = rng.integers(0, cfg.classes, len(xs))
    bench = _Bench(cfg, seed, trace=False, idle=idle, backpressure=backpressure)
    _run(bench, xs, labels, np.ones(len(xs), dtype=int))


def test_access_port_errors_and_stall():
    """Out-of-range layer, write to a read-only space: error and nothing
    changes; a request made while a sample is in flight waits for it."""
    seed = 55
    cfg = Config(sizes=(4, 4), classes=2, lanes=(2,), m_seeds=(5,), k_seeds=(7,))
    dut = Network(cfg)
    log = []

    async def tb(ctx):
        bench = _Bench.__new__(_Bench)
        bench.dut, bench.cfg, bench.seed = dut, cfg, seed
        log.append(await bench.access(ctx, access_address(1, SPACE_W, 0)))
        log.append(await bench.access(ctx, access_address(0, SPACE_COUNTERS, 0), 5, 1))
        log.append(await bench.access(ctx, access_address(0, 7, 0)))
        log.append(await bench.access(ctx, access_address(0, SPACE_W, 3), 0x1234, 1))
        log.append(await bench.access(ctx, access_address(0, SPACE_W, 3)))
        # a sample, then a request while it is in flight
        ctx.set(dut.o_result.ready, 1)
        for k in range(4):
            ctx.set(dut.i_sample.payload, {"x": 100 * k, "label": 1, "train": 1})
            ctx.set(dut.i_sample.valid, 1)
            await ctx.tick().until(dut.i_sample.ready)
        ctx.set(dut.i_sample.valid, 0)
        ctx.set(dut.i_acc.payload, {"addr": access_address(0, SPACE_B, 0), "data": 0, "write": 0})
        ctx.set(dut.i_acc.valid, 1)
        waited = 0
        while True:
            _, _, ready, busy = await ctx.tick().sample(dut.i_acc.ready, dut.layers[0].busy)
            if ready:
                break
            waited += 1
        assert not busy and waited > 20, f"access served after {waited} cycles, layer busy"
        ctx.set(dut.i_acc.valid, 0)
        ctx.set(dut.o_acc.ready, 1)
        await ctx.tick().until(dut.o_acc.valid)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert [e for _, e in log] == [1, 1, 1, 0, 0]
    assert log[4][0] == 0x1234


def test_unbuildable_configs_are_rejected():
    with pytest.raises(ConfigError, match=re.escape("act_width: the MAC lanes multiply signed "
                                                    "operands of at most 18 bits")):
        Network(Config(act_width=24, act_frac=12))
    with pytest.raises(ConfigError, match="loss"):
        Network(Config(loss="cross_entropy"))
    with pytest.raises(ConfigError, match="sizes: layer 1 has 2097152 weights"):
        Network(Config(sizes=(2048, 1024), lanes=(4,), m_seeds=(1,), k_seeds=(2,)))


def test_default_config_few_samples():
    """The default network on a few samples: results equal the model, and the
    weight memories (read directly) hold the model's weights in update order."""
    cfg = Config()
    seed = 66
    xs, labels = _digits(cfg, 3, seed)
    bench = _Bench(cfg, seed)
    model, state = _run(bench, xs, labels, np.ones(3, dtype=int), readback=False, backdoor=True)
    for i, (w, b) in enumerate(state["memories"]):
        np.testing.assert_array_equal(w, update_order(model.w[i], cfg.lanes[i]),
                                      err_msg=f"seed {seed}, layer {i}: weight memory")
        np.testing.assert_array_equal(b, model.b[i], err_msg=f"seed {seed}, layer {i}: biases")
    gaps = np.diff(bench.out_cycles)
    print(f"default config: cycles between results {gaps.tolist()}")
