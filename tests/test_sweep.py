"""lela sweep: the sweep file, the cache key, the Pareto fronts, a sweep on a
local cluster of two workers (through the command), a worker killed mid-task,
the cache (a second run runs nothing), and every class of bad input."""

import contextlib
import csv
import io
import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from lela import sweep
from lela.cli import main
from lela.config import Config, ConfigError
from lela.contract import cycle_bound
from lela.data import load_digits
from lela.golden_model.experiment import run_row
from lela.sweep import engine
from lela.sweep.cache import task_key
from lela.sweep.measure import MEASUREMENTS, Measurement, design, model_cycles, weight_bits

#: 8 points: lanes x two weight formats; lanes 3 does not divide the 16 neurons
SMALL = """
[sweep]
name = "small"
measure = ["design", "accuracy"]

[base]
sizes = [64, 16, 16]

[axes]
lanes = [1, 2, 3, 4]
format = [{weight_width = 8, weight_frac = 6}, {weight_width = 12, weight_frac = 10}]

[accuracy]
train_samples = 300
test_samples = 100
"""
BASE = Config().with_layers((64, 16, 16))


def wait_for(find, timeout, what):
    """Poll ``find()`` until it returns something (an event in another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def write(path, text):
    path.write_text(text)
    return path


def run_cli(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    return status, out.getvalue()


def files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*"))


# -- the sweep file -------------------------------------------------------------
def test_points_are_the_product_of_the_axes_in_file_order(tmp_path):
    spec = sweep.load_spec(write(tmp_path / "s.toml", SMALL))
    points = spec.points()
    assert [(p.values["lanes"], p.values["weight_width"]) for p in points] == [
        (1, 8), (1, 12), (2, 8), (2, 12), (3, 8), (3, 12), (4, 8), (4, 12)]
    assert spec.columns == ("lanes", "weight_width", "weight_frac")
    p = points[6]
    assert p.config == BASE.replace(lanes=(4, 4), weight_width=8, weight_frac=6)
    assert p.error is None and p.label == "lanes=4 weight_width=8 weight_frac=6"
    with pytest.raises(ConfigError) as e:
        BASE.replace(lanes=(3, 3), weight_width=8, weight_frac=6)
    assert points[4].config is None and points[4].error == str(e.value)


def test_ranges_lists_and_per_layer_values():
    spec = sweep.parse_spec({
        "sweep": {"measure": "design", "base": "sim"},
        "axes": {"lanes": {"from": 1, "to": 16, "times": 2}, "eta_shift": {"from": 5, "to": 9,
                                                                           "step": 2},
                 "m_seeds": [[1, 2, 3]], "seed": 7}})
    assert spec.axes["lanes"] == (1, 2, 4, 8, 16)
    assert spec.axes["eta_shift"] == (5, 7, 9)
    points = spec.points()
    assert len(points) == 15 and all(p.seed == 7 for p in points)
    assert points[0].config.m_seeds == (1, 2, 3) and points[-1].config.lanes == (16, 16, 16)
    per_layer = sweep.parse_spec({"sweep": {"measure": ["design"]},
                                  "axes": {"sizes": [[64, 32, 32]], "lanes": [[2, 4]],
                                           "eta_shift": [6, [6, 7]]}})
    assert [p.config.eta_shift for p in per_layer.points()] == [6, (6, 7)]
    assert per_layer.points()[0].config.lanes == (2, 4)
    with pytest.raises(sweep.SweepError, match="eta_shift must be an integer or a list of "
                                               "integers, not '6'"):
        sweep.parse_spec({"sweep": {"measure": ["design"]}, "axes": {"eta_shift": ["6"]}})


def test_the_cache_key_names_what_the_result_depends_on():
    m = MEASUREMENTS["build"]
    cfg = BASE.to_dict()
    key = task_key(m, cfg, {"clock_mhz": 25}, board="ulx3s", seed=1, sources="s", tools={"a": "1"})
    changed = [task_key(m, {**cfg, "eta_shift": 5}, {"clock_mhz": 25}, board="ulx3s", seed=1,
                        sources="s", tools={"a": "1"}),
               task_key(m, cfg, {"clock_mhz": 20}, board="ulx3s", seed=1, sources="s",
                        tools={"a": "1"}),
               task_key(m, cfg, {"clock_mhz": 25}, board="icebreaker", seed=1, sources="s",
                        tools={"a": "1"}),
               task_key(m, cfg, {"clock_mhz": 25}, board="ulx3s", seed=2, sources="s",
                        tools={"a": "1"}),
               task_key(m, cfg, {"clock_mhz": 25}, board="ulx3s", seed=1, sources="t",
                        tools={"a": "1"}),
               task_key(m, cfg, {"clock_mhz": 25}, board="ulx3s", seed=1, sources="s",
                        tools={"a": "2"})]
    assert len({key, *changed}) == 7
    # the fixed-point model does not depend on the lanes, nor on the board; a local
    # option (a resolved path) is not keyed
    acc = MEASUREMENTS["accuracy"]
    k1 = task_key(acc, cfg, {"epochs": 1, "_path": "/a"}, board="ulx3s", seed=0, sources="s",
                  tools={})
    k2 = task_key(acc, {**cfg, "lanes": [4, 4]}, {"epochs": 1, "_path": "/b"}, board="icebreaker",
                  seed=0, sources="s", tools={})
    assert k1 == k2


# -- Pareto fronts ---------------------------------------------------------------
def test_pareto_front_by_hand():
    # (cost, benefit): least cost, most benefit
    points = [(10, 1.0), (20, 2.0), (15, 1.5), (20, 1.5), (30, 2.0), (5, 0.5), None, (15, 1.5)]
    # (20, 1.5) costs more than (15, 1.5) for the same; (30, 2.0) more than (20, 2.0);
    # the two equal points (15, 1.5) are both on the front
    assert sweep.pareto_front(points) == [True, True, True, False, False, True, None, True]
    assert sweep.pareto_front([]) == []


def test_fronts_marked_on_a_small_table():
    table = [
        {"board": "ulx3s", "luts": 1000, "dsps": 4, "throughput": 10.0, "weight_bits": 100,
         "accuracy": 0.8},
        {"board": "ulx3s", "luts": 2000, "dsps": 2, "throughput": 20.0, "weight_bits": 200,
         "accuracy": 0.7},
        {"board": "ulx3s", "luts": 3000, "dsps": 8, "throughput": 15.0, "weight_bits": 300,
         "accuracy": 0.9},
        # worse than every ULX3S point, but alone on its board
        {"board": "icebreaker", "luts": 5000, "dsps": 8, "throughput": 1.0, "weight_bits": 100,
         "accuracy": 0.6},
        {"board": "ulx3s", "luts": None, "dsps": None, "throughput": None, "weight_bits": 50,
         "accuracy": None},
    ]
    sweep.mark_fronts(table)
    assert [r["pareto"]["throughput_luts"] for r in table] == [True, True, False, True, None]
    assert [r["pareto"]["throughput_dsps"] for r in table] == [False, True, False, True, None]
    assert [r["pareto"]["accuracy_bits"] for r in table] == [True, False, True, False, None]


# -- a sweep on two local workers, through the command ----------------------------
@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("small")
    spec = write(root / "small.toml", SMALL)
    argv = ["sweep", str(spec), "--workers", "2", "--out", str(root / "out"), "--cache",
            str(root / "cache"), "--work", str(root / "work"), "--dashboard", ":0",
            "--no-progress"]
    t0 = time.perf_counter()
    status, stdout = run_cli(argv)
    return {"root": root, "argv": argv, "status": status, "stdout": stdout,
            "seconds": time.perf_counter() - t0}


def test_a_small_sweep_on_two_workers(small_run):
    root, stdout = small_run["root"], small_run["stdout"]
    assert small_run["status"] == 0, stdout
    # 6 valid points: a design task each, and one accuracy task per weight format
    # (the model is the same whatever the lanes)
    assert "8 task(s): 0 cached, 8 to run" in stdout
    assert "2 worker(s)" in stdout
    doc = json.loads((root / "out" / "results.json").read_text())
    assert doc["tasks"] == {"total": 8, "ran": 8, "cached": 0, "failed": 0}
    assert doc["workers"] == 2
    table = doc["points"]
    assert [r["point"] for r in table] == list(range(8))
    assert [r["status"] for r in table] == ["ok"] * 4 + ["invalid"] * 2 + ["ok"] * 2
    with pytest.raises(ConfigError) as e:
        BASE.replace(lanes=(3, 3), weight_width=12, weight_frac=10)
    assert table[5]["error"] == str(e.value)
    assert table[5]["measurements"] == {}
    digits = load_digits().subset(300, 100)
    for r in table:
        if r["status"] != "ok":
            continue
        cfg = Config.from_dict(r["config"])
        assert r["weight_bits"] == weight_bits(cfg)
        assert r["cycle_bound"] == cycle_bound(cfg) == r["measurements"]["design"]["result"][
            "cycle_bound"]
        assert r["cycles_per_sample"] == model_cycles(cfg) and r["cycles_source"] == "model"
    # the workers' figures are the library's, exactly
    cfg = Config.from_dict(table[2]["config"])
    assert table[2]["measurements"]["design"]["result"] == design(cfg, {})
    curve, _, _ = run_row(cfg, digits, "fixed-point", 0, 1)
    assert table[2]["accuracy_per_layer"] == [1.0 - float(e) for e in curve[-1]]
    assert table[2]["accuracy"] == table[0]["accuracy"] == table[6]["accuracy"]  # lanes only
    # the accuracy front, by hand from the table's figures
    ok = [r for r in table if r["status"] == "ok"]
    for r in ok:
        dominated = any(q["weight_bits"] <= r["weight_bits"] and q["accuracy"] >= r["accuracy"]
                        and (q["weight_bits"] < r["weight_bits"] or q["accuracy"] > r["accuracy"])
                        for q in ok)
        assert r["pareto"]["accuracy_bits"] is (not dominated)
    assert doc["fronts"]["accuracy_bits"] == [r["point"] for r in ok
                                              if r["pareto"]["accuracy_bits"]]
    assert all(r["pareto"]["throughput_luts"] is None for r in table)   # nothing built
    with (root / "out" / "results.csv").open() as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 8 and lines[4]["status"] == "invalid"
    assert lines[6]["lanes"] == "4" and lines[6]["weight_width"] == "8"
    assert lines[6]["pareto_accuracy_bits"] == str(table[6]["pareto"]["accuracy_bits"])
    assert (root / "out" / "pareto-accuracy.png").stat().st_size > 1000
    assert not (root / "out" / "pareto-throughput.png").exists()
    assert "point 4 (invalid): lanes: layer 1: 3 lanes do not divide" in stdout
    assert not any((root / "work").glob("*")), "a finished task left its build folder"


def test_a_second_run_runs_no_task(small_run, monkeypatch):
    assert small_run["status"] == 0
    root = small_run["root"]
    before = (root / "out" / "results.csv").read_bytes()

    def no_cluster(*args, **kwargs):
        raise AssertionError("a cluster was started for a sweep with nothing to run")

    monkeypatch.setattr(engine, "local_client", no_cluster)
    status, stdout = run_cli(small_run["argv"])
    assert status == 0, stdout
    assert "8 task(s): 8 cached, 0 to run" in stdout
    doc = json.loads((root / "out" / "results.json").read_text())
    assert doc["tasks"] == {"total": 8, "ran": 0, "cached": 8, "failed": 0}
    assert (root / "out" / "results.csv").read_bytes() == before


# -- a worker killed mid-task ------------------------------------------------------
def slow(cfg, options, *, board=None, seed=None, work=None):
    """A measurement that marks every attempt; the victim's first attempt waits
    to be killed."""
    marks = Path(options["marks"])
    name = f"lanes{cfg.lanes[0]}"
    first = not any(marks.glob(f"start-{name}-*"))
    (marks / f"start-{name}-{os.getpid()}").write_text("")
    if first and cfg.lanes[0] == options["victim"]:
        deadline = time.monotonic() + 90      # stands for a long build; the test kills it
        while time.monotonic() < deadline:
            time.sleep(0.05)
        raise RuntimeError("the victim was not killed")
    (marks / f"done-{name}-{os.getpid()}").write_text("")
    return {"lanes": cfg.lanes[0]}


WITH_SLOW = {**MEASUREMENTS, "slow": Measurement("slow", slow,
                                                 defaults={"marks": "", "victim": 0})}


@pytest.fixture(scope="module")
def cluster():
    with sweep.local_client(2, dashboard=":0") as client:
        yield client


def test_a_worker_killed_mid_task(cluster, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = sweep.parse_spec({"sweep": {"measure": ["slow"]}, "base": {"sizes": [64, 16, 16]},
                             "axes": {"lanes": [1, 2, 3, 4, 8, 16]},
                             "slow": {"marks": str(marks), "victim": 4}},
                            measurements=WITH_SLOW)
    cluster.wait_for_workers(2, timeout=60)
    workers = set(cluster.run(os.getpid).values())
    killed = []

    def kill_the_victim():
        path = wait_for(lambda: next(marks.glob("start-lanes4-*"), None), 60,
                        "the victim task to start")
        pid = int(path.name.rsplit("-", 1)[1])
        assert pid in workers
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_the_victim)
    killer.start()
    result = sweep.run_sweep(spec, cache=tmp_path / "cache", work=tmp_path / "work",
                             client=cluster, measurements=WITH_SLOW)
    killer.join()
    assert len(killed) == 1, "the victim was never killed"
    assert result.failed == 0 and result.ran == 5
    table = sweep.rows(result)
    assert [r["point"] for r in table] == list(range(6))
    assert [r["status"] for r in table] == ["ok", "ok", "invalid", "ok", "ok", "ok"]
    assert [r["measurements"]["slow"]["result"]["lanes"] for r in table
            if r["status"] == "ok"] == [1, 2, 4, 8, 16]
    done = sorted(p.name.split("-")[1] for p in marks.glob("done-*"))
    assert done == ["lanes1", "lanes16", "lanes2", "lanes4", "lanes8"], "not exactly once"
    starts = sorted(p.name for p in marks.glob("start-lanes4-*"))
    assert len(starts) == 2 and f"start-lanes4-{killed[0]}" in starts
    assert killed[0] not in set(cluster.run(os.getpid).values())
    assert len(list(marks.glob("start-*"))) == 6          # no other task ran twice


def test_a_cluster_without_workers_is_not_waited_for_forever(tmp_path):
    from distributed import Client, LocalCluster

    spec = sweep.parse_spec({"sweep": {"measure": ["design"]}, "base": {"sizes": [64, 16, 16]},
                             "axes": {"lanes": [2, 4]}})
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty, \
            Client(empty, set_as_default=False) as client:
        result = sweep.run_sweep(spec, cache=tmp_path / "cache", work=tmp_path / "work",
                                 client=client, no_workers=1.0)
    assert result.failed == 2 and result.ran == 0
    table = sweep.rows(result)
    assert [r["status"] for r in table] == ["error", "error"]
    assert table[0]["error"] == "design: the cluster had no worker for 1 s"
    assert not sweep.Cache(tmp_path / "cache").root.exists()    # nothing cached


def test_an_existing_cluster_through_the_command(cluster, tmp_path):
    cluster.wait_for_workers(2, timeout=60)     # a nanny may still be replacing a killed one
    spec = write(tmp_path / "s.toml", '[sweep]\nmeasure = ["design"]\n[base]\n'
                 'sizes = [64, 16, 16]\n[axes]\nlanes = [2, 4]\n')
    status, stdout = run_cli(["sweep", str(spec), "--scheduler", cluster.scheduler.address,
                              "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "c"),
                              "--work", str(tmp_path / "w"), "--no-progress"])
    assert status == 0, stdout
    assert "2 task(s): 0 cached, 2 to run" in stdout and "2 worker(s)" in stdout
    doc = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [r["memory_bits"] for r in doc["points"]] == [
        design(BASE.replace(lanes=(p, p)), {})["memory_bits"] for p in (2, 4)]


def marked(cfg, options, *, board=None, seed=None, work=None):
    """A measurement that marks when it starts, then works a little."""
    (Path(options["marks"]) / f"{time.monotonic_ns()}-{cfg.lanes[0]}").write_text("")
    time.sleep(1.0)     # stands for a build (long beside a busy machine's scheduling lag)
    return {}


WITH_MARKED = {**MEASUREMENTS, "marked": Measurement("marked", marked, defaults={"marks": ""},
                                                     rank=3)}


def test_the_longest_tasks_start_first(cluster, tmp_path):
    cluster.wait_for_workers(2, timeout=60)
    spec = sweep.parse_spec({"sweep": {"measure": ["marked"]}, "base": {"sizes": [64, 16, 16]},
                             "axes": {"lanes": [1, 2, 4, 8]}, "marked": {"marks": str(tmp_path)}},
                            measurements=WITH_MARKED)
    tasks, _ = engine.plan_tasks(spec, spec.points(), work=tmp_path, measurements=WITH_MARKED)
    assert sorted(tasks.values(), key=lambda t: t.priority) == sorted(
        tasks.values(), key=lambda t: t.config["lanes"][0])
    sweep.run_sweep(spec, cache=tmp_path / "cache", work=tmp_path / "work", client=cluster,
                    measurements=WITH_MARKED)
    started = [int(p.name.split("-")[1]) for p in sorted(tmp_path.glob("*-*"),
                                                         key=lambda p: int(p.name.split("-")[0]))]
    # two workers, one task each at a time: 8 and 4 lanes first, then the two
    # short ones (which of those starts first is the workers' race when the
    # first two end together)
    assert sorted(started[:2]) == [4, 8] and sorted(started[2:]) == [1, 2], started


# -- bad input: one line, exit status 2, nothing started or written --------------------
def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GOOD = '[sweep]\nmeasure = ["design"]\n[axes]\nlanes = [1, 2]\n'


@pytest.mark.parametrize("text, needles", [
    ("[sweep\nmeasure = ", ["is not valid TOML"]),
    ('[sweep]\nmeasure = ["design"]\n[axis]\nlanes = [1]\n', ["unknown table [axis]"]),
    ('[sweep]\nmeasure = ["design"]\nmesure = 1\n', ["[sweep]: unknown field 'mesure'"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nlane = [1, 2]\n', ["[axes] lane", "unknown field"]),
    ('[sweep]\nmeasure = ["design"]\n[base]\nlane = 2\n', ["[base]", "unknown field 'lane'"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nfmt = [{weight_widht = 8}]\n',
     ["[axes] fmt", "unknown field 'weight_widht'"]),
    ('[sweep]\nmeasure = ["accuracy"]\n[accuracy]\nepoch = 2\n', ["[accuracy]", "'epoch'"]),
    ('[sweep]\nmeasure = ["synth"]\n', ["unknown measurement 'synth'"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nlanes = ["four"]\n',
     ["[axes] lanes", "an integer or a list of integers", "'four'"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nfeedback = ["sideways"]\n',
     ["feedback must be one of", "'sideways'"]),
    ('[sweep]\nmeasure = ["build"]\n[axes]\nboard = ["arty"]\n', ["board must be one of",
                                                                  "'arty'"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nseed = [-1]\n', ["seed must be an integer >= 0"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nlanes = []\n', ["no values"]),
    ('[sweep]\nmeasure = ["design"]\n[axes]\nlanes = {from = 8, to = 1}\n', ["range is empty"]),
    ('[sweep]\nmeasure = ["build"]\n[axes]\nlanes = [1]\n', ["needs a board"]),
    ('[sweep]\nmeasure = ["accuracy"]\n[accuracy]\ndataset = "no-such-folder"\n',
     ["dataset 'no-such-folder'"]),
    ('[sweep]\nmeasure = ["design"]\nbase = "arty"\n', ["no shipped configuration named"]),
])
def test_a_bad_sweep_file(capsys, tmp_path, monkeypatch, text, needles):
    spec = write(tmp_path / "bad.toml", text)
    _fails_in_one_line(capsys, tmp_path, monkeypatch, [str(spec)], [str(spec), *needles])


@pytest.mark.parametrize("extra, needles", [
    (["--scheduler", "tcp://127.0.0.1:{port}", "--connect-timeout", "1"],
     ["cannot reach the Dask scheduler 'tcp://127.0.0.1:"]),
    (["--scheduler", "no address"], ["not a Dask scheduler address: 'no address'"]),
    (["--workers", "0"], ["--workers must be >= 1, not 0"]),
    (["--scheduler", "tcp://127.0.0.1:1", "--workers", "2"], ["--workers sizes the local"]),
    (["--out", "{blocker}/out"], ["is not a directory"]),
    ([], None),     # a sweep file that does not exist
])
def test_bad_options(capsys, tmp_path, monkeypatch, extra, needles):
    blocker = write(tmp_path / "taken", "a file")
    extra = [a.format(port=_closed_port(), blocker=blocker) for a in extra]
    if needles is None:
        missing = str(tmp_path / "missing.toml")
        _fails_in_one_line(capsys, tmp_path, monkeypatch, [missing],
                           [f"{missing!r} does not exist"])
        return
    spec = write(tmp_path / "good.toml", GOOD)
    _fails_in_one_line(capsys, tmp_path, monkeypatch, [str(spec), *extra], needles)


def _fails_in_one_line(capsys, tmp_path, monkeypatch, args, needles):
    def no_cluster(*a, **k):
        raise AssertionError("a cluster was started for bad input")

    monkeypatch.setattr(engine, "local_client", no_cluster)
    monkeypatch.chdir(tmp_path)             # the default output folders are relative
    before = files(tmp_path)
    assert main(["sweep", *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lela sweep: "), err
    for needle in needles:
        assert needle in lines[0], err
    assert files(tmp_path) == before, "the failed command wrote files"
