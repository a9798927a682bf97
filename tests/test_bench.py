"""The bench: its comparisons (raised with the difference named), and
``lela bench --quick`` end to end, every figure checked against the models."""

import json
import numbers
import subprocess
import sys

import numpy as np
import pytest

from lela.bench import SECTIONS, BenchMismatch, markdown
from lela.bench.accuracy import rtl_equals_fixed
from lela.bench.checks import check_counters, check_equal
from lela.bench.common import named_config
from lela.bench.early_exit import rtl_equals_model
from lela.bench.simulators import same_predictions
from lela.bench.utilisation import model_cycles
from lela.build import build_settings
from lela.cli import main
from lela.config import Config, config_file
from lela.contract import COUNTERS, cycle_bound
from lela.golden_model.counters import layer_modes, per_sample, steady_cycles, totals


# -- the comparisons, on doctored inputs (no simulation) ------------------------------
def test_check_equal_is_the_comparison():
    assert check_equal("s", "q", [1, 2, 3], np.array([1, 2, 3])) is True
    assert check_equal("s", "q", 7, 7) is True
    with pytest.raises(BenchMismatch, match=r"^s: q: got has shape \(2,\), expected \(3,\)$"):
        check_equal("s", "q", [1, 2], [1, 2, 3])
    with pytest.raises(BenchMismatch, match=r"^s: q: RTL 10, model 9$"):
        check_equal("s", "q", 10, 9, got_name="RTL", want_name="model")


def test_checks_survive_python_O():
    # no bare assert: under -O a difference still stops the run
    code = "from lela.bench.checks import check_equal; check_equal('s', 'q', 1, 2)"
    run = subprocess.run([sys.executable, "-O", "-c", code], check=False, capture_output=True,
                         text=True)
    assert run.returncode != 0
    assert "BenchMismatch: s: q: got 1, expected 2" in run.stderr


def test_counter_mismatch_names_layer_counter_and_both_values():
    cfg = Config()
    samples = [layer_modes(cfg, True)] * 3
    counters = totals(cfg, samples)
    assert check_counters(cfg, counters, samples, "utilisation test") is True
    want = counters[1]["weight_writes"]
    counters[1]["weight_writes"] += 1
    with pytest.raises(BenchMismatch) as e:
        check_counters(cfg, counters, samples, "utilisation test")
    assert str(e.value) == (f"utilisation test, layer 2: counter weight_writes is {want + 1} "
                            f"(hardware), golden_model.counters says {want}")


def test_simulator_prediction_mismatch_names_sample_and_layer():
    pysim = np.array([[1, 2, 3], [4, 5, 6]])
    assert same_predictions("icarus", [[1, 2, 3], [4, 5, 6], [7, 8, 9]], pysim) is True
    with pytest.raises(BenchMismatch) as e:
        same_predictions("icarus", [[1, 2, 3], [4, 0, 6]], pysim)
    assert str(e.value) == ("simulators: per-layer predictions: icarus 0, amaranth pysim 5 "
                            "at (sample, layer) (1, 1)")
    with pytest.raises(BenchMismatch, match="icarus has shape"):
        same_predictions("icarus", [[1, 2, 3]], pysim)   # fewer results than pysim's


def test_rtl_accuracy_mismatch_names_the_layer():
    n = 60
    rtl = {"test_accuracy_rtl": [1 - 12 / n, 1 - 9 / n], "test_accuracy_model": None}
    rtl["test_accuracy_model"] = list(rtl["test_accuracy_rtl"])
    assert rtl_equals_fixed(rtl, [12 / n, 9 / n], n) is True
    with pytest.raises(BenchMismatch) as e:
        rtl_equals_fixed(rtl, [12 / n, 10 / n], n)
    assert str(e.value) == ("accuracy (RTL, Verilator): misclassified test samples per layer "
                            "(of 60): RTL 9, fixed-point model 10 at layer (from 0) 1")
    rtl["test_accuracy_model"][0] = 1 - 13 / n
    with pytest.raises(BenchMismatch, match="train_rtl's own model run: RTL"):
        rtl_equals_fixed(rtl, [12 / n, 9 / n], n)


def test_early_exit_mismatch_names_threshold_sample_and_values():
    exit_layer, pred = np.array([0, 1, 2]), np.array([3, 4, 5])
    pred_all = [[3, 9, 9], [9, 4, 9], [9, 9, 5]]      # sample x layer
    result = {"exit": [0, 1, 2], "pred": pred_all, "counters": [{"busy_cycles": 40},
                                                                {"busy_cycles": 2}]}
    assert rtl_equals_model(17, result, exit_layer, pred, 42) is True
    with pytest.raises(BenchMismatch) as e:
        rtl_equals_model(17, dict(result, exit=[0, 2, 2]), exit_layer, pred, 42)
    assert str(e.value) == ("early exit, threshold 17: exit layer (from 0) per test sample: "
                            "RTL 2, model 1 at test sample 1")
    with pytest.raises(BenchMismatch, match=r"threshold 17: prediction per test sample: RTL 5, "
                                            r"model 6 at test sample 2$"):
        rtl_equals_model(17, result, exit_layer, np.array([3, 4, 6]), 42)
    with pytest.raises(BenchMismatch, match=r"busy cycles .*: RTL counters 42, "
                                            r"golden_model.counters 41$"):
        rtl_equals_model(17, result, exit_layer, pred, 41)


# -- lela bench --quick --------------------------------------------------------------
def _numbers(obj):
    """Every number in a JSON tree."""
    if isinstance(obj, bool):
        return []
    if isinstance(obj, numbers.Number):
        return [obj]
    if isinstance(obj, dict):
        return [n for v in obj.values() for n in _numbers(v)]
    if isinstance(obj, list):
        return [n for v in obj for n in _numbers(v)]
    return []


@pytest.mark.slow
def test_quick_bench_writes_every_section(tmp_path):
    out = tmp_path / "docs"
    rc = main(["bench", "--quick", "--out", str(out), "--build-dir", str(tmp_path / "build")])
    assert rc == 0
    report = json.loads((out / "benchmarks.json").read_text())
    for name in SECTIONS:
        assert report.get(name), f"section {name!r} missing or empty"
        assert _numbers(report[name]), f"section {name!r} has no numbers"

    # utilisation: the counters are golden_model.counters' totals, the schedule the
    # counter model's, the bound lela.contract's; every flag is that comparison
    for row in report["utilisation"]["rows"]:
        cfg = Config.from_dict(row["config"])
        want = totals(cfg, [layer_modes(cfg, True)] * row["samples"])
        got = [{k: r[k] for k in COUNTERS} for r in row["counters"]]
        assert got == want, f"utilisation, lanes {row['lanes']}: counters"
        assert row["counters_equal_model"] is (got == want)
        model = steady_cycles(cfg)
        assert row["model_cycles"] == model
        assert row["model_equal"] is (row["cycles_per_sample"] == model)
        assert row["bound"] == cycle_bound(cfg)
        assert row["ratio"] == row["cycles_per_sample"] / row["bound"] >= 1

    # traffic: the hardware counters per sample equal golden_model.counters, per layer
    t = report["traffic"]
    run = next(r for r in report["utilisation"]["rows"]
               if r["sizes"] == t["sizes"] and r["lanes"] == t["lanes"])
    cfg = Config.from_dict(run["config"])
    model = [per_sample(cfg, i, m) for i, m in enumerate(layer_modes(cfg, True))]
    hw = [{k: r[k] / run["samples"] for k in COUNTERS} for r in run["counters"]]
    assert t["model_per_sample"] == model
    assert t["hardware_per_sample"] == hw == model
    assert t["counters_equal_model"] is (hw == model)
    words = sum(r["weight_reads"] + r["weight_writes"] for r in hw)
    assert t["lela"]["words"] == words
    assert t["ratio"] == words / t["backprop"]["total"]["words"]
    assert 0 < t["ratio"] < 1

    # accuracy: the RTL misclassified as many test samples per layer as the fixed-point model
    acc = report["accuracy"]
    n = acc["test_samples"]
    rtl_wrong = [round(e * n) for e in acc["rtl"]["rtl_error"]]
    fixed_wrong = [round(e * n) for e in acc["rtl"]["fixed_error"]]
    assert rtl_wrong == fixed_wrong
    assert acc["rtl"]["equal_fixed"] is (rtl_wrong == fixed_wrong)

    # early exit: the cycles per exit layer are the counter model's; the RTL points equal
    # the model's curve at their thresholds
    e = report["early_exit"]
    assert e["cycles_at_layer"] == [
        sum(per_sample(cfg, i, m)["busy_cycles"] for i, m in enumerate(layer_modes(cfg, False, k)))
        for k in range(cfg.layers)]
    curve = {p["threshold"]: p for p in e["curve"]}
    assert e["rtl"]
    for p in e["rtl"]:
        same = (p["accuracy"], p["mean_cycles"]) == (curve[p["threshold"]]["accuracy"],
                                                     curve[p["threshold"]]["mean_cycles"])
        assert same, f"early exit, threshold {p['threshold']}: RTL {p}, model curve"
        assert p["equal_model"] is same

    # simulators: the flag says whether a second simulator's predictions were compared
    s = report["simulators"]
    cocotb = [r for r in s["rows"] if "cocotb" in r["simulator"]]
    assert s["same_predictions"] is (True if cocotb else None)

    # quick never synthesizes: an empty build folder has no cached report, so the
    # builds are skipped and said so, and throughput falls back on the board clocks
    assert report["resources"]["builds"] == []
    assert any(s["section"] == "resources" for s in report["skipped"])
    assert all(r["clock_source"] == "board clock, not synthesized"
               for r in report["throughput"]["rows"])
    text = (out / "benchmarks.md").read_text()
    for heading in ("## Headline", "## Utilisation", "## Memory traffic", "## Simulator speed",
                    "## Early exit", "## Accuracy", "## Skipped in this run"):
        assert heading in text
    assert {p.name for p in (out / "benchmarks").iterdir()} >= {
        "utilisation.png", "traffic.png", "simulators.png", "early_exit.png", "throughput.png"}
    # the Markdown is a function of the JSON (regenerated from it), and says "not run"
    # for a comparison that was not made
    assert markdown(report, report["command"], report["seconds"]) == text
    report["simulators"]["same_predictions"] = None
    assert "(not run)" in markdown(report, report["command"], report["seconds"])


# -- the bench's builds on the sweep engine (a stand-in for lela build) --------------
def fake_synthesize(board, cfg, label, build_dir, settings=None):
    """Stands for ``resources.synthesize``: a report that is a function of its inputs,
    written where the bench caches its builds (a module-level function: the workers
    import it)."""
    import time
    from pathlib import Path

    time.sleep(0.2)
    cfg = Config.from_dict(cfg)
    rep = {"board": board, "label": label, "config": cfg.to_dict(), "error": None,
           "lut4": 1000 * sum(cfg.lanes) + len(board), "timing_met": True,
           "fmax_mhz": {"sync": 50.0 + cfg.lanes[0]}, "critical_path": [], "built": "then",
           "clock_mhz": (settings or {}).get("clock_mhz") or 50.0}
    Path(build_dir).mkdir(parents=True, exist_ok=True)
    (Path(build_dir) / "bench-report.json").write_text(json.dumps(rep))
    return dict(rep, cached=False)


def test_the_builds_run_on_the_engine_with_the_serial_figures(tmp_path, monkeypatch):
    import dataclasses

    from lela.bench import QUICK, resources, run_bench
    from lela.bench.common import Clock, Context

    monkeypatch.setattr(resources, "synthesize", fake_synthesize)
    monkeypatch.setattr(resources, "design_figures", lambda cfg: {"mac_multipliers": sum(cfg.lanes)})
    plan = dataclasses.replace(QUICK, synth="build", ecp5_lanes=(1, 2, 4))
    quiet = Clock(lambda msg: None)

    # serial: the section builds one after the other itself
    serial = resources.measure(Context(plan, tmp_path / "serial", None, quiet))
    jobs = resources.jobs(Context(plan, tmp_path / "plan", None, quiet))
    assert [j.args[2] for j in jobs] == ["ULX3S lanes 1", "ULX3S lanes 2", "ULX3S lanes 4",
                                         "iCEBreaker", "ULX3S MNIST board configuration"]
    # the MNIST board configuration is built at the clock of its [build] table
    mnist_settings = jobs[-1].args[4]
    assert mnist_settings == vars(build_settings(config_file("ulx3s_mnist")))
    assert mnist_settings["clock_mhz"]
    assert all(j.fn is fake_synthesize for j in jobs)
    # the larger design starts first
    assert max(jobs, key=lambda j: j.priority).args[2] == "ULX3S MNIST board configuration"

    reports = {}
    for workers in (1, 2):
        root = tmp_path / f"w{workers}"
        report = run_bench(plan, sections=("resources",), build_root=root, mnist=None,
                           workers=workers, log=lambda msg: None)
        assert report["parallel"]["jobs"] == 5
        assert report["workers"] == report["parallel"]["workers"] == workers
        assert len(list((root / "synth").glob("*/bench-report.json"))) == 5
        reports[workers] = report["resources"]
        # a second run finds every build cached: no job, the reports reused
        again = run_bench(plan, sections=("resources",), build_root=root, mnist=None,
                          workers=workers, log=lambda msg: None)
        assert again["parallel"] == {"jobs": 0, "workers": None, "seconds": 0.0, "failed": []}
        assert [b["cached"] for b in again["resources"]["builds"]] == [True] * 4
        assert again["resources"]["mnist_board"]["cached"]
        assert ([dict(b, cached=False) for b in again["resources"]["builds"]]
                == reports[workers]["builds"])
    assert reports[1] == reports[2] == serial
    assert [b["label"] for b in serial["builds"]] == [j.args[2] for j in jobs[:-1]]
    mnist = serial["mnist_board"]
    assert mnist["label"] == jobs[-1].args[2] and mnist["clock_mhz"] == mnist_settings["clock_mhz"]
    assert mnist["cycles_per_sample"] == model_cycles(named_config("ulx3s_mnist"))[0]


@pytest.mark.parametrize("met", [True, False])
def test_the_mnist_board_figures_are_at_the_clock_it_meets(met):
    from lela.bench.run import headline

    rep = {"fmax": 80.0 if met else 70.0, "clock_mhz": 75.0, "timing_met": met,
           "cycles_per_sample": 3000}
    h = headline({"resources": {"builds": [], "mnist_board": rep}})
    assert h["mnist_ulx3s_fmax_mhz"] == rep["fmax"]
    assert h["mnist_ulx3s_board_clock_mhz"] == 75.0
    clock = 75.0 if met else 70.0
    assert h["mnist_ulx3s_train_samples_per_s"] == clock * 1e6 / 3000
    assert h["mnist_ulx3s_clock_source"].startswith("board clock" if met else "Fmax")


@pytest.mark.parametrize(("argv", "needle"), [
    (["--workers", "0"], "--workers must be >= 1, not 0"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers sizes the local"),
    (["--scheduler", "no address"], "not a Dask scheduler address: 'no address'"),
])
def test_bad_workers_or_scheduler(argv, needle, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["bench", "--out", str(out), "--build-dir", str(tmp_path / "b"), *argv]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("feedback", ["symmetric", "sign_concordant"])
def test_compiled_baseline_is_the_float_models_online_rule(feedback):
    """The compiled baseline, run in float64, trains the float model's local
    rule with batch 1 (weights and biases after 200 samples)."""
    from lela.bench.compiled import CompiledOnline
    from lela.data import load_digits
    from lela.golden_model.float_model import FloatNetwork

    cfg = Config(feedback=feedback)
    d = load_digits()
    order = np.random.default_rng(3).permutation(200)
    ref = FloatNetwork(cfg, "local")
    ref.train_epoch(d.x_train, d.y_train, order, batch=1)
    net = CompiledOnline(cfg, np.float64)
    net.train_epoch(d.x_train, d.y_train, order)
    for i in range(cfg.layers):
        np.testing.assert_allclose(net.w[i], ref.w[i], rtol=0, atol=1e-12, err_msg=f"layer {i}")
        np.testing.assert_allclose(net.b[i], ref.b[i], rtol=0, atol=1e-12, err_msg=f"layer {i}")
    assert not np.array_equal(ref.w[0], FloatNetwork(cfg, "local").w[0])   # it trained


def test_compiled_baseline_takes_only_the_hardware_rule():
    from lela.bench.compiled import CompiledOnline

    with pytest.raises(ValueError, match="square_hinge loss and no dropout, not loss "
                                         "'cross_entropy', dropout 0.0"):
        CompiledOnline(Config(loss="cross_entropy"))


def test_lut4_per_lane_is_the_least_squares_slope_of_the_ulx3s_builds():
    from lela.bench.run import lut4_per_lane

    def build(board, lanes, lut4):
        return {"board": board, "config": {"lanes": [lanes] * 3}, "lut4": lut4}

    # 3, 6 and 12 lanes on a line of slope 450 through 7,000 LUT4 at 0 lanes;
    # the iCEBreaker's build and a build without a LUT4 count do not count
    builds = [build("ulx3s", p, 7000 + 450 * 3 * p) for p in (1, 2, 4)]
    builds += [build("icebreaker", 1, 5000), build("ulx3s", 8, None)]
    assert lut4_per_lane(builds) == pytest.approx(450)
    assert lut4_per_lane(builds[:1]) is None
