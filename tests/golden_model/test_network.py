"""FixedNetwork against the plain-Python reference of docs/numerics.md, exactly."""

import numpy as np
import pytest

from lela.config import Config, ConfigError
from lela.contract import DROPOUT_BITS, forward_acc_width
from lela.data import load_digits
from lela.golden_model import error_unit
from lela.golden_model.layer import Token, layer_step
from lela.golden_model.lfsr import JumpLfsr
from lela.golden_model.network import (
    FixedNetwork,
    classifier_matrices,
    initial_weights,
    update_order,
    weight_digest,
)
from lela.golden_model.numerics import signed_range

from . import reference

SMALL = Config(sizes=(12, 8, 6), classes=4, lanes=(2, 3), m_seeds=(0x1234, 0xBEEF),
               k_seeds=(0x4321, 0xFEED), init_seed=5, eta_shift=3)
# narrow formats: negative bias shift (an exact left shift), frequent saturation
NARROW = Config(sizes=(10, 6, 5), classes=3, lanes=(3, 5), act_width=10, act_frac=6,
                weight_width=12, weight_frac=10, m_bits=3, m_seeds=(7, 8), k_seeds=(9, 10),
                init_seed=2, eta_shift=2)


def samples(cfg, count, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, size=(count, cfg.sizes[0]))
    return x, rng.integers(0, cfg.classes, size=count)


def assert_same(net, ref, traces, ref_traces, where):
    for i, (t, r) in enumerate(zip(traces, ref_traces)):
        for name in ("a", "h", "s", "g", "d"):
            got = getattr(t, name)
            assert got.dtype == np.int64, f"{where}, layer {i}, {name}"
            np.testing.assert_array_equal(got, r[name], err_msg=f"{where}, layer {i}, {name}")
        assert t.prediction == r["prediction"], f"{where}, layer {i}, prediction"
    for i in range(net.cfg.layers):
        np.testing.assert_array_equal(net.w[i], ref.w[i], err_msg=f"{where}, layer {i}, W")
        np.testing.assert_array_equal(net.b[i], ref.b[i], err_msg=f"{where}, layer {i}, b")


def test_initial_weights_equal_reference():
    ref = reference.Reference(SMALL)
    for i, (w, b) in enumerate(initial_weights(SMALL)):
        assert w.shape == (SMALL.sizes[i + 1], SMALL.sizes[i]) and w.dtype == np.int64
        np.testing.assert_array_equal(w, ref.w[i])
        np.testing.assert_array_equal(b, 0)
        r = 2**SMALL.weight_frac / np.sqrt(SMALL.sizes[i])
        assert np.abs(w).max() <= np.ceil(r)


@pytest.mark.parametrize("cfg", [SMALL, NARROW, SMALL.replace(eta_shift=(2, 5))],
                         ids=["small", "narrow", "eta_per_layer"])
@pytest.mark.parametrize("feedback", ["symmetric", "sign_concordant", "independent"])
def test_train_step_equals_reference(cfg, feedback):
    cfg = cfg.replace(feedback=feedback)
    net, ref = FixedNetwork(cfg), reference.Reference(cfg)
    x, labels = samples(cfg, 6, seed=11)
    for n, (xi, t) in enumerate(zip(x, labels)):
        x_q = net.quantize(xi)
        assert x_q.tolist() == [reference.quantize(v, cfg.act_frac, cfg.act_width) for v in xi]
        traces = net.train_step(x_q, int(t))
        assert_same(net, ref, traces, ref.step(x_q.tolist(), int(t)),
                    f"{feedback}, seed 11, sample {n}")
    # the weights moved: the comparison was not of untouched memories
    assert any(np.any(w != w0) for w, (w0, _) in zip(net.w, initial_weights(cfg)))
    assert any(np.any(b != 0) for b in net.b)


def test_eta_per_layer_steps_each_layer_by_its_own():
    """With steps (3, 5) layer 1 trains exactly as with 3 everywhere (it learns
    from its own error only, whatever the layer above does), and layer 2,
    which sees the same inputs, does not."""
    x, labels = samples(SMALL, 6, seed=12)
    nets = {eta: FixedNetwork(SMALL.replace(eta_shift=eta)) for eta in (3, (3, 5))}
    for net in nets.values():
        for xi, t in zip(x, labels):
            net.train_step(net.quantize(xi), int(t))
    uniform, mixed = nets[3], nets[(3, 5)]
    np.testing.assert_array_equal(mixed.w[0], uniform.w[0], err_msg="seed 12, layer 0, W")
    np.testing.assert_array_equal(mixed.b[0], uniform.b[0], err_msg="seed 12, layer 0, b")
    assert np.any(mixed.w[1] != uniform.w[1]), "seed 12, layer 1: its step made no difference"


def test_narrow_uses_a_left_shift_for_the_bias():
    assert NARROW.act_frac - NARROW.weight_frac + NARROW.eta_shift < 0


def extreme(cfg, w_value, b_value):
    """A network and its reference with every weight and bias set to one value."""
    net, ref = FixedNetwork(cfg), reference.Reference(cfg)
    for i in range(cfg.layers):
        net.w[i] = np.full_like(net.w[i], w_value)
        net.b[i] = np.full_like(net.b[i], b_value)
        ref.w[i] = net.w[i].tolist()
        ref.b[i] = net.b[i].tolist()
    return net, ref


def test_saturation_high():
    cfg = NARROW.replace(eta_shift=0)
    lo_a, hi_a = signed_range(cfg.act_width)
    lo_w, hi_w = signed_range(cfg.weight_width)
    net, ref = extreme(cfg, hi_w, hi_w)
    x_q = np.full(cfg.sizes[0], hi_a, dtype=np.int64)  # the largest input
    traces = net.train_step(x_q, 0)
    assert_same(net, ref, traces, ref.step(x_q.tolist(), 0), "saturation high")
    first = traces[0]
    # the forward sum is far beyond the format: a saturates, it does not wrap
    np.testing.assert_array_equal(first.a, hi_a)
    np.testing.assert_array_equal(first.h, hi_a)
    raw = reference.rs(int(net.mk[0][0][0] @ first.h), cfg.score_shift(0))
    assert raw < lo_a and first.s[0] == lo_a, "the label's score saturates low"
    assert first.g[0] == lo_a, "-(ONE - s) of the label saturates"
    # the update drives weights to both bounds, never past them
    for w, b in zip(net.w, net.b):
        assert w.min() >= lo_w and w.max() <= hi_w and b.min() >= lo_w and b.max() <= hi_w
    assert net.w[0].min() == lo_w and net.w[0].max() == hi_w


def test_error_saturation():
    # g at its most negative bound times the largest K entries: d saturates
    cfg = Config(sizes=(4, 3), classes=10, lanes=(1,), m_seeds=(1,), k_seeds=(2,))
    lo_a, hi_a = signed_range(cfg.act_width)
    k = np.full((10, 3), 15, dtype=np.int64)
    k[:, 1] = -15
    g = np.full(10, lo_a, dtype=np.int64)
    d = error_unit.local_error(cfg, 0, k, g, np.array([1, 1, 0]))
    assert d.tolist() == [lo_a, hi_a, 0]
    assert d.tolist() == [reference.sat(reference.rs(15 * 10 * lo_a, cfg.score_shift(0)), 16),
                          reference.sat(reference.rs(-15 * 10 * lo_a, cfg.score_shift(0)), 16),
                          0]
    # the gradient of a wrong class with a large score saturates high
    s = np.array([hi_a, 0, 0, 0, 0, 0, 0, 0, 0, lo_a])
    g = error_unit.loss_grad(cfg, s, 9)
    assert g[0] == hi_a and g[9] == lo_a and g[1] == 1 << cfg.act_frac


def test_saturation_low():
    cfg = NARROW.replace(eta_shift=0)
    lo_a, hi_a = signed_range(cfg.act_width)
    lo_w, _ = signed_range(cfg.weight_width)
    net, ref = extreme(cfg, lo_w, lo_w)
    x_q = np.full(cfg.sizes[0], hi_a, dtype=np.int64)
    traces = net.train_step(x_q, 0)
    assert_same(net, ref, traces, ref.step(x_q.tolist(), 0), "saturation low")
    np.testing.assert_array_equal(traces[0].a, lo_a)  # saturates low, not wrapped to high
    for t in traces:
        np.testing.assert_array_equal(t.h, 0)
        np.testing.assert_array_equal(t.s, 0)
        np.testing.assert_array_equal(t.d, 0)  # relu' = 0: nothing learns
    for w, b in zip(net.w, net.b):
        np.testing.assert_array_equal(w, lo_w)
        np.testing.assert_array_equal(b, lo_w)


def test_saturation_negative_inputs():
    cfg = NARROW.replace(eta_shift=0, feedback="sign_concordant")
    lo_a, _ = signed_range(cfg.act_width)
    net, ref = extreme(cfg, signed_range(cfg.weight_width)[0], 0)
    x_q = np.full(cfg.sizes[0], lo_a, dtype=np.int64)  # most negative input x most negative W
    for n in range(3):
        traces = net.train_step(x_q, 2)
        assert_same(net, ref, traces, ref.step(x_q.tolist(), 2), f"negative inputs, step {n}")


def test_fixed_network_needs_hardware_config():
    with pytest.raises(ConfigError, match="^loss: the fixed-point datapath implements"):
        FixedNetwork(SMALL.replace(loss="cross_entropy"))


def test_forward_and_predict_match_train_step():
    net = FixedNetwork(SMALL)
    x, labels = samples(SMALL, 3, seed=4)
    x_q = net.quantize(x[0])
    before = net.forward(x_q)
    preds = net.predict(x_q)
    traces = net.train_step(x_q, int(labels[0]))
    for (a, h, s), t, p in zip(before, traces, preds):
        np.testing.assert_array_equal(a, t.a)
        np.testing.assert_array_equal(h, t.h)
        np.testing.assert_array_equal(s, t.s)
        assert p == t.prediction


def test_early_exit():
    net = FixedNetwork(SMALL)
    x_q = net.quantize(samples(SMALL, 1, seed=6)[0][0])
    preds = net.predict(x_q)
    assert net.predict_early_exit(x_q, 0) == (preds[0], 0)
    assert net.predict_early_exit(x_q, 2**40) == (preds[-1], SMALL.layers - 1)


# -- batched evaluation -------------------------------------------------------

WIDE = Config(sizes=(64, 16, 16), lanes=(1, 1), act_width=28, act_frac=12, weight_width=28,
              weight_frac=14, m_seeds=(3, 4), k_seeds=(5, 6))


@pytest.mark.parametrize("cfg", [Config(), SMALL.replace(sizes=(64, 8, 6), classes=10), WIDE],
                         ids=["default", "small", "wide"])
def test_evaluate_batched_equals_per_sample(cfg):
    digits = load_digits().subset(train=200, test=359)
    net = FixedNetwork(cfg)
    x_train = net.quantize(digits.x_train)
    for x, t in zip(x_train, digits.y_train):
        net.train_step(x, int(t))
    x_test = net.quantize(digits.x_test)
    per_sample = np.array([net.predict(x) for x in x_test])
    np.testing.assert_array_equal(net.predict_batch(x_test), per_sample)
    np.testing.assert_array_equal(net.predict_batch(x_test, chunk=7), per_sample)
    wrong = (per_sample != digits.y_test[:, None]).sum(axis=0)
    np.testing.assert_array_equal(net.evaluate(x_test, digits.y_test), wrong / 359)


def test_wide_config_takes_the_int64_path():
    assert forward_acc_width(WIDE, 0) > 54  # wider than float64 holds exactly
    assert forward_acc_width(Config(), 0) <= 54


def test_predict_batch_ties_and_saturation():
    cfg = NARROW
    lo_a, hi_a = signed_range(cfg.act_width)
    net, _ = extreme(cfg, signed_range(cfg.weight_width)[1], 0)
    x = np.array([np.full(cfg.sizes[0], hi_a), np.zeros(cfg.sizes[0]),
                  np.full(cfg.sizes[0], lo_a)], dtype=np.int64)
    np.testing.assert_array_equal(net.predict_batch(x), [net.predict(v) for v in x])


# -- weight memory order and digest -----------------------------------------

def test_update_order():
    w = np.arange(6 * 3).reshape(6, 3)  # W[j, k] = 3 j + k
    order = update_order(w, 2).tolist()
    expected = [w[g * 2 + p, k] for g in range(3) for k in range(3) for p in range(2)]
    assert order == expected
    assert order[:6] == [0, 3, 1, 4, 2, 5]
    np.testing.assert_array_equal(update_order(w, 1), w.ravel())


@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_weight_digest_equals_plain_loop(lanes):
    rng = np.random.default_rng(lanes)
    w = rng.integers(-(2**15), 2**15, size=(16, 24))
    w[0, :3] = [-(2**15), 2**15 - 1, -1]  # extremes and the all-ones word
    b = rng.integers(-(2**15), 2**15, size=16)
    assert weight_digest(w, b, lanes) == reference.digest(w.tolist(), b.tolist(), lanes)


def test_weight_digest_of_default_and_trained_network():
    net = FixedNetwork(Config())
    for i in range(net.cfg.layers):
        assert (weight_digest(net.w[i], net.b[i], net.cfg.lanes[i])
                == reference.digest(net.w[i].tolist(), net.b[i].tolist(), net.cfg.lanes[i]))


def test_weight_digest_wide_words_and_long_memories():
    # 32-bit words and enough of them that the sums wrap many times
    rng = np.random.default_rng(9)
    w = rng.integers(-(2**31), 2**31, size=(64, 300))
    b = rng.integers(-(2**31), 2**31, size=64)
    assert weight_digest(w, b, 4) == reference.digest(w.tolist(), b.tolist(), 4)


def test_weight_digest_is_position_sensitive():
    w = np.arange(32).reshape(4, 8) - 16
    b = np.zeros(4, dtype=np.int64)
    swapped = w.copy()
    swapped[0, 0], swapped[1, 0] = w[1, 0], w[0, 0]
    assert weight_digest(w, b, 2) != weight_digest(swapped, b, 2)
    assert weight_digest(w, b, 2) != weight_digest(w, b + 1, 2)


def test_train_step_rejects_a_label_out_of_range():
    from lela.config import Config
    from lela.golden_model.network import FixedNetwork
    net = FixedNetwork(Config(sizes=(4, 4), lanes=(1,), m_seeds=(5,), k_seeds=(6,)))
    before = [w.copy() for w in net.w]
    for label in (10, -1):
        with pytest.raises(ValueError, match=rf"label must be an integer in \[0, 9\], not {label}"):
            net.train_step(np.zeros(4, dtype=np.int64), label)
    assert all(np.array_equal(a, b) for a, b in zip(before, net.w))


def test_saturation_counts_the_top_clamp_per_neuron():
    cfg = Config()
    net = FixedNetwork(cfg)
    x = net.quantize(load_digits().x_train[:40])
    _, hi = signed_range(cfg.weight_width)
    lo = -hi - 1
    net.w[0][3] = hi        # neuron 4 of layer 1 clamps high on most samples
    net.w[0][5] = lo        # neuron 6 clamps low: not counted, its activation is 0 anyway
    sat = net.saturation(x)
    assert [len(f) for f in sat] == list(cfg.sizes[1:])
    a = [net.forward(xi)[0][0] for xi in x]
    top = signed_range(cfg.act_width)[1]
    want = np.mean([ai == top for ai in a], axis=0)
    np.testing.assert_array_equal(sat[0], want)
    assert sat[0][3] > 0.9 and sat[0][5] == 0.0
    assert np.mean([ai[5] == signed_range(cfg.act_width)[0] for ai in a]) > 0.9


def test_learn_off_makes_a_layer_infer_on_training_samples():
    cfg = Config()
    net, ref = FixedNetwork(cfg), FixedNetwork(cfg)
    x = net.quantize(load_digits().x_train[:5])
    net.learn = [True, False, True]
    for n, xi in enumerate(x):
        got = net.step(xi, n % 10, train=True)
        want = ref.step(xi, n % 10, train=True)
        assert [s.mode for s in got.layers] == ["train", "infer", "train"]
        assert got.digest[1] == 0 and got.train == 1
        ref.w[1], ref.b[1] = got.layers[1].w, got.layers[1].b   # layer 2 kept its weights
        assert got.pred[0] == want.pred[0]
    np.testing.assert_array_equal(net.w[1], initial_weights(cfg)[1][0])
    assert not np.array_equal(net.w[2], initial_weights(cfg)[2][0])


def test_dropout_in_the_fixed_point_model():
    """Training: neuron j of a layer is dropped when its 8-bit draw (the
    layer's LFSR, bit-serial, from its seed) is below 256 p; a dropped neuron
    gives 0, has no error and keeps its weights, and so do the next layer's
    weights from it. Inference and a layer that does not learn scale by
    1 - p and leave the LFSR where it was."""
    from lela.golden_model.lfsr import Lfsr
    cfg = Config(dropout=(0.5, 0.25, 0.0))
    net = FixedNetwork(cfg)
    lfsrs = [Lfsr(s) for s in cfg.dropout_seeds_used]
    x = net.quantize(load_digits().x_train[:6])
    for n in range(3):
        w, b = list(net.w), list(net.b)
        steps = net.step(x[n], n, train=True).layers
        for i, k in enumerate(cfg.dropout_thresholds):
            relu = np.maximum(steps[i].a, 0)
            if not k:
                np.testing.assert_array_equal(steps[i].h, relu)
                continue
            keep = np.array([lfsrs[i].draw(8) >= k for _ in range(cfg.sizes[i + 1])])
            where = f"sample {n}, layer {i}"
            assert keep.any() and (~keep).any(), where
            np.testing.assert_array_equal(steps[i].h, np.where(keep, relu, 0), err_msg=where)
            assert not steps[i].d[~keep].any(), where
            np.testing.assert_array_equal(net.w[i][~keep], w[i][~keep], err_msg=where)
            np.testing.assert_array_equal(net.b[i][~keep], b[i][~keep], err_msg=where)
            np.testing.assert_array_equal(net.w[i + 1][:, ~keep], w[i + 1][:, ~keep],
                                          err_msg=where)
            assert net.drop[i].state == lfsrs[i].state, where
    states = [d and d.state for d in net.drop]
    net.learn = [False, True, True]
    for train in (False, True):
        steps = net.step(x[4], 1, train=train).layers
        for i, p in enumerate(cfg.dropout_thresholds):
            relu = np.maximum(steps[i].a, 0)
            if i == 0 or not train:   # 1 - p
                np.testing.assert_array_equal(steps[i].h, (relu * (256 - p) + 128) >> 8)
    assert net.drop[0].state == states[0] and net.drop[1].state != states[1]
    np.testing.assert_array_equal(net.forward(x[5])[0][1], (np.maximum(
        net.forward(x[5])[0][0], 0) * 128 + 128) >> 8)


# -- mini-batches -------------------------------------------------------------

class OnlineTwin:
    """The online rule as the network ran it before mini-batches: every layer
    updates through ``layer_step`` (``update_unit.update``) on each sample."""

    def __init__(self, cfg):
        init = initial_weights(cfg)
        self.cfg = cfg
        self.w, self.b = [w for w, _ in init], [b for _, b in init]
        self.mk = classifier_matrices(cfg)
        self.learn = [True] * cfg.layers
        self.drop = [JumpLfsr(s, n, DROPOUT_BITS) if k else None for s, n, k in zip(
            cfg.dropout_seeds_used, cfg.sizes[1:], cfg.dropout_thresholds)]

    def step(self, x_q, label, *, train, early_exit=False, threshold=0):
        cfg = self.cfg
        token = Token.first(cfg, label, train=train, early_exit=early_exit, threshold=threshold)
        h, steps = x_q, []
        for i in range(cfg.layers):
            step = layer_step(cfg, i, self.w[i], self.b[i], *self.mk[i], h, token,
                              self.learn[i], self.drop[i], update=True)
            self.w[i], self.b[i] = step.w, step.b
            steps.append(step)
            token, h = step.token, step.h
        return steps


def assert_weights(net, w, b, where):
    for i in range(net.cfg.layers):
        np.testing.assert_array_equal(net.w[i], w[i], err_msg=f"{where}, layer {i}, W")
        np.testing.assert_array_equal(net.b[i], b[i], err_msg=f"{where}, layer {i}, b")


BATCH_ONE = {
    "default_dropout": Config(dropout=(0.5, 0.25, 0.0)),
    "small_sign_concordant": SMALL.replace(feedback="sign_concordant", dropout=(0.25, 0.5)),
    "narrow": NARROW,
}


@pytest.mark.parametrize("cfg", BATCH_ONE.values(), ids=BATCH_ONE.keys())
def test_batch_one_is_the_online_rule(cfg):
    """``batch = 1`` (the pending sums, one sample each) against the online
    path (``update_unit.update`` in every ``layer_step``): every result field,
    every weight and bias and the dropout LFSRs after every sample, over 300
    samples with inference samples (early exit) between them and the
    layers' ``learn`` flags changed on the way."""
    seed = 31
    assert cfg.batch == 1
    rng = np.random.default_rng(seed)
    net, twin = FixedNetwork(cfg), OnlineTwin(cfg)
    assert net.online
    net.online = False   # batch 1 through the pending sums
    x = net.quantize(rng.uniform(0, 1, size=(300, cfg.sizes[0])))
    labels = rng.integers(0, cfg.classes, size=300)
    trained, idle = np.zeros(cfg.layers, dtype=int), np.zeros(cfg.layers, dtype=int)
    for n in range(300):
        where = f"seed {seed}, sample {n}"
        if n % 60 == 0:   # phases of 60: all learn, then each layer in turn does not
            off = n // 60 - 1
            learn = [i != off % cfg.layers or off in (-1, 4) for i in range(cfg.layers)]
            net.learn, twin.learn = list(learn), list(learn)
        train = n % 7 != 3
        kwargs = {"train": train, "early_exit": not train,
                  "threshold": int(rng.integers(0, 400))}
        got = net.step(x[n], int(labels[n]), **kwargs)
        want = twin.step(x[n], int(labels[n]), **kwargs)
        assert [s.mode for s in got.layers] == [s.mode for s in want], where
        assert got.pred == [s.pred for s in want], where
        assert got.exit == want[-1].token.exit, where
        assert got.digest == [s.digest for s in want], where
        for i, s in enumerate(want):
            np.testing.assert_array_equal(got.scores[i], s.scores, err_msg=f"{where}, layer {i}")
            if s.d is not None:
                np.testing.assert_array_equal(got.layers[i].d, s.d, err_msg=f"{where}, {i}, d")
        assert_weights(net, twin.w, twin.b, where)
        assert [d and d.state for d in net.drop] == [d and d.state for d in twin.drop], where
        assert net.pending == 0, where
        trained += [s.mode == "train" for s in want]
        idle += [train and s.mode == "infer" for s in want]
    # every layer trained often, and sat out training samples with learn = 0
    assert trained.min() >= 50 and idle.min() >= 30, f"seed {seed}: {trained}, {idle}"
    moved = [np.count_nonzero(w != w0) for w, (w0, _) in zip(net.w, initial_weights(cfg))]
    assert all(moved), f"seed {seed}: a layer never moved: {moved}"


@pytest.mark.parametrize("cfg", [SMALL, NARROW, SMALL.replace(eta_shift=(2, 5))],
                         ids=["small", "narrow", "eta_per_layer"])
@pytest.mark.parametrize("batch", [2, 3, 5])
def test_mini_batch_equals_the_reference(cfg, batch):
    """Against the plain-Python reference: forward values and ``d`` of every
    sample from the batch's starting weights; the weights change only when a
    batch completes, by the exact sums rounded once; a training sample's
    digest is of the weights as they stand once it is done; ``flush`` applies
    a last partial batch."""
    seed = 40 + batch
    cfg = cfg.replace(batch=batch)
    net, ref = FixedNetwork(cfg), reference.BatchReference(cfg)
    x, labels = samples(cfg, 4 * batch + 1, seed)
    x_q = net.quantize(x)
    for start in range(0, len(x_q), batch):
        xs, ts = x_q[start:start + batch], labels[start:start + batch]
        before = [(w.copy(), b.copy()) for w, b in zip(net.w, net.b)]
        expected = ref.batch([v.tolist() for v in xs], [int(t) for t in ts])
        for n, (xi, t, exp) in enumerate(zip(xs, ts, expected)):
            where = f"seed {seed}, batch {batch}, sample {start + n}"
            got = net.step(xi, int(t), train=True)
            for i, (layer, r) in enumerate(zip(got.layers, exp)):
                for name in ("a", "h", "s", "g", "d"):
                    np.testing.assert_array_equal(getattr(layer, name), r[name],
                                                  err_msg=f"{where}, layer {i}, {name}")
                assert layer.prediction == r["prediction"], f"{where}, layer {i}"
            last = n == len(xs) - 1
            if last and len(xs) < batch:
                assert net.pending == len(xs), where
                assert_weights(net, *zip(*before), where)    # still pending
                digests = net.flush()
            else:
                digests = [weight_digest(w, b, p) for w, b, p in zip(net.w, net.b, cfg.lanes)]
            w_ref = ref.w if last else [w for w, _ in before]
            b_ref = ref.b if last else [b for _, b in before]
            assert_weights(net, w_ref, b_ref, where)
            assert net.pending == (0 if last else n + 1), where
            want = [reference.digest(w.tolist() if hasattr(w, "tolist") else w,
                                     b.tolist() if hasattr(b, "tolist") else b, p)
                    for w, b, p in zip(w_ref, b_ref, cfg.lanes)]
            if last and len(xs) < batch:   # the partial batch's samples saw the old weights
                assert digests == want, where
            else:
                assert got.digest == want == digests, where
    assert any(np.any(w != w0) for w, (w0, _) in zip(net.w, initial_weights(cfg)))


def test_mini_batch_differs_from_online():
    """The batch's samples all see the starting weights, so four samples in
    one batch of 4 do not end where four online steps do (nor where one
    online step of the summed update would, with its four roundings)."""
    seed = 50
    x, labels = samples(Config(), 4, seed)
    online, batched = FixedNetwork(Config()), FixedNetwork(Config(batch=4))
    for xi, t in zip(x, labels):
        online.train_step(online.quantize(xi), int(t))
        batched.train_step(batched.quantize(xi), int(t))
    assert batched.pending == 0
    for i in range(Config().layers):
        assert np.any(batched.w[i] != online.w[i]), f"seed {seed}, layer {i}"


def test_mini_batch_with_dropout_and_learn():
    """A layer sums only the samples it trains on (``learn`` may change within
    a batch); the dropout draws of a sample are those of the online rule (the
    LFSR moves per sample the layer trains on, whatever the batch); inference
    samples in a batch see the weights as they stand and add nothing."""
    seed = 52
    cfg = Config(dropout=(0.5, 0.25, 0.0), batch=4)
    net, one = FixedNetwork(cfg), FixedNetwork(cfg.replace(batch=1))
    twin = OnlineTwin(cfg)        # its LFSRs and frozen weights give the expected d
    x, labels = samples(cfg, 12, seed)
    x_q = net.quantize(x)
    learn_plan = [[True, True, True], [True, False, True], [False, True, True],
                  [True, True, False]]
    for start in (0, 4, 8):
        w0, b0 = list(net.w), list(net.b)
        sums = [[np.zeros_like(w), np.zeros_like(b)] for w, b in zip(w0, b0)]
        for n in range(4):
            where = f"seed {seed}, sample {start + n}"
            if n == 2:   # an inference sample inside the batch: old weights, no sum
                got = net.step(x_q[start], 0, train=False)
                assert net.pending == 2 and got.digest == [0, 0, 0], where
                np.testing.assert_array_equal(got.scores[0], net.forward(x_q[start])[0][2])
            learn = learn_plan[n]
            net.learn = one.learn = list(learn)
            got = net.step(x_q[start + n], int(labels[start + n]), train=True)
            one.step(x_q[start + n], int(labels[start + n]), train=True)
            h, token = x_q[start + n], Token.first(cfg, int(labels[start + n]), train=True)
            for i in range(cfg.layers):
                s = layer_step(cfg, i, w0[i], b0[i], *twin.mk[i], h, token, learn[i],
                               twin.drop[i], update=False)
                assert got.layers[i].mode == s.mode, where
                np.testing.assert_array_equal(got.layers[i].h, s.h, err_msg=f"{where}, {i}")
                if s.mode == "train":
                    sums[i][0] += np.outer(s.d, h)
                    sums[i][1] += s.d
                h = s.h
            assert [d and d.state for d in net.drop] == [d and d.state for d in one.drop], where
        for i in range(cfg.layers):
            where = f"seed {seed}, batch at {start}, layer {i}"
            ws, bs = 2 * cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[i], \
                cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[i]
            lo, hi = signed_range(cfg.weight_width)
            w = np.clip(w0[i] - ((sums[i][0] + (1 << (ws - 1))) >> ws), lo, hi)
            b = np.clip(b0[i] - ((sums[i][1] + (1 << (bs - 1))) >> bs), lo, hi)
            np.testing.assert_array_equal(net.w[i], w, err_msg=where)
            np.testing.assert_array_equal(net.b[i], b, err_msg=where)
            assert np.any(net.w[i] != w0[i]), where


def test_flush_and_inference_with_a_pending_batch():
    seed = 53
    cfg = SMALL.replace(batch=8)
    net = FixedNetwork(cfg)
    x, labels = samples(cfg, 3, seed)
    x_q = net.quantize(x)
    start = [weight_digest(w, b, p) for w, b, p in zip(net.w, net.b, cfg.lanes)]
    assert net.flush() == start and net.pending == 0      # nothing pending: nothing moves
    steps = [net.step(xi, int(t), train=True) for xi, t in zip(x_q, labels)]
    assert net.pending == 3
    assert [s.digest for s in steps] == [start] * 3, f"seed {seed}: weights moved in the batch"
    preds = net.predict(x_q[0])
    assert preds == [s.prediction for s in steps[0].layers], f"seed {seed}"  # same weights
    after = net.flush()
    assert net.pending == 0 and after != start, f"seed {seed}"
    assert after == [weight_digest(w, b, p) for w, b, p in zip(net.w, net.b, cfg.lanes)]
    assert net.flush() == after, f"seed {seed}: a second flush moved the weights"
