"""``lela train`` end to end on a few samples (Verilator)."""

import json

import pytest

from lela.cli import main
from lela.config import Config, ConfigError
from lela.contract import cycle_bound
from lela.data import load_digits
from lela.sim.train import train_rtl


def test_lela_train_reports_and_equals_the_model(tmp_path, capsys):
    out = tmp_path / "train.json"
    rc = main(["train", "--epochs", "1", "--train-samples", "24", "--test-samples", "16",
               "--no-progress", "--json", str(out)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["equal_to_model"] is True
    assert report["train_samples"] == 24 and report["test_samples"] == 16
    assert len(report["test_accuracy_rtl"]) == Config().layers
    assert report["cycle_bound"] == cycle_bound(Config()) == 8192
    # the schedule's overhead over the bound is small and fixed (docs/architecture.md)
    assert 1.0 <= report["ratio_to_bound"] < 1.1
    # weight words moved per training sample: forward reads, update reads and writes
    cfg = Config()
    weights = sum(cfg.sizes[i] * cfg.sizes[i + 1] for i in range(cfg.layers))
    assert report["counters_per_sample"]["weight_writes"] == [
        cfg.sizes[i] * cfg.sizes[i + 1] for i in range(cfg.layers)]
    assert report["weight_words_per_sample"] == 3 * weights
    text = capsys.readouterr().out
    assert "per-layer test accuracy (RTL)" in text and "accuracies equal" in text


def test_train_rejects_a_dataset_of_the_wrong_width():
    ds = load_digits().subset(4, 4)
    with pytest.raises(ConfigError, match=r"sizes: digits has 64 inputs but sizes\[0\] is 16"):
        train_rtl(Config(sizes=(16, 8), lanes=(1,), m_seeds=(3,), k_seeds=(4,)), ds, epochs=1)
