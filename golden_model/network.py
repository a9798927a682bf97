"""Bit-exact fixed-point model of the whole training engine: twin of ``lela.rtl.top``.

One online step per sample, every layer at once. Layer ``i`` sees ``h_{i-1}``
computed with layer ``i-1``'s weights *before* that layer's update for the
same sample, exactly as the layer-pipelined hardware does; the pipeline
changes when a layer works on a sample, never what it computes.
"""

from dataclasses import dataclass

import numpy as np

from lela.contract import forward_acc_width, score_acc_width

from . import error_unit, mac_array, update_unit
from .lfsr import classifier_matrix, feedback_matrix
from .numerics import quantize, round_shift, saturate

__all__ = [
    "FixedNetwork",
    "LayerTrace",
    "classifier_matrices",
    "initial_weights",
    "update_order",
    "weight_digest",
]


def initial_weights(cfg):
    """Initial integer ``(W_i, b_i)`` per layer: ``W`` uniform in
    ``+-1/sqrt(N_in)`` rounded to the weight format, ``b = 0``. Drawn from
    ``numpy.random.default_rng([init_seed, i])`` and baked into the memories."""
    out = []
    for i in range(cfg.layers):
        n_in, n_out = cfg.sizes[i], cfg.sizes[i + 1]
        rng = np.random.default_rng([cfg.init_seed, i])
        r = 1.0 / np.sqrt(n_in)
        w = quantize(rng.uniform(-r, r, size=(n_out, n_in)), cfg.weight_frac, cfg.weight_width)
        out.append((w, np.zeros(n_out, dtype=np.int64)))
    return out


def classifier_matrices(cfg):
    """Integer ``(M_i, K_i)`` per layer, from the LFSR seeds."""
    out = []
    for i in range(cfg.layers):
        m = classifier_matrix(cfg.m_seeds[i], cfg.classes, cfg.sizes[i + 1], cfg.m_bits)
        k = feedback_matrix(cfg.feedback, m, cfg.k_seeds[i], cfg.m_bits)
        out.append((m, k))
    return out


@dataclass
class LayerTrace:
    """What one layer computed for one sample (all integer arrays)."""

    a: np.ndarray
    h: np.ndarray
    s: np.ndarray
    g: np.ndarray
    d: np.ndarray
    prediction: int


class FixedNetwork:
    """The fixed-point training engine.

    Attributes ``w`` and ``b`` are lists of int64 arrays, one per layer.
    """

    def __init__(self, cfg):
        self.cfg = cfg.check_hardware()
        init = initial_weights(cfg)
        self.w = [w for w, _ in init]
        self.b = [b for _, b in init]
        self.mk = classifier_matrices(cfg)

    def quantize(self, x):
        return quantize(x, self.cfg.act_frac, self.cfg.act_width)

    def forward(self, x_q):
        """Per-layer ``(a, h, s)`` without learning."""
        out, h = [], np.asarray(x_q, dtype=np.int64)
        for i in range(self.cfg.layers):
            a, h = mac_array.forward(self.cfg, self.w[i], self.b[i], h)
            out.append((a, h, error_unit.scores(self.cfg, i, self.mk[i][0], h)))
        return out

    def train_step(self, x_q, label):
        """One online update of every layer; returns a :class:`LayerTrace` per layer."""
        cfg, traces = self.cfg, []
        if not (isinstance(label, (int, np.integer)) and 0 <= label < cfg.classes):
            raise ValueError(f"label must be an integer in [0, {cfg.classes - 1}], not {label!r}")
        h_in = np.asarray(x_q, dtype=np.int64)
        for i in range(cfg.layers):
            m, k = self.mk[i]
            a, h = mac_array.forward(cfg, self.w[i], self.b[i], h_in)
            s = error_unit.scores(cfg, i, m, h)
            g = error_unit.loss_grad(cfg, s, label)
            d = error_unit.local_error(cfg, i, k, g, h)
            self.w[i], self.b[i] = update_unit.update(cfg, self.w[i], self.b[i], d, h_in)
            traces.append(LayerTrace(a, h, s, g, d, error_unit.prediction(s)))
            h_in = h
        return traces

    def predict(self, x_q):
        """Per-layer predictions (list of int)."""
        return [error_unit.prediction(s) for _, _, s in self.forward(x_q)]

    def predict_early_exit(self, x_q, threshold):
        """``(prediction, exit_layer)``: the first layer whose score margin is
        ``>= threshold`` (integer, score format) answers; else the last layer."""
        h = np.asarray(x_q, dtype=np.int64)
        for i in range(self.cfg.layers):
            _, h = mac_array.forward(self.cfg, self.w[i], self.b[i], h)
            s = error_unit.scores(self.cfg, i, self.mk[i][0], h)
            if error_unit.margin(s) >= threshold or i == self.cfg.layers - 1:
                return error_unit.prediction(s), i

    def predict_batch(self, x_q, chunk=1024):
        """Per-layer predictions of many samples without learning: an int64 array
        (samples x layers), equal row for row to :meth:`predict`.

        The same integer arithmetic as :meth:`forward` in matrix form (one row per
        sample), ``chunk`` samples at a time to bound memory.
        """
        cfg = self.cfg
        x_q = np.asarray(x_q, dtype=np.int64).reshape(-1, cfg.sizes[0])
        out = np.empty((len(x_q), cfg.layers), dtype=np.int64)
        for start in range(0, len(x_q), chunk):
            h = x_q[start:start + chunk]
            for i in range(cfg.layers):
                m = self.mk[i][0]
                acc = _exact_matmul(h, self.w[i].T, forward_acc_width(cfg, i))
                acc += self.b[i] << cfg.act_frac
                h = np.maximum(saturate(round_shift(acc, cfg.weight_frac), cfg.act_width), 0)
                ms = _exact_matmul(h, m.T, score_acc_width(cfg.act_width, cfg.m_bits,
                                                           cfg.sizes[i + 1], cfg.classes))
                s = saturate(round_shift(ms, cfg.score_shift(i)), cfg.act_width)
                out[start:start + chunk, i] = np.argmax(s, axis=1)  # lowest index wins a tie
        return out

    def evaluate(self, x_q, labels):
        """Per-layer test error (fraction) on quantized inputs."""
        labels = np.asarray(labels)
        return (self.predict_batch(x_q) != labels[:, None]).mean(axis=0)


def _exact_matmul(a, b, width):
    """Integer ``a @ b`` whose every partial sum fits in ``width`` signed bits.

    Within 54 bits every product and partial sum is an integer that float64
    holds exactly, whatever the summation order, so the fast floating-point
    product is used; wider sums stay in int64.
    """
    if width <= 54:
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a @ b


def update_order(w, lanes):
    """The weights of one layer in the order the update unit writes them:
    group ``g`` of ``lanes`` neurons, then input ``k``, then lane ``p``
    (neuron ``j = g*lanes + p``); this is also the weight memory's order."""
    n_out, n_in = w.shape
    return w.reshape(n_out // lanes, lanes, n_in).transpose(0, 2, 1).reshape(-1)


def weight_digest(w, b, lanes):
    """Fletcher-style digest of one layer's weights and biases (64-bit int).

    Over the words ``update_order(w, lanes)`` then ``b`` (two's complement,
    taken modulo 2**32): ``A += word; B += A`` (mod 2**32); digest
    ``B << 32 | A``. Position-sensitive, so a word written to the wrong address
    changes it; the RTL computes it while it writes (``lanes`` words a cycle).
    """
    words = np.concatenate([update_order(w, lanes), b]).astype(np.int64) & 0xFFFFFFFF
    a = np.cumsum(words, dtype=np.uint64) & 0xFFFFFFFF
    return int((int(a.sum(dtype=np.uint64)) & 0xFFFFFFFF) << 32 | int(a[-1]))
