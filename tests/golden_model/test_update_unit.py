"""``golden_model.update_unit``: the online update and a mini-batch's pending
sums (summed exactly, rounded once, saturated), by hand and against each other."""

import numpy as np

from lela.config import Config
from lela.contract import bias_shift, weight_shift
from lela.golden_model.numerics import signed_range
from lela.golden_model.update_unit import PendingUpdate, update

# weight_shift 2 * 10 - 14 + 3 = 9 (half an LSB of the step: a product of 256),
# bias_shift 10 - 14 + 3 = -1 (an exact left shift)
CFG = Config(sizes=(3, 2), classes=2, lanes=(1,), m_seeds=(1,), k_seeds=(2,), eta_shift=3)


def test_shifts_of_the_hand_cases():
    assert (weight_shift(CFG, 0), bias_shift(CFG, 0)) == (9, -1)


def test_one_sample_is_the_online_update():
    seed = 60
    rng = np.random.default_rng(seed)
    lo_a, hi_a = signed_range(CFG.act_width)
    lo_w, hi_w = signed_range(CFG.weight_width)
    pending = PendingUpdate(CFG, 0)
    for n in range(200):
        w = rng.integers(lo_w, hi_w + 1, size=(2, 3))
        b = rng.integers(lo_w, hi_w + 1, size=2)
        d = rng.integers(lo_a, hi_a + 1, size=2) * rng.integers(0, 2, size=2)  # some zero
        h = np.maximum(rng.integers(lo_a, hi_a + 1, size=3), 0) >> int(rng.integers(0, 12))
        w_in, b_in = w.copy(), b.copy()
        pending.add(d, h)
        got = pending.apply(w, b)
        want = update(CFG, 0, w, b, d, h)
        where = f"seed {seed}, sample {n}"
        np.testing.assert_array_equal(got[0], want[0], err_msg=f"{where}, W")
        np.testing.assert_array_equal(got[1], want[1], err_msg=f"{where}, b")
        np.testing.assert_array_equal(w, w_in, err_msg=f"{where}: W modified")
        np.testing.assert_array_equal(b, b_in, err_msg=f"{where}: b modified")
        assert pending.samples == 0 and not pending.sum_w.any() and not pending.sum_b.any()


def test_the_sum_is_rounded_once():
    """Two products of +256 (half an LSB each) step by 1, not 2; two of -256
    step by -1, where two online roundings (round half up) give 0 each."""
    w = np.zeros((2, 3), dtype=np.int64)
    b = np.zeros(2, dtype=np.int64)
    pending = PendingUpdate(CFG, 0)
    for _ in range(2):
        pending.add(np.array([16, -16]), np.array([16, 0, 1]))
    assert pending.samples == 2
    np.testing.assert_array_equal(pending.sum_w, [[512, 0, 32], [-512, 0, -32]])
    np.testing.assert_array_equal(pending.sum_b, [32, -32])
    w_new, b_new = pending.apply(w, b)
    # W - rs(sum, 9): rs(512) = 1, rs(-512) = -1, rs(+-32) = 0
    np.testing.assert_array_equal(w_new, [[-1, 0, 0], [1, 0, 0]])
    np.testing.assert_array_equal(b_new, [-64, 64])     # bias_shift -1: doubled, exact
    # online, one sample after the other: each product rounds on its own
    w_on, b_on = w, b
    for _ in range(2):
        w_on, b_on = update(CFG, 0, w_on, b_on, np.array([16, -16]), np.array([16, 0, 1]))
    np.testing.assert_array_equal(w_on, [[-2, 0, 0], [0, 0, 0]])


def test_the_sum_saturates_once():
    lo_w, hi_w = signed_range(CFG.weight_width)
    lo_a, hi_a = signed_range(CFG.act_width)
    w = np.array([[hi_w - 1, lo_w + 1, 0], [0, 0, 0]], dtype=np.int64)
    b = np.array([hi_w, lo_w], dtype=np.int64)
    pending = PendingUpdate(CFG, 0)
    for _ in range(3):   # large steps: beyond the range, clamped, never wrapped
        pending.add(np.array([lo_a, hi_a]), np.array([hi_a, hi_a, 0]))
    w_new, b_new = pending.apply(w, b)
    np.testing.assert_array_equal(w_new, [[hi_w, hi_w, 0], [lo_w, lo_w, 0]])
    np.testing.assert_array_equal(b_new, [hi_w, lo_w])
