"""Every error a user can cause ends in one line on stderr, exit status 2,
and nothing written: one test per class of error."""

import pytest

from lela.cli import main


def _files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*"))


def _fails_in_one_line(capsys, tmp_path, argv, *needles):
    before = _files(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"lela {argv[0]}: "), err
    for needle in needles:
        assert needle in lines[0], err
    assert _files(tmp_path) == before, "the failed command wrote files"
    return lines[0]


def test_dataset_wider_than_the_network(capsys, tmp_path):
    _fails_in_one_line(capsys, tmp_path,
                       ["train", "--sizes", "32,16", "--json", str(tmp_path / "r.json"),
                        "--build-dir", str(tmp_path / "build")],
                       "configuration error", "64 inputs", "sizes[0] is 32")


def test_experiment_dataset_wider_than_the_network(capsys, tmp_path):
    _fails_in_one_line(capsys, tmp_path,
                       ["experiment", "--sizes", "32,16", "--epochs", "1", "--seeds", "1",
                        "--no-progress", "--json", str(tmp_path / "r.json")],
                       "configuration error", "64 inputs")


@pytest.mark.parametrize("argv", [["train", "--train-samples", "0"],
                                  ["train", "--test-samples", "0"],
                                  ["experiment", "--train-samples", "0", "--epochs", "1"]])
def test_empty_sample_selection(capsys, tmp_path, argv):
    _fails_in_one_line(capsys, tmp_path, [*argv, "--json", str(tmp_path / "r.json")],
                       "data error", "training and test samples")


def test_serial_port_that_cannot_be_opened(capsys, tmp_path):
    port = str(tmp_path / "no-such-tty")
    _fails_in_one_line(capsys, tmp_path, ["board", "status", "--port", port],
                       "cannot open the serial port", repr(port))


def test_checkpoint_that_does_not_exist(capsys, tmp_path):
    path = str(tmp_path / "missing.npz")
    _fails_in_one_line(capsys, tmp_path, ["board", "load", "--sim", "pysim", path],
                       f"checkpoint {path!r} does not exist")


def test_checkpoint_that_is_not_one(capsys, tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip file")
    _fails_in_one_line(capsys, tmp_path, ["board", "load", "--sim", "pysim", str(path)],
                       "not a readable checkpoint", str(path))


def test_output_folder_that_is_a_file(capsys, tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("a file")
    _fails_in_one_line(capsys, tmp_path, ["generate", "--out", str(blocker / "rtl")],
                       f"{str(blocker)!r} is not a directory")


@pytest.mark.parametrize("argv", [["train", "--json"], ["build", "--board", "ulx3s", "--json"],
                                  ["experiment", "--epochs", "1", "--json"],
                                  ["board", "train", "--sim", "pysim", "--json"]])
def test_output_file_that_is_a_directory(capsys, tmp_path, argv):
    _fails_in_one_line(capsys, tmp_path, [*argv, str(tmp_path)], "is a directory")


@pytest.mark.parametrize("argv, needle", [
    (["experiment", "--methods", "local-symmetric,nope"], "unknown method 'nope'"),
    (["experiment", "--epochs", "0"], "--epochs must be >= 1, not 0"),
    (["generate", "--lanes", "3"], "lanes"),
    (["generate", "--config", "no-such.toml"], "'no-such.toml' does not exist"),
    (["generate", "--config", "docs"], "config file 'docs' is a directory"),
    (["bench", "--quick", "--ecp5-lanes", "4,x"], "--ecp5-lanes must be positive integers"),
    (["bench", "--quick", "--sections", "utilisation,nope"], "not 'utilisation,nope'"),
    (["bench", "--render", "no-such.json"], "--render: cannot read 'no-such.json'"),
    (["train", "--check-every", "0"], "--check-every must be at least 1, not 0"),
    (["train", "--clock-mhz", "-5"], "--clock-mhz must be a positive number, not -5.0"),
    (["build", "--board", "ulx3s", "--clock-mhz", "0"],
     "--clock-mhz must be a positive number, not 0.0"),
    (["build", "--board", "icebreaker", "--clock-mhz", "nan"],
     "--clock-mhz must be a positive number, not nan"),
    (["build", "--board", "ulx3s", "--baud", "0"], "--baud must be a positive number, not 0"),
    (["build", "--board", "icebreaker", "--primitives", "ecp5"],
     "icebreaker: primitives = 'ecp5' are not for its FPGA (ice40)"),
])
def test_bad_values(capsys, tmp_path, argv, needle):
    _fails_in_one_line(capsys, tmp_path, argv, needle)


def test_a_bad_build_table_stops_lela_build_before_any_work(capsys, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[lela]\nclasses = 10\n[build]\nrouter = 'fast'\n")
    _fails_in_one_line(capsys, tmp_path,
                       ["build", "--board", "ulx3s", "--config", str(cfg),
                        "--build-dir", str(tmp_path / "b")],
                       "[build]: router must be one of router1, router2, not 'fast'")


def test_the_projection_uses_the_board_whose_configuration_it_is():
    from lela.cli.train import BOARD_CLOCKS_MHZ, projection_board
    from lela.config import Config, config_file

    icebreaker = Config.from_toml(config_file("icebreaker"))
    assert projection_board(icebreaker) == "icebreaker"
    assert projection_board(Config.from_toml(config_file("ulx3s"))) == "ulx3s"
    assert projection_board(Config()) == "ulx3s"            # no board's own: the ULX3S
    assert projection_board(icebreaker, "ulx3s") == "ulx3s"  # --board wins
    assert BOARD_CLOCKS_MHZ["icebreaker"] == 25.125
