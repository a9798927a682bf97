"""``rtl.layer.Layer`` on its own, against the golden model of one layer.

An upstream slot buffer (written by the test, words of the previous layer's
lane count) feeds the layer; the test plays the next layer (reads every
activation word of a published slot, then releases it, after random delays)
and takes the results. At the end every weight, bias and counter is read
back through the access port.
"""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, signed
from amaranth.lib import data
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import (
    COUNTER_HIGH,
    COUNTERS,
    EU_FETCH_CYCLES,
    EU_PIPELINE_CYCLES,
    INFO,
    SPACE_B,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_W,
    WRITE_LATENCY,
    cycle_bound,
    read_latency,
    write_latency,
)
from lela.golden_model import counters as golden_counters
from lela.golden_model.layer import Token, layer_step
from lela.golden_model.network import classifier_matrices, initial_weights
from lela.golden_model.numerics import signed_range
from lela.rtl.layer import Layer, token_layout
from lela.rtl.slot_buffer import SlotBuffer


class _Harness(Elaboratable):
    """The layer behind an upstream slot buffer (the previous layer's, written by the test)."""

    def __init__(self, cfg, index):
        self.cfg = cfg
        self.layer = Layer(cfg, index=index)
        self.p_in = self.layer.lanes_in
        self.words = self.layer.in_words
        self.up = SlotBuffer(depth=self.words,
                             shape=data.ArrayLayout(signed(cfg.act_width), self.p_in),
                             token=token_layout(cfg))

    def elaborate(self, platform):
        m = Module()
        m.submodules.layer = layer = self.layer
        m.submodules.up = up = self.up
        m.d.comb += [up.i_addr.eq(layer.o_in_addr), layer.i_in_data.eq(up.o_data),
                     layer.i_full.eq(up.o_full), layer.i_token.eq(up.o_token),
                     up.i_release.eq(layer.o_release)]
        return m


def _golden(cfg, index, samples):
    """Per sample the twin's :class:`LayerStep`; the final (w, b); counter totals."""
    w, b = initial_weights(cfg)[index]
    m, k = classifier_matrices(cfg)[index]
    steps = []
    for x, label, train, ee, threshold, exited in samples:
        token = Token(label=label, train=bool(train), exit=cfg.layers - 1, early_exit=bool(ee),
                      threshold=threshold, exited=bool(exited))
        steps.append(layer_step(cfg, index, w, b, m, k, x, token))
        w, b = steps[-1].w, steps[-1].b
    counts = {name: sum(golden_counters.per_sample(cfg, index, s.mode)[name] for s in steps)
              for name in COUNTERS}
    return steps, (w, b), counts


async def _access(ctx, layer, space, idx, write=0, wdata=0):
    ctx.set(layer.acc.req, 1)
    ctx.set(layer.acc.space, space)
    ctx.set(layer.acc.index, idx)
    ctx.set(layer.acc.write, write)
    ctx.set(layer.acc.wdata, wdata)
    await ctx.tick()
    ctx.set(layer.acc.req, 0)
    while not ctx.get(layer.acc.done):
        await ctx.tick()
    result = ctx.get(layer.acc.rdata), ctx.get(layer.acc.error)
    await ctx.tick()
    return result


def _simulate(cfg, index, samples, seed, *, idle=True, backpressure=True):
    """Run the samples through the layer; ``idle``: random gaps before the
    producer fills a slot; ``backpressure``: the consumer keeps its slot for
    random times and the results are not always ready while the layer is idle."""
    hz = _Harness(cfg, index)
    layer, up = hz.layer, hz.up
    rng = np.random.default_rng(seed)
    G, P, n_in = layer.groups, layer.lanes, layer.n_in
    got_h, got_res = [], []
    readback = {}

    async def producer(ctx):
        if cfg.weight_memory == "single_port":
            # no initial contents: the initial weights go in through the access port
            w0, _ = initial_weights(cfg)[index]
            for i, v in enumerate(w0.reshape(-1)):
                _, err = await _access(ctx, layer, SPACE_W, i, 1, int(v) & 0xFFFFFFFF)
                assert not err, f"seed {seed}, layer {index}: loading W[{i}]"
        for x, label, train, ee, threshold, exited in samples:
            while not ctx.get(up.fill_free):
                await ctx.tick()
            for _ in range(int(rng.integers(0, 4)) if idle else 0):
                await ctx.tick()
            ctx.set(up.w_slot, ctx.get(up.fill_slot))
            for wd in range(hz.words):
                ctx.set(up.w_en, 1)
                ctx.set(up.w_addr, wd)
                ctx.set(up.w_data, [int(v) for v in x[wd * hz.p_in:(wd + 1) * hz.p_in]])
                await ctx.tick()
            ctx.set(up.w_en, 0)
            ctx.set(up.publish_token, {"label": label, "train": train, "early_exit": ee,
                                       "threshold": threshold, "exited": exited,
                                       "exit": cfg.layers - 1})
            ctx.set(up.publish, 1)
            await ctx.tick()
            ctx.set(up.publish, 0)

    async def consumer(ctx):
        for _ in samples:
            while not ctx.get(layer.o_full):
                await ctx.tick()
            tok = ctx.get(layer.o_token)
            words = []
            for gw in range(G):
                ctx.set(layer.i_out_addr, gw)
                await ctx.tick()
                words.extend(ctx.get(layer.o_out_data[p]) for p in range(P))
            got_h.append((np.array(words), tok.exited, tok.exit))
            for _ in range(int(rng.integers(0, 30)) if backpressure else 0):
                await ctx.tick()
            ctx.set(layer.i_release, 1)
            await ctx.tick()
            ctx.set(layer.i_release, 0)

    async def monitor(ctx):
        while len(got_res) < len(samples):
            # the top never lowers ready while the layer is busy (its FIFO has room)
            ready = ctx.get(layer.busy) or not backpressure or rng.random() < 0.5
            ctx.set(layer.o_result.ready, ready)
            if ctx.get(layer.o_result.valid):
                assert ready, f"seed {seed}, layer {index}: a result offered while not ready"
                r = ctx.get(layer.o_result.payload)
                got_res.append({"pred": r.pred, "label": r.label, "train": r.train,
                                "exit": r.exit, "digest": r.digest,
                                "scores": np.array([r.scores[c] for c in range(cfg.classes)])})
            await ctx.tick()
        # everything done: read back through the access port
        while ctx.get(layer.busy):
            await ctx.tick()

        async def access(*args):
            return await _access(ctx, layer, *args)

        n_out = layer.n_out
        readback["w"] = [await access(SPACE_W, i) for i in range(n_in * n_out)]
        readback["b"] = [await access(SPACE_B, j) for j in range(n_out)]
        readback["counters"] = []
        for c in range(len(COUNTERS)):
            (lo, e_lo), (hi, e_hi) = (await access(SPACE_COUNTERS, c),
                                      await access(SPACE_COUNTERS, COUNTER_HIGH + c))
            readback["counters"].append((hi << 32 | lo, e_lo | e_hi))
        readback["info"] = [await access(SPACE_INFO, i) for i in range(len(INFO) + 1)]
        readback["errors"] = [await access(*a) for a in (
            (SPACE_W, n_in * n_out), (SPACE_B, n_out), (SPACE_COUNTERS, len(COUNTERS)),
            (SPACE_COUNTERS, 0, 1, 5), (SPACE_INFO, 0, 1, 5), (5, 0))]
        # a write, read back, then restored
        readback["write"] = [await access(SPACE_W, 1, 1, 0xFFFF8000),
                             await access(SPACE_W, 1),
                             await access(SPACE_B, n_out - 1, 1, 0x7FFF),
                             await access(SPACE_B, n_out - 1)]

    sim = Simulator(hz)
    sim.add_clock(1e-6)
    sim.add_testbench(producer)
    sim.add_testbench(consumer)
    sim.add_testbench(monitor)
    sim.run()
    return got_h, got_res, readback


def _samples(cfg, index, rng, count, modes):
    n_in = cfg.sizes[index]
    lo, hi = signed_range(cfg.act_width)
    out = []
    for n in range(count):
        if n == 1:
            x = np.full(n_in, hi)                       # saturating input
        elif index == 0:
            x = rng.integers(lo, hi, size=n_in) >> int(rng.integers(0, 4))
        else:
            x = np.maximum(rng.integers(lo, hi, size=n_in), 0) >> int(rng.integers(0, 4))
        mode = modes[n % len(modes)]
        out.append((x.astype(np.int64), int(rng.integers(0, cfg.classes)), int(mode == "train"),
                    int(mode == "infer_ee"), int(rng.integers(0, 1 << cfg.act_frac)),
                    int(mode == "skip")))
    return out


def _sign(v, width):
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def _config(lanes, memory="dual_port", counters=True, classifier_lanes=(), read_register=True):
    return Config(sizes=(6, 8, 4), classes=3, lanes=lanes, m_seeds=(0x1234567, 0x89ABCDE),
                  k_seeds=(0x2468ACE, 0x13579BD), eta_shift=2, feedback="sign_concordant",
                  weight_memory=memory, counters=counters, classifier_lanes=classifier_lanes,
                  read_register=read_register)


_MODES = ["train", "train", "infer", "train", "skip", "infer_ee"]


@pytest.mark.parametrize("index, lanes, memory, counters, classifier, register", [
    (0, (2, 4), "dual_port", True, (), True), (1, (2, 4), "dual_port", True, (), True),
    (1, (4, 1), "dual_port", True, (), True), (0, (2, 4), "single_port", False, (), False),
    (1, (4, 1), "single_port", True, (), True), (1, (2, 4), "dual_port", False, (), False),
    # classifier lanes: all classes of one neuron, then two and four neurons per cycle
    (0, (2, 4), "dual_port", True, (3, 6), True), (1, (2, 4), "dual_port", True, (6, 6), False),
    (1, (4, 4), "single_port", True, (1, 12), True)])
def test_layer_against_the_model(index, lanes, memory, counters, classifier, register):
    seed = (500 + index * 10 + lanes[index] + 100 * (memory == "single_port") + 200 * counters
            + 1000 * sum(classifier) + 5000 * register)
    cfg = _config(lanes, memory, counters, classifier, register)
    samples = _samples(cfg, index, np.random.default_rng(seed), 9, _MODES)
    _check(cfg, index, samples, seed)


@pytest.mark.parametrize("register", [False, True])
def test_single_port_write_back_meets_a_late_error(register):
    """Single port: the next group's error becomes ready in the cycle that
    writes the group's last weight word back. Its first beat is issued then;
    the read port, idle the cycle before, has already read that beat's word
    and holds it, so the beat updates the right word."""
    # one lane, one classifier product per cycle: the error of a group takes
    # EU_FETCH_CYCLES + C + EU_PIPELINE_CYCLES cycles; choose C to meet the write
    n_in, beat = 4, 2
    write_back = 1 + 3 * register + WRITE_LATENCY     # issue -> write-back
    classes = beat * (n_in - 1) + write_back - EU_FETCH_CYCLES - EU_PIPELINE_CYCLES
    cfg = Config(sizes=(n_in, 8), classes=classes, lanes=(1,), m_seeds=(0x1234567,),
                 k_seeds=(0x2468ACE,), weight_memory="single_port", read_register=register)
    assert golden_counters.update_beat_cycles(cfg) == beat
    assert read_latency(cfg) + write_latency(cfg) == write_back
    d_group = EU_FETCH_CYCLES + golden_counters.classifier_cycles(cfg, 0) + EU_PIPELINE_CYCLES
    assert d_group == beat * (n_in - 1) + write_back, "the case this test is for"
    seed = 700 + register
    samples = _samples(cfg, 0, np.random.default_rng(seed), 6, _MODES)
    _check(cfg, 0, samples, seed)


@pytest.mark.parametrize("register", [False, True])
def test_update_groups_back_to_back(register):
    """The next group's errors are ready by the time the group's last update
    beat is issued, so its first beat follows at once: the last beat still
    multiplies with its own group's errors (which the layer holds until that
    beat's S1, ``read_latency`` cycles after its issue)."""
    cfg = Config(sizes=(8, 8), classes=3, lanes=(4,), classifier_lanes=(12,),
                 m_seeds=(0x1234567,), k_seeds=(0x2468ACE,), eta_shift=2,
                 read_register=register)
    d_group = EU_FETCH_CYCLES + golden_counters.classifier_cycles(cfg, 0) + EU_PIPELINE_CYCLES
    assert cfg.sizes[1] // cfg.lanes[0] > 1 and d_group <= cfg.sizes[0], "the case this test is for"
    seed = 710 + register
    samples = _samples(cfg, 0, np.random.default_rng(seed), 6, _MODES)
    _check(cfg, 0, samples, seed)


@pytest.mark.parametrize("idle, backpressure", [(0, 0), (1, 0), (0, 1), (1, 1)])
@pytest.mark.parametrize("classifier", [(), (3, 12)])
def test_layer_four_ways(idle, backpressure, classifier):
    """The same checks with the producer's gaps and the consumer's (and the
    results') backpressure on and off, with one classifier product per cycle
    and with several."""
    seed = 600 + 10 * idle + backpressure + sum(classifier)
    cfg = _config((2, 4), classifier_lanes=classifier)
    samples = _samples(cfg, 1, np.random.default_rng(seed), 8, _MODES)
    _check(cfg, 1, samples, seed, idle=bool(idle), backpressure=bool(backpressure))


def _check(cfg, index, samples, seed, **stalls):
    """Every activation, token and result equals the twin's; then every
    weight, bias, counter and information word read through the access port."""
    steps, (w_end, b_end), counts = _golden(cfg, index, samples)
    got_h, got_res, rb = _simulate(cfg, index, samples, seed, **stalls)
    assert len(got_res) == len(got_h) == len(samples), f"seed {seed}, layer {index}: count"
    for n, (step, (h_got, exited, exit_), r_got) in enumerate(zip(steps, got_h, got_res)):
        where = f"seed {seed}, sample {n}, layer {index}"
        if step.h is not None:
            np.testing.assert_array_equal(h_got, step.h, err_msg=f"{where}: activations")
        assert exit_ == step.token.exit, f"{where}: exit in the token"
        assert exited == step.token.exited, f"{where}: exited"
        r_exp = step.result()
        for key in ("pred", "label", "train", "exit", "digest"):
            assert r_got[key] == r_exp[key], f"{where}: {key} {r_got[key]} != {r_exp[key]}"
        np.testing.assert_array_equal(r_got["scores"], r_exp["scores"], err_msg=f"{where}: s")
    assert {s.mode for s in steps} == {"train", "infer", "skip"}, f"seed {seed}: modes"
    ww = cfg.weight_width
    w = np.array([_sign(v, 32) for v, e in rb["w"]]).reshape(w_end.shape)
    b = np.array([_sign(v, 32) for v, e in rb["b"]])
    assert not any(e for _, e in rb["w"] + rb["b"])
    np.testing.assert_array_equal(w, w_end, err_msg=f"seed {seed}, layer {index}: W readback")
    np.testing.assert_array_equal(b, b_end, err_msg=f"seed {seed}, layer {index}: b readback")
    for name, (value, error) in zip(COUNTERS, rb["counters"]):
        if cfg.counters:
            assert (value, error) == (counts[name], 0), f"seed {seed}, layer {index}: {name}"
        else:  # not built: every counter read is an access error and reads 0
            assert (value, error) == (0, 1), f"seed {seed}, layer {index}: {name} not built"
    layer_info = [cfg.sizes[index], cfg.sizes[index + 1], cfg.lanes[index], cfg.classes,
                  cfg.m_seeds[index], cfg.k_seeds[index], cfg.act_width, ww]
    assert [v for v, _ in rb["info"][:len(INFO)]] == layer_info
    assert [e for _, e in rb["info"]] == [0] * len(INFO) + [1]
    assert [e for _, e in rb["errors"]] == [1] * 6
    assert rb["write"] == [(0, 0), (0xFFFF8000, 0), (0, 0), (0x7FFF, 0)]


@pytest.mark.parametrize("p, ratio", [(1, 1.10), (2, 1.10), (4, 1.10), (8, 1.10), (16, 1.10),
                                      (32, 1.11), (64, 1.25)])
def test_busy_cycles_model_stays_near_the_bound(p, ratio):
    """Steady-state cost of a training sample of every layer of the default
    network stays within ``ratio`` of ``B`` (the slowest layer's
    ``2 N_in N_out / P``) for 1 to 64 lanes, with the classifier lanes chosen
    from the lanes (the model is pinned to the RTL by the counter checks
    above and by the bench's Verilator runs)."""
    cfg = Config(lanes=(p, p, p))
    bound = cycle_bound(cfg)
    steady = golden_counters.steady_cycles(cfg)   # the slowest layer's busy + hand-over
    assert steady <= ratio * bound, (p, steady, bound)
