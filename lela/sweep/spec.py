"""The sweep file: parsing, validation and the points it names.

A sweep file is TOML (docs/sweeps.md)::

    [sweep]
    name = "lanes-width"        # default: the file's name without .toml
    base = "ulx3s"              # a shipped configuration, or a configuration file
    measure = ["design", "accuracy"]

    [base]                      # optional: fields changed on the base first
    eta_shift = 6

    [axes]                      # every combination is a point, in this order
    lanes = [1, 2, 4, 8]        # a configuration field: a list, a range or one value
    format = [{weight_width = 8, weight_frac = 6}, {weight_width = 16, weight_frac = 14}]
    board = ["ulx3s"]           # the board of the build measurement
    seed = {from = 0, to = 2}   # the run seed (see lela.sweep.measure)

    [accuracy]                  # options of a measurement (lela.sweep.measure)
    epochs = 2

Everything is checked before anything runs; a problem raises
:class:`SweepError` with one line naming the file, the table or axis and the
value. What is checked here is the *kind* of every value (an integer where
the field holds integers, one of the field's choices); whether a combination
is a valid configuration is decided per point by the configuration rules,
and a point they reject is reported with its :class:`~lela.config.ConfigError`
(:attr:`Point.error`), not refused.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, fields
from pathlib import Path

from lela.config import (
    FEEDBACK_MODES,
    LOSSES,
    WEIGHT_MEMORIES,
    Config,
    ConfigError,
    config_file,
    read_toml,
)

__all__ = ["AXES", "CHOICES", "Point", "Spec", "SweepError", "expand", "load_spec", "parse_spec",
           "point_config"]

#: Axes that are not configuration fields: the board built and the run seed.
AXES = ("board", "seed")
#: Configuration fields whose value is one of a few words.
CHOICES = {"feedback": FEEDBACK_MODES, "loss": LOSSES, "weight_memory": WEIGHT_MEMORIES}
#: Configuration fields and the kind of value they hold (from :class:`Config`).
FIELD_KINDS = {f.name: str(f.type) for f in fields(Config)}
#: Keys of a range: ``{from = A, to = B, step = S}`` or ``{from = A, to = B, times = F}``.
RANGE_KEYS = ("from", "to", "step", "times")
#: Keys of the ``[sweep]`` table.
SWEEP_KEYS = ("name", "base", "measure", "keep_work")


class SweepError(ValueError):
    """The sweep file cannot be run as written; the message (one line) names the
    file, the table or axis and the value."""


@dataclass(frozen=True)
class Point:
    """One point of the sweep: the axis values and what they make.

    Attributes
    ----------
    index : int
        Position in the sweep (axes varied in file order, the last fastest).
    values : dict
        Field or axis name -> value at this point (group axes flattened).
    config : Config or None
        The point's configuration; None when the configuration rules reject it.
    error : str or None
        The :class:`~lela.config.ConfigError` message of a rejected point.
    board : str or None
        The board of the ``build`` measurement.
    seed : int or None
        The ``seed`` axis value (None without a seed axis).
    """

    index: int
    values: dict
    config: Config | None
    error: str | None
    board: str | None
    seed: int | None

    @property
    def label(self) -> str:
        """``lanes=4 weight_width=8 board=ulx3s``: the point's axis values."""
        return " ".join(f"{k}={_text(v)}" for k, v in self.values.items())


@dataclass(frozen=True)
class Spec:
    """A parsed sweep file.

    Attributes
    ----------
    name : str
        Name of the sweep (the default output folder is named after it).
    path : str
        The file as it was named (for the report; never resolved).
    base : Config
        The base configuration, ``[base]`` changes applied.
    base_name : str
        What ``[sweep] base`` named (a shipped configuration or a file).
    axes : dict
        Axis name -> tuple of values; a value of a group axis is a dict of
        fields.
    measure : tuple of str
        The measurements of every point, in file order.
    options : dict
        Measurement -> its options (defaults filled in).
    keep_work : bool
        Keep the build folders of tasks that succeed (default: removed; those
        of failed tasks are kept for their logs).
    """

    name: str
    path: str
    base: Config
    base_name: str
    axes: dict
    measure: tuple
    options: dict
    keep_work: bool = False

    @property
    def columns(self) -> tuple:
        """The names the axes set, in file order (group axes flattened)."""
        out = []
        for name, values in self.axes.items():
            keys = values[0].keys() if isinstance(values[0], dict) else (name,)
            out += [k for k in keys if k not in out]
        return tuple(out)

    def points(self) -> list:
        """Every point of the sweep (:func:`expand`)."""
        return expand(self)


def _text(v):
    return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else str(v)


def load_spec(path, measurements=None) -> Spec:
    """The sweep file ``path``, parsed and checked (:func:`parse_spec`); its
    relative paths (base configuration, data set) are relative to its folder."""
    p = Path(path)
    data = read_toml(p, "sweep file", SweepError)
    return parse_spec(data, where=str(path), folder=p.parent, name=p.stem,
                      measurements=measurements)


def parse_spec(data, *, where="sweep", folder=".", name="sweep", measurements=None) -> Spec:
    """A :class:`Spec` from the parsed TOML ``data``; :class:`SweepError` on a
    bad table, field, axis value or measurement. ``measurements`` (default
    :data:`lela.sweep.measure.MEASUREMENTS`) names the measurements known."""
    from .measure import MEASUREMENTS

    known = MEASUREMENTS if measurements is None else measurements
    folder = Path(folder)

    def fail(msg):
        raise SweepError(f"{where}: {msg}")

    tables = ("sweep", "base", "axes", *known)
    for key, value in data.items():
        if key not in tables:
            fail(f"unknown table [{key}] (the tables are {', '.join(f'[{t}]' for t in tables)})")
        if not isinstance(value, dict):
            fail(f"{key} must be a table [{key}], not {value!r}")
    head = data.get("sweep", {})
    for key in head:
        if key not in SWEEP_KEYS:
            fail(f"[sweep]: unknown field {key!r} (the fields are {', '.join(SWEEP_KEYS)})")
    name = head.get("name", name)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name[0] == ".":
        fail(f"[sweep] name must be a file name, not {name!r}")
    keep_work = head.get("keep_work", False)
    if not isinstance(keep_work, bool):
        fail(f"[sweep] keep_work must be true or false, not {keep_work!r}")

    measure = head.get("measure")
    if measure is None:
        fail(f"[sweep] measure is missing: list the measurements ({', '.join(known)})")
    if isinstance(measure, str):
        measure = [measure]
    if not isinstance(measure, list) or not measure:
        fail(f"[sweep] measure must be a list of measurements, not {measure!r}")
    for m in measure:
        if m not in known:
            fail(f"[sweep] measure: unknown measurement {m!r} (known: {', '.join(known)})")
    if len(set(measure)) != len(measure):
        fail(f"[sweep] measure lists a measurement twice: {measure!r}")

    base_name = head.get("base", "default")
    base = _base_config(base_name, data.get("base", {}), folder, fail)

    axes = {}
    for axis, raw in data.get("axes", {}).items():
        axes[axis] = _axis_values(axis, raw, fail)
    seen = {}
    for axis, values in axes.items():
        names = values[0].keys() if isinstance(values[0], dict) else (axis,)
        for n in names:
            if n in seen:
                fail(f"[axes] {axis}: sets {n!r}, which axis {seen[n]!r} sets too")
            seen[n] = axis
    if "build" in measure and "board" not in seen:
        fail("measure 'build' needs a board: add an axis board = [...] to [axes]")

    # the options of every measurement are checked, also of one left out of this run
    options = {m: known[m].options(data.get(m, {}), folder,
                                   lambda msg, m=m: fail(f"[{m}]: {msg}"))
               for m in known}
    return Spec(name=name, path=where, base=base, base_name=str(base_name), axes=axes,
                measure=tuple(measure), options={m: options[m] for m in measure},
                keep_work=keep_work)


def _base_config(base_name, changes, folder, fail):
    if not isinstance(base_name, str) or not base_name:
        fail(f"[sweep] base must name a shipped configuration or a file, not {base_name!r}")
    try:
        if base_name.endswith(".toml"):
            base = Config.from_toml(folder / base_name)
        else:
            base = Config.from_toml(config_file(base_name))
    except ConfigError as e:
        fail(f"[sweep] base {base_name!r}: {e}")
    for key, value in changes.items():
        _check_value("[base]", key, value, fail)
    try:
        if "sizes" in changes:
            base = base.with_layers(changes["sizes"])
        return point_config(base, {k: v for k, v in changes.items() if k != "sizes"})
    except ConfigError as e:
        fail(f"[base]: {e}")


def _axis_values(axis, raw, fail):
    where = f"[axes] {axis}"
    if isinstance(raw, dict):
        values = _range(where, raw, fail)
    elif isinstance(raw, list):
        values = raw
    else:
        values = [raw]
    if not values:
        fail(f"{where}: no values (an axis needs at least one)")
    group = isinstance(values[0], dict)
    if group:
        if axis in FIELD_KINDS or axis in AXES:
            fail(f"{where}: a list of tables sets several fields at once; name the axis after "
                 f"the group (such as 'format'), not after the field {axis!r}")
        keys = tuple(values[0])
        for v in values:
            if not isinstance(v, dict):
                fail(f"{where}: mixes tables and single values: {v!r}")
            if tuple(v) != keys:
                fail(f"{where}: every table must set the same fields {list(keys)}, not {v!r}")
            if not v:
                fail(f"{where}: an empty table sets nothing")
            for key, value in v.items():
                _check_value(where, key, value, fail)
        return tuple(values)
    if axis not in FIELD_KINDS and axis not in AXES:
        fail(f"{where}: unknown field {axis!r} (an axis is a configuration field, "
             f"{' or '.join(AXES)}, or a group: a list of tables of fields)")
    if (axis != "lanes" and FIELD_KINDS.get(axis, "").startswith("tuple")
            and all(isinstance(v, int) for v in values)):
        fail(f"{where}: each value is a list of integers; write [{values!r}] for one value")
    out = []
    for v in values:
        if isinstance(v, dict):
            fail(f"{where}: mixes tables and single values: {v!r}")
        _check_value(where, axis, v, fail)
        out.append(tuple(v) if isinstance(v, list) else v)
    if len(set(map(repr, out))) != len(out):
        fail(f"{where}: a value is listed twice: {values!r}")
    return tuple(out)


def _range(where, raw, fail):
    for key in raw:
        if key not in RANGE_KEYS:
            fail(f"{where}: unknown range key {key!r} (a range is {{from = A, to = B, step = S}} "
                 f"or {{from = A, to = B, times = F}})")
    for key in ("from", "to"):
        if key not in raw:
            fail(f"{where}: a range needs 'from' and 'to', not {raw!r}")
    if "step" in raw and "times" in raw:
        fail(f"{where}: a range has a step or a factor (times), not both: {raw!r}")
    for key, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool):
            fail(f"{where}: range {key} must be an integer, not {value!r}")
    lo, hi = raw["from"], raw["to"]
    if hi < lo:
        fail(f"{where}: the range is empty (to < from): {raw!r}")
    if "times" in raw:
        if raw["times"] < 2 or lo < 1:
            fail(f"{where}: a geometric range needs times >= 2 and from >= 1, not {raw!r}")
        out, v = [], lo
        while v <= hi:
            out.append(v)
            v *= raw["times"]
        return out
    step = raw.get("step", 1)
    if step < 1:
        fail(f"{where}: range step must be >= 1, not {step!r}")
    return list(range(lo, hi + 1, step))


def _check_value(where, name, value, fail):
    """The kind of one value: a SweepError for a value no point could use."""
    if name == "board":
        from lela.boards import BOARDS

        if value not in BOARDS:
            fail(f"{where}: board must be one of {', '.join(BOARDS)}, not {value!r}")
        return
    if name == "seed":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            fail(f"{where}: seed must be an integer >= 0, not {value!r}")
        return
    kind = FIELD_KINDS.get(name)
    if kind is None:
        fail(f"{where}: unknown field {name!r} (the configuration fields are "
             f"{', '.join(FIELD_KINDS)}; other axes: {', '.join(AXES)})")
    if "tuple" in kind:   # a per-layer field (eta_shift: one value for all layers, too)
        scalar = name == "lanes" or not kind.startswith("tuple")
        ok = ((isinstance(value, list) and value and all(_is_int(v) for v in value))
              or (scalar and _is_int(value)))
        what = "an integer or a list of integers" if scalar else "a list of integers"
    elif kind == "int":
        ok, what = _is_int(value), "an integer"
    elif kind == "float":
        ok, what = _is_int(value) or isinstance(value, float), "a number"
    elif kind == "bool":
        ok, what = isinstance(value, bool), "true or false"
    else:
        ok, what = isinstance(value, str), "a string"
        if ok and name in CHOICES and value not in CHOICES[name]:
            ok, what = False, f"one of {', '.join(CHOICES[name])}"
    if not ok:
        fail(f"{where}: {name} must be {what}, not {value!r}")


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def point_config(base, values) -> Config:
    """``base`` with the configuration fields of ``values`` set (``board`` and
    ``seed`` ignored). ``sizes`` goes first and stretches the per-layer fields
    (:meth:`Config.with_layers`); an integer ``lanes`` applies to every layer.
    Raises :class:`~lela.config.ConfigError` if the rules reject the result."""
    cfg = base.with_layers(values["sizes"]) if "sizes" in values else base
    changes = {}
    for key, value in values.items():
        if key in AXES or key == "sizes":
            continue
        if key == "lanes" and _is_int(value):
            value = (value,) * cfg.layers
        changes[key] = tuple(value) if isinstance(value, list) else value
    return cfg.replace(**changes) if changes else cfg


def expand(spec, hardware=True) -> list:
    """Every :class:`Point` of ``spec``: the product of its axes in file order
    (the last axis varies fastest). A point whose configuration the rules reject
    (:class:`Config`, and with ``hardware`` the datapath's and the RTL's checks,
    :func:`lela.rtl.top.check_buildable`) carries the ConfigError message."""
    from lela.rtl.top import check_buildable

    names = list(spec.axes)
    points = []
    combos = itertools.product(*(spec.axes[n] for n in names)) if names else [()]
    for index, combo in enumerate(combos):
        values = {}
        for name, value in zip(names, combo):
            values.update(value if isinstance(value, dict) else {name: value})
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
        cfg, error = None, None
        try:
            cfg = point_config(spec.base, values)
            if hardware:
                check_buildable(cfg)
        except ConfigError as e:
            cfg, error = None, str(e)
        points.append(Point(index=index, values=values, config=cfg, error=error,
                            board=values.get("board"), seed=values.get("seed")))
    return points
