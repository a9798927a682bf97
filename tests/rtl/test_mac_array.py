"""``rtl.mac_array.MacArray`` against ``golden_model.mac_array.forward``, exactly."""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import FORWARD_LATENCY, PRODUCT_LATENCY, bias_activation, forward_acc_width
from lela.golden_model import mac_array as golden
from lela.golden_model.numerics import signed_range
from lela.rtl.mac_array import OP_FORWARD, OP_UPDATE, MacArray


def _mac(cfg, layer, hold):
    """The MAC array of ``cfg``'s layer in either form (``from_config`` picks
    the hold form for ECP5 primitives, which pysim cannot run)."""
    return MacArray(lanes=cfg.lanes[layer], n_in=cfg.sizes[layer], act_width=cfg.act_width,
                    weight_width=cfg.weight_width, weight_frac=cfg.weight_frac, hold=hold)


def _stream(cfg, layer, jobs, gaps_seed=None, hold=False):
    """Feed ``jobs`` (list of (w, b, h, d)) back to back through the array as
    the layer does: forward beats of every group, each group's bias beat (the
    bias word times 1.0) last, then update beats (products only).

    Returns per job the activations (N_out,) and the update products
    (N_out, N_in + 1: the bias beat's last), both collected at the documented
    latencies.
    """
    dut = _mac(cfg, layer, hold)
    P, beats_per_group = cfg.lanes[layer], cfg.sizes[layer] + 1
    beats = []  # (op, first, last, h, w word, d word, tag)
    for n, (w, b, h, d) in enumerate(jobs):
        n_out = w.shape[0]
        h_ext = np.append(h, bias_activation(cfg))
        w_ext = np.column_stack([w, b])
        for op, tag in ((OP_FORWARD, "f"), (OP_UPDATE, "u")):
            for g in range(n_out // P):
                lanes = slice(g * P, (g + 1) * P)
                for k in range(beats_per_group):
                    beats.append((op, k == 0, k == beats_per_group - 1, h_ext[k],
                                  w_ext[lanes, k], d[lanes], (tag, n, g, k)))
    rng = np.random.default_rng(gaps_seed) if gaps_seed is not None else None
    h_out, prods = [], []
    trail = {}  # cycle -> tag, to pick the outputs at fixed latencies

    async def tb(ctx):
        cycle, i = 0, 0
        while i < len(beats) or any(c >= cycle - FORWARD_LATENCY for c in trail):
            valid = i < len(beats) and (rng is None or rng.random() < 0.7)
            if valid:
                op, first, last, h, w, d, tag = beats[i]
                ctx.set(dut.op, op)
                ctx.set(dut.first, first)
                ctx.set(dut.last, last)
                ctx.set(dut.h, int(h))
                ctx.set(dut.w, [int(v) for v in w])
                ctx.set(dut.d, [int(v) for v in d])
                trail[cycle] = tag
                i += 1
            ctx.set(dut.valid, valid)
            # the test drives S1 directly; the latencies count from S1
            tag = trail.get(cycle - PRODUCT_LATENCY)
            if tag is not None and tag[0] == "u":
                prods.append((tag, [ctx.get(dut.product[p]) for p in range(P)]))
            if ctx.get(dut.h_valid):
                h_out.append([ctx.get(dut.h_out[p]) for p in range(P)])
            tag = trail.get(cycle - FORWARD_LATENCY)
            assert ctx.get(dut.h_valid) == (tag is not None and tag[0] == "f"
                                            and tag[3] == beats_per_group - 1), f"cycle {cycle}"
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    out = []
    h_out = np.array(h_out, dtype=np.int64).reshape(len(jobs), -1)
    for n, (w, _, _, _) in enumerate(jobs):
        pr = np.zeros((w.shape[0], beats_per_group), dtype=np.int64)
        for (_, m, g, k), vals in prods:
            if m == n:
                pr[g * P:(g + 1) * P, k] = vals
        out.append((h_out[n], pr))
    return out


def _random_job(cfg, layer, rng, extreme=False):
    n_in, n_out = cfg.sizes[layer], cfg.sizes[layer + 1]
    lo_a, hi_a = signed_range(cfg.act_width)
    lo_w, hi_w = signed_range(cfg.weight_width)
    if extreme:
        w = rng.choice([lo_w, hi_w, 0, -1, 1], size=(n_out, n_in))
        b = rng.choice([lo_w, hi_w], size=n_out)
        h = rng.choice([lo_a, hi_a], size=n_in)
        d = rng.choice([lo_a, hi_a, 0], size=n_out)
    else:
        w = rng.integers(lo_w, hi_w, size=(n_out, n_in), endpoint=True) >> 4
        b = rng.integers(lo_w, hi_w, size=n_out, endpoint=True) >> 2
        h = np.maximum(rng.integers(lo_a, hi_a, size=n_in, endpoint=True) >> 2, 0)
        d = rng.integers(lo_a, hi_a, size=n_out, endpoint=True)
    return w, b, h, d


#: Both forms of the lanes: the accumulator restarted by a multiplexer, or held.
FORMS = pytest.mark.parametrize("hold", [False, True], ids=["mux", "hold"])


@FORMS
@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_forward_and_products(lanes, hold):
    seed = 40 + lanes
    cfg = Config(sizes=(12, 8), lanes=(lanes,), m_seeds=(1,), k_seeds=(2,))
    rng = np.random.default_rng(seed)
    jobs = [_random_job(cfg, 0, rng, extreme=n == 1) for n in range(3)]
    for n, ((h_got, p_got), (w, b, h, d)) in enumerate(zip(_stream(cfg, 0, jobs, hold=hold), jobs)):
        _, h_exp = golden.forward(cfg, w, b, h)
        np.testing.assert_array_equal(h_got, h_exp, err_msg=f"seed {seed}, job {n}: h")
        np.testing.assert_array_equal(p_got, np.outer(d, np.append(h, bias_activation(cfg))), err_msg=f"seed {seed}, job {n}: d*h")


@FORMS
def test_idle_cycles_between_beats(hold):
    seed = 7
    cfg = Config(sizes=(5, 6), lanes=(3,), m_seeds=(1,), k_seeds=(2,))
    rng = np.random.default_rng(seed)
    jobs = [_random_job(cfg, 0, rng, extreme=n == 0) for n in range(2)]
    for n, ((h_got, p_got), (w, b, h, d)) in enumerate(zip(_stream(cfg, 0, jobs, seed, hold), jobs)):
        np.testing.assert_array_equal(h_got, golden.forward(cfg, w, b, h)[1],
                                      err_msg=f"seed {seed}, job {n}")
        np.testing.assert_array_equal(p_got, np.outer(d, np.append(h, bias_activation(cfg))), err_msg=f"seed {seed}, job {n}")


@FORMS
def test_single_input_layer(hold):
    """n_in = 1: a group is one input beat and the bias beat."""
    seed = 9
    cfg = Config(sizes=(1, 4), lanes=(2,), m_seeds=(1,), k_seeds=(2,))
    rng = np.random.default_rng(seed)
    jobs = [_random_job(cfg, 0, rng, extreme=True) for _ in range(2)]
    for n, ((h_got, _), (w, b, h, d)) in enumerate(zip(_stream(cfg, 0, jobs, hold=hold), jobs)):
        np.testing.assert_array_equal(h_got, golden.forward(cfg, w, b, h)[1],
                                      err_msg=f"seed {seed}, job {n}")


def test_accumulator_width_is_the_contract_one():
    cfg = Config()
    for i in range(cfg.layers):
        unit = MacArray.from_config(cfg, i)
        unit._MustUse__silence = True  # built only to read a width
        assert unit.acc_width == forward_acc_width(cfg, i)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("lanes must be an integer >= 1, not 0")):
        MacArray(lanes=0, n_in=4, act_width=16, weight_width=16, weight_frac=14)
