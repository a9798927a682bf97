"""``rtl.generate``: Verilog and manifest, the CLI subcommand, the build checks."""

import json
import os
import re

import pytest

from lela import cli
from lela.config import Config, ConfigError
from lela.contract import cycle_bound
from lela.rtl.generate import generate
from lela.rtl.top import network_result_layout

SMALL = Config(sizes=(16, 8, 8), lanes=(2, 4), m_seeds=(1, 2), k_seeds=(3, 4))


def test_verilog_and_manifest(tmp_path):
    info = generate(SMALL, tmp_path / "out")
    text = (tmp_path / "out" / "lela_top.v").read_text()
    assert re.search(r"^module lela_top\(", text, re.MULTILINE)
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == info
    ports = {p["name"]: p for p in info["ports"]}
    for name, direction, width in [("clk", "input", 1), ("rst", "input", 1),
                                   ("i_sample__payload", "input", 16 + 4 + 1),
                                   ("i_sample__valid", "input", 1),
                                   ("i_sample__ready", "output", 1),
                                   ("o_result__valid", "output", 1),
                                   ("threshold", "input", 16), ("early_exit", "input", 1),
                                   ("i_acc__payload", "input", 65), ("o_acc__payload", "output", 33)]:
        assert (ports[name]["direction"], ports[name]["width"]) == (direction, width), name
        decl = rf"^\s*{direction}\s+(\[{width - 1}:0\]\s+)?{name};" if width > 1 else \
            rf"^\s*{direction}\s+{name};"
        assert re.search(decl, text, re.MULTILINE), name
    # the payload layout in the manifest is the top's
    sig = network_result_layout(SMALL)
    res = ports["o_result__payload"]
    assert res["width"] == sig.size
    assert res["layout"]["fields"]["digest"]["offset"] == sig["digest"].offset
    assert res["layout"]["fields"]["scores"]["element"]["length"] == SMALL.classes
    assert info["cycle_bound"] == cycle_bound(SMALL) == 2 * 16 * 8 // 2
    assert info["memories_bits"]["layer0"]["weights"] == 16 * 8 * SMALL.weight_width
    assert info["memories_bits"]["layer1"]["activations"] == 2 * 8 * SMALL.act_width
    assert info["counters"]["index"]["3"] == "weight_reads"
    assert str(tmp_path) not in text and os.getcwd() not in text  # no paths of this machine


def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert cli.main(["generate", "--out", str(out), "--sizes", "8,4", "--lanes", "2",
                     "--no-trace"]) == 0
    info = json.loads((out / "manifest.json").read_text())
    assert info["trace"] is False and info["config"]["sizes"] == [8, 4]
    assert "cycle bound B = 32" in capsys.readouterr().out
    assert cli.main(["generate", "--out", str(out), "--weight-width", "24",
                     "--weight-frac", "20"]) == 2
    assert "weight_width" in capsys.readouterr().err


@pytest.mark.parametrize("cfg, field", [
    (Config(loss="cross_entropy"), "loss"),
    (Config(dropout=0.5), "dropout"),
    (Config(weight_width=20, weight_frac=16), "weight_width"),
    (Config(classes=300), "classes"),
    (Config(sizes=(1100, 1000), lanes=(4,), m_seeds=(1,), k_seeds=(2,)), "sizes"),
])
def test_unbuildable_configs_raise_before_elaboration(tmp_path, cfg, field):
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        generate(cfg, tmp_path / "bad")
    assert not (tmp_path / "bad" / "lela_top.v").exists()
