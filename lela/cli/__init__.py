"""The ``lela`` command line.

One module per subcommand (``lela/cli/<name>.py``), each with
``add_arguments(parser)`` and ``run(args) -> int``: argparse and printing
only, the work is done by the libraries below (``lela.golden_model``,
``lela.rtl``, ``lela.sim``, ``lela.boards``, ``lela.bench``). This module
dispatches, and turns every error a user can cause (a bad configuration,
unreadable data, an unusable path, a board that cannot be reached) into one
line on standard error and exit status 2. A simulated design that differs
from the fixed-point model (:class:`lela.sim.stream.Mismatch`) is one line
naming the seed, sample, layer, quantity and both values, with exit status 1.
``lela --debug COMMAND`` shows the traceback of any of these instead.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from lela.config import Config, ConfigError, balance_lanes
from lela.data import DataError
from lela.sim.stream import Mismatch

__all__ = ["COMMANDS", "CommandError", "add_cluster_arguments", "add_config_arguments",
           "add_schedule_arguments",
           "check_cluster_arguments", "config_from_args", "main", "output_dir", "output_file",
           "positive",
           "write_json"]

#: subcommand -> one-line help; the command is the module ``lela.cli.<subcommand>``
COMMANDS = {
    "experiment": "compare the paper's learning rules (float and fixed-point models)",
    "generate": "write the Verilog of the network top and its manifest",
    "train": "train in cycle-accurate simulation of the RTL, checked against the model",
    "build": "synthesize, place and route a board (YoWASP); report resources and Fmax",
    "board": "talk to a board (or a simulated one) over the host link",
    "bench": "measure utilisation, Fmax, throughput, memory traffic, simulator speed, "
             "early exit and accuracy (docs/benchmarks.md)",
    "sweep": "run a design-space sweep on Dask (docs/sweeps.md): table, Pareto fronts, plots",
}


class CommandError(Exception):
    """A command cannot run as asked (an unusable path, an unreachable board):
    the message names the problem and the value."""


def _int_list(text):
    try:
        return tuple(int(v, 0) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}") from None


def _float_list(text):
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, not {text!r}") from None


def add_schedule_arguments(parser, *, epochs, what):
    """``--epochs`` (default ``epochs``) and ``--schedule``: every layer learns
    from every training sample, or one layer after another; ``what`` says how
    a layer is stopped from learning."""
    from lela.golden_model.schedule import SCHEDULES
    parser.add_argument("--epochs", type=int, default=epochs,
                        help=f"training epochs (per layer with --schedule layerwise; "
                             f"default {epochs})")
    parser.add_argument("--schedule", choices=SCHEDULES, default="simultaneous",
                        help=f"every layer learns from every training sample, or layer 1 "
                             f"alone for --epochs, then layer 2 alone, ... ({what})")


def add_config_arguments(parser):
    """Flags that override fields of the configuration (after ``--config``)."""
    g = parser.add_argument_group("configuration (overrides --config)")
    g.add_argument("--config", metavar="TOML", help="configuration file ([lela] table or top level)")
    g.add_argument("--sizes", type=_int_list, metavar="N0,N1,...",
                   help="input width then hidden-layer widths")
    g.add_argument("--classes", type=int)
    g.add_argument("--lanes", type=_int_list, metavar="P1,P2,...",
                   help="MAC lanes per hidden layer (one value applies to all)")
    g.add_argument("--multipliers", type=int, metavar="N",
                   help="choose the lanes per hidden layer for a budget of N multiplier "
                        "blocks, balancing the pipeline (instead of --lanes; "
                        "docs/architecture.md)")
    g.add_argument("--classifier-lanes", type=_int_list, metavar="Q1,Q2,...",
                   help="error-unit products per cycle per hidden layer (one value applies "
                        "to all; default: chosen from the lanes)")
    g.add_argument("--eta-shift", type=_int_list, metavar="S or S1,S2,...",
                   help="learning rate 2**-S (one value for every hidden layer, or one "
                        "per hidden layer)")
    g.add_argument("--feedback", help="symmetric | sign_concordant | independent")
    g.add_argument("--loss", help="square_hinge | cross_entropy")
    g.add_argument("--dropout", type=_float_list, metavar="P or P1,P2,...",
                   help="dropout probability while a layer trains (one value for every "
                        "hidden layer, or one per hidden layer; k/256 for the hardware)")
    g.add_argument("--init-seed", type=int)
    g.add_argument("--m-seeds", type=_int_list, metavar="S1,S2,...")
    g.add_argument("--k-seeds", type=_int_list, metavar="S1,S2,...")
    for name in ("act-width", "act-frac", "weight-width", "weight-frac", "m-bits"):
        g.add_argument(f"--{name}", type=int)
    g.add_argument("--weight-memory", help="dual_port | single_port (maps to SPRAM)")
    g.add_argument("--primitives", help="portable | ecp5 (the MAC lanes' multipliers as "
                                        "MULT18X18D with their registers, and lela's models "
                                        "of them in simulation)")
    g.add_argument("--counters", choices=("on", "off"),
                   help="build the per-layer performance counters")
    g.add_argument("--control", choices=("on", "off"),
                   help="build the per-layer control word learn (layer-wise training)")
    g.add_argument("--read-register", choices=("on", "off"),
                   help="register the memories' read data before the arithmetic (one more "
                        "cycle per pass, a faster clock)")


def config_from_args(args, default=None) -> Config:
    """The configuration named by ``--config`` (else the file ``default``, else
    the default configuration), with the flag overrides applied."""
    path = getattr(args, "config", None) or default
    cfg = Config.from_toml(path) if path else Config()
    if getattr(args, "sizes", None) is not None:
        cfg = cfg.with_layers(args.sizes)
    changes = {}
    for name in ("eta_shift", "dropout"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value[0] if len(value) == 1 else value
    for name in ("classes", "feedback", "loss", "init_seed",
                 "m_seeds", "k_seeds", "act_width", "act_frac", "weight_width",
                 "weight_frac", "m_bits", "weight_memory", "primitives"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "counters", None) is not None:
        changes["counters"] = args.counters == "on"
    if getattr(args, "control", None) is not None:
        changes["control"] = args.control == "on"
    if getattr(args, "read_register", None) is not None:
        changes["read_register"] = args.read_register == "on"
    lanes = getattr(args, "lanes", None)
    if lanes is not None:
        changes["lanes"] = lanes * cfg.layers if len(lanes) == 1 else lanes
    budget = getattr(args, "multipliers", None)
    if budget is not None and lanes is not None:
        raise ConfigError("--lanes and --multipliers both choose the lanes: give one")
    cfg = cfg.replace(**changes) if changes else cfg
    if budget is not None:
        cfg = balance_lanes(cfg, budget)
    q = getattr(args, "classifier_lanes", None)
    if q is not None:
        cfg = cfg.replace(classifier_lanes=q * cfg.layers if len(q) == 1 else q)
    return cfg


def add_cluster_arguments(parser, what, one_worker=""):
    """``--workers N`` and ``--scheduler ADDRESS``: where ``what`` runs (a
    local Dask cluster, or an existing one); ``one_worker`` says what one
    worker means, if anything special."""
    parser.add_argument("--workers", type=int, metavar="N",
                        help=f"run {what} on a local Dask cluster of N worker processes "
                             f"(default one per core{one_worker})")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help=f"run {what} on the existing Dask cluster of this scheduler "
                             "(such as tcp://HOST:8786) instead of a local one")


def check_cluster_arguments(args):
    """:class:`CommandError` if ``--workers`` or ``--scheduler`` cannot be honoured."""
    if args.workers is not None and args.workers < 1:
        raise CommandError(f"--workers must be >= 1, not {args.workers!r}")
    if args.scheduler and args.workers:
        raise CommandError("--workers sizes the local cluster; with --scheduler the cluster "
                           "has its own workers")


def positive(value, flag):
    """``value`` unless it is given and not a positive finite number
    (:class:`CommandError` naming ``flag`` and the value)."""
    import math

    if value is not None and not (math.isfinite(value) and value > 0):
        raise CommandError(f"{flag} must be a positive number, not {value!r}")
    return value


def output_file(path, what="output file") -> Path | None:
    """``path`` as a file the command may write, checked before any work:
    its folder must be (or be creatable as) a directory and ``path`` must not
    be one. ``None`` stays ``None``."""
    if path is None:
        return None
    path = Path(path)
    if path.is_dir():
        raise CommandError(f"{what} {str(path)!r} is a directory")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise CommandError(f"{what} {str(path)!r}: {str(parent)!r} is not a directory")
            break
    return path


def output_dir(path, what="output folder") -> Path:
    """``path`` as a folder the command may write into, checked before any work."""
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise CommandError(f"{what} {str(path)!r}: {str(p)!r} is not a directory")
            break
    return path


def write_json(path, obj):
    """Write ``obj`` as indented JSON to ``path`` (checked by :func:`output_file`)."""
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def main(argv=None) -> int:
    """Run the ``lela`` command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="lela", description="Local Error Learning Accelerator: on-chip local learning.")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error instead of its one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        importlib.import_module(f"lela.cli.{name}").add_arguments(p)
    args = parser.parse_args(argv)
    module = importlib.import_module(f"lela.cli.{args.command}")
    try:
        return module.run(args) or 0
    except (ConfigError, DataError, CommandError, Mismatch) as e:
        if args.debug:
            raise
        kind = next((text for cls, text in ((ConfigError, "configuration error: "),
                                            (DataError, "data error: "),
                                            (Mismatch, "the design differs from the model: "))
                     if isinstance(e, cls)), "")
        print(f"lela {args.command}: {kind}{e}", file=sys.stderr)
        return 1 if isinstance(e, Mismatch) else 2


if __name__ == "__main__":
    sys.exit(main())
