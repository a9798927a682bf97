"""The LiteDRAM wrapper (``lela.rtl.sdram``): the configuration's facts, the
generated cores (simulation and board), the initialisation read from them,
and random traffic through the wrapper under Verilator with LiteDRAM's SDRAM
model, every read compared with a dict of what was written (``lela.sim.sdram``,
``lela.sim.tb_sdram``)."""

import re

import pytest
from amaranth.back import verilog
from amaranth.hdl import IOPort

from lela.rtl.sdram import (
    ADDRESS_WIDTH,
    DATA_WIDTH,
    MODULE,
    WORDS,
    GeneratedCore,
    InitSequencer,
    LiteDram,
    SdramConfig,
    check_address,
    generate_core,
    init_steps,
)
from lela.tools import yosys_for_amaranth

# --- configuration ------------------------------------------------------------


def test_geometry_is_the_boards_32_mb():
    assert WORDS * DATA_WIDTH // 8 == 32 * 2**20
    assert 2**ADDRESS_WIDTH == WORDS
    assert LiteDram.words == WORDS and LiteDram.address_width == ADDRESS_WIDTH
    assert LiteDram.data_width == DATA_WIDTH


def test_yaml_names_the_module_the_phy_and_the_clock():
    cfg = SdramConfig()
    sim, board = cfg.core_config(sim=True), cfg.core_config(sim=False)
    assert sim["sdram_module"] == MODULE == "MT48LC16M16"
    assert sim["sdram_phy"] == "GENSDRPHY" and sim["memtype"] == "SDR"
    assert sim["sdram_module_nb"] * 8 == DATA_WIDTH
    assert sim["sys_clk_freq"] == 50_000_000 and sim["cpu"] == "None"
    assert sim["user_ports"] == {"native_0": {"type": "native"}}
    assert "device" not in sim and board["device"] == "LFE5U-85F-6BG381C"
    assert {k: v for k, v in board.items() if k != "device"} == sim
    assert cfg.yaml(sim=True) == SdramConfig(50_000_000).yaml(sim=True)
    assert SdramConfig(40_000_000).yaml(sim=True) != cfg.yaml(sim=True)


@pytest.mark.parametrize("hz", [0, 150_000_000, 50e6, -1, True, "50 MHz"])
def test_a_bad_clock_is_a_one_line_error(hz):
    with pytest.raises(ValueError, match=rf"^sys_clk_hz must be an integer in "
                                         rf"\[1000000, 100000000\] Hz, not {re.escape(repr(hz))}$"):
        SdramConfig(sys_clk_hz=hz)


@pytest.mark.parametrize("addr", [WORDS, -1, 1 << 30, 1.0, None])
def test_an_address_outside_the_memory_is_a_one_line_error(addr):
    with pytest.raises(ValueError, match=rf"^SDRAM word address must be an integer in "
                                         rf"\[0, 0x1000000\) \(16777216 words of 16 bits\), "
                                         rf"not {re.escape(repr(addr))}$"):
        check_address(addr)
    assert check_address(WORDS - 1) == WORDS - 1 and check_address(0) == 0


# --- generated cores ----------------------------------------------------------


@pytest.fixture(scope="module")
def sim_core():
    return generate_core(sim=True)


def test_the_sim_core_has_the_native_port_and_the_control_bus(sim_core):
    ports = sim_core.ports
    assert ports["user_port_native_0_cmd_addr"] == ("input", ADDRESS_WIDTH)
    assert ports["user_port_native_0_rdata_data"] == ("output", DATA_WIDTH)
    assert ports["wb_ctrl_adr"] == ("input", 30) and ports["init_done"] == ("output", 1)
    assert not any(name.startswith("sdram_") for name in ports)   # the model is inside
    assert "SDRAMPHYModel" in sim_core.verilog.read_text()
    assert sim_core.csr["ddrctrl_init_done"] == 0x0
    assert sim_core.csr["sdram_dfii_control"] == 0x800


def test_the_init_is_the_bios_sequence(sim_core):
    steps = sim_core.init
    # software control (CKE | ODT | RESET_N), then the chip's sequence, then
    # hardware control (SEL) and init_done
    assert steps[0] == ("write", "sdram_dfii_control", 0b1110)
    assert steps[-2:] == (("write", "sdram_dfii_control", 0b0001),
                          ("write", "ddrctrl_init_done", 1))
    commands = [v for kind, reg, *v in (s if s[0] == "write" else (*s, None) for s in steps)
                if reg == "sdram_dfii_pi0_command"]
    # precharge all, load mode, precharge all, refresh, refresh, load mode
    ras, cas, we, cs = 8, 4, 2, 1
    assert [c[0] for c in commands] == [ras | we | cs, ras | cas | we | cs, ras | we | cs,
                                        ras | cas | cs, ras | cas | cs, ras | cas | we | cs]
    # the last mode register: CAS latency 2 (bits 6:4), burst length 1
    modes = [v[0] for kind, reg, *v in (s for s in steps if s[0] == "write")
             if reg == "sdram_dfii_pi0_address"]
    assert modes[-1] == 2 << 4
    assert max(s[1] for s in steps if s[0] == "delay") == 20000


def test_an_unknown_line_in_the_init_sequence_is_a_one_line_error(sim_core):
    header = (sim_core.folder / "software/include/generated/sdram_phy.h").read_text()
    bad = header.replace("cdelay(200);", "sdram_leveling();", 1)
    with pytest.raises(RuntimeError, match=r"^unexpected call in init_sequence\(\): "
                                           r"'sdram_leveling\(\);'$"):
        init_steps(bad)


def test_generation_is_cached_by_the_yaml(tmp_path):
    first = generate_core(SdramConfig(40_000_000), sim=True, root=tmp_path)
    again = generate_core(SdramConfig(40_000_000), sim=True, root=tmp_path)
    other = generate_core(SdramConfig(60_000_000), sim=True, root=tmp_path)
    assert first.seconds > 0 and again.seconds == 0
    assert again.folder == first.folder != other.folder
    assert "40000000" in (first.folder / "core.yml").read_text()


def test_the_board_variant_wraps_gensdrphy_with_the_data_pins_bidirectional():
    core = generate_core(sim=False)
    assert core.ports["sdram_a"] == ("output", 13) and core.ports["rst"] == ("input", 1)
    assert "TRELLIS_IO" in core.verilog.read_text()
    dq = IOPort(DATA_WIDTH, name="sdram_dq")
    with yosys_for_amaranth():
        text = verilog.convert(LiteDram(core, dq=dq), name="lela_sdram", emit_src=False)
    assert re.search(r"inout \[15:0\] sdram_dq;", text)
    assert re.search(r"output \[12:0\] sdram_a;", text)
    assert re.search(r"\.sdram_dq\(sdram_dq\)", text)


def test_bad_wrapper_parameters_are_one_line_errors(sim_core):
    for kwargs, message in [
        ({"fifo_depth": 12}, r"^fifo_depth must be a power of two >= 4, not 12$"),
        ({"domain": "sync"}, r"^domain must be a clock domain other than sync, not 'sync'$"),
        ({"dq": IOPort(16, name="dq")}, r"^dq must be given for the board variant and only then$"),
    ]:
        with pytest.raises(ValueError, match=message):
            LiteDram(sim_core, **kwargs)
    with pytest.raises(TypeError, match=r"^core must be a GeneratedCore, not 'x'$"):
        LiteDram("x")
    with pytest.raises(ValueError, match=r"^register 'nope' is not in the core's CSRs$"):
        InitSequencer(steps=(("write", "nope", 1),), csr=sim_core.csr)
    assert isinstance(sim_core, GeneratedCore)


# --- random traffic under Verilator -------------------------------------------


@pytest.fixture(scope="module")
def tb():
    from lela.sim.sdram import build_sdram_tb
    return build_sdram_tb()


def _job(info, **kw):
    job = {"seed": 1, "ops": 3000, "write_fraction": 0.5, "cmd_idle": 0.0, "wdata_idle": 0.0,
           "backpressure": 0.0, "measure": False, "flip_expected": -1,
           "lela_clock_ns": info["lela_clock_ns"]}
    job.update(kw)
    return job


# a source idles with probability 0.7 on a cycle, rdata.ready is low with 0.8:
# enough that the write data lags its command and reads back up into the
# crossing FIFO (without their guards in LiteDram, these runs fail)
@pytest.mark.parametrize(("idle", "backpressure"), [(0.0, 0.0), (0.7, 0.0), (0.0, 0.8),
                                                    (0.7, 0.8)],
                         ids=["free", "idle", "backpressure", "idle+backpressure"])
def test_random_traffic_reads_what_was_written(tb, idle, backpressure):
    runner, bdir, info = tb
    from lela.sim.sdram import run_sdram_job
    seed = 11 + int(idle * 10) + int(backpressure * 100)
    job = _job(info, seed=seed, cmd_idle=idle, wdata_idle=idle, backpressure=backpressure,
               measure=(idle, backpressure) == (0.0, 0.0))
    result = run_sdram_job(runner, bdir, job, name=f"random-{seed}")
    assert result["reads"] > 1000 and result["writes"] > 1000
    assert result["reads"] + result["writes"] == job["ops"]
    # init_done came after the init sequence's waits at least
    delays = sum(s[1] for s in generate_core(sim=True).init if s[0] == "delay")
    assert result["init_ns"] >= delays * info["sdram_clock_ns"]
    assert result["init_error"] == 0
    if job["measure"]:
        m = result["measured"]
        print("measured:", m, "init_ns:", result["init_ns"], "build:", info)
        # consecutive words stream at about a word per LiteDRAM clock, scattered ones do not
        per_clock = info["sdram_clock_ns"] / info["lela_clock_ns"]
        assert m["sequential_read_cycles"] < 1.25 * per_clock
        assert m["random_read_cycles"] > 2 * m["sequential_read_cycles"]


def test_a_wrong_expectation_is_caught(tb):
    """The comparison has teeth: one expected word inverted fails the run,
    naming the seed and the read."""
    runner, bdir, info = tb
    from lela.sim.sdram import run_sdram_job
    with pytest.raises(AssertionError, match=r"seed 5, random traffic: read 17 of word "
                                             r"0x[0-9a-f]{6} gave 0x[0-9a-f]{4}, expected "
                                             r"0x[0-9a-f]{4} \(1 of \d+ reads differ\)"):
        run_sdram_job(runner, bdir, _job(info, seed=5, ops=400, flip_expected=17),
                      name="flipped")
