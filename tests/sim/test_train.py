"""``lela train`` end to end on a few samples (Verilator)."""

import json
from pathlib import Path

import pytest

from lela.cli import main
from lela.config import Config, ConfigError, config_file
from lela.contract import cycle_bound
from lela.data import load_digits
from lela.sim.train import train_rtl

#: The shipped configurations (lela/configs/*.toml).
SHIPPED = sorted(p.stem for p in config_file("default").parent.glob("*.toml"))
#: The original MNIST files beside the repository, for configurations of 784 inputs.
MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


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


@pytest.mark.parametrize("name", SHIPPED)
def test_lela_train_trains_every_shipped_configuration(name, tmp_path):
    """Every configuration that ships trains bit-exact through ``lela train``,
    those whose weight memories have no initial contents (single port: the
    iCEBreaker's) included: the stream writes the model's initial weights
    through the access port first."""
    cfg = Config.from_toml(config_file(name))
    if cfg.sizes[0] == load_digits().features:
        dataset = "digits"
    elif MNIST.is_dir():
        dataset = str(MNIST)
    else:
        pytest.skip(f"{name} has {cfg.sizes[0]} inputs: it needs the MNIST files beside the "
                    f"repository (../shared/data/mnist)")
    out = tmp_path / "train.json"
    rc = main(["train", "--config", str(config_file(name)), "--dataset", dataset,
               "--epochs", "1", "--train-samples", "6", "--test-samples", "3",
               "--no-progress", "--json", str(out), "--build-dir", str(tmp_path / "build")])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["equal_to_model"] is True
    assert report["config"] == cfg.to_dict()


def test_a_mismatch_is_one_line_and_exit_status_1(tmp_path, capsys, monkeypatch):
    """A design that differs from the model ends ``lela train`` with one line
    naming seed, sample, layer, quantity and both values (exit status 1);
    ``--debug`` raises it with its traceback."""
    from lela.sim import stream

    def flip(cfg, got, expected, *, seed=0):
        got[1]["scores"][0][3] += 1
        return check(cfg, got, expected, seed=seed)

    check = stream.check_results
    monkeypatch.setattr("lela.sim.train.check_results", flip)
    argv = ["train", "--sizes", "64,16", "--lanes", "4", "--epochs", "1", "--train-samples",
            "3", "--test-samples", "1", "--no-progress", "--build-dir", str(tmp_path)]
    assert main(argv) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("lela train: the design differs from the model: seed 0, "
                                "sample 1, layer 0: score index 3 is "), lines
    assert "model says" in lines[-1] and "Traceback" not in "\n".join(lines)
    with pytest.raises(stream.Mismatch, match=r"sample 1, layer 0: score index 3"):
        main(["--debug", *argv])
