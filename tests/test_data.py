"""Data sets: the embedded digits split and the IDX loader (MNIST, Fashion-MNIST)."""

import gzip
import hashlib
import re
import struct
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from lela.data import DataError, load_dataset, load_digits, load_idx, read_idx

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"

IMAGES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
LABELS = {"train": "train-labels-idx1-ubyte", "test": "t10k-labels-idx1-ubyte"}


def idx_bytes(array, type_code=0x08):
    array = np.asarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += b"".join(struct.pack(">I", n) for n in array.shape)
    return header + array.tobytes()


def write(path, data, compress=False):
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data))
    else:
        path.write_bytes(data)
    return path


def make_set(directory, seed=0, n_train=7, n_test=5, rows=3, cols=4, compress=False):
    """A small IDX data set in ``directory``; returns the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, rows, cols), dtype=np.uint8)
        images.flat[0] = 255  # the scale must reach exactly 1.0
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        write(directory / IMAGES[split], idx_bytes(images), compress)
        write(directory / LABELS[split], idx_bytes(labels), compress)
        arrays[split] = images, labels
    return arrays


# -- the embedded digits ----------------------------------------------------

def test_digits_split_is_fixed():
    a, b = load_digits(), load_digits()
    assert a.name == "digits" and a.classes == 10 and a.features == 64
    assert a.x_train.shape == (1438, 64) and a.x_test.shape == (359, 64)
    assert a.y_train.shape == (1438,) and a.y_test.shape == (359,)
    assert a.x_train.dtype == np.float64 and a.y_train.dtype == np.int64
    assert a.x_train.min() == 0.0 and a.x_train.max() == 1.0
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    # disjoint: no test image (with its label) is also a training sample
    train = {(r.tobytes(), int(y)) for r, y in zip(a.x_train, a.y_train)}
    test = {(r.tobytes(), int(y)) for r, y in zip(a.x_test, a.y_test)}
    assert not train & test
    # together the two parts are the whole embedded set, each sample once
    with resources.files("lela").joinpath("datasets/digits.npz").open("rb") as f:
        whole = np.load(f)["images"].reshape(1797, 64) / 16.0
    both = np.concatenate([a.x_train, a.x_test])
    np.testing.assert_array_equal(np.sort(both.view(np.void(64 * 8)), axis=0).view(float),
                                  np.sort(whole.view(np.void(64 * 8)), axis=0).view(float))
    # pinned: the split never changes (a change would silently move every result)
    assert a.y_train[:12].tolist() == [0, 4, 9, 5, 8, 5, 3, 3, 9, 7, 1, 8]
    assert a.y_test[:12].tolist() == [6, 6, 6, 2, 5, 6, 6, 2, 2, 1, 1, 9]
    digest = hashlib.sha256(a.x_train.tobytes() + a.x_test.tobytes()).hexdigest()
    assert digest[:16] == "beb70944a59a8530"
    digest = hashlib.sha256(a.y_train.tobytes() + a.y_test.tobytes()).hexdigest()
    assert digest[:16] == "6079382bf6a20ce4"


def test_digits_subset():
    d = load_digits().subset(train=10, test=3)
    assert d.x_train.shape == (10, 64) and d.y_test.shape == (3,)


def test_load_dataset_digits():
    assert load_dataset("digits").x_train.shape == (1438, 64)


# -- IDX files --------------------------------------------------------------

@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_idx_round_trip(tmp_path, compress):
    arrays = make_set(tmp_path, compress=compress)
    d = load_idx(tmp_path, name="tiny")
    assert d.name == "tiny" and d.classes == 10 and d.features == 12
    for split, x, y in (("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test)):
        images, labels = arrays[split]
        assert x.dtype == np.float64 and y.dtype == np.int64
        np.testing.assert_array_equal(x, images.reshape(len(images), -1) / 255.0)
        np.testing.assert_array_equal(y, labels)
        assert x.max() == 1.0 and x.min() >= 0.0


def test_idx_name_defaults_to_directory(tmp_path):
    directory = tmp_path / "fashion"
    directory.mkdir()
    make_set(directory)
    assert load_idx(directory).name == "fashion"
    assert load_dataset(directory).name == "fashion"
    assert load_dataset(str(directory)).x_test.shape == (5, 12)


def test_idx_raw_preferred_over_gzip(tmp_path):
    arrays = make_set(tmp_path, seed=1)
    make_set(tmp_path, seed=2, compress=True)
    np.testing.assert_array_equal(load_idx(tmp_path).y_train, arrays["train"][1])


def test_idx_mixed_raw_and_gzip(tmp_path):
    arrays = make_set(tmp_path, compress=True)
    raw = tmp_path / (LABELS["test"] + ".gz")
    write(tmp_path / LABELS["test"], gzip.decompress(raw.read_bytes()))
    raw.unlink()
    np.testing.assert_array_equal(load_idx(tmp_path).y_test, arrays["test"][1])


def raises(match):
    return pytest.raises(DataError, match="^" + re.escape(match) + "$")


def test_error_not_a_directory(tmp_path):
    with raises(f"{tmp_path / 'nope'}: not a directory"):
        load_idx(tmp_path / "nope")
    with raises(f"{tmp_path / 'nope'}: not 'digits' and not a directory of IDX files"):
        load_dataset(tmp_path / "nope")


def test_error_is_value_error():
    assert issubclass(DataError, ValueError)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_error_missing_file(tmp_path, compress):
    make_set(tmp_path, compress=compress)
    stem = LABELS["test"]
    (tmp_path / (stem + (".gz" if compress else ""))).unlink()
    with raises(f"{tmp_path / stem}: missing (neither it nor {stem}.gz exists)"):
        load_idx(tmp_path)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_error_truncated_data(tmp_path, compress):
    arrays = make_set(tmp_path)
    data = idx_bytes(arrays["train"][0])[:-1]
    (tmp_path / IMAGES["train"]).unlink()
    path = write(tmp_path / IMAGES["train"], data, compress)
    with raises(f"{path}: truncated: {16 + 7 * 12 - 1} bytes, its header declares "
                f"shape (7, 3, 4) ({16 + 7 * 12} bytes)"):
        load_idx(tmp_path)


def test_error_truncated_header(tmp_path):
    make_set(tmp_path)
    path = tmp_path / LABELS["train"]
    path.write_bytes(path.read_bytes()[:6])
    with raises(f"{path}: truncated: 6 bytes, shorter than its 8-byte header"):
        load_idx(tmp_path)


def test_error_truncated_magic(tmp_path):
    path = write(tmp_path / "x", b"\0\0")
    with raises(f"{path}: truncated: 2 bytes, shorter than the 4-byte magic number"):
        read_idx(path, 1)


def test_error_trailing_bytes(tmp_path):
    make_set(tmp_path)
    path = tmp_path / LABELS["test"]
    path.write_bytes(path.read_bytes() + b"\0\0")
    with raises(f"{path}: 2 bytes after the data its header declares (shape (5,), 13 bytes)"):
        load_idx(tmp_path)


def test_error_wrong_magic(tmp_path):
    arrays = make_set(tmp_path)
    # the label file where the images belong: magic 2049, not 2051
    path = tmp_path / IMAGES["test"]
    path.write_bytes(idx_bytes(arrays["test"][1]))
    with raises(f"{path}: bad magic number 2049 (0x00000801), expected 2051 (0x00000803): "
                "not an IDX file of 3 dimensions"):
        load_idx(tmp_path)


def test_error_not_idx_at_all(tmp_path):
    path = write(tmp_path / "x", b"PK\x03\x04 a zip file")
    with raises(f"{path}: bad magic number 1347093252 (0x504B0304), expected 2049 "
                "(0x00000801): not an IDX file of 1 dimension"):
        read_idx(path, 1)


def test_error_wrong_dtype(tmp_path):
    make_set(tmp_path)
    path = tmp_path / LABELS["train"]
    path.write_bytes(idx_bytes(np.zeros(7), type_code=0x0D))
    with raises(f"{path}: data type code 0x0D (float), expected 0x08 (unsigned byte)"):
        load_idx(tmp_path)


def test_error_count_mismatch(tmp_path):
    make_set(tmp_path)
    path = tmp_path / LABELS["train"]
    path.write_bytes(idx_bytes(np.zeros(6)))
    with raises(f"{path}: 6 labels for the 7 images of {IMAGES['train']}"):
        load_idx(tmp_path)


def test_error_label_out_of_range(tmp_path):
    make_set(tmp_path)
    path = tmp_path / LABELS["test"]
    path.write_bytes(idx_bytes([1, 2, 10, 3, 200]))
    with raises(f"{path}: label 10 at index 2 is out of range 0..9"):
        load_idx(tmp_path)


def test_error_image_size_mismatch(tmp_path):
    make_set(tmp_path)
    path = tmp_path / IMAGES["test"]
    path.write_bytes(idx_bytes(np.zeros((5, 4, 4))))
    with raises(f"{path}: images of 16 pixels, but those of {IMAGES['train']} have 12"):
        load_idx(tmp_path)


@pytest.mark.parametrize("damage", ["not_gzip", "cut", "crc"])
def test_error_corrupt_gzip(tmp_path, damage):
    make_set(tmp_path, compress=True)
    path = tmp_path / (IMAGES["train"] + ".gz")
    data = path.read_bytes()
    if damage == "not_gzip":
        data = b"this is not gzip at all"
        detail = "Not a gzipped file (b'th')"
    elif damage == "cut":
        data = data[:-12]
        detail = "Compressed file ended before the end-of-stream marker was reached"
    else:
        data = data[:-8] + bytes([data[-8] ^ 1]) + data[-7:]
        detail = None
    path.write_bytes(data)
    if detail is None:
        with pytest.raises(DataError, match="^" + re.escape(f"{path}: corrupt gzip data (CRC")):
            load_idx(tmp_path)
    else:
        with raises(f"{path}: corrupt gzip data ({detail})"):
            load_idx(tmp_path)


# -- the real MNIST files ---------------------------------------------------

@pytest.mark.skipif(not MNIST.is_dir(), reason="no MNIST files beside the repository "
                    "(../shared/data/mnist)")
def test_mnist():
    sums = {}
    for line in (MNIST / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        sums[name] = digest
    assert len(sums) == 4
    for name, digest in sums.items():
        assert hashlib.sha256((MNIST / name).read_bytes()).hexdigest() == digest, name
    d = load_dataset(MNIST)
    assert d.name == "mnist" and d.classes == 10 and d.features == 784
    assert d.x_train.shape == (60000, 784) and d.y_train.shape == (60000,)
    assert d.x_test.shape == (10000, 784) and d.y_test.shape == (10000,)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(d.y_test, minlength=10).tolist() == [
        980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
