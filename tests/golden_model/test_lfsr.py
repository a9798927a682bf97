"""The random-classifier generator of the golden model against a bit-list LFSR."""

import numpy as np
import pytest

from lela.config import Config
from lela.golden_model.lfsr import (
    MASK,
    WIDTH,
    Lfsr,
    classifier_matrix,
    draws,
    feedback_matrix,
)
from lela.golden_model.network import classifier_matrices

from . import reference

SEEDS = (1, 0xFFFFFFFF, 0x80000000, 0x1A2B3C4D, 0x0F1E2D3C, 12345)


def test_constants():
    assert WIDTH == 32 and MASK == 0x80200003
    assert MASK == sum(1 << t for t in reference.TAPS)


@pytest.mark.parametrize("seed", SEEDS)
def test_steps_equal_bit_list_lfsr(seed):
    lfsr, ref = Lfsr(seed), reference.BitLfsr(seed)
    for n in range(5000):
        assert lfsr.step() == ref.step(), f"seed {seed:#x}, step {n}"
        assert lfsr.state == ref.state(), f"seed {seed:#x}, step {n}"


def test_state_never_zero():
    for seed in (1, 0x80000000, 0x1A2B3C4D):
        lfsr = Lfsr(seed)
        for n in range(2**16):
            lfsr.step()
            assert lfsr.state != 0, f"seed {seed:#x}, step {n}"
            assert 0 < lfsr.state < 2**32


def _transition():
    """The step as a linear map over GF(2): images of the 32 unit vectors."""
    cols = []
    for i in range(32):
        lfsr = Lfsr(1 << i)
        lfsr.step()
        cols.append(lfsr.state)
    return cols


def _apply(cols, v):
    out = 0
    for i in range(32):
        if v >> i & 1:
            out ^= cols[i]
    return out


def _power(cols, n):
    result = [1 << i for i in range(32)]
    while n:
        if n & 1:
            result = [_apply(cols, c) for c in result]
        cols = [_apply(cols, c) for c in cols]
        n >>= 1
    return result


def test_period_is_maximal():
    # The state sequence has period 2**32 - 1 iff the transition T has that order:
    # T**(2**32 - 1) = I and T**((2**32 - 1) / q) != I for every prime q dividing it.
    period = 2**32 - 1
    assert 3 * 5 * 17 * 257 * 65537 == period
    t = _transition()
    identity = [1 << i for i in range(32)]
    assert _power(t, period) == identity
    for q in (3, 5, 17, 257, 65537):
        assert _power(t, period // q) != identity, q


@pytest.mark.parametrize("bad", [0, 2**32, -1])
def test_bad_seed(bad):
    with pytest.raises(ValueError, match=rf"^LFSR seed must be in \[1, 2\*\*32 - 1\], not {bad}$"):
        Lfsr(bad)


@pytest.mark.parametrize("bits", [1, 3, 4, 8])
@pytest.mark.parametrize("seed", SEEDS)
def test_draws_equal_reference(seed, bits):
    got = draws(seed, 300, bits)
    assert got.dtype == np.int64
    ref = reference.BitLfsr(seed)
    assert got.tolist() == [ref.draw(bits) for _ in range(300)], f"seed {seed:#x}"


def test_known_first_draws():
    # seed 1: the lone 1 leaves first, then the mask is folded in
    lfsr = Lfsr(1)
    assert lfsr.step() == 1 and lfsr.state == MASK
    # worked by hand: 0x80200003 >> 1 = 0x40100001, ^ mask = 0xC0300002; then 0, 1, 1
    expected = [(1, 0xC0300002), (0, 0x60180001), (1, 0xB02C0003), (1, 0xD8360002)]
    assert [(lfsr.step(), lfsr.state) for _ in range(4)] == expected
    # pinned values of the default layer-1 seed (also computed by the bit-list LFSR)
    first = draws(0x1A2B3C4D, 8, 4).tolist()
    ref = reference.BitLfsr(0x1A2B3C4D)
    assert first == [ref.draw(4) for _ in range(8)]
    assert first == PINNED_DRAWS


PINNED_DRAWS = [15, 10, 9, 0, 5, 9, 6, 10]


def test_deterministic():
    np.testing.assert_array_equal(draws(77, 500, 4), draws(77, 500, 4))
    np.testing.assert_array_equal(classifier_matrix(77, 10, 32, 4),
                                  classifier_matrix(77, 10, 32, 4))


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_classifier_entries(bits):
    m = classifier_matrix(0x1A2B3C4D, 10, 64, bits)
    assert m.shape == (10, 64) and m.dtype == np.int64
    top = 2**bits - 1
    assert np.all(m % 2 == 1), "entries are odd"
    assert m.min() >= -top and m.max() <= top
    # every odd value in range occurs (640 draws of at most 256 values... for bits <= 4)
    if bits <= 4:
        assert sorted(set(m.ravel().tolist())) == list(range(-top, top + 1, 2))


def test_classifier_order_j_major_c_minor():
    classes, neurons, bits = 5, 7, 4
    m = classifier_matrix(99, classes, neurons, bits)
    flat = reference.entries(99, classes * neurons, bits)
    for j in range(neurons):
        for c in range(classes):
            assert m[c, j] == flat[j * classes + c], (c, j)
    assert m.tolist() == reference.matrix(99, classes, neurons, bits)


def test_feedback_symmetric():
    m = classifier_matrix(5, 10, 16, 4)
    k = feedback_matrix("symmetric", m, 6, 4)
    np.testing.assert_array_equal(k, m)
    assert k is not m


@pytest.mark.parametrize("bits", [1, 4, 8])
def test_feedback_sign_concordant(bits):
    m = classifier_matrix(5, 10, 64, bits)
    k = feedback_matrix("sign_concordant", m, 6, bits)
    np.testing.assert_array_equal(np.sign(k), np.sign(m))
    assert np.all(k % 2 == 1) and np.abs(k).max() <= 2**bits - 1
    # magnitudes: the K generator's entries in the same order
    np.testing.assert_array_equal(np.abs(k), np.abs(reference.matrix(6, 10, 64, bits)))
    assert k.tolist() == reference.feedback("sign_concordant", m.tolist(), 6, bits)
    if bits > 1:
        assert np.any(k != m)
    else:
        np.testing.assert_array_equal(k, m)  # 1-bit entries are +-1: K = M


def test_feedback_independent():
    m = classifier_matrix(5, 10, 64, 4)
    k = feedback_matrix("independent", m, 6, 4)
    assert k.tolist() == reference.matrix(6, 10, 64, 4)
    assert np.mean(np.sign(k) == np.sign(m)) < 0.6  # signs unrelated to M's


def test_feedback_bad_mode():
    m = classifier_matrix(5, 3, 4, 4)
    with pytest.raises(ValueError, match="^feedback mode must be symmetric, sign_concordant or "
                       "independent, not 'transpose'$"):
        feedback_matrix("transpose", m, 6, 4)


@pytest.mark.parametrize("mode", ["symmetric", "sign_concordant", "independent"])
def test_classifier_matrices_of_config(mode):
    cfg = Config(sizes=(16, 12, 8), lanes=(1, 1), classes=3, m_seeds=(11, 12),
                 k_seeds=(21, 22), feedback=mode)
    for i, (m, k) in enumerate(classifier_matrices(cfg)):
        ref_m = reference.matrix(cfg.m_seeds[i], 3, cfg.sizes[i + 1], 4)
        assert m.tolist() == ref_m
        assert k.tolist() == reference.feedback(mode, ref_m, cfg.k_seeds[i], 4)
