"""The ``lela`` command line.

Each subcommand lives in the module that does the work; that module defines
``add_arguments(parser)`` and ``run(args) -> int``; this file only
dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .config import Config, ConfigError
from .data import DataError

__all__ = ["add_config_arguments", "config_from_args", "main"]

#: subcommand -> (module, one-line help)
COMMANDS = {
    "experiment": ("lela.golden_model.experiment",
                   "compare the paper's learning rules (float and fixed-point models)"),
    "generate": ("lela.rtl.generate", "write the Verilog of the network top and its manifest"),
    "train": ("lela.sim.train",
              "train in cycle-accurate simulation of the RTL, checked against the model"),
    "build": ("lela.boards.build",
              "synthesize, place and route a board (YoWASP); report resources and Fmax"),
    "board": ("lela.boards.host",
              "talk to a board (or a simulated one) over the host link"),
    "bench": ("lela.bench", "measure utilisation, Fmax, throughput, memory traffic, "
              "simulator speed, early exit and accuracy (docs/benchmarks.md)"),
}


def _int_list(text):
    try:
        return tuple(int(v, 0) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, not {text!r}") from None


def add_config_arguments(parser):
    """Flags that override fields of the configuration (after ``--config``)."""
    g = parser.add_argument_group("configuration (overrides --config)")
    g.add_argument("--config", metavar="TOML", help="configuration file ([lela] table or top level)")
    g.add_argument("--sizes", type=_int_list, metavar="N0,N1,...",
                   help="input width then hidden-layer widths")
    g.add_argument("--classes", type=int)
    g.add_argument("--lanes", type=_int_list, metavar="P1,P2,...",
                   help="MAC lanes per hidden layer (one value applies to all)")
    g.add_argument("--eta-shift", type=int, help="learning rate 2**-ETA_SHIFT")
    g.add_argument("--feedback", help="symmetric | sign_concordant | independent")
    g.add_argument("--loss", help="square_hinge | cross_entropy")
    g.add_argument("--dropout", type=float)
    g.add_argument("--init-seed", type=int)
    g.add_argument("--m-seeds", type=_int_list, metavar="S1,S2,...")
    g.add_argument("--k-seeds", type=_int_list, metavar="S1,S2,...")
    for name in ("act-width", "act-frac", "weight-width", "weight-frac", "m-bits"):
        g.add_argument(f"--{name}", type=int)
    g.add_argument("--weight-memory", help="dual_port | single_port (maps to SPRAM)")
    g.add_argument("--counters", choices=("on", "off"),
                   help="build the per-layer performance counters")


def config_from_args(args) -> Config:
    """The configuration named by ``--config`` (or the default), with flag overrides."""
    cfg = Config.from_toml(args.config) if getattr(args, "config", None) else Config()
    if getattr(args, "sizes", None) is not None:
        cfg = cfg.with_layers(args.sizes)
    changes = {}
    for name in ("classes", "eta_shift", "feedback", "loss", "dropout", "init_seed",
                 "m_seeds", "k_seeds", "act_width", "act_frac", "weight_width",
                 "weight_frac", "m_bits", "weight_memory"):
        value = getattr(args, name, None)
        if value is not None:
            changes[name] = value
    if getattr(args, "counters", None) is not None:
        changes["counters"] = args.counters == "on"
    lanes = getattr(args, "lanes", None)
    if lanes is not None:
        changes["lanes"] = lanes * cfg.layers if len(lanes) == 1 else lanes
    return cfg.replace(**changes) if changes else cfg


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="lela", description="Local Error Learning Accelerator: on-chip local learning.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    module = importlib.import_module(args._module)
    try:
        return module.run(args) or 0
    except ConfigError as e:
        print(f"lela {args.command}: configuration error: {e}", file=sys.stderr)
        return 2
    except DataError as e:
        print(f"lela {args.command}: data error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
