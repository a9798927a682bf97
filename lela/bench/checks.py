"""The bench's comparisons: hardware against the models, simulator against simulator.

Each check computes the comparison, raises :class:`BenchMismatch` naming what
differed (section, quantity, layer or index, both values) and returns the
computed result, which the report stores as its flag. They never use
``assert``, so ``python -O`` checks as much as ``python`` does.
"""

from __future__ import annotations

import numpy as np

from lela.golden_model.counters import totals

__all__ = ["BenchMismatch", "check_counters", "check_equal", "check_layers"]


class BenchMismatch(AssertionError):
    """A figure differs from the one it is checked against (the RTL from the
    fixed-point or counter model, one simulator from another)."""


def check_equal(where, quantity, got, want, *, got_name="got", want_name="expected",
                index="index"):
    """Whether ``got`` equals ``want`` exactly (numbers or arrays of one shape).

    A difference raises :class:`BenchMismatch` with ``where``, ``quantity``, the
    first differing position (``index`` names its axes) and both values."""
    a, b = np.asarray(got), np.asarray(want)
    if a.shape != b.shape:
        raise BenchMismatch(f"{where}: {quantity}: {got_name} has shape {a.shape}, "
                            f"{want_name} {b.shape}")
    equal = bool(np.array_equal(a, b))
    if not equal:
        first = tuple(int(i) for i in np.argwhere(a != b)[0])
        at = "" if not first else f" at {index} {first[0] if len(first) == 1 else first}"
        raise BenchMismatch(f"{where}: {quantity}: {got_name} {a[first].tolist()!r}, "
                            f"{want_name} {b[first].tolist()!r}{at}")
    return equal


def check_layers(where, got, want, *, got_name="got", want_name="expected"):
    """Whether every entry of ``want`` (one dict per layer) has the same value in
    ``got`` (one dict per layer, may hold more entries).

    A difference raises :class:`BenchMismatch` naming the layer (from 1), the
    entry and both values."""
    if len(got) != len(want):
        raise BenchMismatch(f"{where}: {got_name} has {len(got)} layers, {want_name} "
                            f"{len(want)}")
    differences = [(i, name, g.get(name), value) for i, (g, w) in enumerate(zip(got, want))
                   for name, value in w.items() if g.get(name) != value]
    if differences:
        i, name, g, w = differences[0]
        more = f" (and {len(differences) - 1} more)" if len(differences) > 1 else ""
        raise BenchMismatch(f"{where}, layer {i + 1}: counter {name} is {g} ({got_name}), "
                            f"{want_name} says {w}{more}")
    return not differences


def check_counters(cfg, counters, samples, where):
    """Whether the hardware ``counters`` (one dict per layer) equal
    ``golden_model.counters.totals(cfg, samples)``; a difference raises
    :class:`BenchMismatch`."""
    return check_layers(where, counters, totals(cfg, samples), got_name="hardware",
                        want_name="golden_model.counters")
