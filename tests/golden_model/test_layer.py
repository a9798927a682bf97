"""``golden_model.layer.layer_step`` (one layer, one sample) against the plain-Python
reference of docs/numerics.md, and ``FixedNetwork.step`` (the result beat of
the network) against its layers."""

import numpy as np
import pytest

from lela.config import Config
from lela.golden_model.layer import Token, layer_step, weight_digest
from lela.golden_model.network import FixedNetwork, classifier_matrices, initial_weights

from . import reference

CFG = Config(sizes=(10, 6, 8, 4), classes=4, lanes=(3, 2, 4), m_seeds=(7, 8, 9),
             k_seeds=(10, 11, 12), init_seed=3, eta_shift=2, feedback="sign_concordant")


def _inputs(cfg, rng, count):
    return [rng.integers(-(1 << (cfg.act_width - 1)), 1 << (cfg.act_width - 1),
                         size=cfg.sizes[0]) >> int(rng.integers(0, 4)) for _ in range(count)]


def _margin(s):
    top = sorted(s.tolist(), reverse=True)
    return top[0] - top[1]


def test_training_steps_equal_the_reference():
    """Every layer of every sample: a, h, s, g, d, prediction, new weights and
    the reported digest equal the reference; the inputs are not modified."""
    seed = 71
    rng = np.random.default_rng(seed)
    ref = reference.Reference(CFG)
    w = [wi for wi, _ in initial_weights(CFG)]
    b = [bi for _, bi in initial_weights(CFG)]
    mk = classifier_matrices(CFG)
    for n, x in enumerate(_inputs(CFG, rng, 5)):
        label = int(rng.integers(0, CFG.classes))
        expected = ref.step(x.tolist(), label)
        h = x
        for i, exp in enumerate(expected):
            where = f"seed {seed}, sample {n}, layer {i}"
            token = Token.first(CFG, label, train=True)
            w_before = w[i].copy()
            step = layer_step(CFG, i, w[i], b[i], *mk[i], h, token)
            assert step.mode == "train" and step.token == token, where
            for name in ("a", "h", "s", "g", "d"):
                np.testing.assert_array_equal(getattr(step, name), exp[name],
                                              err_msg=f"{where}: {name}")
            assert step.prediction == exp["prediction"], f"{where}: prediction"
            np.testing.assert_array_equal(w[i], w_before, err_msg=f"{where}: input W modified")
            np.testing.assert_array_equal(step.w, ref.w[i], err_msg=f"{where}: new W")
            np.testing.assert_array_equal(step.b, ref.b[i], err_msg=f"{where}: new b")
            assert step.digest == reference.digest(ref.w[i], ref.b[i], CFG.lanes[i]), where
            r = step.result()
            assert (r["pred"], r["label"], r["train"], r["exit"], r["digest"]) == (
                exp["prediction"], label, 1, CFG.layers - 1, step.digest), where
            w[i], b[i], h = step.w, step.b, step.h
    assert any(np.any(wi != w0) for wi, (w0, _) in zip(w, initial_weights(CFG)))


@pytest.mark.parametrize("early_exit", [0, 1])
def test_inference_and_the_exit_decision(early_exit):
    """Inference leaves the weights alone and reports no digest; with early
    exit a layer other than the last answers exactly when its margin reaches
    the threshold, and marks the token."""
    seed = 72 + early_exit
    rng = np.random.default_rng(seed)
    answered = set()
    for n, x in enumerate(_inputs(CFG, rng, 12)):
        threshold = int(rng.integers(0, 1 << CFG.act_frac))
        token = Token.first(CFG, 1, train=False, early_exit=early_exit, threshold=threshold)
        for i in (0, CFG.layers - 1):
            where = f"seed {seed}, sample {n}, layer {i}"
            wi, bi = initial_weights(CFG)[i]
            mi, ki = classifier_matrices(CFG)[i]
            h = x if i == 0 else np.maximum(rng.integers(-9, 400, size=CFG.sizes[i]), 0)
            step = layer_step(CFG, i, wi, bi, mi, ki, h, token)
            assert step.mode == "infer" and step.g is None and step.d is None, where
            assert step.w is wi and step.b is bi and step.digest == 0, where
            assert step.margin == _margin(step.s), where
            answers = bool(early_exit) and i < CFG.layers - 1 and step.margin >= threshold
            answered.add(answers)
            assert step.token.exited == answers, f"{where}: exited"
            assert step.token.exit == (i if answers else CFG.layers - 1), f"{where}: exit"
            assert step.result()["exit"] == step.token.exit, where
    assert answered == ({True, False} if early_exit else {False}), f"seed {seed}: {answered}"


def test_a_skipped_layer_passes_the_token_on():
    w, b = initial_weights(CFG)[1]
    m, k = classifier_matrices(CFG)[1]
    token = Token(label=2, train=False, exit=0, early_exit=True, threshold=5, exited=True)
    step = layer_step(CFG, 1, w, b, m, k, None, token)
    assert step.mode == "skip" and step.token is token and step.w is w and step.b is b
    r = step.result()
    assert {key: r[key] for key in ("pred", "label", "train", "exit", "digest")} == {
        "pred": 0, "label": 2, "train": 0, "exit": 0, "digest": 0}
    np.testing.assert_array_equal(r["scores"], np.zeros(CFG.classes))
    assert step.h is None and step.margin is None


def test_network_step_is_the_layers_in_turn():
    """The result beat of ``FixedNetwork.step``: per-layer fields from the
    layers, zeros after the answering layer; training equals ``train_step``."""
    seed = 74
    rng = np.random.default_rng(seed)
    net, twin = FixedNetwork(CFG), FixedNetwork(CFG)
    xs = _inputs(CFG, rng, 8)
    for n, x in enumerate(xs[:4]):
        label = int(rng.integers(0, CFG.classes))
        got = net.step(x, label, train=True)
        layers = twin.train_step(x, label)
        where = f"seed {seed}, sample {n}"
        assert got.result(trace=False) == {"pred": [s.prediction for s in layers],
                                           "exit": CFG.layers - 1, "label": label, "train": 1}
        for i in range(CFG.layers):
            np.testing.assert_array_equal(net.w[i], twin.w[i], err_msg=f"{where}, layer {i}")
            assert got.digest[i] == weight_digest(net.w[i], net.b[i], CFG.lanes[i]), where
    exits = set()
    for n, x in enumerate(xs[4:]):
        where = f"seed {seed}, inference {n}"
        w_before = [wi.copy() for wi in net.w]
        preds = net.predict(x)
        fwd = net.forward(x)
        margins = [_margin(s) for _, _, s in fwd]
        threshold = int(np.median(margins[:-1]))
        got = net.step(x, 0, train=False, early_exit=True, threshold=threshold)
        exit_layer = next((i for i, mg in enumerate(margins[:-1]) if mg >= threshold),
                          CFG.layers - 1)
        exits.add(exit_layer)
        assert got.exit == exit_layer, where
        assert got.pred == [p if i <= exit_layer else 0 for i, p in enumerate(preds)], where
        for i, (_, _, s) in enumerate(fwd):
            np.testing.assert_array_equal(got.scores[i], s if i <= exit_layer else 0,
                                          err_msg=f"{where}, layer {i}")
        assert got.digest == [0] * CFG.layers and got.train == 0, where
        assert net.predict_early_exit(x, threshold) == (preds[exit_layer], exit_layer), where
        for i in range(CFG.layers):
            np.testing.assert_array_equal(net.w[i], w_before[i], err_msg=f"{where}, layer {i}")
    assert len(exits) > 1, f"seed {seed}: the exit never varied: {exits}"


def test_label_is_validated():
    net = FixedNetwork(CFG)
    with pytest.raises(ValueError, match=r"label must be an integer in \[0, 3\], not 4"):
        net.step(np.zeros(CFG.sizes[0], dtype=np.int64), 4, train=False)
