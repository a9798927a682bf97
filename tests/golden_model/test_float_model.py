"""The float model: exact gradients where the rule is a gradient, the hardware's
starting point and step size, dropout, mini-batches, layer-wise training, early exit."""

from functools import partial

import numpy as np
import pytest

from lela.config import Config
from lela.data import load_digits
from lela.golden_model.float_model import METHODS, FloatNetwork, fa_matrices, loss, loss_grad
from lela.golden_model.network import FixedNetwork, classifier_matrices, initial_weights

SMALL = Config(sizes=(6, 5, 4), classes=3, lanes=(1, 1), m_seeds=(11, 22), k_seeds=(33, 44))
LOSSES = ("square_hinge", "cross_entropy")


def batch(cfg, n, seed):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, size=(n, cfg.sizes[0])), rng.integers(0, cfg.classes, size=n)


def numeric_grad(f, p, eps=1e-6):
    """Central finite difference of the scalar ``f()`` w.r.t. every entry of ``p`` (in place)."""
    g = np.zeros_like(p)
    for idx in np.ndindex(p.shape):
        old = p[idx]
        p[idx] = old + eps
        up = f()
        p[idx] = old - eps
        down = f()
        p[idx] = old
        g[idx] = (up - down) / (2 * eps)
    return g


def local_loss(net, x, y, i):
    _, h, _ = net.forward(x)
    return loss(h[i] @ net.m[i].T, y, net.cfg.loss)


def top_loss(net, x, y):
    _, h, _ = net.forward(x)
    return loss(h[-1] @ net.m[-1].T, y, net.cfg.loss)


@pytest.mark.parametrize("kind", LOSSES)
def test_loss_grad_is_derivative_of_loss(kind):
    rng = np.random.default_rng(0)
    s, y = rng.normal(size=(3, 4)), np.array([0, 3, 1])
    # loss() is a batch mean, loss_grad() per sample: scale by the batch size.
    g = numeric_grad(lambda: loss(s, y, kind), s) * len(y)
    np.testing.assert_allclose(loss_grad(s, y, kind), g, rtol=1e-6, atol=1e-8,
                               err_msg=f"loss {kind}")


def test_square_hinge_is_the_fixed_model_convention():
    # g_c = -t_c max(0, 1 - t_c s_c): no factor 2 (folded into eta, as in error_unit).
    s = np.array([[0.5, -0.25, 2.0]])
    np.testing.assert_array_equal(loss_grad(s, [0], "square_hinge"), [[-0.5, 0.75, 3.0]])


def test_starts_where_the_fixed_point_model_starts():
    cfg = Config()
    net = FloatNetwork(cfg)
    for i, ((w, b), (m, k)) in enumerate(zip(initial_weights(cfg), classifier_matrices(cfg))):
        np.testing.assert_array_equal(net.w[i], w / 2**cfg.weight_frac, err_msg=f"layer {i}")
        np.testing.assert_array_equal(net.b[i], b / 2**cfg.weight_frac, err_msg=f"layer {i}")
        np.testing.assert_array_equal(net.m[i], m / 2**cfg.score_shift(i), err_msg=f"layer {i}")
        np.testing.assert_array_equal(net.k[i], k / 2**cfg.score_shift(i), err_msg=f"layer {i}")


@pytest.mark.parametrize("kind", LOSSES)
def test_local_symmetric_update_is_gradient_of_local_loss(kind):
    cfg = SMALL.replace(loss=kind, feedback="symmetric")
    net = FloatNetwork(cfg, "local")
    x, y = batch(cfg, 4, seed=1)
    dw, db, dm = net.gradients(x, y)
    assert dm == [None, None]
    for i in range(cfg.layers):
        f = partial(local_loss, net, x, y, i)
        np.testing.assert_allclose(dw[i], numeric_grad(f, net.w[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"W, layer {i}, loss {kind}")
        np.testing.assert_allclose(db[i], numeric_grad(f, net.b[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"b, layer {i}, loss {kind}")


def test_trainable_classifier_update_is_gradient_of_local_loss():
    net = FloatNetwork(SMALL, "local_trainable")
    x, y = batch(SMALL, 4, seed=2)
    dw, _, dm = net.gradients(x, y)
    for i in range(SMALL.layers):
        f = partial(local_loss, net, x, y, i)
        np.testing.assert_allclose(dm[i], numeric_grad(f, net.m[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"M, layer {i}")
        np.testing.assert_allclose(dw[i], numeric_grad(f, net.w[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"W, layer {i}")


@pytest.mark.parametrize("kind", LOSSES)
def test_backprop_is_gradient_of_top_loss(kind):
    cfg = SMALL.replace(loss=kind)
    net = FloatNetwork(cfg, "bp")
    x, y = batch(cfg, 4, seed=3)
    dw, db, dm = net.gradients(x, y)
    f = partial(top_loss, net, x, y)
    np.testing.assert_allclose(dm[-1], numeric_grad(f, net.m[-1]), rtol=1e-5, atol=1e-9)
    for i in range(cfg.layers):
        np.testing.assert_allclose(dw[i], numeric_grad(f, net.w[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"W, layer {i}, loss {kind}")
        np.testing.assert_allclose(db[i], numeric_grad(f, net.b[i]), rtol=1e-5, atol=1e-9,
                                   err_msg=f"b, layer {i}, loss {kind}")


def test_feedback_alignment_uses_fixed_random_feedback():
    bp, fa = FloatNetwork(SMALL, "bp"), FloatNetwork(SMALL, "fa")
    x, y = batch(SMALL, 4, seed=4)
    bw, _, bm = bp.gradients(x, y)
    fw, _, fm = fa.gradients(x, y)
    # Same forward pass and top classifier: the classifier's own gradient agrees ...
    np.testing.assert_allclose(fm[-1], bm[-1], rtol=1e-12)
    # ... but the hidden layers' errors come through other matrices.
    for i in range(SMALL.layers):
        assert not np.allclose(fw[i], bw[i]), f"layer {i}: FA equals backprop"
    # The errors go down through the fixed matrices of fa_matrices(), not the weights.
    b = fa_matrices(SMALL)
    assert [m.shape for m in b] == [(4, 5), (3, 4)]
    a, h, _ = fa.forward(x)
    d1 = (loss_grad(h[1] @ fa.m[-1].T, y, SMALL.loss) @ b[1]) * (a[1] > 0)
    d0 = (d1 @ b[0]) * (a[0] > 0)
    np.testing.assert_allclose(fw[1], d1.T @ h[0] / len(y), rtol=1e-12)
    np.testing.assert_allclose(fw[0], d0.T @ x / len(y), rtol=1e-12)
    # The FA feedback does not follow the weights as they learn.
    before = [b.copy() for b in fa.k]
    fa.train_batch(x, y)
    for i, b in enumerate(before):
        np.testing.assert_array_equal(fa.k[i], b, err_msg=f"FA matrix {i} changed")


def test_feedback_modes_differ():
    x, y = batch(SMALL, 4, seed=5)
    grads = {fb: FloatNetwork(SMALL.replace(feedback=fb), "local").gradients(x, y)[0]
             for fb in ("symmetric", "sign_concordant", "independent")}
    for fb in ("sign_concordant", "independent"):
        for i in range(SMALL.layers):
            assert not np.allclose(grads[fb][i], grads["symmetric"][i]), f"{fb}, layer {i}"
    sc = FloatNetwork(SMALL.replace(feedback="sign_concordant"), "local")
    for i in range(SMALL.layers):
        np.testing.assert_array_equal(np.sign(sc.k[i]), np.sign(sc.m[i]), err_msg=f"layer {i}")


def test_minibatch_update_is_mean_of_online_updates():
    for method in METHODS:
        net = FloatNetwork(SMALL, method)
        x, y = batch(SMALL, 5, seed=6)
        dw, db, _ = net.gradients(x, y)
        online = [net.gradients(x[n:n + 1], y[n:n + 1]) for n in range(5)]
        for i in range(SMALL.layers):
            np.testing.assert_allclose(dw[i], np.mean([o[0][i] for o in online], axis=0),
                                       rtol=1e-12, atol=1e-15, err_msg=f"{method}, layer {i}")
            np.testing.assert_allclose(db[i], np.mean([o[1][i] for o in online], axis=0),
                                       rtol=1e-12, atol=1e-15, err_msg=f"{method}, layer {i}")


@pytest.mark.parametrize("method", METHODS)
def test_dropped_neurons_are_not_updated(method):
    cfg = SMALL.replace(sizes=(6, 40, 40), dropout=0.5)
    net = FloatNetwork(cfg, method)
    x, y = batch(cfg, 1, seed=7)
    _, _, masks = net.forward(x, np.random.default_rng(8))
    dw, db, _ = net.gradients(x, y, np.random.default_rng(8))
    for i, mask in enumerate(masks):
        dropped = mask[0] == 0
        assert dropped.any() and (~dropped).any(), "seed 8 should drop some, not all"
        assert set(np.unique(mask)) <= {0.0, 1.0}, "training keeps the activations unscaled"
        assert not dw[i][dropped].any() and not db[i][dropped].any(), f"incoming, layer {i}"
        if i + 1 < cfg.layers:
            assert not dw[i + 1][:, dropped].any(), f"outgoing, layer {i}"
        assert dw[i][~dropped].any(), f"layer {i}: kept neurons must learn"


def test_dropout_scales_inference_by_the_keep_probability():
    cfg = SMALL.replace(sizes=(6, 40, 40), dropout=(0.5, 0.25))
    plain = FloatNetwork(SMALL.replace(sizes=(6, 40, 40)), "local")
    net = FloatNetwork(cfg, "local")
    x, _ = batch(cfg, 3, seed=5)
    a0 = plain.forward(x)[0][0]
    _, h, masks = net.forward(x)
    assert masks == [None, None]
    np.testing.assert_allclose(h[0], np.maximum(a0, 0) * 0.5)
    a1 = h[0] @ net.w[1].T + net.b[1]
    np.testing.assert_allclose(h[1], np.maximum(a1, 0) * 0.75)


def test_layerwise_updates_only_the_active_layer():
    net = FloatNetwork(SMALL, "local")
    x, y = batch(SMALL, 3, seed=9)
    before = [w.copy() for w in net.w]
    net.train_batch(x, y, active={1})
    np.testing.assert_array_equal(net.w[0], before[0])
    assert not np.array_equal(net.w[1], before[1])


def test_step_matches_fixed_point_model():
    """Online on digits, the float model follows the fixed-point one (same start,
    same eta): after 50 steps the weights differ by rounding only (under 10 % of
    how far they moved). A step twice or half as large (a factor 2 of the
    square hinge handled differently) is far outside that bound."""
    cfg, data = Config(), load_digits()
    fixed = FixedNetwork(cfg)
    xq = fixed.quantize(data.x_train[:50])
    nets = {}
    step = 1.0   # the float steps as a multiple of the configuration's, per layer
    for eta in (step, 2 * step, step / 2):
        nets[eta] = FloatNetwork(cfg)
        nets[eta].etas = [eta * e for e in cfg.etas]
    for n in range(50):
        fixed.train_step(xq[n], data.y_train[n])
        for net in nets.values():
            net.train_batch(data.x_train[n:n + 1], data.y_train[n:n + 1])
    for i, (w0, _) in enumerate(initial_weights(cfg)):
        wq = fixed.w[i] / 2**cfg.weight_frac
        moved = np.linalg.norm(wq - w0 / 2**cfg.weight_frac)
        rel = {eta: np.linalg.norm(net.w[i] - wq) / moved for eta, net in nets.items()}
        assert rel[step] < 0.1, f"layer {i}: {rel}"
        assert min(rel[2 * step], rel[step / 2]) > 0.3, f"layer {i}: {rel}"


def test_early_exit_mirrors_fixed_model():
    cfg, data = Config(), load_digits()
    net = FloatNetwork(cfg)
    net.train_epoch(data.x_train[:300], data.y_train[:300])
    x = data.x_test[:50]
    scores, preds = net.scores(x), net.predict(x)
    pred, layer = net.predict_early_exit(x, 0.0)
    np.testing.assert_array_equal(layer, 0)
    np.testing.assert_array_equal(pred, preds[0])
    pred, layer = net.predict_early_exit(x, np.inf)
    np.testing.assert_array_equal(layer, cfg.layers - 1)
    np.testing.assert_array_equal(pred, preds[-1])
    threshold = 0.5
    pred, layer = net.predict_early_exit(x, threshold)
    margins = np.stack([np.diff(np.sort(s, axis=1)[:, -2:], axis=1)[:, 0] for s in scores], 1)
    for n in range(len(x)):
        above = np.flatnonzero(margins[n] >= threshold)
        expect = above[0] if len(above) else cfg.layers - 1
        assert layer[n] == expect, f"sample {n}"
        assert pred[n] == preds[expect][n], f"sample {n}"
    assert len(set(layer)) > 1, "threshold 0.5 should exit at several layers"


def test_bad_method_is_named():
    with pytest.raises(ValueError, match="not 'dfa'"):
        FloatNetwork(SMALL, "dfa")
    with pytest.raises(ValueError, match="early exit"):
        FloatNetwork(SMALL, "bp").predict_early_exit(np.zeros((1, 6)), 1.0)


# -- mini-batches summed (the fixed-point model's convention) ---------------

def online_local(cfg, x, labels, order, rng):
    """The local rule online, written out: one sample at a time, its dropout
    masks drawn layer by layer, ``W -= eta d h_in^T``, ``b -= eta d``."""
    net = FloatNetwork(cfg, "local")
    w, b = [v.copy() for v in net.w], [v.copy() for v in net.b]
    for n in order:
        h = x[n:n + 1]
        inputs, hs, grads = [], [], []
        for i, p in enumerate(cfg.dropout_rates):
            a = h @ w[i].T + b[i]
            inputs.append(h)
            h = np.maximum(a, 0.0)
            relu = (a > 0).astype(np.float64)
            if p > 0:
                mask = (rng.random(a.shape) >= p).astype(np.float64)
                h, relu = h * mask, relu * mask
            hs.append(h)
            grads.append(relu)
        for i, eta in enumerate(cfg.etas):
            g = loss_grad(hs[i] @ net.m[i].T, labels[n:n + 1], cfg.loss)
            d = (g @ net.k[i]) * grads[i]
            w[i] -= eta * (d.T @ inputs[i] / 1)
            b[i] -= eta * d.mean(axis=0)
    return w, b


def test_sum_of_one_sample_is_the_online_rule():
    """Batch 1 summed is the online rule, the same floats: against the rule
    written out, and against the mean of one sample for every method, with
    dropout and a layer-wise phase."""
    seed = 21
    cfg = Config(dropout=(0.5, 0.25, 0.0))
    data = load_digits().subset(200, 10)
    order = np.random.default_rng(seed).permutation(200)
    summed = FloatNetwork(cfg, "local")
    summed.train_epoch(data.x_train, data.y_train, order, 1, np.random.default_rng([seed, 1]),
                       reduce="sum")
    w, b = online_local(cfg, data.x_train, data.y_train, order, np.random.default_rng([seed, 1]))
    for i in range(cfg.layers):
        np.testing.assert_array_equal(summed.w[i], w[i], err_msg=f"seed {seed}, layer {i}, W")
        np.testing.assert_array_equal(summed.b[i], b[i], err_msg=f"seed {seed}, layer {i}, b")
    for method in METHODS:
        nets = {r: FloatNetwork(cfg, method) for r in ("mean", "sum")}
        for r, net in nets.items():
            for active in (None, {1}):
                net.train_epoch(data.x_train, data.y_train, order, 1,
                                np.random.default_rng([seed, 2]), active, reduce=r)
        mean, total = nets["mean"], nets["sum"]
        for p, q in zip(mean.w + mean.b + mean.m, total.w + total.b + total.m):
            if p is not None:
                np.testing.assert_array_equal(q, p, err_msg=f"seed {seed}, {method}")


@pytest.mark.parametrize("method", METHODS)
def test_summed_batch_is_the_sum_of_the_samples(method):
    """A batch's summed update is the sum of its samples' gradients at the
    same weights (each with its own mask, the one it gets at batch 1), and B
    times the mean (without dropout: the mean draws its masks otherwise)."""
    seed = 22
    cfg = SMALL.replace(sizes=(6, 12, 8), dropout=0.25)
    net = FloatNetwork(cfg, method)
    x, y = batch(cfg, 4, seed)
    dw, db, dm = net.gradients(x, y, np.random.default_rng(seed), reduce="sum")
    rng = np.random.default_rng(seed)
    each = [net.gradients(x[n:n + 1], y[n:n + 1], rng, reduce="sum") for n in range(4)]
    plain = FloatNetwork(cfg.replace(dropout=0.0), method)
    summed, mean = plain.gradients(x, y, reduce="sum"), plain.gradients(x, y)
    for i in range(cfg.layers):
        where = f"seed {seed}, {method}, layer {i}"
        np.testing.assert_allclose(dw[i], sum(e[0][i] for e in each), rtol=1e-12, atol=1e-15,
                                   err_msg=where)
        np.testing.assert_allclose(db[i], sum(e[1][i] for e in each), rtol=1e-12, atol=1e-15,
                                   err_msg=where)
        np.testing.assert_allclose(summed[0][i], 4 * mean[0][i], rtol=1e-12, atol=1e-15,
                                   err_msg=where)
        assert np.abs(dw[i]).max() > 0, where
    if dm[-1] is not None:
        np.testing.assert_allclose(dm[-1], sum(e[2][-1] for e in each), rtol=1e-12, atol=1e-15)


def test_summed_batch_masks_do_not_depend_on_the_batch():
    seed = 23
    cfg = SMALL.replace(sizes=(6, 40, 40), dropout=(0.5, 0.25))
    net = FloatNetwork(cfg, "local")
    x, _ = batch(cfg, 5, seed)
    _, _, together = net.forward(x, np.random.default_rng(seed), sample_masks=True)
    rng = np.random.default_rng(seed)
    apart = [net.forward(x[n:n + 1], rng, sample_masks=True)[2] for n in range(5)]
    for i in range(cfg.layers):
        np.testing.assert_array_equal(together[i], np.concatenate([m[i] for m in apart]),
                                      err_msg=f"seed {seed}, layer {i}")


def test_summed_epoch_takes_consecutive_batches_in_order():
    seed = 24
    data = load_digits().subset(10, 10)
    order = np.random.default_rng(seed).permutation(10)
    net, ref = FloatNetwork(Config()), FloatNetwork(Config())
    net.train_epoch(data.x_train, data.y_train, order, 4, reduce="sum")
    for idx in (order[:4], order[4:8], order[8:]):
        ref.train_batch(data.x_train[idx], data.y_train[idx], reduce="sum")
    for i in range(3):
        np.testing.assert_array_equal(net.w[i], ref.w[i], err_msg=f"seed {seed}, layer {i}")


def test_bad_reduction_is_named():
    with pytest.raises(ValueError, match=r"^reduce must be one of mean, sum, not 'max'$"):
        FloatNetwork(SMALL).gradients(np.zeros((1, 6)), [0], reduce="max")


def test_mean_batch_masks_are_drawn_as_before():
    """A mean batch draws each layer's mask for the whole batch at once (the
    draws of the runs documented with it), a summed batch sample by sample."""
    seed = 25
    cfg = SMALL.replace(sizes=(6, 40, 40), dropout=(0.5, 0.25))
    net = FloatNetwork(cfg, "local")
    x, _ = batch(cfg, 5, seed)
    _, _, masks = net.forward(x, np.random.default_rng(seed))
    rng = np.random.default_rng(seed)
    for i, p in enumerate(cfg.dropout_rates):
        want = (rng.random((5, cfg.sizes[i + 1])) >= p).astype(np.float64)
        np.testing.assert_array_equal(masks[i], want, err_msg=f"seed {seed}, layer {i}")
    _, _, summed = net.forward(x, np.random.default_rng(seed), sample_masks=True)
    assert not np.array_equal(summed[0], masks[0]), f"seed {seed}"
