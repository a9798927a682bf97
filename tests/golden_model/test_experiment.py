"""``lela experiment``: a tiny run end to end, its outputs, and its refusals."""

import json

import numpy as np
import pytest

from lela.cli import main
from lela.config import Config
from lela.data import load_digits
from lela.golden_model.experiment import ROWS, run_row, train_fixed_epoch
from lela.golden_model.network import FixedNetwork

TINY = ["--train-samples", "80", "--test-samples", "40", "--no-progress"]


def test_tiny_run_writes_json_markdown_and_png(tmp_path, capsys):
    paths = {k: tmp_path / f"out.{k}" for k in ("json", "md", "png")}
    rc = main(["experiment", "--epochs", "2", "--seeds", "2", *TINY,
               "--json", str(paths["json"]), "--markdown", str(paths["md"]),
               "--plot", str(paths["png"])])
    assert rc == 0
    res = json.loads(paths["json"].read_text())
    assert list(res["methods"]) == list(ROWS)
    assert (res["epochs"], res["seeds"], res["train_samples"], res["test_samples"]) == \
        (2, 2, 80, 40)
    assert Config.from_dict(res["config"]) == Config()
    for row, r in res["methods"].items():
        assert len(r["layers"]) == 3 and len(r["final"]) == 2, row
        assert np.array(r["curves"], dtype=float).shape == (2, 2, 3), row
        only_top = row in ("backprop", "fa")
        for j, stat in enumerate(r["layers"]):
            if only_top and j < 2:
                assert stat is None, f"{row}, layer {j}"
            else:
                assert 0.0 <= stat["mean"] <= 1.0 and stat["std"] >= 0.0, f"{row}, layer {j}"
                finals = [f[j] for f in r["final"]]
                assert stat["mean"] == pytest.approx(np.mean(finals)), f"{row}, layer {j}"
    md = paths["md"].read_text()
    assert "| method | layer 1 | layer 2 | layer 3 |" in md
    assert "| backprop | — | — |" in md
    assert md.count("\n| ") == 1 + len(ROWS)  # header and one line per row
    assert md.strip() in capsys.readouterr().out
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_methods_subset_and_batch(tmp_path):
    out = tmp_path / "r.json"
    rc = main(["experiment", "--epochs", "1", "--seeds", "1", "--batch", "8",
               "--methods", "backprop,local-symmetric", *TINY, "--json", str(out)])
    assert rc == 0
    res = json.loads(out.read_text())
    assert list(res["methods"]) == ["backprop", "local-symmetric"]
    assert res["batch"] == 8 and res["methods"]["local-symmetric"]["batch"] == 8


@pytest.mark.parametrize("argv, message", [
    (["--methods", "backprop,dfa"], "unknown method 'dfa'"),
    (["--loss", "cross_entropy"], "not 'cross_entropy'"),
    (["--sizes", "784,32"], "digits has 64 inputs"),
    (["--seeds", "0"], "--seeds must be >= 1, not 0"),
    (["--dataset", "no-such-dir"], "no-such-dir"),
])
def test_refusals_name_the_problem(argv, message, capsys):
    assert main(["experiment", "--epochs", "1", "--seeds", "1", *TINY, *argv]) == 2
    assert message in capsys.readouterr().err


def test_seed_changes_init_and_order_and_is_reproducible():
    data = load_digits().subset(100, 50)
    a, _, _ = run_row(Config(), data, "local-symmetric", 0, 2)
    b, _, _ = run_row(Config(), data, "local-symmetric", 0, 2)
    c, _, _ = run_row(Config(), data, "local-symmetric", 1, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_layerwise_schedule_runs_every_layer_in_turn():
    data = load_digits().subset(100, 50)
    for row in ("local-symmetric", "fixed-point"):
        layerwise, _, _ = run_row(Config(), data, row, 0, 1, schedule="layerwise")
        simultaneous, _, _ = run_row(Config(), data, row, 0, 3)
        assert layerwise.shape == simultaneous.shape == (3, 3), row
        assert not np.array_equal(layerwise, simultaneous), row


def test_layerwise_fixed_point_trains_only_the_active_layer():
    data = load_digits().subset(50, 10)
    net = FixedNetwork(Config())
    before = [w.copy() for w in net.w]
    train_fixed_epoch(net, net.quantize(data.x_train), data.y_train, range(50), active={1})
    for i in (0, 2):
        np.testing.assert_array_equal(net.w[i], before[i], err_msg=f"layer {i}")
    assert not np.array_equal(net.w[1], before[1])
    assert net.learn == [True] * 3   # restored after the pass
    # the same as every layer learning with layers 1 and 3 put back after each step
    ref, xq = FixedNetwork(Config()), net.quantize(data.x_train)
    for n in range(50):
        kept = [(ref.w[i], ref.b[i]) for i in (0, 2)]
        ref.train_step(xq[n], data.y_train[n])
        (ref.w[0], ref.b[0]), (ref.w[2], ref.b[2]) = kept
    for i in range(3):
        np.testing.assert_array_equal(net.w[i], ref.w[i], err_msg=f"layer {i}")
        np.testing.assert_array_equal(net.b[i], ref.b[i], err_msg=f"layer {i}")


def test_fixed_point_epoch_in_mini_batches_flushes_the_last():
    """10 samples in batches of 4: two full batches, and the last two applied
    by the flush at the end of the pass."""
    data = load_digits().subset(10, 10)
    cfg = Config(batch=4)
    net, ref = FixedNetwork(cfg), FixedNetwork(cfg)
    xq = net.quantize(data.x_train)
    order = np.random.default_rng(3).permutation(10)
    train_fixed_epoch(net, xq, data.y_train, order)
    assert net.pending == 0
    for n in order:
        ref.train_step(xq[n], data.y_train[n])
    assert ref.pending == 2
    ref.flush()
    for i in range(cfg.layers):
        np.testing.assert_array_equal(net.w[i], ref.w[i], err_msg=f"seed 3, layer {i}")
        np.testing.assert_array_equal(net.b[i], ref.b[i], err_msg=f"seed 3, layer {i}")
    # the flush moved them: without it the last two samples would be lost
    held = FixedNetwork(cfg)
    for n in order:
        held.train_step(xq[n], data.y_train[n])
    assert any(np.any(w != h) for w, h in zip(net.w, held.w)), "seed 3"
