"""``rtl.error_unit.ErrorUnit`` against ``golden_model.error_unit``, exactly."""

import re

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import data
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import EU_FETCH_CYCLES, EU_FINISH_CYCLES
from lela.golden_model import error_unit as golden
from lela.golden_model.network import classifier_matrices
from lela.golden_model.numerics import signed_range
from lela.rtl.error_unit import ErrorUnit


class _Harness(Elaboratable):
    """The unit with a one-slot activation buffer the test writes group by group."""

    def __init__(self, cfg, layer):
        self.eu = ErrorUnit.from_config(cfg, layer)
        self.P, self.G = cfg.lanes[layer], self.eu.groups
        self.word = data.ArrayLayout(self.eu.rd_data.shape().elem_shape, self.P)
        self.we = Signal()
        self.waddr = Signal(range(max(self.G, 2)))
        self.wdata = Signal(self.word)

    def elaborate(self, platform):
        m = Module()
        m.submodules.eu = eu = self.eu
        m.submodules.mem = mem = Memory(shape=self.word, depth=self.G, init=[])
        wp, rp = mem.write_port(), mem.read_port()
        m.d.comb += [wp.en.eq(self.we), wp.addr.eq(self.waddr), wp.data.eq(self.wdata),
                     rp.addr.eq(eu.rd_addr), eu.rd_data.eq(rp.data)]
        return m


def _run(cfg, layer, samples, seed, gap, take_delay):
    """Per sample (h, label, train): write h one group every ``gap`` cycles,
    run the scores pass, then (train) the error pass taking each d group after
    up to ``take_delay`` random cycles. Returns per sample
    (scores, pred, margin, d or None, cycles from last write to scores_done)."""
    hz = _Harness(cfg, layer)
    eu, P, G = hz.eu, hz.P, hz.G
    rng = np.random.default_rng(seed)
    out = []

    async def tb(ctx):
        for h, label, train in samples:
            ctx.set(eu.label, int(label))
            ctx.set(eu.groups_ready, 0)
            ctx.set(eu.start, 1)
            await ctx.tick()
            ctx.set(eu.start, 0)
            written, wait, last_write = 0, 0, None
            cycle = 0
            mults = 0
            while not ctx.get(eu.scores_done):
                ctx.set(hz.we, 0)
                if written < G and wait == 0:
                    ctx.set(hz.we, 1)
                    ctx.set(hz.waddr, written)
                    ctx.set(hz.wdata, [int(v) for v in h[written * P:(written + 1) * P]])
                    written += 1
                    wait = gap
                    last_write = cycle
                wait = max(wait - 1, 0)
                mults += ctx.get(eu.mult)
                await ctx.tick()
                cycle += 1
                ctx.set(eu.groups_ready, written)  # visible the cycle after the write
            ctx.set(hz.we, 0)
            assert mults * eu.classifier_lanes == cfg.classes * G * P
            res = [np.array([ctx.get(eu.scores[c]) for c in range(cfg.classes)]),
                   ctx.get(eu.pred), ctx.get(eu.margin), None, cycle - last_write]
            if train:
                ctx.set(eu.start_d, 1)
                await ctx.tick()
                ctx.set(eu.start_d, 0)
                d = []
                while len(d) < G * P:
                    if ctx.get(eu.d_valid):
                        for _ in range(int(rng.integers(0, take_delay + 1))):
                            await ctx.tick()
                        d.extend(ctx.get(eu.d[p]) for p in range(P))
                        ctx.set(eu.d_take, 1)
                        await ctx.tick()
                        ctx.set(eu.d_take, 0)
                    else:
                        await ctx.tick()
                res[3] = np.array(d)
            out.append(res)

    sim = Simulator(hz)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return out


def _samples(cfg, layer, rng, count):
    n = cfg.sizes[layer + 1]
    _, hi = signed_range(cfg.act_width)
    out = []
    for i in range(count):
        if i == 0:
            h = np.full(n, hi)            # saturates every score
        elif i == 1:
            h = rng.choice([0, hi, 1], size=n)
        elif i == 2:
            h = np.zeros(n, dtype=np.int64)  # all-equal scores: ties, d all zero
        else:
            h = np.maximum(rng.integers(-hi, hi, size=n) >> rng.integers(0, 6), 0)
        out.append((h.astype(np.int64), int(rng.integers(0, cfg.classes)), i != 3))
    return out


def _check(cfg, layer, samples, got, seed):
    m, k = classifier_matrices(cfg)[layer]
    for n, ((h, label, train), (s, pred, margin, d, _)) in enumerate(zip(samples, got)):
        where = f"seed {seed}, sample {n}, layer {layer}"
        s_exp = golden.scores(cfg, layer, m, h)
        np.testing.assert_array_equal(s, s_exp, err_msg=f"{where}: scores")
        assert pred == golden.prediction(s_exp), f"{where}: prediction"
        assert margin == golden.margin(s_exp), f"{where}: margin"
        if train:
            g = golden.loss_grad(cfg, s_exp, label)
            np.testing.assert_array_equal(d, golden.local_error(cfg, layer, k, g, h),
                                          err_msg=f"{where}: d")


@pytest.mark.parametrize("feedback, lanes, q, gap", [
    ("symmetric", 4, 1, 40), ("sign_concordant", 2, 1, 3), ("independent", 1, 1, 0),
    ("symmetric", 8, 1, 90),
    # Q classes of one neuron per cycle, then R whole neurons per cycle
    ("sign_concordant", 4, 2, 5), ("independent", 2, 5, 0), ("symmetric", 8, 10, 7),
    ("sign_concordant", 8, 20, 1), ("independent", 4, 40, 3), ("symmetric", 16, 160, 0),
])
def test_scores_and_errors(feedback, lanes, q, gap):
    seed = 300 + lanes + gap + q
    cfg = Config(sizes=(4, 16), lanes=(lanes,), m_seeds=(0x1A2B3C4D,), k_seeds=(0x0F1E2D3C,),
                 feedback=feedback, classifier_lanes=(q,))
    rng = np.random.default_rng(seed)
    samples = _samples(cfg, 0, rng, 5)
    got = _run(cfg, 0, samples, seed, gap, take_delay=6)
    _check(cfg, 0, samples, got, seed)


@pytest.mark.parametrize("q", [1, 13, 39])
def test_many_classes_and_wide_entries(q):
    seed = 17 + q
    cfg = Config(sizes=(4, 6), classes=13, lanes=(3,), m_bits=8, m_seeds=(5,), k_seeds=(6,),
                 feedback="sign_concordant", classifier_lanes=(q,))
    rng = np.random.default_rng(seed)
    samples = _samples(cfg, 0, rng, 4)
    _check(cfg, 0, samples, _run(cfg, 0, samples, seed, gap=1, take_delay=2), seed)


@pytest.mark.parametrize("q", [1, 5, 20])
def test_scores_latency(q):
    """When the classifier keeps up, the scores are final a fixed number of
    cycles after the last activation word is written."""
    cfg = Config(sizes=(4, 8), lanes=(2,), m_seeds=(1,), k_seeds=(2,), classifier_lanes=(q,))
    samples = _samples(cfg, 0, np.random.default_rng(0), 2)
    got = _run(cfg, 0, samples, 0, gap=40, take_delay=0)
    # write at w, visible at w+1, fetch w+1, entries w+2..w+1+P*C/Q, then the
    # finish: one class per cycle and its pipeline
    expected = (EU_FETCH_CYCLES + cfg.lanes[0] * cfg.classes // q + cfg.classes
                + EU_FINISH_CYCLES)
    assert [r[4] for r in got] == [expected] * 2


@pytest.mark.parametrize("kwargs, message", [
    ({"neurons": 6}, "neurons must be a multiple of lanes (4), not 6"),
    ({"classifier_lanes": 3}, ("classifier_lanes must be one of 1, 2, 5, 10, 20, 40 "
                               "(10 classes, 4 lanes), not 3")),
    ({"classifier_lanes": 30}, "not 30"),
])
def test_parameters_are_validated(kwargs, message):
    args = {"classes": 10, "neurons": 8, "lanes": 4, "act_width": 16, "act_frac": 12,
            "m_bits": 4, "m_seed": 1, "k_seed": 2, "feedback": "symmetric",
            "score_shift": 4} | kwargs
    with pytest.raises(ValueError, match=re.escape(message)):
        ErrorUnit(**args)
