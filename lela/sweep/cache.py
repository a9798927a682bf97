"""Results cached by content: a task's key is a digest of everything its result
depends on.

The key of a task (:func:`task_key`) is the SHA-256 of its measurement's name,
the point's configuration, the measurement's options, the board and seed where
the measurement uses them, a digest of lela's library sources
(:func:`sources_digest`) and the versions of the tools the measurement runs,
as ``lela bench`` keys its builds. Change any of them and the task runs again;
change nothing and a resumed or repeated sweep reads the result back.

The cache is a folder of JSON files, ``<root>/<key[:2]>/<key>.json``, each
written whole (a temporary file, then renamed), so a task killed while it
writes leaves no half entry; the workers and the client may write the same
entry, with the same content.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from importlib import metadata
from pathlib import Path

__all__ = ["LIBRARY", "Cache", "sources_digest", "task_key", "tool_versions"]

#: The packages whose sources a measurement runs (of ``lela`` itself only the
#: top-level modules: configuration, data, contract, tools), and the module of
#: the measurements.
LIBRARY = ("lela", "lela.golden_model", "lela.rtl", "lela.sim", "lela.boards")
MEASURE_MODULE = "lela.sweep.measure"


def _folder(package):
    spec = importlib.util.find_spec(package)
    return Path(next(iter(spec.submodule_search_locations)))


def sources_digest() -> str:
    """Digest of the library sources a measurement depends on (every ``.py``
    file of :data:`LIBRARY`, and :mod:`lela.sweep.measure`), by content."""
    h = hashlib.sha256()
    files = [(pkg, path) for pkg in LIBRARY for path in sorted(_folder(pkg).glob("*.py"))]
    files.append((MEASURE_MODULE, Path(importlib.util.find_spec(MEASURE_MODULE).origin)))
    for pkg, path in files:
        h.update(f"{pkg}/{path.name}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def tool_versions(names) -> dict:
    """Distribution -> installed version (``"none"`` when it is not installed)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "none"
    return out


def task_key(measurement, config, options, *, board=None, seed=None, sources, tools) -> str:
    """The cache key of one task (hex SHA-256): ``measurement`` (its
    :class:`~lela.sweep.measure.Measurement`), ``config`` (a dict),
    ``options`` (local ``_`` options left out), the board and seed if the
    measurement uses them, ``sources`` (:func:`sources_digest`) and ``tools``
    (:func:`tool_versions`). The configuration fields the measurement
    ignores are left out."""
    config = {k: v for k, v in config.items() if k not in measurement.ignores}
    key = {"measurement": measurement.name, "config": config,
           "options": {k: v for k, v in options.items() if not k.startswith("_")},
           "sources": sources, "tools": tools}
    if "board" in measurement.inputs:
        key["board"] = board
    if "seed" in measurement.inputs:
        key["seed"] = seed
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


class Cache:
    """The result cache in folder ``root`` (created when the first entry is written).

    Parameters
    ----------
    root : str or Path
        The cache folder.
    """

    def __init__(self, root):
        self.root = Path(root)

    def path(self, key) -> Path:
        """The file of entry ``key``."""
        return self.root / key[:2] / f"{key}.json"

    def get(self, key) -> dict | None:
        """The entry of ``key``, or None (missing, unreadable or another key's)."""
        try:
            entry = json.loads(self.path(key).read_text())
        except (OSError, ValueError):
            return None
        return entry if isinstance(entry, dict) and entry.get("key") == key else None

    def put(self, entry):
        """Write ``entry`` (a dict with its ``key``) whole."""
        path = self.path(entry["key"])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, path)

    def __len__(self):
        return sum(1 for _ in self.root.glob("??/*.json")) if self.root.is_dir() else 0
