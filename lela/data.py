"""Datasets: the embedded 8x8 digits and IDX files (MNIST, Fashion-MNIST).

Every loader returns a :class:`Dataset` whose inputs are float64 in [0, 1]
(one row per sample); :func:`lela.golden_model.numerics.quantize` turns them
into the hardware's input format.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

__all__ = ["Dataset", "load_digits", "DIGITS_SPLIT_SEED", "DIGITS_TEST_FRACTION"]

#: The embedded digits split is fixed: this seed and fraction, never changed.
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Dataset:
    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int

    @property
    def features(self) -> int:
        return self.x_train.shape[1]

    def subset(self, train=None, test=None) -> "Dataset":
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
    n_test = int(round(len(labels) * DIGITS_TEST_FRACTION))
    test, train = order[:n_test], order[n_test:]
    x = images.astype(np.float64) / 16.0
    y = labels.astype(np.int64)
    return Dataset("digits", x[train], y[train], x[test], y[test], 10)
