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
    (Config(dropout=0.3), "dropout"),
    (Config(weight_width=20, weight_frac=16), "weight_width"),
    (Config(classes=300), "classes"),
    (Config(sizes=(1100, 1000), lanes=(4,), m_seeds=(1,), k_seeds=(2,)), "sizes"),
])
def test_unbuildable_configs_raise_before_elaboration(tmp_path, cfg, field):
    with pytest.raises(ConfigError, match=rf"^{field}: "):
        generate(cfg, tmp_path / "bad")
    assert not (tmp_path / "bad" / "lela_top.v").exists()


def test_axi_verilog_and_manifest(tmp_path):
    """``bus="axi"``: ``lela_axi.v`` with the AXI ports, and a manifest whose
    result payload layout is the bare core's (12-bit inputs: 16-bit tdata)."""
    cfg = SMALL.replace(act_width=12, act_frac=8)
    info = generate(cfg, tmp_path / "axi", bus="axi")
    assert not (tmp_path / "axi" / "lela_top.v").exists()
    text = (tmp_path / "axi" / "lela_axi.v").read_text()
    assert re.search(r"^module lela_axi\(", text, re.MULTILINE)
    assert json.loads((tmp_path / "axi" / "manifest.json").read_text()) == info
    assert (info["top"], info["verilog"], info["bus"]) == ("lela_axi", "lela_axi.v", "axi")
    ports = {p["name"]: (p["direction"], p["width"]) for p in info["ports"]}
    assert ports["s_axis_tdata"] == ("input", 16) and ports["s_axis_tuser"] == ("input", 5)
    assert ports["s_axil_awaddr"] == ("input", 28) and ports["m_axis_tlast"] == ("output", 1)
    assert {"clk", "rst"} <= set(ports)
    bare = generate(cfg, tmp_path / "bare")
    assert bare["bus"] is None and "register_map" not in bare
    core = {p["name"]: p for p in bare["ports"]}["o_result__payload"]
    m_axis = info["streams"]["m_axis"]
    assert m_axis["payload"] == core["layout"] and m_axis["payload_width"] == core["width"]
    assert m_axis["words_per_result"] == -(-core["width"] // 32)
    assert info["memory_bits_total"] == bare["memory_bits_total"] + 32 * 17
    assert str(tmp_path) not in text and os.getcwd() not in text


def test_cli_bus(tmp_path, capsys):
    out = tmp_path / "axi"
    assert cli.main(["generate", "--bus", "axi", "--out", str(out), "--sizes", "8,4",
                     "--lanes", "2"]) == 0
    assert json.loads((out / "manifest.json").read_text())["top"] == "lela_axi"
    assert "AXI4-Lite: 28-bit addresses, access-port window at 0x8000000" in \
        capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["generate", "--bus", "pcie", "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2
    assert "argument --bus: invalid choice: 'pcie'" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
    with pytest.raises(ValueError, match=r"bus must be one of None, 'axi', not 'pcie'"):
        generate(SMALL, tmp_path / "bad", bus="pcie")
    assert not (tmp_path / "bad").exists()
