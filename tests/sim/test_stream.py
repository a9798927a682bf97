"""The streaming path (lela.sim.stream): the design fed from a file at the
simulator's own speed, every result compared with the fixed-point model
afterwards; the per-beat testbench keeps the mid-sample resets."""

import numpy as np
import pytest

from lela.config import Config
from lela.data import load_digits
from lela.golden_model.network import FixedNetwork
from lela.sim.runner import build_freerun, run_freerun
from lela.sim.stream import Mismatch, check_results, expected_results, read_results
from lela.sim.train import run_stream

SMALL = Config(sizes=(64, 16, 16), lanes=(4, 2), m_seeds=(0x1234567, 0x89ABCDE),
               k_seeds=(0x2468ACE, 0x13579BD), eta_shift=5)
#: idle and backpressure in 256ths of the cycles
CONDITIONS = {"plain": (0, 0), "idle": (80, 0), "backpressure": (0, 128),
              "idle+backpressure": (80, 128)}
QUIET = {"log": lambda *_: None}
#: the same network with dropout (1/4 in layer 1, 1/2 in layer 2), and the
#: control words ``learn`` changed twice: both layers learn, then layer 2
#: alone, then layer 1 alone
DROPOUT = SMALL.replace(dropout=(0.25, 0.5))
LEARN = [(40, [False, True]), (70, [True, False])]


def digits(cfg, count, seed, train=1):
    ds = load_digits()
    order = np.random.default_rng(seed).permutation(len(ds.y_train))[:count]
    return (FixedNetwork(cfg).quantize(ds.x_train[order]), ds.y_train[order],
            np.full(count, train, np.int64))


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    return tmp_path_factory.mktemp("stream-builds")


@pytest.mark.parametrize("condition", CONDITIONS)
def test_stream_equals_the_model_under_stalls(sim, condition, builds):
    """With dropout, and layers learning in turn (the testbench writes their
    control words while the stream pauses), every result (scores,
    predictions, weight digests) equals the model's with and without idle
    cycles and backpressure, and the stalls cost cycles."""
    idle, bp = CONDITIONS[condition]
    count = 100 if sim == "verilator" else 12
    learn = LEARN if sim == "verilator" else [(4, [False, True]), (8, [True, False])]
    x, label, train = digits(DROPOUT, count, seed=3)
    tests = count // 10
    train[-tests:] = 0   # inference at the end
    run = run_stream(DROPOUT, x, label, train, sim=sim, idle=idle, backpressure=bp, seed=5,
                     learn=learn, build_root=builds, name=condition, **QUIET)
    assert len(run["results"]) == count
    assert [r["pred"] for r in run["results"]] == run["model_pred"].tolist()
    # both layers learned in the first phase, layer 2 alone in the second,
    # layer 1 alone in the third
    (second, _), (third, _) = learn
    digest = [[bool(v) for v in r["digest"]] for r in run["results"]]
    assert digest[:second] == [[True, True]] * second
    assert digest[second:third] == [[False, True]] * (third - second)
    assert digest[third:count - tests] == [[True, False]] * (count - tests - third)
    if condition != "plain":
        # the same 12 samples with the same learning phases, without stalls
        plain = run_stream(DROPOUT, x[:12], label[:12], train[:12], sim=sim, seed=5,
                           learn=[(n, on) for n, on in learn if n < 12],
                           build_root=builds, name="plain-short", **QUIET)
        # stalls only delay: some of the first 12 results come out later (with
        # backpressure a result offered while ``ready`` is high is not delayed,
        # so one result alone may not show it)
        assert sum(run["cycles"][:12]) > sum(plain["cycles"][:12])


@pytest.mark.parametrize("condition", CONDITIONS)
def test_single_port_stream_loads_the_initial_weights_under_stalls(sim, condition, builds):
    """A single-port weight memory has no initial contents: the stream writes
    the model's initial weights through the access port before the first
    sample, and every result then equals the model's, with and without idle
    cycles and backpressure (counters read at a pause after the training)."""
    cfg = SMALL.replace(weight_memory="single_port")
    idle, bp = CONDITIONS[condition]
    count = 30 if sim == "verilator" else 6
    x, label, train = digits(cfg, count, seed=6)
    train[-count // 3:] = 0
    n_train = int(train.sum())
    run = run_stream(cfg, x, label, train, sim=sim, idle=idle, backpressure=bp, seed=7,
                     pause_at=n_train, build_root=builds, name=f"single-{condition}", **QUIET)
    assert [r["pred"] for r in run["results"]] == run["model_pred"].tolist()
    # the load itself is not counted as training: n_train updates of every weight
    writes = [row["weight_writes"] for row in run["result"]["counters_at"]]
    assert writes == [n_train * cfg.sizes[i] * cfg.sizes[i + 1] for i in range(cfg.layers)]


def test_stream_pause_reads_the_training_counters(builds):
    """With a pause after the training samples, the counters read there count
    only those (the inference samples after it write no weights)."""
    x, label, _ = digits(SMALL, 8, seed=4)
    train = np.array([1] * 5 + [0] * 3)
    run = run_stream(SMALL, x, label, train, pause_at=5, build_root=builds, name="pause",
                     **QUIET)
    writes = [row["weight_writes"] for row in run["result"]["counters_at"]]
    assert writes == [5 * SMALL.sizes[i] * SMALL.sizes[i + 1] for i in range(SMALL.layers)]
    assert [r["train"] for r in run["results"]] == train.tolist()


def test_stream_rejects_stall_probabilities_out_of_range(builds):
    x, label, train = digits(SMALL, 2, seed=4)
    with pytest.raises(ValueError, match=r"idle must be in \[0, 255\]"):
        run_stream(SMALL, x, label, train, idle=256, build_root=builds, **QUIET)


def test_a_differing_result_names_sample_layer_and_field():
    x, label, train = digits(SMALL, 3, seed=1)
    expected, _ = expected_results(SMALL, x, label, train)
    got = [dict(e, scores=[list(s) for s in e["scores"]]) for e in expected]
    check_results(SMALL, got, expected, seed=9)
    got[2]["scores"][1][7] += 1
    with pytest.raises(Mismatch, match=r"seed 9, sample 2, layer 1: score index 7 is"):
        check_results(SMALL, got, expected, seed=9)
    got[2]["scores"][1][7] -= 1
    got[1]["digest"] = [d ^ 1 for d in got[1]["digest"]]
    with pytest.raises(Mismatch, match=r"seed 9, sample 1, layer 0: weight digest"):
        check_results(SMALL, got, expected, seed=9)
    with pytest.raises(Mismatch, match=r"2 results for 3 samples"):
        check_results(SMALL, got[:2], expected, seed=9)


def test_freerun_binary_gives_the_cocotb_runs_results(builds, tmp_path):
    """The free-running executable (no cocotb, no Python) writes the same
    result lines as the streaming cocotb run of the same samples."""
    x, label, train = digits(SMALL, 20, seed=2)
    run = run_stream(SMALL, x, label, train, build_root=builds, name="same", **QUIET)
    exe, _, _ = build_freerun(SMALL, root=builds)
    run_freerun(exe, [f"+samples={run['samples_file']}",
                      f"+results={tmp_path / 'free.txt'}", "+count=20"])
    assert read_results(tmp_path / "free.txt") == read_results(run["results_file"])
    assert read_results(tmp_path / "free.txt")[1] == run["cycles"]
