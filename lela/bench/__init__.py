"""The bench: the figures that say whether lela is good hardware, from one run.

One run measures every figure of docs/design.md §6 together with the baselines it
is compared with; :func:`write_report` writes ``benchmarks.md`` (tables),
``benchmarks.json`` (every figure) and PNG plots in ``benchmarks/``. The
``lela bench`` command (:mod:`lela.cli.bench`) is a thin front end. Sections,
one module each, in the JSON and in the order they run:

``accuracy``
    per-layer test error of the float model, the fixed-point model and the
    RTL (Verilator) after the same online training on digits; the RTL must
    equal the fixed-point model. MNIST when its folder exists: float,
    fixed-point and one epoch through the RTL (``lela/configs/mnist.toml``).
``early_exit``
    accuracy of the early-exit decision and mean busy cycles per inference
    against the margin threshold (fixed-point model and
    ``golden_model.counters``), checked in the RTL at a few thresholds.
``utilisation``
    steady-state cycles per training sample measured in Verilator for a sweep
    of MAC lanes, against the bound ``B`` and the counter model.
``traffic``
    weight-memory and activation words per training sample from the hardware
    counters (checked equal to ``golden_model.counters``), against backprop's
    traffic under the paper's analysis (``golden_model.traffic``).
``simulators``
    cycles per second of Amaranth's simulator, Icarus and Verilator on the
    same design and samples.
``resources``
    LUTs, flip-flops, DSPs, block RAM and Fmax from nextpnr (``lela build``)
    for a lane sweep on the ULX3S (ECP5-85F) and the iCEBreaker (iCE40 UP5K)
    configuration.
``throughput``
    training samples/s at Fmax (cycles from ``utilisation``) against the CPU
    baselines measured in the same run: the float model with batch 1 and
    with mini-batch 32, and the fixed-point model.

Every comparison flag of the report (``equal_fixed``, ``counters_equal_model``,
``equal_model``, ``same_predictions``) is the result of the comparison
(:mod:`lela.bench.checks`); a difference raises :class:`BenchMismatch` naming
it, and a comparison that could not be made is None ("not run").

Before the sections, the builds and Verilator runs that depend on nothing
else the run measures (``resources``' uncached board builds, ``utilisation``'s
runs) go in parallel through the sweep engine (:func:`lela.sweep.run_jobs`,
a local Dask cluster or ``client``); the sections then take their results and
run one after the other, so the timed figures are measured alone and every
figure equals a serial run's.

The :data:`QUICK` plan runs every section small (CI: a few minutes, one small
network, synthesis only from a cached build); what a run skipped is listed in
the JSON (``skipped``) and in the Markdown.
"""

from .checks import BenchMismatch
from .common import FULL, MNIST_DIR, QUICK, SECTIONS, Plan
from .markdown import markdown
from .plots import plots
from .run import headline, read_report, run_bench, write_report

__all__ = ["FULL", "MNIST_DIR", "QUICK", "SECTIONS", "BenchMismatch", "Plan", "headline",
           "markdown", "plots", "read_report", "run_bench", "write_report"]
