"""The AXI wrapper ``lela_axi`` (lela.rtl.axi) driven by cocotbext-axi
(lela.sim.tb_axi): every result and, at the end, every weight and bias read
back through AXI4-Lite equal the fixed-point model's, under the four stall
combinations; malformed frames are dropped and counted and change nothing;
the error responses; the register map in the manifest."""

import numpy as np
import pytest

from lela.config import Config
from lela.contract import (
    AXI_OKAY,
    AXI_SLVERR,
    AXIL_DROPPED_FRAMES,
    AXIL_ID,
    AXIL_ID_VALUE,
    AXIL_REGISTERS,
    AXIS_RESULT_BITS,
    INFO,
    SPACE_B,
    SPACE_INFO,
    SPACE_W,
    axil_address_bits,
    axil_window,
    axil_window_address,
    label_bits,
)
from lela.data import load_digits
from lela.golden_model.network import FixedNetwork, initial_weights
from lela.sim.axi import check_weights, run_axi
from lela.sim.stream import Mismatch

SMALL = Config(sizes=(64, 16, 16), lanes=(4, 2), m_seeds=(0x1234567, 0x89ABCDE),
               k_seeds=(0x2468ACE, 0x13579BD), eta_shift=5)
#: probability of a pause on the sources (s_axis, AW, W, AR) and on the sinks
#: (m_axis, B, R) per cycle
CONDITIONS = {"plain": (0.0, 0.0), "input-pauses": (0.3, 0.0),
              "output-backpressure": (0.0, 0.5), "both": (0.3, 0.5)}
#: early exit on, at a margin of 0.125: of the inference digits below, some
#: exit at layer 0 and some go on
EARLY_EXIT = (1, 1 << (SMALL.act_frac - 3))
COUNT = 12


def digits(cfg, count, seed):
    """``count`` digits: the first two thirds training samples, the rest inference."""
    ds = load_digits()
    order = np.random.default_rng(seed).permutation(len(ds.y_train))[:count]
    train = np.array([1] * (count - count // 3) + [0] * (count // 3))
    return FixedNetwork(cfg).quantize(ds.x_train[order]), ds.y_train[order], train


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    return tmp_path_factory.mktemp("axi-builds")


@pytest.fixture(scope="module")
def runs():
    """Runs by (simulator, condition), so that the stalled ones can be timed
    against the plain one."""
    return {}


def _stalled(sim, condition, builds, runs):
    if (sim, condition) not in runs:
        p_in, p_out = CONDITIONS[condition]
        x, label, train = digits(SMALL, COUNT, seed=3)
        runs[sim, condition] = run_axi(SMALL, x, label, train, sim=sim, seed=17,
                                       input_pause=p_in, output_pause=p_out,
                                       early_exit=EARLY_EXIT, build_root=builds,
                                       name=condition)
    return runs[sim, condition]


@pytest.mark.parametrize("condition", CONDITIONS)
def test_axi_equals_the_model_under_stalls(sim, condition, builds, runs):
    """run_axi compares every result and every weight and bias read back with
    the model (it raises on the first difference); here: what else came back."""
    run = _stalled(sim, condition, builds, runs)
    r, results = run["result"], run["results"]
    assert r["id"] == AXIL_ID_VALUE
    assert r["control"] == list(EARLY_EXIT)
    for i in range(SMALL.layers):
        want = {"n_in": SMALL.sizes[i], "n_out": SMALL.sizes[i + 1], "lanes": SMALL.lanes[i],
                "classes": SMALL.classes, "m_seed": SMALL.m_seeds[i],
                "k_seed": SMALL.k_seeds[i], "act_width": SMALL.act_width,
                "weight_width": SMALL.weight_width}
        assert r["info"][i] == [want[name] for name in INFO], f"layer {i}"
    assert r["dropped"] == 0
    assert len(results) == COUNT
    assert [g["train"] for g in results] == [1] * 8 + [0] * 4
    assert {g["exit"] for g in results[8:]} == {0, 1}, "early exit not exercised"
    assert len(r["weights"][0]) == SMALL.sizes[0] * SMALL.sizes[1]
    if condition != "plain":
        assert r["cycles"] > _stalled(sim, "plain", builds, runs)["result"]["cycles"], \
            "the pauses cost no cycles: were they applied?"


def test_malformed_frames_are_dropped_counted_and_change_nothing(sim, builds):
    """Short, long, one-beat and double frames among the good ones: each is
    dropped and counted, and every good sample's result and the weights at
    the end still equal the model's, which sees only the good samples."""
    n0 = SMALL.sizes[0]
    x, label, train = digits(SMALL, 8, seed=5)
    malformed = [(0, n0 - 5), (2, n0 + 7), (2, 1), (5, 2 * n0), (8, n0 - 1)]
    run = run_axi(SMALL, x, label, train, sim=sim, seed=23, input_pause=0.2,
                  output_pause=0.3, malformed=malformed, build_root=builds, name="malformed")
    assert run["result"]["dropped"] == len(malformed)
    assert len(run["results"]) == len(label)


def test_error_responses_change_nothing(sim, builds):
    """SLVERR for a bad window address, a write to a read-only space or
    register, an unmapped register address and a partial window write; the
    samples after them still equal the model (nothing changed)."""
    win = lambda layer, space, index=0: axil_window_address(SMALL.layers, layer, space, index)
    n_w = SMALL.sizes[0] * SMALL.sizes[1]
    probes = {
        "W[0]": {"op": "read", "addr": win(0, SPACE_W, 0)},
        "bad space": {"op": "read", "addr": win(0, 5, 0)},
        "bad W index": {"op": "read", "addr": win(1, SPACE_W, SMALL.sizes[1] * SMALL.sizes[2])},
        "bad b index": {"op": "read", "addr": win(0, SPACE_B, SMALL.sizes[1])},
        "write INFO": {"op": "write", "addr": win(0, SPACE_INFO, 0), "data": 7},
        "partial W write": {"op": "write", "addr": win(0, SPACE_W, 0), "data": 0x1234,
                            "bytes": 2},
        "write ID": {"op": "write", "addr": AXIL_ID, "data": 0},
        "write DROPPED_FRAMES": {"op": "write", "addr": AXIL_DROPPED_FRAMES, "data": 9},
        "read unmapped": {"op": "read", "addr": 0x10},
        "write unmapped": {"op": "write", "addr": 0x100, "data": 1},
        "ID after": {"op": "read", "addr": AXIL_ID},
        "DROPPED_FRAMES after": {"op": "read", "addr": AXIL_DROPPED_FRAMES},
        "W[0] after": {"op": "read", "addr": win(0, SPACE_W, 0)},
        "last W": {"op": "read", "addr": win(0, SPACE_W, n_w - 1)},
    }
    x, label, train = digits(SMALL, 4, seed=6)
    run = run_axi(SMALL, x, label, train, sim=sim, seed=29, probes=list(probes.values()),
                  build_root=builds, name="errors")
    got = dict(zip(probes, (tuple(p) for p in run["result"]["probes"])))
    w0 = int(initial_weights(SMALL)[0][0].reshape(-1)[0]) & 0xFFFFFFFF
    assert got["W[0]"] == (AXI_OKAY, w0) and got["W[0] after"] == (AXI_OKAY, w0)
    assert got["last W"][0] == AXI_OKAY
    for name in ("bad space", "bad W index", "bad b index", "read unmapped"):
        assert got[name][0] == AXI_SLVERR, name
    for name in ("write INFO", "partial W write", "write ID", "write DROPPED_FRAMES",
                 "write unmapped"):
        assert got[name] == (AXI_SLVERR, None), name
    assert got["ID after"] == (AXI_OKAY, AXIL_ID_VALUE)
    assert got["DROPPED_FRAMES after"] == (AXI_OKAY, 0)


def test_manifest_has_the_register_map_and_the_stream_formats(sim, builds, runs):
    manifest = _stalled(sim, "plain", builds, runs)["manifest"]
    assert (manifest["top"], manifest["verilog"], manifest["bus"]) == \
        ("lela_axi", "lela_axi.v", "axi")
    ports = {p["name"]: (p["direction"], p["width"]) for p in manifest["ports"]}
    abits = axil_address_bits(SMALL.layers)
    assert ports["s_axil_awaddr"] == ports["s_axil_araddr"] == ("input", abits) == ("input", 28)
    assert ports["s_axis_tdata"] == ("input", 16)
    assert ports["s_axis_tuser"] == ("input", label_bits(SMALL.classes) + 1)
    assert ports["m_axis_tdata"] == ("output", AXIS_RESULT_BITS)
    assert ports["s_axil_rresp"] == ports["s_axil_bresp"] == ("output", 2)
    regs = manifest["register_map"]
    assert regs["window"] == axil_window(SMALL.layers) == 1 << 27
    assert regs["address_bits"] == abits
    assert {r["address"]: (r["name"], r["access"]) for r in regs["registers"]} == AXIL_REGISTERS
    assert regs["responses"] == {"okay": AXI_OKAY, "slverr": AXI_SLVERR}
    out = manifest["streams"]["m_axis"]
    assert out["words_per_result"] == -(-out["payload_width"] // AXIS_RESULT_BITS)
    assert set(out["payload"]["fields"]) == {"pred", "exit", "label", "train", "scores",
                                             "digest"}
    s_in = manifest["streams"]["s_axis"]
    assert s_in["beats_per_sample"] == SMALL.sizes[0]
    assert s_in["packet_fifo_depth"] == 128
    assert manifest["memories_bits"]["axi"]["packet_fifo"] == 128 * (16 + 4 + 1)


def test_a_differing_weight_names_seed_layer_and_index():
    model = FixedNetwork(SMALL)
    words = [[int(v) & 0xFFFFFFFF for v in w.reshape(-1)] for w in model.w]
    biases = [[int(v) & 0xFFFFFFFF for v in b] for b in model.b]
    check_weights(SMALL, words, biases, model, seed=4)
    words[1][37] ^= 1
    with pytest.raises(Mismatch, match=r"seed 4, after the last sample, layer 1: W index 37 is"):
        check_weights(SMALL, words, biases, model, seed=4)


def test_single_port_weights_are_loaded_through_the_window(sim, builds):
    """With ``weight_memory = "single_port"`` the memories have no initial
    contents: the testbench writes the initial weights and biases through the
    AXI4-Lite window first, then trains; every result and the weights read
    back at the end equal the model's (which starts from the same weights)."""
    cfg = SMALL.replace(weight_memory="single_port")
    x, label, train = digits(cfg, 6, seed=8)
    run = run_axi(cfg, x, label, train, sim=sim, seed=31, input_pause=0.3, output_pause=0.5,
                  build_root=builds, name="single-port")
    assert len(run["results"]) == len(label)
    assert run["result"]["dropped"] == 0
    # the model trained: the weights read back are not the initial ones
    assert any((w != w0).any() for w, (w0, _) in zip(run["model"].w, initial_weights(cfg)))
