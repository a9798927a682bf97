"""Datasets: the embedded 8x8 digits and IDX files (MNIST, Fashion-MNIST).

Every loader returns a :class:`Dataset` whose inputs are float64 in [0, 1]
(one row per sample); :func:`lela.golden_model.numerics.quantize` turns them
into the hardware's input format.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from .config import ConfigError

__all__ = [
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "IDX_CLASSES",
    "IDX_FILES",
    "DataError",
    "Dataset",
    "check_dataset",
    "load_dataset",
    "load_digits",
    "load_idx",
    "read_idx",
]

#: The embedded digits split is fixed: this seed and fraction, never changed.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


class DataError(ValueError):
    """A data set cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class Dataset:
    """A classification data set: inputs in [0, 1], one row a sample, integer labels."""
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def features(self) -> int:
        """Inputs per sample."""
        return self.x_train.shape[1]

    def subset(self, train=None, test=None) -> Dataset:
        """The first ``train`` training and ``test`` test samples (None keeps all)."""
        return Dataset(self.name, self.x_train[:train], self.y_train[:train],
                       self.x_test[:test], self.y_test[:test], self.classes)


def load_digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1797 samples, 64 pixels of 0..16),
    shipped inside lela; fixed split of 1438 training and 359 test samples."""
    with resources.files("lela").joinpath("datasets/digits.npz").open("rb") as f:
        d = np.load(f)
        images, labels = d["images"], d["labels"]
    order = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(len(labels))
    n_test = round(len(labels) * DIGITS_TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    x = images.astype(np.float64) / 16.0
    y = labels.astype(np.int64)
    return Dataset("digits", x[train], y[train], x[test], y[test], 10)


#: The four files of an MNIST-style data set: (split, images, labels).
IDX_FILES = (
    ("train", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)
#: MNIST and Fashion-MNIST both have ten classes.
IDX_CLASSES = 10

#: IDX type codes (third byte of the magic number) and their NumPy dtypes.
_IDX_TYPES = {0x08: ("unsigned byte", ">u1"), 0x09: ("signed byte", ">i1"),
              0x0B: ("short", ">i2"), 0x0C: ("int", ">i4"),
              0x0D: ("float", ">f4"), 0x0E: ("double", ">f8")}
_IDX_UBYTE = 0x08


def _find(directory, stem):
    """``stem`` or ``stem.gz`` in ``directory`` (the uncompressed file wins)."""
    for path in (directory / stem, directory / f"{stem}.gz"):
        if path.is_file():
            return path
    raise DataError(f"{directory / stem}: missing (neither it nor {stem}.gz exists)")


def _read_bytes(path):
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise DataError(f"{path}: corrupt gzip data ({e})") from None


def read_idx(path, ndim):
    """The unsigned-byte array of the IDX file ``path`` (raw or ``.gz``).

    ``ndim`` is the number of dimensions the caller expects (3 for images, 1
    for labels); the magic number must say the same. Raises
    :class:`DataError` for a bad magic number, a type other than unsigned
    byte, or a file shorter or longer than its header declares.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than the 4-byte "
                        "magic number")
    magic = int.from_bytes(data[:4], "big")
    expected = _IDX_UBYTE << 8 | ndim
    if data[0] or data[1] or data[3] != ndim:
        raise DataError(f"{path}: bad magic number {magic} (0x{magic:08X}), expected "
                        f"{expected} (0x{expected:08X}): not an IDX file of {ndim} "
                        "dimension" + ("s" if ndim > 1 else ""))
    if data[2] != _IDX_UBYTE:
        kind = _IDX_TYPES.get(data[2], ("unknown", None))[0]
        raise DataError(f"{path}: data type code 0x{data[2]:02X} ({kind}), expected "
                        f"0x{_IDX_UBYTE:02X} (unsigned byte)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: truncated: {len(data)} bytes, shorter than its "
                        f"{header}-byte header")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = header + int(np.prod(shape, dtype=object))
    if len(data) < size:
        raise DataError(f"{path}: truncated: {len(data)} bytes, its header declares "
                        f"shape {shape} ({size} bytes)")
    if len(data) > size:
        raise DataError(f"{path}: {len(data) - size} bytes after the data its header "
                        f"declares (shape {shape}, {size} bytes)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def load_idx(directory, name=None) -> Dataset:
    """MNIST or Fashion-MNIST from the four IDX files in ``directory``.

    The files are ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each raw or
    gzip-compressed (``.gz`` appended). Images are flattened row-major and
    scaled to [0, 1] (pixel / 255); labels are int64 in ``0..9``. ``name``
    defaults to the directory's name. Every problem raises
    :class:`DataError` naming the file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: not a directory")
    parts = {}
    for split, image_stem, label_stem in IDX_FILES:
        image_path, label_path = _find(directory, image_stem), _find(directory, label_stem)
        images, labels = read_idx(image_path, 3), read_idx(label_path, 1)
        if len(images) != len(labels):
            raise DataError(f"{label_path}: {len(labels)} labels for the {len(images)} "
                            f"images of {image_path.name}")
        if len(labels) and labels.max() >= IDX_CLASSES:
            bad = int(np.argmax(labels >= IDX_CLASSES))
            raise DataError(f"{label_path}: label {int(labels[bad])} at index {bad} is out "
                            f"of range 0..{IDX_CLASSES - 1}")
        parts[split] = (image_path, images.reshape(len(images), -1).astype(np.float64) / 255.0,
                        labels.astype(np.int64))
    (train_path, x_train, y_train), (test_path, x_test, y_test) = parts["train"], parts["test"]
    if x_train.shape[1] != x_test.shape[1]:
        raise DataError(f"{test_path}: images of {x_test.shape[1]} pixels, but those of "
                        f"{train_path.name} have {x_train.shape[1]}")
    return Dataset(name or directory.resolve().name, x_train, y_train, x_test, y_test,
                   IDX_CLASSES)


def load_dataset(spec) -> Dataset:
    """``"digits"`` (the embedded set) or a directory of IDX files (:func:`load_idx`)."""
    if str(spec) == "digits":
        return load_digits()
    path = Path(spec)
    if not path.is_dir():
        raise DataError(f"{spec}: not 'digits' and not a directory of IDX files")
    return load_idx(path)


def check_dataset(cfg, dataset):
    """Raise :class:`~lela.data.DataError` if ``dataset`` has no training or no
    test samples, :class:`~lela.config.ConfigError` if its inputs do not match
    the configuration's ``sizes[0]``."""
    if len(dataset.y_train) == 0 or len(dataset.y_test) == 0:
        raise DataError(f"dataset {dataset.name!r} needs training and test samples "
                        f"(the selection has {len(dataset.y_train)} and {len(dataset.y_test)})")
    if dataset.features != cfg.sizes[0]:
        raise ConfigError(f"sizes: {dataset.name} has {dataset.features} inputs "
                          f"but sizes[0] is {cfg.sizes[0]}, not {cfg.sizes!r}")
