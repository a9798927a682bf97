"""``rtl.update_unit.UpdateUnit`` against ``golden_model.update_unit.update``
and ``golden_model.network.weight_digest``, exactly."""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import PRODUCT_LATENCY, WRITE_LATENCY, bias_activation
from lela.golden_model import update_unit as golden
from lela.golden_model.network import update_order, weight_digest
from lela.golden_model.numerics import signed_range
from lela.rtl.update_unit import UpdateUnit


def _run(cfg, jobs, idle_seed=None):
    """Stream update beats of every job (w, b, d, h) as the layer does: each
    group's input beats, then its bias beat (the bias word, the product
    ``d * 1.0``); S1 operands on one cycle, the product ``d*h``
    ``PRODUCT_LATENCY`` cycles later, as the MAC array delivers it; the new
    words come out ``write_latency`` cycles after S1 (with the product, or
    one cycle later with ``cfg.read_register``).
    Returns per job the written weights in write order, the biases and the digest."""
    n_in, n_out, P = cfg.sizes[0], cfg.sizes[1], cfg.lanes[0]
    dut = UpdateUnit.from_config(cfg, 0, product_width=2 * cfg.act_width)
    assert dut.write_latency == WRITE_LATENCY + cfg.read_register >= PRODUCT_LATENCY
    rng = np.random.default_rng(idle_seed) if idle_seed is not None else None
    one = bias_activation(cfg)
    results = []

    async def tb(ctx):
        for w, b, d, h in jobs:
            ctx.set(dut.clear, 1)
            await ctx.tick()
            ctx.set(dut.clear, 0)
            written, biases = [], [None] * (n_out // P)
            w_ext, h_ext = np.column_stack([w, b]), np.append(h, one)
            beats = [(g, k) for g in range(n_out // P) for k in range(n_in + 1)]
            # beats in flight, one entry per cycle since S1 (None: no beat);
            # the one PRODUCT_LATENCY cycles back has its product on
            # ``product`` now, the last one's words come out
            flight = [None] * dut.write_latency
            i = 0
            while i < len(beats) or any(flight):
                if flight[PRODUCT_LATENCY - 1] is not None:
                    ctx.set(dut.product, flight[PRODUCT_LATENCY - 1][1])
                if i < len(beats) and (rng is None or rng.random() < 0.7):
                    g, k = beats[i]
                    lanes = slice(g * P, (g + 1) * P)
                    ctx.set(dut.valid, 1)
                    ctx.set(dut.bias, k == n_in)
                    ctx.set(dut.w, [int(v) for v in w_ext[lanes, k]])
                    nxt = ((g, k), [int(v) for v in d[lanes] * h_ext[k]])
                    i += 1
                else:
                    ctx.set(dut.valid, 0)
                    nxt = None
                out = flight[-1]
                assert ctx.get(dut.w_valid) == (out is not None and out[0][1] < n_in)
                assert ctx.get(dut.b_valid) == (out is not None and out[0][1] == n_in)
                if ctx.get(dut.w_valid):
                    written.extend(ctx.get(dut.new[p]) for p in range(P))
                if ctx.get(dut.b_valid):
                    biases[out[0][0]] = [ctx.get(dut.new[p]) for p in range(P)]
                await ctx.tick()
                flight = [nxt] + flight[:-1]
            ctx.set(dut.valid, 0)
            results.append((np.array(written), np.concatenate(biases), ctx.get(dut.digest)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    return results


def _jobs(cfg, rng, count):
    n_in, n_out = cfg.sizes[0], cfg.sizes[1]
    lo_a, hi_a = signed_range(cfg.act_width)
    lo_w, hi_w = signed_range(cfg.weight_width)
    jobs = []
    for n in range(count):
        if n == 0:  # every saturation point: extreme weights, errors and inputs
            w = rng.choice([lo_w, hi_w, lo_w + 1, hi_w - 1, 0], size=(n_out, n_in))
            b = rng.choice([lo_w, hi_w, 0], size=n_out)
            d = rng.choice([lo_a, hi_a, 0, 1, -1], size=n_out)
            h = rng.choice([hi_a, 0, 1], size=n_in)
        else:
            w = rng.integers(lo_w, hi_w, size=(n_out, n_in), endpoint=True)
            b = rng.integers(lo_w, hi_w, size=n_out, endpoint=True)
            d = rng.integers(lo_a, hi_a, size=n_out, endpoint=True)
            h = np.maximum(rng.integers(lo_a, hi_a, size=n_in, endpoint=True), 0)
        jobs.append((w, b, d, h))
    return jobs


@pytest.mark.parametrize("lanes, eta_shift, idle", [(1, 7, False), (4, 7, True), (3, 0, False),
                                                    (2, 24, True)])
@pytest.mark.parametrize("register", [False, True], ids=["S3", "S4"])
def test_update_and_digest(lanes, eta_shift, idle, register):
    """The new words and the digest; with ``read_register`` the weights'
    difference is registered before its saturation (``register_difference``)."""
    seed = 100 + lanes * 10 + eta_shift + register
    cfg = Config(sizes=(5, 3 * lanes * (2 if lanes < 3 else 1)), lanes=(lanes,),
                 m_seeds=(1,), k_seeds=(2,), eta_shift=eta_shift, read_register=register)
    rng = np.random.default_rng(seed)
    jobs = _jobs(cfg, rng, 3)
    got = _run(cfg, jobs, idle_seed=seed if idle else None)
    for n, ((w, b, d, h), (written, biases, digest)) in enumerate(zip(jobs, got)):
        w_new, b_new = golden.update(cfg, 0, w, b, d, h)
        where = f"seed {seed}, job {n}"
        np.testing.assert_array_equal(written, update_order(w_new, lanes),
                                      err_msg=f"{where}: weights in write order")
        np.testing.assert_array_equal(biases, b_new, err_msg=f"{where}: biases")
        assert digest == weight_digest(w_new, b_new, lanes), f"{where}: digest"


def test_negative_shifts_are_left_shifts():
    """act_frac 0, weight_frac 14, eta 2**0: both shifts negative."""
    seed = 5
    cfg = Config(sizes=(4, 4), lanes=(2,), m_seeds=(1,), k_seeds=(2,), act_frac=0,
                 eta_shift=0)
    rng = np.random.default_rng(seed)
    jobs = _jobs(cfg, rng, 2)
    for n, ((w, b, d, h), (written, biases, digest)) in enumerate(zip(jobs, _run(cfg, jobs))):
        w_new, b_new = golden.update(cfg, 0, w, b, d, h)
        np.testing.assert_array_equal(written, update_order(w_new, 2),
                                      err_msg=f"seed {seed}, job {n}")
        np.testing.assert_array_equal(biases, b_new, err_msg=f"seed {seed}, job {n}")
        assert digest == weight_digest(w_new, b_new, 2)


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("n_out must be an integer >= 4, not 2")):
        UpdateUnit(lanes=4, n_out=2, act_frac=12, weight_width=16, weight_frac=14,
                   eta_shift=7, product_width=32)
