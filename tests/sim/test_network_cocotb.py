"""cocotb testbenches of the generated Verilog, launched from pytest.

Every result of every sample (predictions, scores, weight digests) is compared
exactly with the fixed-point model inside the testbench (lela.sim.tb_network);
these tests choose the stimulus and the conditions.
"""

import numpy as np
import pytest

from lela.config import Config
from lela.data import load_digits
from lela.golden_model.network import FixedNetwork
from lela.sim.runner import build, run_job

DEFAULT = Config()
#: a small network for the tests that read every weight through the access
#: port; each layer with its own step (2**-5, 2**-4)
SMALL_DIGITS = Config(sizes=(64, 16, 16), lanes=(4, 2), m_seeds=(0x1234567, 0x89ABCDE),
                      k_seeds=(0x2468ACE, 0x13579BD), eta_shift=(5, 4))

#: the same network with several classifier products per cycle: layer 1 four
#: whole neurons per cycle (R = 4), layer 2 half a neuron's classes (Q_c = 5)
PARALLEL = SMALL_DIGITS.replace(classifier_lanes=(40, 5))

CONDITIONS = {"plain": (0.0, 0.0), "idle": (0.3, 0.0),
              "backpressure": (0.0, 0.5), "idle+backpressure": (0.3, 0.5)}


@pytest.fixture(scope="module")
def builds(waves):
    """``builds(cfg, sim) -> run(job, name)``: one build per parameter set."""
    cache = {}

    def get(cfg, sim):
        key = (cfg, sim)
        if key not in cache:
            cache[key] = build(cfg, sim, waves=waves)[:2]
        runner, bdir = cache[key]
        return lambda job, name: run_job(runner, bdir, job, name=name, waves=waves)
    return get


def digits_job(tmp_path, cfg, count, seed, **extra):
    ds = load_digits()
    model = FixedNetwork(cfg)
    order = np.random.default_rng(seed).permutation(len(ds.y_train))[:count]
    path = tmp_path / "data.npz"
    np.savez(path, x=model.quantize(ds.x_train[order]), label=ds.y_train[order],
             train=np.ones(len(order), np.int64))
    return dict({"config": cfg.to_dict(), "data": str(path), "seed": seed}, **extra)


@pytest.mark.parametrize("condition", CONDITIONS)
def test_train_epoch(sim, condition, builds, tmp_path):
    """One full epoch of digits on Verilator (3 samples on Icarus, ~3k cycles/s: one in
    every layer at once), every
    sample checked (scores, predictions, weight digests), under idle cycles
    and backpressure; one run reads every weight back at the end (a
    readback through the access port costs minutes on Icarus, where the
    small-config tests below do it)."""
    idle, bp = CONDITIONS[condition]
    count = None if sim == "verilator" else 3
    ds = load_digits()
    count = count or len(ds.y_train)
    seed = 11 + list(CONDITIONS).index(condition)
    job = digits_job(tmp_path, DEFAULT, count, seed, idle=idle, backpressure=bp,
                     readback=sim == "verilator" and condition == "plain")
    result = builds(DEFAULT, sim)(job, f"epoch-{condition}")
    assert result["samples"] == count


@pytest.mark.parametrize("condition", CONDITIONS)
def test_parallel_classifier(sim, condition, builds, tmp_path):
    """Training with the parallel classifier lanes, every sample checked, under
    idle cycles and backpressure; every weight read back (on Icarus, about
    3k cycles/s: 12 samples, and the readback in one condition)."""
    idle, bp = CONDITIONS[condition]
    seed = 31 + list(CONDITIONS).index(condition)
    count = 60 if sim == "verilator" else 12
    job = digits_job(tmp_path, PARALLEL, count, seed, idle=idle, backpressure=bp,
                     readback=sim == "verilator" or condition == "plain")
    result = builds(PARALLEL, sim)(job, f"parallel-{condition}")
    assert result["samples"] == count


def test_reset_mid_sample(sim, builds, tmp_path):
    """Reset in the middle of samples: the weights hold a prefix of one
    update, and training then continues bit-exact."""
    job = digits_job(tmp_path, SMALL_DIGITS, 40, 5, reset_at=[7, 16, 23, 30], readback=True,
                     idle=0.2, backpressure=0.2)
    result = builds(SMALL_DIGITS, sim)(job, "reset")
    assert len(result["reset_states"]) == 4 * SMALL_DIGITS.layers
    # the resets really interrupted an update in progress
    assert "partial update" in result["reset_states"], result["reset_states"]



def test_extreme_values(sim, builds, tmp_path):
    """Inputs and weights at the ends of their formats: every saturation point
    of the datapath is reached and must behave exactly as the model; the
    counters must equal the analytic model."""
    cfg = SMALL_DIGITS
    rng = np.random.default_rng(3)
    lo_a, hi_a = -(1 << (cfg.act_width - 1)), (1 << (cfg.act_width - 1)) - 1
    lo_w, hi_w = -(1 << (cfg.weight_width - 1)), (1 << (cfg.weight_width - 1)) - 1
    n = 24
    x = rng.choice([lo_a, hi_a, 0, 1, -1], size=(n, cfg.sizes[0]))
    x[::3] = hi_a  # all-maximum inputs drive the accumulators and scores to saturation
    weights = {}
    for i in range(cfg.layers):
        shape = (cfg.sizes[i + 1], cfg.sizes[i])
        weights[f"w{i}"] = rng.choice([lo_w, hi_w, lo_w + 1, hi_w - 1, 0], size=shape)
        weights[f"b{i}"] = rng.choice([lo_w, hi_w], size=shape[0])
    np.savez(tmp_path / "preload.npz", **weights)
    np.savez(tmp_path / "data.npz", x=x, label=rng.integers(0, cfg.classes, n),
             train=np.ones(n, np.int64))
    job = {"config": cfg.to_dict(), "data": str(tmp_path / "data.npz"), "seed": 3,
           "preload": str(tmp_path / "preload.npz"), "readback": True, "counters": True}
    result = builds(cfg, sim)(job, "extreme")
    # the datapath really saturated: the model's scores hit the format's ends
    model = FixedNetwork(cfg)
    for i in range(cfg.layers):
        model.w[i], model.b[i] = weights[f"w{i}"], weights[f"b{i}"]
    s = np.concatenate([t.s for xs in x for t in model.train_step(xs, 0)])
    assert s.max() == hi_a or s.min() == lo_a
    assert result["counters"] is not None


def test_early_exit_inference(sim, builds, tmp_path):
    """Inference samples with early exit after some training: the answering
    layer and its prediction equal the model's, for several thresholds."""
    cfg = SMALL_DIGITS
    ds = load_digits()
    model = FixedNetwork(cfg)
    n_train, n_test = 60, 40
    x = np.concatenate([model.quantize(ds.x_train[:n_train]), model.quantize(ds.x_test[:n_test])])
    label = np.concatenate([ds.y_train[:n_train], ds.y_test[:n_test]])
    train = np.concatenate([np.ones(n_train, np.int64), np.zeros(n_test, np.int64)])
    np.savez(tmp_path / "data.npz", x=x, label=label, train=train)
    run = builds(cfg, sim)
    exits = set()
    for threshold in (0, 1 << (cfg.act_frac - 1), 1 << (cfg.act_frac + 1)):
        job = {"config": cfg.to_dict(), "data": str(tmp_path / "data.npz"), "seed": 4,
               "early_exit": [1, threshold], "counters": True}
        result = run(job, f"exit-{threshold}")
        exits.update(result["exit"][n_train:])
    assert len(exits) > 1, "the thresholds chosen never made different layers answer"


def test_single_port_weights_without_counters(sim, builds, tmp_path):
    """The iCEBreaker's kind of build (single-port weight memory without
    initial contents, no counters, no read register, 12-bit formats) on a
    small network: the testbench writes the initial weights through the
    access port first, then every sample and every weight read back equal
    the model. (The layer tests cover the single port with the read
    register.)"""
    cfg = SMALL_DIGITS.replace(weight_memory="single_port", counters=False, act_width=12,
                               act_frac=8, weight_width=12, weight_frac=10,
                               read_register=False)
    count = 40 if sim == "verilator" else 6
    job = digits_job(tmp_path, cfg, count, 9, readback=True, idle=0.2, backpressure=0.2)
    result = builds(cfg, sim)(job, "single-port")
    assert result["samples"] == count and result["counters"] is None
