"""``lela bench --quick`` end to end: every section present with numbers, counters = model."""

import json
import numbers

import pytest

from lela.bench import SECTIONS, markdown
from lela.cli import main


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
    # the hardware counters equal golden_model.counters, per layer and counter
    t = report["traffic"]
    assert t["counters_equal_model"] is True
    assert t["hardware_per_sample"] == t["model_per_sample"]
    assert 0 < t["ratio"] < 1
    # utilisation: the schedule is the counter model's, and above the bound
    for row in report["utilisation"]["rows"]:
        assert row["model_equal"] and row["counters_equal_model"]
        assert row["ratio"] >= 1
    # the RTL equals the fixed-point model; every simulator the same predictions
    assert report["accuracy"]["rtl"]["equal_fixed"] is True
    assert report["accuracy"]["rtl"]["rtl_error"] == report["accuracy"]["rtl"]["fixed_error"]
    assert report["simulators"]["same_predictions"] is True
    assert all(p["equal_model"] for p in report["early_exit"]["rtl"])
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
    # the Markdown is a function of the JSON (regenerated from it)
    assert markdown(report, report["command"], report["seconds"]).startswith("# Benchmarks")
