"""Float reference of the learning rule (docs/design.md §1) and of the rules the paper compares.

Everything is NumPy float64 and vectorised over a mini-batch (online learning
is a batch of one). A batch's update is the *mean* of its per-sample updates
(``reduce="mean"``, the default) or, as the fixed-point model's mini-batches
do (``Config.batch``, docs/numerics.md "Mini-batches"), their *sum*
(``reduce="sum"``): every sample of the batch goes forward with the same
weights, and the step is ``eta`` times the sum. With one sample both are the
online step, the same floats. Batches take the samples in the given order.
A summed batch draws its dropout masks sample by sample (every layer of a
sample, then the next sample), so a sample gets the same mask whatever the
batch; a mean batch draws them a layer at a time for the whole batch, as it
always has (so the runs documented with it reproduce).
The float model starts where the fixed-point model starts, so the two can be
compared step for step:

- ``W_i, b_i``: :func:`lela.golden_model.network.initial_weights` divided by
  ``2**weight_frac``;
- ``M_i, K_i``: the hardware's LFSR integers
  (:func:`lela.golden_model.network.classifier_matrices`) divided by
  ``2**cfg.score_shift(i)``;
- the square-hinge gradient is the fixed model's ``g_c = -t_c max(0, 1 - t_c
  s_c)`` (``t = +-1``): the exact gradient of ``0.5 sum_c max(0, 1 - t_c
  s_c)**2``, i.e. the factor 2 of the square hinge is folded into ``eta``, so
  ``eta = 2**-eta_shift`` is the same step in both models.

Methods (:data:`METHODS`):

``local``
    The rule of lela: every layer learns from its own fixed random classifier,
    ``d_i = (K_i^T g_i) * relu'(a_i)`` with ``K_i`` given by ``cfg.feedback``.
``local_trainable``
    As ``local`` but the classifiers ``M_i`` learn too (``M_i -= eta g_i
    h_i^T``), starting from the LFSR matrices; the feedback is ``M_i`` itself
    (exact gradient of each local loss).
``fa``
    Feedback alignment: one trainable top classifier on the last hidden layer
    (initialised to the LFSR ``M_L``); its error goes down through fixed random
    matrices. The matrix carrying the error into hidden layer ``i`` (0-based)
    is the odd-integer LFSR matrix drawn from ``k_seeds[i]`` (the law of
    ``M``, :func:`lela.golden_model.lfsr.classifier_matrix`), with as many rows
    as the layer above has neurons (``classes`` for the top layer), divided by
    ``2**cfg.score_shift(i)``. For the top layer this is the ``independent``
    feedback matrix of the local rule.
``bp``
    Standard backpropagation through the same network and top classifier.

Dropout follows the hardware's convention (docs/numerics.md "Dropout"):
while a layer trains, ``h = relu(a) * mask`` (dropped neurons 0, the others
unscaled); at inference ``h = relu(a) * (1 - p)``, the training activations'
expected value. A dropped neuron's error is zero, so neither its incoming nor
its outgoing weights change. As in the paper, a layer's local classifier sees
the activations after dropout. ``p`` is per layer (``cfg.dropout_rates``).
"""

from __future__ import annotations

import numpy as np

from .lfsr import classifier_matrix
from .network import classifier_matrices, initial_weights

__all__ = ["METHODS", "REDUCTIONS", "FloatNetwork", "fa_matrices", "loss", "loss_grad"]

METHODS = ("local", "local_trainable", "fa", "bp")
#: How a mini-batch's per-sample updates combine: their mean, or their sum
#: (the fixed-point model's mini-batch).
REDUCTIONS = ("mean", "sum")

#: Extra right shift of the hidden-to-hidden FA matrices over ``score_shift``:
#: it brings their spread to that of the initial forward weights they stand in
#: for (``~1/sqrt(3 N)``); at the classifier's scale FA diverges at eta = 2**-7.
FA_HIDDEN_EXTRA_SHIFT = 2


def _batch(s, labels):
    """Scores as B x C, labels as B, and the row indices."""
    labels = np.atleast_1d(labels)
    return np.atleast_2d(s), labels, np.arange(len(labels))


def _targets(s, labels, rows):
    """The square hinge's targets: +1 for the label's class, -1 elsewhere."""
    t = -np.ones_like(s)
    t[rows, labels] = 1.0
    return t


def loss(s, labels, kind):
    """Mean over the batch of the per-sample loss of scores ``s`` (B x C).

    ``square_hinge`` is ``0.5 sum_c max(0, 1 - t_c s_c)**2`` (half the square
    hinge: the fixed model's convention, see the module docstring);
    ``cross_entropy`` is the softmax cross-entropy.
    """
    s, labels, rows = _batch(s, labels)
    if kind == "square_hinge":
        t = _targets(s, labels, rows)
        return float(np.mean(0.5 * np.sum(np.maximum(0.0, 1.0 - t * s) ** 2, axis=1)))
    if kind == "cross_entropy":
        z = s - s.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return float(-np.mean(logp[rows, labels]))
    raise ValueError(f"loss must be square_hinge or cross_entropy, not {kind!r}")


def loss_grad(s, labels, kind):
    """Per-sample gradient ``g = dloss/ds`` (B x C) of :func:`loss` (not averaged)."""
    s, labels, rows = _batch(s, labels)
    if kind == "square_hinge":
        t = _targets(s, labels, rows)
        return -t * np.maximum(0.0, 1.0 - t * s)
    if kind == "cross_entropy":
        z = np.exp(s - s.max(axis=1, keepdims=True))
        g = z / z.sum(axis=1, keepdims=True)
        g[rows, labels] -= 1.0
        return g
    raise ValueError(f"loss must be square_hinge or cross_entropy, not {kind!r}")


def fa_matrices(cfg):
    """Fixed random feedback matrices of feedback alignment, one per hidden layer.

    Entry ``i`` carries the error into hidden layer ``i``: shape ``(classes,
    N_L)`` for the top layer, else ``(N_{i+2}, N_{i+1})`` (the shape of the
    forward weights it stands in for). Drawn from ``k_seeds[i]``, scaled by
    ``2**-score_shift(i)``.
    """
    out = []
    for i in range(cfg.layers):
        rows = cfg.classes if i == cfg.layers - 1 else cfg.sizes[i + 2]
        m = classifier_matrix(cfg.k_seeds[i], rows, cfg.sizes[i + 1], cfg.m_bits)
        shift = cfg.score_shift(i) + (0 if i == cfg.layers - 1 else FA_HIDDEN_EXTRA_SHIFT)
        out.append(m / 2.0 ** shift)
    return out


class FloatNetwork:
    """A float64 network trained by one of :data:`METHODS`.

    Parameters
    ----------
    cfg : lela.config.Config
        Sizes, classes, seeds, ``eta_shift``, ``feedback`` (``local`` only),
        ``loss`` and ``dropout``.
    method : str
        One of :data:`METHODS`.

    Attributes
    ----------
    w, b : list of ndarray
        Weights ``(N_{i+1}, N_i)`` and biases of every hidden layer.
    m : list of ndarray or None
        Classifier ``(C, N_i)`` of every layer; for ``fa`` and ``bp`` only the
        last entry (the trainable top classifier) exists, the others are None.
    k : list of ndarray or None
        Fixed feedback matrix per layer: ``K_i`` (``local``), the FA matrices
        (``fa``), None where the feedback is the forward weights themselves.
    """

    def __init__(self, cfg, method="local"):
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        self.cfg = cfg
        self.method = method
        #: learning rate of every hidden layer (``cfg.etas``); the trainable
        #: top classifier of ``bp`` and ``fa`` steps with the last layer's
        self.etas = list(cfg.etas)
        scale = 2.0 ** -cfg.weight_frac
        init = initial_weights(cfg)
        self.w = [w * scale for w, _ in init]
        self.b = [b * scale for _, b in init]
        mk = classifier_matrices(cfg)
        shifts = [2.0 ** -cfg.score_shift(i) for i in range(cfg.layers)]
        m = [mi * s for (mi, _), s in zip(mk, shifts)]
        L = cfg.layers
        if method == "local":
            self.m = m
            self.k = [ki * s for (_, ki), s in zip(mk, shifts)]
        elif method == "local_trainable":
            self.m = m
            self.k = [None] * L
        else:
            self.m = [None] * (L - 1) + [m[-1]]
            self.k = fa_matrices(cfg) if method == "fa" else [None] * L

    @property
    def local(self):
        """True if every layer has its own classifier."""
        return self.method in ("local", "local_trainable")

    # -- forward ----------------------------------------------------------
    def forward(self, x, rng=None, *, sample_masks=False):
        """``(a, h, masks)`` per layer for a batch ``x`` (B x N_0).

        With ``rng`` (training) a 0/1 dropout mask is drawn for every layer
        whose ``p`` is not 0: with ``sample_masks`` sample by sample (every
        such layer of sample 0, then of sample 1, ...: a sample's mask does
        not depend on the batch), else a layer at a time for the whole
        batch. Without ``rng`` activations are scaled by ``1 - p``
        (inference). The masks are None where none is drawn.
        """
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        rates = self.cfg.dropout_rates
        drawn = {}
        if sample_masks and rng is not None:
            drawn = {i: np.empty((len(h), len(b))) for i, (b, p) in enumerate(zip(self.b, rates))
                     if p > 0}
            for n in range(len(h) if drawn else 0):
                for i, row in drawn.items():
                    row[n] = rng.random(row.shape[1])
        a_s, h_s, masks = [], [], []
        for i, (w, b, p) in enumerate(zip(self.w, self.b, rates)):
            a = h @ w.T + b
            h = np.maximum(a, 0.0)
            mask = None
            if p > 0 and rng is not None:
                draw = drawn[i] if sample_masks else rng.random(a.shape)
                mask = (draw >= p).astype(np.float64)
                h = h * mask
            elif p > 0:
                h = h * (1.0 - p)
            a_s.append(a)
            h_s.append(h)
            masks.append(mask)
        return a_s, h_s, masks

    def scores(self, x):
        """Scores ``s_i`` (B x C) of every layer's classifier; None where there is none."""
        _, h_s, _ = self.forward(x)
        return [None if m is None else h @ m.T for m, h in zip(self.m, h_s)]

    def predict(self, x):
        """Per-layer predictions (list of int arrays; None where a layer has no classifier).

        A tie goes to the lowest class index, as in the fixed model."""
        return [None if s is None else np.argmax(s, axis=1) for s in self.scores(x)]

    def predict_early_exit(self, x, threshold):
        """``(prediction, exit_layer)`` arrays: per sample, the first layer whose
        score margin (largest minus second largest) is ``>= threshold`` answers,
        else the last layer (mirror of ``FixedNetwork.predict_early_exit``, with
        the threshold in score units instead of integers)."""
        if not self.local:
            raise ValueError(f"early exit needs a classifier per layer; {self.method!r} has one")
        x = np.atleast_2d(x)
        pred = np.zeros(len(x), dtype=np.int64)
        exit_layer = np.full(len(x), -1, dtype=np.int64)
        for i, s in enumerate(self.scores(x)):
            top2 = np.sort(s, axis=1)[:, -2:]
            take = (exit_layer < 0) & ((top2[:, 1] - top2[:, 0] >= threshold)
                                       | (i == self.cfg.layers - 1))
            pred[take] = np.argmax(s[take], axis=1)
            exit_layer[take] = i
        return pred, exit_layer

    def evaluate(self, x, labels):
        """Per-layer test error (fraction; None where a layer has no classifier)."""
        return [None if p is None else float(np.mean(p != labels)) for p in self.predict(x)]

    # -- learning ---------------------------------------------------------
    def gradients(self, x, labels, rng=None, active=None, *, reduce="mean"):
        """The updates of a batch, without applying them: the mean (``reduce``
        ``"mean"``) or the sum (``"sum"``) over the batch of the per-sample
        gradients, all taken at the same weights.

        Returns ``(dw, db, dm)``: lists per layer, the parameter moves being
        ``-eta * grad``. ``dm`` holds the classifier gradients where the
        classifier learns, else None. ``active`` (a set of layer indices, None
        for all) selects the layers that learn (layer-wise training); others
        get None.
        """
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce must be one of {', '.join(REDUCTIONS)}, not {reduce!r}")
        cfg, L = self.cfg, self.cfg.layers
        labels = np.atleast_1d(labels)
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        n = len(labels)
        mean = reduce == "mean"
        a_s, h_s, masks = self.forward(x, rng, sample_masks=not mean)
        inputs = [x] + h_s[:-1]
        dw, db, dm = [None] * L, [None] * L, [None] * L

        def relu_grad(i):
            g = (a_s[i] > 0).astype(np.float64)
            return g if masks[i] is None else g * masks[i]

        def store(i, d):
            if active is None or i in active:
                dw[i] = d.T @ inputs[i] / n if mean else d.T @ inputs[i]
                db[i] = d.mean(axis=0) if mean else d.sum(axis=0)

        if self.local:
            for i in range(L):
                if active is not None and i not in active:
                    continue
                g = loss_grad(h_s[i] @ self.m[i].T, labels, cfg.loss)
                k = self.m[i] if self.k[i] is None else self.k[i]
                store(i, (g @ k) * relu_grad(i))
                if self.method == "local_trainable":
                    dm[i] = g.T @ h_s[i] / n if mean else g.T @ h_s[i]
            return dw, db, dm

        top = self.m[-1]
        g = loss_grad(h_s[-1] @ top.T, labels, cfg.loss)
        dm[-1] = g.T @ h_s[-1] / n if mean else g.T @ h_s[-1]
        e = g @ (top if self.method == "bp" else self.k[-1])
        for i in range(L - 1, -1, -1):
            d = e * relu_grad(i)
            store(i, d)
            if i:
                e = d @ (self.w[i] if self.method == "bp" else self.k[i - 1])
        return dw, db, dm

    def train_batch(self, x, labels, rng=None, active=None, *, reduce="mean"):
        """One update from the batch ``x`` (B x N_0) with labels (B,): ``eta``
        times the mean or the sum (``reduce``) of the per-sample gradients."""
        dw, db, dm = self.gradients(x, labels, rng, active, reduce=reduce)
        for i, eta in enumerate(self.etas):
            if dw[i] is not None:
                self.w[i] -= eta * dw[i]
                self.b[i] -= eta * db[i]
            if dm[i] is not None:
                self.m[i] -= eta * dm[i]

    def train_epoch(self, x, labels, order=None, batch=1, rng=None, active=None, *,
                    reduce="mean"):
        """One pass over ``x`` in ``order`` (default: as given), ``batch`` samples
        per update (the last batch may be smaller), combined by ``reduce``;
        ``rng`` draws dropout masks."""
        order = np.arange(len(labels)) if order is None else order
        for start in range(0, len(order), batch):
            idx = order[start:start + batch]
            self.train_batch(x[idx], labels[idx], rng, active, reduce=reduce)

    def finite(self):
        """False once any parameter has overflowed to inf or NaN (a diverged run)."""
        params = self.w + self.b + [m for m in self.m if m is not None]
        return all(np.isfinite(p).all() for p in params)
