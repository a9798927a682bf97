"""``lela experiment``: the paper's comparison of learning rules, per layer."""

from __future__ import annotations

from lela.data import check_dataset, load_dataset
from lela.golden_model.experiment import ROWS, markdown, plot, run_experiment

from . import (
    CommandError,
    add_config_arguments,
    add_schedule_arguments,
    config_from_args,
    output_file,
)

__all__ = ["add_arguments", "run"]


def _methods(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    for n in names:
        if n not in ROWS:
            raise CommandError(f"unknown method {n!r}; choose from {', '.join(ROWS)}")
    return names


def add_arguments(parser):
    """The flags of ``lela experiment``."""
    parser.add_argument("--dataset", default="digits", metavar="digits|DIR",
                        help="'digits' (embedded) or a directory of IDX files (default digits)")
    add_schedule_arguments(parser, epochs=20, what="the local rows; backprop and FA then train "
                                                   "all layers for as many epochs in total")
    parser.add_argument("--seeds", type=int, default=3, help="runs per row (default 3)")
    parser.add_argument("--batch", type=int, default=1,
                        help="mini-batch of the float rows, mean gradient (default 1: online)")
    parser.add_argument("--methods", default=",".join(ROWS), metavar="M1,M2,...",
                        help=f"rows to run, from {', '.join(ROWS)} (default all)")
    parser.add_argument("--train-samples", type=int, metavar="N",
                        help="use only the first N training samples")
    parser.add_argument("--test-samples", type=int, metavar="N",
                        help="use only the first N test samples")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the table as Markdown")
    parser.add_argument("--plot", metavar="PATH",
                        help="write test error vs epoch per layer (PNG)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_arguments(parser)


def run(args) -> int:
    """Run the rows, print the Markdown table, write the files asked for."""
    cfg = config_from_args(args)
    rows = _methods(args.methods)
    for name in ("epochs", "seeds", "batch"):
        if getattr(args, name) < 1:
            raise CommandError(f"--{name} must be >= 1, not {getattr(args, name)!r}")
    outputs = {name: output_file(getattr(args, name), f"--{name}")
               for name in ("json", "markdown", "plot")}
    data = load_dataset(args.dataset).subset(args.train_samples, args.test_samples)
    check_dataset(cfg, data)
    results = run_experiment(cfg, data, rows, epochs=args.epochs, seeds=args.seeds,
                             batch=args.batch, schedule=args.schedule,
                             progress=not args.no_progress)
    table = markdown(results)
    print(table)
    if outputs["json"]:
        import json
        outputs["json"].parent.mkdir(parents=True, exist_ok=True)
        outputs["json"].write_text(json.dumps(results, indent=1) + "\n")
    if outputs["markdown"]:
        outputs["markdown"].parent.mkdir(parents=True, exist_ok=True)
        outputs["markdown"].write_text(table)
    if outputs["plot"]:
        outputs["plot"].parent.mkdir(parents=True, exist_ok=True)
        plot(results, outputs["plot"])
    return 0
