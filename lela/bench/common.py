"""What the bench sections share: the plan, the run context, small helpers and
the simulator runs."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from lela.config import Config, config_file
from lela.data import load_digits

__all__ = ["FULL", "MNIST_DIR", "PACKAGE_DIR", "QUICK", "REPO_DIR", "SECTIONS", "Clock",
           "Context", "Plan", "config_key", "digits", "divides", "json_default",
           "multiplier_bound", "named_config", "run_samples", "simulate", "sizes_text",
           "train_order", "with_lanes"]

#: Sections in the order they run (``throughput`` needs the others' figures).
SECTIONS = ("accuracy", "early_exit", "utilisation", "traffic", "simulators", "rtl_speed",
            "resources", "throughput")
#: Default folder of the MNIST IDX files (relative to the working directory).
MNIST_DIR = "../shared/data/mnist"
#: The ``lela`` package folder and the checkout that holds it (``rtl/``, ``boards/``).
PACKAGE_DIR = Path(__file__).resolve().parents[1]
REPO_DIR = PACKAGE_DIR.parent


@dataclass(frozen=True)
class Plan:
    """How much of each measurement a run does."""

    name: str
    #: network of the accuracy, early-exit, utilisation and traffic sections
    config: str = "default"
    #: MAC lanes of the utilisation sweep (those that divide every layer)
    lanes: tuple = (1, 2, 4, 8, 16, 32, 64)
    #: training samples per utilisation run (steady state from the second half)
    util_samples: int = 10
    #: also measure the iCEBreaker configuration's cycles (for its throughput)
    board_cycles: bool = True
    #: network of the simulator-speed section and its training samples
    sim_config: str = "sim"
    sim_samples: int = 200
    verilator_samples: int = 2000
    #: training samples of the RTL-speed section (default network): a digits epoch
    rtl_speed_samples: int = 1438
    #: online training epochs of the accuracy section (float, fixed) and of its RTL run
    epochs: int = 10
    rtl_epochs: int = 1
    train_samples: int | None = None
    test_samples: int | None = None
    #: thresholds of the early-exit curve checked in the RTL
    exit_rtl_points: int = 3
    #: CPU baselines: training samples per measurement and repeats (best kept)
    baseline_samples: int | None = None
    baseline_repeats: int = 3
    #: MNIST configuration (``lela/configs/<name>.toml``) and epochs of the float,
    #: fixed-point and RTL runs; None skips MNIST
    mnist_config: str | None = "mnist"
    mnist_epochs: int = 1
    #: train MNIST through the RTL too (``lela train``'s path, every result checked)
    mnist_rtl: bool = True
    #: ECP5 lane sweep of the resources section
    ecp5_lanes: tuple = (1, 2, 4, 8, 16, 32)
    #: "build": synthesize what is not cached; "cached": only reuse reports
    synth: str = "build"


FULL = Plan("full")
QUICK = Plan("quick", config="sim", lanes=(4,), util_samples=6, board_cycles=False,
             sim_samples=12, verilator_samples=400, rtl_speed_samples=30, epochs=1,
             train_samples=120, test_samples=60,
             exit_rtl_points=2, baseline_samples=120, baseline_repeats=1,
             mnist_config=None, ecp5_lanes=(4,), synth="cached")


class Clock:
    """Wall-clock seconds since the run started, for the log."""

    def __init__(self, log):
        self.t0 = time.perf_counter()
        self._log = log

    def __call__(self, msg):
        """Log ``msg`` after the seconds since the start."""
        self._log(f"lela bench [{time.perf_counter() - self.t0:7.1f} s] {msg}")


def named_config(name):
    """The configuration ``lela/configs/<name>.toml``."""
    return Config.from_toml(config_file(name))


def digits(plan):
    """The digits data set, cut to the plan's training and test samples."""
    return load_digits().subset(plan.train_samples, plan.test_samples)


def train_order(n, epochs, seed=0):
    """The sample order of every epoch, as ``lela train`` uses it."""
    from lela.golden_model.schedule import epoch_order

    return [epoch_order(n, e, seed) for e in range(epochs)]


def sizes_text(sizes):
    """``64-32-32`` for the layer widths ``sizes``."""
    return "-".join(str(n) for n in sizes)


def multiplier_bound(sizes, multipliers, clock_mhz):
    """Training samples/s if every one of the device's ``multipliers`` made one
    MAC of the forward or update pass per cycle at ``clock_mhz``."""
    macs = 2 * sum(a * b for a, b in pairwise(sizes))   # forward + update
    return multipliers * clock_mhz * 1e6 / macs


def with_lanes(cfg, p):
    """``cfg`` with ``p`` MAC lanes in every layer."""
    return cfg.replace(lanes=(p,) * cfg.layers)


def divides(cfg, p):
    """Whether ``p`` lanes divide every layer's outputs."""
    return all(n % p == 0 for n in cfg.sizes[1:])


class Context:
    """What the sections share: the plan, folders, log, results so far."""

    def __init__(self, plan, build_root, mnist, log):
        self.plan = plan
        self.root = Path(build_root)
        self.sim_root = str(self.root / "sim")
        self.mnist = mnist
        self.log = log
        self.cfg = named_config(plan.config) if plan.config != "default" else Config()
        self.sim_cfg = named_config(plan.sim_config)
        self.report = {}
        self.skipped = []
        self.trained = None     # the fixed-point model after the accuracy section's training
        self.util_runs = {}     # config json -> utilisation run
        #: job name -> result, or :class:`lela.sweep.engine.Failure`, of the builds and
        #: simulations run on the workers before the sections (:func:`lela.bench.run_bench`)
        self.prefetched = {}

    def skip(self, section, what):
        """Record (and log) that ``section`` left ``what`` out of this run."""
        self.skipped.append({"section": section, "what": what})
        self.log(f"skipped ({section}): {what}")

    def take(self, name):
        """The result of the job ``name`` run on the workers; the exception it
        raised is raised here, where the section would have raised it itself."""
        from lela.sweep.engine import Failure

        value = self.prefetched.pop(name)
        if not isinstance(value, Failure):
            return value
        if value.exception is not None:
            raise value.exception
        raise RuntimeError(f"{name}: {value.error_type}: {value.error}")


def run_samples(ctx, cfg, name, x, label, train, *, sim="verilator", **job):
    """Run the testbench on ``x`` (quantized) with labels; returns (result, wall s, build s)."""
    return simulate(ctx.sim_root, cfg.to_dict(), name, x, label, train, sim=sim, **job)


def simulate(sim_root, cfg, name, x, label, train, *, sim="verilator", **job):
    """:func:`run_samples` of the configuration ``cfg`` (a dict) with its builds in
    ``sim_root``: a module-level function, so that a worker can run it."""
    from lela.sim.runner import build, run_job

    cfg = Config.from_dict(cfg)
    runner, bdir, _, build_s = build(cfg, sim, root=sim_root)
    (bdir / "jobs").mkdir(parents=True, exist_ok=True)
    data = bdir / "jobs" / f"{name}.npz"
    np.savez(data, x=np.asarray(x, np.int64), label=np.asarray(label, np.int64),
             train=np.asarray(train, np.int64))
    spec = {"config": cfg.to_dict(), "data": str(data), "seed": 0, **job}
    t0 = time.perf_counter()
    result = run_job(runner, bdir, spec, name=name)
    return result, time.perf_counter() - t0, build_s


def config_key(cfg):
    """A configuration (or its ``to_dict()``) as a dictionary key: its JSON, keys sorted."""
    return json.dumps(cfg if isinstance(cfg, dict) else cfg.to_dict(), sort_keys=True)


def json_default(v):
    """``json.dumps`` ``default`` for NumPy scalars and arrays."""
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")
