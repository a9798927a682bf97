"""The configuration object: validation, TOML files, CLI overrides."""

import argparse
import dataclasses
import itertools
import re
from importlib import resources

import pytest

from lela.cli import add_config_arguments, config_from_args
from lela.config import (
    DEFAULT,
    DEFAULT_ETA_SHIFTS,
    INT_BITS,
    Config,
    ConfigError,
    balance_lanes,
    config_file,
    divisors,
)
from lela.contract import cycle_bound, multipliers_used


def raises(message):
    return pytest.raises(ConfigError, match="^" + re.escape(message) + "$")


# One case per validation rule: (changes, the exact message).
RULES = {
    "sizes_not_ints": ({"sizes": "64,128"}, "sizes: must be a sequence of integers, not '64,128'"),
    # with a per-layer field beside it (once a TypeError from len(sizes))
    "sizes_int_with_dropout": ({"sizes": 5, "dropout": [0.25, 0.5]},
                               "sizes: must be a sequence of integers, not 5"),
    "sizes_none_with_eta": ({"sizes": None, "eta_shift": [3, 3]},
                            "sizes: must be a sequence of integers, not None"),
    "sizes_float": ({"sizes": (64, 1.5)}, "sizes: must be a sequence of integers, not (64, 1.5)"),
    "sizes_bool": ({"sizes": (64, True)}, "sizes: must be a sequence of integers, not (64, True)"),
    "sizes_short": ({"sizes": (64,)},
                    "sizes: must list the input width and at least one hidden layer, not (64,)"),
    "sizes_zero": ({"sizes": (64, 0, 128, 128)},
                   "sizes: every width must be >= 1, not (64, 0, 128, 128)"),
    "classes_float": ({"classes": 10.0}, "classes: must be an integer, not 10.0"),
    "classes_bool": ({"classes": True}, "classes: must be an integer, not True"),
    "classes_low": ({"classes": 1}, "classes: must be in [2, 4096], not 1"),
    "classes_high": ({"classes": 4097}, "classes: must be in [2, 4096], not 4097"),
    "lanes_count": ({"lanes": (4, 4)},
                    "lanes: must have 3 entries (one per hidden layer), not (4, 4)"),
    "lanes_type": ({"lanes": 4}, "lanes: must be a sequence of integers, not 4"),
    "lanes_zero": ({"lanes": (4, 0, 4)}, "lanes: layer 2 needs at least 1 lane, not (4, 0, 4)"),
    "lanes_divide": ({"lanes": (4, 4, 3)},
                     "lanes: layer 3: 3 lanes do not divide its 128 neurons, not (4, 4, 3)"),
    "classifier_count": ({"classifier_lanes": (1, 1)},
                         ("classifier_lanes: must have 3 entries (one per hidden layer), "
                         "not (1, 1)")),
    "classifier_value": ({"classifier_lanes": (1, 3, 1)},
                         ("classifier_lanes: layer 2 (10 classes, 4 lanes) can have 1, 2, 5, "
                         "10, 20, 40, not (1, 3, 1)")),
    "classifier_neurons": ({"classifier_lanes": (80, 1, 1)},
                           ("classifier_lanes: layer 1 (10 classes, 4 lanes) can have 1, 2, 5, "
                           "10, 20, 40, not (80, 1, 1)")),
    "act_width_low": ({"act_width": 3, "act_frac": 0}, "act_width: must be in [4, 32], not 3"),
    "act_width_high": ({"act_width": 33}, "act_width: must be in [4, 32], not 33"),
    "act_frac_high": ({"act_frac": 15}, "act_frac: must be in [0, 14], not 15"),
    "act_frac_low": ({"act_frac": -1}, "act_frac: must be in [0, 14], not -1"),
    "weight_width_low": ({"weight_width": 3, "weight_frac": 0},
                         "weight_width: must be in [4, 32], not 3"),
    "weight_width_high": ({"weight_width": 33}, "weight_width: must be in [4, 32], not 33"),
    "weight_frac_high": ({"weight_frac": 15}, "weight_frac: must be in [0, 14], not 15"),
    "weight_frac_low": ({"weight_frac": -1}, "weight_frac: must be in [0, 14], not -1"),
    "m_bits_low": ({"m_bits": 0}, "m_bits: must be in [1, 8], not 0"),
    "m_bits_high": ({"m_bits": 9}, "m_bits: must be in [1, 8], not 9"),
    "m_seeds_count": ({"m_seeds": (1, 2)},
                      "m_seeds: must have 3 entries (one per hidden layer), not (1, 2)"),
    "m_seeds_zero": ({"m_seeds": (0, 2, 3)},
                     "m_seeds: every seed must be in [1, 2**32 - 1], not (0, 2, 3)"),
    "m_seeds_wide": ({"m_seeds": (1, 2, 2**32)},
                     "m_seeds: every seed must be in [1, 2**32 - 1], not (1, 2, 4294967296)"),
    "k_seeds_count": ({"k_seeds": (1, 2, 3, 4)},
                      "k_seeds: must have 3 entries (one per hidden layer), not (1, 2, 3, 4)"),
    "k_seeds_negative": ({"k_seeds": (1, -2, 3)},
                         "k_seeds: every seed must be in [1, 2**32 - 1], not (1, -2, 3)"),
    "init_seed": ({"init_seed": -1}, "init_seed: must be in [0, 9223372036854775807], not -1"),
    "eta_shift_low": ({"eta_shift": -1}, "eta_shift: must be in [0, 24], not -1"),
    "eta_shift_high": ({"eta_shift": 25}, "eta_shift: must be in [0, 24], not 25"),
    "eta_shift_count": ({"eta_shift": (7, 6)},
                        "eta_shift: must have 3 entries (one per hidden layer), not (7, 6)"),
    "eta_shift_entry": ({"eta_shift": (7, 25, 6)},
                        "eta_shift: every entry must be in [0, 24], not (7, 25, 6)"),
    "eta_shift_float": ({"eta_shift": 7.0}, "eta_shift: must be an integer, not 7.0"),
    "feedback": ({"feedback": "random"},
                 ("feedback: must be one of symmetric, sign_concordant, independent, "
                  "not 'random'")),
    "k_equals_m_sign": ({"feedback": "sign_concordant", "m_seeds": (1, 2, 3),
                         "k_seeds": (4, 2, 3)},
                        ("k_seeds: layer 2: equal to its m_seeds entry, which makes K = M "
                         "(sign_concordant feedback would be symmetric), not (4, 2, 3)")),
    "k_equals_m_indep": ({"feedback": "independent", "m_seeds": (1, 2, 3),
                          "k_seeds": (1, 5, 6)},
                         ("k_seeds: layer 1: equal to its m_seeds entry, which makes K = M "
                          "(independent feedback would be symmetric), not (1, 5, 6)")),
    "loss": ({"loss": "mse"}, "loss: must be one of square_hinge, cross_entropy, not 'mse'"),
    "dropout_high": ({"dropout": 1.0}, "dropout: must be a number in [0, 1), not 1.0"),
    "dropout_low": ({"dropout": -0.1}, "dropout: must be a number in [0, 1), not -0.1"),
    "dropout_bool": ({"dropout": True}, "dropout: must be a number in [0, 1), not True"),
    "dropout_str": ({"dropout": "0.5"}, "dropout: must be a number in [0, 1), not '0.5'"),
    "batch_zero": ({"batch": 0}, "batch: must be >= 1, not 0"),
    "batch_float": ({"batch": 2.0}, "batch: must be an integer, not 2.0"),
    "batch_bool": ({"batch": True}, "batch: must be an integer, not True"),
    "batch_str": ({"batch": "4"}, "batch: must be an integer, not '4'"),
    "weight_memory": ({"weight_memory": "spram"},
                      "weight_memory: must be one of dual_port, single_port, not 'spram'"),
    "weight_memory_dict": ({"weight_memory": {"ports": 1}},
                           ("weight_memory: must be one of dual_port, single_port, "
                            "not {'ports': 1}")),
    "counters_int": ({"counters": 1}, "counters: must be true or false, not 1"),
}


@pytest.mark.parametrize("changes, message", RULES.values(), ids=RULES.keys())
def test_validation_rule(changes, message):
    with raises(message):
        Config(**changes)
    with raises(message):
        DEFAULT.replace(**changes)


def test_default_is_valid_and_frozen():
    cfg = Config()
    assert cfg == DEFAULT and cfg.layers == 3
    assert cfg.check_hardware() is cfg
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.eta_shift = 3


def test_weight_memory_kinds():
    """What each kind of weight memory tells the layer, the counter model, the
    testbenches, the host and the build."""
    dual, single = Config().memory, Config(weight_memory="single_port").memory
    assert (dual.name, dual.ports, dual.initial_contents, dual.update_beat_cycles) == \
        ("dual_port", 2, True, 1)
    assert (single.name, single.ports, single.initial_contents, single.update_beat_cycles) == \
        ("single_port", 1, False, 2)


def test_lists_become_tuples():
    cfg = Config(sizes=[64, 32], lanes=[2], m_seeds=[5], k_seeds=[6])
    assert cfg.sizes == (64, 32) and cfg.lanes == (2,)
    assert cfg.m_seeds == (5,) and cfg.k_seeds == (6,)
    assert Config(eta_shift=[6, 7, 8]).eta_shift == (6, 7, 8)
    assert hash(cfg) == hash(Config(sizes=(64, 32), lanes=(2,), m_seeds=(5,), k_seeds=(6,)))


def test_equal_seeds_allowed_when_symmetric():
    # K = M anyway: the k seed is unused
    assert Config(m_seeds=(1, 2, 3), k_seeds=(1, 2, 3)).feedback == "symmetric"


def test_derived():
    assert DEFAULT.eta_shifts == DEFAULT_ETA_SHIFTS == (5, 8, 10)
    cfg = DEFAULT.replace(eta_shift=(6, 7, 8))
    assert cfg.eta_shifts == (6, 7, 8) and cfg.etas == (2.0 ** -6, 2.0 ** -7, 2.0 ** -8)
    # one step for every layer is written one way
    cfg = DEFAULT.replace(eta_shift=[7, 7, 7])
    assert cfg == DEFAULT.replace(eta_shift=7) and cfg.eta_shift == 7 and cfg.eta_shifts == (7,) * 3
    # the default steps follow the depth: the last repeats below, cut above
    assert Config(sizes=(64, 32), lanes=(1,), m_seeds=(1,), k_seeds=(2,)).eta_shift == 5
    assert Config(sizes=(8,) * 6, lanes=(1,) * 5, m_seeds=(1,) * 5,
                  k_seeds=(2,) * 5).eta_shifts == (5, 8, 10, 10, 10)
    # M = m / 2**score_shift: 4-bit odd entries, 128 neurons: 4 + ceil(7 / 2) - 2
    assert [DEFAULT.score_shift(i) for i in range(3)] == [6, 6, 6]
    cfg = Config(sizes=(64, 100, 10, 1), lanes=(1, 1, 1), m_bits=1)
    assert [cfg.score_shift(i) for i in range(3)] == [3, 1, 0]


def test_dict_round_trip():
    cfg = DEFAULT.replace(feedback="sign_concordant", eta_shift=5)
    d = cfg.to_dict()
    assert d["sizes"] == [64, 128, 128, 128] and d["feedback"] == "sign_concordant"
    assert Config.from_dict(d) == cfg


# -- hardware checks --------------------------------------------------------

def test_check_hardware_loss():
    with raises("loss: the fixed-point datapath implements square_hinge, "
                "not 'cross_entropy'"):
        Config(loss="cross_entropy").check_hardware()


def test_check_hardware_dropout():
    assert Config(dropout=(0.5, 0.25, 3 / 256)).check_hardware().dropout_thresholds == (128, 64, 3)
    with raises("dropout: the hardware drops with a probability of k/256, not 0.3"):
        Config(dropout=0.3).check_hardware()
    with raises("dropout: the hardware drops with a probability of k/256, not (0.5, 0.1, 0.5)"):
        Config(dropout=(0.5, 0.1, 0.5)).check_hardware()


def test_dropout_per_layer_and_its_seeds():
    assert Config(dropout=[0.25] * 3).dropout == 0.25
    assert DEFAULT.replace(dropout=(0.5, 0.25, 0.25)).dropout_rates == (0.5, 0.25, 0.25)
    seeds = DEFAULT.dropout_seeds_used
    assert len(set(seeds + DEFAULT.m_seeds + DEFAULT.k_seeds)) == 9   # its own seeds
    assert DEFAULT.replace(dropout_seeds=(1, 2, 3)).dropout_seeds_used == (1, 2, 3)
    with raises("dropout: must have 3 entries (one per hidden layer), not (0.5, 0.5)"):
        Config(dropout=(0.5, 0.5))
    with raises("dropout: must be a number in [0, 1) in every entry, not (0.5, 1.0, 0.5)"):
        Config(dropout=(0.5, 1.0, 0.5))
    with raises("dropout_seeds: every seed must be in [1, 2**32 - 1], not (1, 0, 3)"):
        Config(dropout_seeds=(1, 0, 3))


def test_check_hardware_forward_width():
    cfg = Config(act_width=32, act_frac=8, weight_width=32, weight_frac=28)
    with raises("act_width, weight_width: layer 1's forward sum needs 70 bits, more than "
                "the 64 the fixed-point model computes exactly, not (32, 32)"):
        cfg.check_hardware()


def test_check_hardware_score_width():
    cfg = Config(sizes=(4, 2**26), lanes=(1,), m_seeds=(1,), k_seeds=(2,), act_width=32,
                 act_frac=16, m_bits=8)
    with raises("act_width, m_bits: layer 1's score and error sums needs 66 bits, more than "
                "the 64 the fixed-point model computes exactly, not (32, 8)"):
        cfg.check_hardware()


def test_check_hardware_update_width():
    # eta = 1 and a weight format finer than the activations: d h is shifted left
    cfg = Config(act_width=31, act_frac=0, weight_frac=14, eta_shift=0)
    with raises("act_width, act_frac, weight_frac, eta_shift: layer 1's weight update "
                "needs 76 bits, more than the 64 the fixed-point model computes exactly, "
                "not (31, 0, 14, 0)"):
        cfg.check_hardware()


def test_batch_default_round_trip_and_toml(tmp_path):
    assert DEFAULT.batch == 1 and DEFAULT.to_dict()["batch"] == 1
    cfg = DEFAULT.replace(batch=32)
    assert Config.from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "c.toml"
    path.write_text("[lela]\nbatch = 32\n")
    assert Config.from_toml(path) == cfg
    path.write_text("[lela]\nbatch = 0\n")
    with raises("batch: must be >= 1, not 0"):
        Config.from_toml(path)
    # a new depth keeps the batch
    assert cfg.with_layers((64, 32)).batch == 32


def test_check_hardware_rejects_mini_batches():
    # the fixed-point model runs any batch; the RTL trains online only
    for batch in (2, 32):
        cfg = Config(batch=batch)
        assert cfg.check_fixed_point() is cfg
        with raises(f"batch: the RTL trains online only (batch = 1) for now, not {batch}"):
            cfg.check_hardware()
    assert Config(batch=1).check_hardware() == DEFAULT


def test_check_fixed_point_batch_width():
    # the batch's sum of B products 2**30 (16-bit d and h) before the rounding
    # shift of 11: B = 2**33 - 1 is the largest within 64 bits
    Config(batch=2**33 - 1).check_fixed_point()
    with raises("act_width, act_frac, weight_frac, eta_shift, batch: layer 1's weight update "
                "needs 65 bits, more than the 64 the fixed-point model computes exactly, "
                "not (16, 10, 14, (5, 8, 10), 8589934592)"):
        Config(batch=2**33).check_fixed_point()
    # a left shift (eta = 1, weights finer than the activations): the sum is shifted left
    cfg = Config(act_width=24, act_frac=0, weight_frac=14, eta_shift=0)
    cfg.replace(batch=4).check_fixed_point()
    with raises("act_width, act_frac, weight_frac, eta_shift, batch: layer 1's weight update "
                "needs 65 bits, more than the 64 the fixed-point model computes exactly, "
                "not (24, 0, 14, 0, 8)"):
        cfg.replace(batch=8).check_fixed_point()


def test_check_hardware_widest_accepted():
    assert INT_BITS == 64
    Config(act_width=32, act_frac=16, weight_width=24, weight_frac=20).check_hardware()


# -- TOML -------------------------------------------------------------------

def test_toml_table(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[lela]\nsizes = [16, 8]\nlanes = [2]\nm_seeds = [0x11]\n'
                    'k_seeds = [0x22]\nfeedback = "sign_concordant"\n')
    cfg = Config.from_toml(path)
    assert cfg == Config(sizes=(16, 8), lanes=(2,), m_seeds=(0x11,), k_seeds=(0x22,),
                         feedback="sign_concordant")


def test_toml_top_level(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("eta_shift = 5\nclasses = 4\n")
    assert Config.from_toml(str(path)) == DEFAULT.replace(eta_shift=5, classes=4)


def test_toml_unknown_field(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[lela]\ncolour = "red"\n')
    with raises("colour: unknown configuration field, not 'red'"):
        Config.from_toml(path)


def test_toml_bad_value(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[lela]\neta_shift = 99\n")
    with raises("eta_shift: must be in [0, 24], not 99"):
        Config.from_toml(path)


def test_toml_invalid(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[lela\nsizes = \n")
    with pytest.raises(ConfigError, match="^" + re.escape(
            f"config file {str(path)!r} is not valid TOML: ")):
        Config.from_toml(path)


def test_toml_missing(tmp_path):
    path = tmp_path / "none.toml"
    with raises(f"config file {str(path)!r} does not exist"):
        Config.from_toml(path)


def test_default_toml_equals_default():
    text = resources.files("lela").joinpath("configs/default.toml")
    with resources.as_file(text) as path:
        cfg = Config.from_toml(path)
        content = path.read_text()
    assert cfg == Config()
    # every field is written out, so the file is the reference, not a partial override
    for f in dataclasses.fields(Config):
        assert re.search(rf"^{f.name} = ", content, re.MULTILINE), f.name



def test_mnist_toml_is_the_balanced_mnist_network():
    # what lela/configs/mnist.toml says of itself: MNIST's 784 inputs, three
    # equal hidden layers, the lanes that a budget of 32 multipliers balances
    cfg = Config.from_toml(config_file("mnist"))
    assert cfg.sizes[0] == 28 * 28 and len(set(cfg.sizes[1:])) == 1
    cfg.check_hardware()
    assert balance_lanes(cfg, 32).lanes == cfg.lanes
    assert multipliers_used(cfg) <= 32

# -- command-line overrides -------------------------------------------------

def parse(*argv):
    parser = argparse.ArgumentParser(prog="lela-test")
    add_config_arguments(parser)
    return config_from_args(parser.parse_args(argv))


def test_cli_no_flags():
    assert parse() == DEFAULT


def test_cli_scalars():
    cfg = parse("--classes", "4", "--eta-shift", "5", "--feedback", "sign_concordant",
                "--loss", "cross_entropy", "--dropout", "0.25", "--init-seed", "9",
                "--act-width", "12", "--act-frac", "8", "--weight-width", "12",
                "--weight-frac", "10", "--m-bits", "3", "--weight-memory", "single_port",
                "--counters", "off")
    assert cfg == DEFAULT.replace(classes=4, eta_shift=5, feedback="sign_concordant",
                                  loss="cross_entropy", dropout=0.25, init_seed=9,
                                  act_width=12, act_frac=8, weight_width=12, weight_frac=10,
                                  m_bits=3, weight_memory="single_port", counters=False)


def test_cli_seeds_hex():
    cfg = parse("--m-seeds", "0x10,0x20,0x30", "--k-seeds", "7,8,9")
    assert cfg.m_seeds == (16, 32, 48) and cfg.k_seeds == (7, 8, 9)


def test_cli_eta_shift():
    assert parse("--eta-shift", "6").eta_shift == 6
    assert parse("--eta-shift", "6,7,8").eta_shift == (6, 7, 8)
    with raises("eta_shift: must have 3 entries (one per hidden layer), not (6, 7)"):
        parse("--eta-shift", "6,7")
    assert parse("--sizes", "64,32", "--eta-shift", "5").eta_shift == 5
    assert DEFAULT.replace(eta_shift=(6, 7, 8)).with_layers((64, 32)).eta_shift == 6
    assert DEFAULT.replace(eta_shift=(6, 7, 8)).with_layers((64,) * 5).eta_shift == (6, 7, 8, 8)
    assert parse("--sizes", "64,32,32").eta_shift == (5, 8)


def test_cli_lanes():
    assert parse("--lanes", "2").lanes == (2, 2, 2)
    assert parse("--lanes", "1,2,8").lanes == (1, 2, 8)


def test_cli_multipliers_and_classifier_lanes():
    assert parse("--multipliers", "15").lanes == (2, 4, 4)
    assert parse("--multipliers", "156").lanes == (16, 32, 32)
    assert parse("--classifier-lanes", "5").classifier_lanes == (5, 5, 5)
    cfg = parse("--multipliers", "40", "--classifier-lanes", "1,2,40")
    assert cfg.lanes == (8, 16, 16) and cfg.classifier_lanes == (1, 2, 40)
    with raises("--lanes and --multipliers both choose the lanes: give one"):
        parse("--lanes", "4", "--multipliers", "40")
    with raises("multipliers: 3 hidden layers need at least 6 (one MAC lane and one "
                "classifier multiplier each), not 2"):
        parse("--multipliers", "2")


def test_cli_sizes_shrink():
    cfg = parse("--sizes", "64,32,16")
    assert cfg.sizes == (64, 32, 16) and cfg.lanes == (4, 4)
    assert cfg.m_seeds == DEFAULT.m_seeds[:2] and cfg.k_seeds == DEFAULT.k_seeds[:2]


def test_cli_sizes_grow():
    cfg = parse("--sizes", "64,32,16,8,6")
    assert cfg.lanes == (4, 4, 4, 1)  # 4 lanes do not divide 6 neurons

    def next_seed(s):  # the documented recipe, written out
        return (s * 0x9E3779B1 + 0x7F4A7C15) % (2**32 - 1) + 1

    assert cfg.m_seeds == DEFAULT.m_seeds + (next_seed(DEFAULT.m_seeds[-1]),)
    assert cfg.k_seeds == DEFAULT.k_seeds + (next_seed(DEFAULT.k_seeds[-1]),)


def test_cli_sizes_then_lanes():
    assert parse("--sizes", "64,30", "--lanes", "3").lanes == (3,)


def test_cli_config_file_then_flags(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("[lela]\neta_shift = 5\nclasses = 4\n")
    cfg = parse("--config", str(path), "--eta-shift", "6")
    assert cfg == DEFAULT.replace(eta_shift=6, classes=4)


def test_cli_bad_list(capsys):
    with pytest.raises(SystemExit):
        parse("--sizes", "64,x")
    assert "expected comma-separated integers, not '64,x'" in capsys.readouterr().err


def test_cli_invalid_value():
    with raises("lanes: layer 1: 3 lanes do not divide its 128 neurons, not (3, 3, 3)"):
        parse("--lanes", "3")


def test_cli_equal_seeds_rejected():
    with raises("k_seeds: layer 1: equal to its m_seeds entry, which makes K = M "
                "(sign_concordant feedback would be symmetric), not (1, 5, 6)"):
        parse("--feedback", "sign_concordant", "--m-seeds", "1,2,3", "--k-seeds", "1,5,6")


def test_cli_reports_errors_without_traceback(tmp_path, capsys, monkeypatch):
    import sys
    import types

    from lela import cli
    from lela.data import load_dataset

    def run(args):
        cli.config_from_args(args)
        load_dataset(args.dataset)

    command = types.ModuleType("lela.cli.probe")
    command.add_arguments = lambda p: (p.add_argument("--dataset", default="digits"),
                                       cli.add_config_arguments(p))
    command.run = run
    monkeypatch.setitem(sys.modules, "lela.cli.probe", command)
    monkeypatch.setattr(cli, "COMMANDS", {"probe": "test command"})

    assert cli.main(["probe"]) == 0
    assert cli.main(["probe", "--lanes", "3"]) == 2
    assert capsys.readouterr().err == (
        "lela probe: configuration error: lanes: layer 1: 3 lanes do not divide its "
        "128 neurons, not (3, 3, 3)\n")
    assert cli.main(["probe", "--dataset", str(tmp_path)]) == 2
    stem = "train-images-idx3-ubyte"
    assert capsys.readouterr().err == (
        f"lela probe: data error: {tmp_path / stem}: missing (neither it nor {stem}.gz "
        "exists)\n")


def test_toml_with_fields_outside_the_lela_table_is_rejected(tmp_path):
    path = tmp_path / "both.toml"
    path.write_text("eta_shift = 5\n[lela]\nclasses = 10\n")
    with pytest.raises(ConfigError, match=r"fields outside the \[lela\] table would be ignored \(eta_shift\)"):
        Config.from_toml(path)


def test_balance_lanes_reaches_the_smallest_bound_within_the_budget():
    """For every budget, the lanes chosen fit it and reach the smallest cycle
    bound of any choice of lanes (every combination of divisors tried)."""
    base = Config()
    combos = []
    for lanes in itertools.product(*(divisors(n) for n in base.sizes[1:])):
        cfg = base.replace(lanes=lanes)
        combos.append((cycle_bound(cfg), multipliers_used(cfg)))
    for budget in range(6, 200):
        cfg = balance_lanes(base, budget)
        assert multipliers_used(cfg) <= budget, budget
        best = min(b for b, used in combos if used <= budget)
        assert cycle_bound(cfg) == best, (budget, cfg.lanes)


@pytest.mark.parametrize("budget, message", [
    (5, ("multipliers: 3 hidden layers need at least 6 (one MAC lane and one classifier "
         "multiplier each), not 5")),
    (6.0, "multipliers: must be an integer, not 6.0"),
])
def test_balance_lanes_rejects_a_budget_it_cannot_meet(budget, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        balance_lanes(Config(), budget)


def test_primitives_are_checked():
    assert Config(primitives="ecp5").primitives == "ecp5"
    with pytest.raises(ConfigError, match=r"^primitives: must be one of portable, ecp5, "
                                          r"not 'xilinx'$"):
        Config(primitives="xilinx")
    with pytest.raises(ConfigError, match=r"^weight_width: must be at most 18 with primitives "
                                          r"= 'ecp5' \(the MULT18X18D's operands\), not 20$"):
        Config(primitives="ecp5", weight_width=20, weight_frac=14)
