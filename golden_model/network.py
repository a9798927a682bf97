"""Bit-exact fixed-point model of the whole training engine: twin of ``lela.rtl.top``.

One step per sample, every layer at once: the sample and its token go
through :func:`lela.golden_model.layer.layer_step` layer after layer. Layer
``i`` sees ``h_{i-1}`` computed with layer ``i-1``'s weights *before* that
layer's update for the same sample, exactly as the layer-pipelined hardware
does; the pipeline changes when a layer works on a sample, never what it
computes.

Mini-batches (``cfg.batch = B``, docs/numerics.md "Mini-batches"): the
training samples of a batch go forward with the weights as they stand at the
batch's start; every layer sums ``d h_{i-1}^T`` and ``d`` exactly over the
samples it trains on (:class:`~lela.golden_model.update_unit.PendingUpdate`)
and, once the batch's ``B``-th training sample is done, steps by the sums
rounded once. ``B = 1`` is the online rule bit for bit. A sample's result
(:class:`NetworkStep`): scores and predictions of the weights its forward
pass used; a training layer's digest is of its weights as they stand once the
sample is done (after the batch's update if the sample completed the batch,
else unchanged). :meth:`FixedNetwork.flush` applies a partial batch.
"""

from dataclasses import dataclass

import numpy as np

from lela.contract import DROPOUT_BITS, forward_acc_width, score_acc_width

from . import error_unit, mac_array
from .dropout import dropout
from .layer import LayerStep, Token, layer_step, update_order, weight_digest
from .lfsr import JumpLfsr, classifier_matrix, feedback_matrix
from .numerics import exact_matmul, quantize, round_shift, saturate
from .update_unit import PendingUpdate

__all__ = [
    "FixedNetwork",
    "NetworkStep",
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


@dataclass(eq=False)
class NetworkStep:
    """One sample through the network: every layer's :class:`~lela.golden_model.layer.LayerStep`,
    and the result beat the network reports for it
    (``lela.rtl.top.network_result_layout``).

    Attributes
    ----------
    layers : list of LayerStep
        Layer by layer, in order.
    """

    layers: list[LayerStep]

    @property
    def pred(self):
        """Per-layer predictions (0 for a layer that passed the sample on)."""
        return [step.pred for step in self.layers]

    @property
    def exit(self):
        """The answering layer (the last one unless an earlier one answered)."""
        return self.layers[-1].token.exit

    @property
    def label(self):
        """The sample's class."""
        return self.layers[-1].token.label

    @property
    def train(self):
        """1 for a training sample, 0 for inference."""
        return int(self.layers[-1].token.train)

    @property
    def scores(self):
        """Per-layer scores (zeros for a layer that passed the sample on)."""
        return [step.scores for step in self.layers]

    @property
    def digest(self):
        """Per-layer weight digests after a training sample (0 for a layer
        that did not train on it): of the weights as they stand once the
        sample is done (:attr:`LayerStep.digest`)."""
        return [step.digest for step in self.layers]

    def result(self, trace=True):
        """The result beat as a dict: ``pred``, ``exit``, ``label``, ``train``
        and, with ``trace``, ``scores`` and ``digest`` (lists per layer)."""
        out = {"pred": self.pred, "exit": self.exit, "label": self.label, "train": self.train}
        if trace:
            out.update(scores=self.scores, digest=self.digest)
        return out


class FixedNetwork:
    """The fixed-point training engine.

    Attributes ``w`` and ``b`` are lists of int64 arrays, one per layer;
    ``learn`` is a list of bools, every layer's control word ``learn`` (all
    true after reset, as in the RTL; a layer whose entry is false does not
    update on training samples); ``pending`` is the number of training
    samples of the current mini-batch (0 when no update is pending; always 0
    with ``cfg.batch = 1``).
    """

    def __init__(self, cfg):
        self.cfg = cfg.check_fixed_point()
        init = initial_weights(cfg)
        self.w = [w for w, _ in init]
        self.b = [b for _, b in init]
        self.mk = classifier_matrices(cfg)
        self.learn = [True] * cfg.layers
        #: Per layer, the dropout LFSR (None without dropout), from its seed.
        self.drop = [JumpLfsr(seed, n, DROPOUT_BITS) if p else None for seed, n, p in zip(
            cfg.dropout_seeds_used, cfg.sizes[1:], cfg.dropout_thresholds)]
        #: Per layer, the wide sums of the current mini-batch.
        self.sums = [PendingUpdate(cfg, i) for i in range(cfg.layers)]
        self.pending = 0
        #: Apply each training sample's update at once (``update_unit.update``),
        #: without the batch sums: the online rule, for ``cfg.batch = 1`` (the
        #: same words as the sums of one sample, and faster). False runs batch 1
        #: through the sums (``tests/golden_model/test_network.py`` compares both).
        self.online = cfg.batch == 1

    def quantize(self, x):
        """Real inputs to the activation format (``golden_model.numerics.quantize``)."""
        return quantize(x, self.cfg.act_frac, self.cfg.act_width)

    def forward(self, x_q):
        """Per-layer ``(a, h, s)`` without learning."""
        out, h = [], np.asarray(x_q, dtype=np.int64)
        for i in range(self.cfg.layers):
            a, h = mac_array.forward(self.cfg, self.w[i], self.b[i], h)
            h = dropout(self.cfg, i, h, None, training=False)
            out.append((a, h, error_unit.scores(self.cfg, i, self.mk[i][0], h)))
        return out

    def step(self, x_q, label, *, train, early_exit=False, threshold=0):
        """One sample through every layer, as the hardware takes it: a training
        sample trains every layer whose ``learn`` is true (the update is
        applied once the mini-batch's ``cfg.batch``-th training sample is
        done: at once online); an inference sample with ``early_exit``
        stops at the first layer (other than the last) whose score margin is
        ``>= threshold``, and the later layers pass it on. Every sample goes
        forward with the weights as they stand (a partial batch's update not
        applied: see :meth:`flush`). Returns a :class:`NetworkStep` (its
        :meth:`~NetworkStep.result` is the result beat the RTL reports)."""
        cfg = self.cfg
        if not (isinstance(label, (int, np.integer)) and 0 <= label < cfg.classes):
            raise ValueError(f"label must be an integer in [0, {cfg.classes - 1}], not {label!r}")
        token = Token.first(cfg, label, train=train, early_exit=early_exit, threshold=threshold)
        h, steps = np.asarray(x_q, dtype=np.int64), []
        online = self.online
        for i in range(cfg.layers):
            step = layer_step(cfg, i, self.w[i], self.b[i], *self.mk[i], h, token,
                              self.learn[i], self.drop[i], update=online)
            if step.mode == "train":
                if online:
                    self.w[i], self.b[i] = step.w, step.b
                else:
                    self.sums[i].add(step.d, h)
            steps.append(step)
            token, h = step.token, step.h
        if train and not online:
            self.pending += 1
            if self.pending == cfg.batch:
                self._apply()
                for i, step in enumerate(steps):
                    if step.mode == "train":   # its digest: of the weights after the update
                        step.w, step.b = self.w[i], self.b[i]
        return NetworkStep(steps)

    def flush(self):
        """Apply the pending update of every layer (the sums of a partial
        mini-batch, or nothing if none is pending): the hardware's update-only
        pass before inference. Returns every layer's weight digest after it."""
        self._apply()
        return [weight_digest(w, b, p) for w, b, p in zip(self.w, self.b, self.cfg.lanes)]

    def _apply(self):
        for i, sums in enumerate(self.sums):
            if sums.samples:
                self.w[i], self.b[i] = sums.apply(self.w[i], self.b[i])
        self.pending = 0

    def train_step(self, x_q, label):
        """One training sample through every layer that learns (online: one
        update; in a mini-batch, the update once the batch is complete);
        returns a :class:`~lela.golden_model.layer.LayerStep` per layer
        (``a``, ``h``, ``s``, ``g``, ``d``, ``prediction``, ...)."""
        return self.step(x_q, label, train=True).layers

    def predict(self, x_q):
        """Per-layer predictions (list of int)."""
        return [error_unit.prediction(s) for _, _, s in self.forward(x_q)]

    def predict_early_exit(self, x_q, threshold):
        """``(prediction, exit_layer)``: the first layer whose score margin is
        ``>= threshold`` (integer, score format) answers; else the last layer."""
        result = self.step(x_q, 0, train=False, early_exit=True, threshold=threshold)
        return result.pred[result.exit], result.exit

    def _forward_batch(self, x_q, chunk):
        """``(rows, layer, a, s)`` for every chunk of samples and layer: the
        integer arithmetic of :meth:`forward` in matrix form (one row per
        sample), ``chunk`` samples at a time to bound memory."""
        cfg = self.cfg
        x_q = np.asarray(x_q, dtype=np.int64).reshape(-1, cfg.sizes[0])
        for start in range(0, len(x_q), chunk):
            h = x_q[start:start + chunk]
            for i in range(cfg.layers):
                acc = exact_matmul(h, self.w[i].T, forward_acc_width(cfg, i))
                acc += self.b[i] << cfg.act_frac
                a = saturate(round_shift(acc, cfg.weight_frac), cfg.act_width)
                h = dropout(cfg, i, np.maximum(a, 0), None, training=False)
                ms = exact_matmul(h, self.mk[i][0].T, score_acc_width(
                    cfg.act_width, cfg.m_bits, cfg.sizes[i + 1], cfg.classes))
                s = saturate(round_shift(ms, cfg.score_shift(i)), cfg.act_width)
                yield slice(start, start + len(h)), i, a, s

    def predict_batch(self, x_q, chunk=1024):
        """Per-layer predictions of many samples without learning: an int64 array
        (samples x layers), equal row for row to :meth:`predict`."""
        x_q = np.asarray(x_q, dtype=np.int64).reshape(-1, self.cfg.sizes[0])
        out = np.empty((len(x_q), self.cfg.layers), dtype=np.int64)
        for rows, i, _, s in self._forward_batch(x_q, chunk):
            out[rows, i] = np.argmax(s, axis=1)  # lowest index wins a tie
        return out

    def saturation(self, x_q, chunk=1024):
        """Per layer, the fraction of the samples ``x_q`` on which each neuron's
        activation is clamped at the format's largest value (a list of float
        arrays, one entry per neuron). A negative pre-activation clamped at the
        smallest value is not counted: its activation is 0 either way."""
        cfg = self.cfg
        top = (1 << (cfg.act_width - 1)) - 1
        counts = [np.zeros(n, dtype=np.int64) for n in cfg.sizes[1:]]
        samples = 0
        for rows, i, a, _ in self._forward_batch(x_q, chunk):
            counts[i] += (a == top).sum(axis=0)
            samples += (rows.stop - rows.start) if i == 0 else 0
        return [c / max(samples, 1) for c in counts]

    def evaluate(self, x_q, labels):
        """Per-layer test error (fraction) on quantized inputs."""
        labels = np.asarray(labels)
        return (self.predict_batch(x_q) != labels[:, None]).mean(axis=0)
