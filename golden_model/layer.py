"""Bit-exact fixed-point model of one layer engine and one sample: twin of
``lela.rtl.layer.Layer``.

A layer receives a sample's input activations ``h_{i-1}`` and its *token*
(label, train flag, early-exit state) and does one of three things
(``lela.golden_model.counters.MODES``):

``train``
    forward (``a``, ``h``), scores ``s`` and prediction, loss gradient ``g``,
    local error ``d``, then the in-place update of ``W`` and ``b`` (online;
    in a mini-batch the network sums ``d h^T`` and updates once per batch,
    ``lela.golden_model.network``); it reports the digest of its weights as
    they stand after the sample;
``infer``
    forward, scores and prediction: an inference sample, or a training
    sample while the layer does not learn (its control word ``learn`` is 0,
    ``lela.contract.CONTROL``); with early exit, a layer other than the
    last whose score margin reaches the threshold *answers*: it marks the
    token so that every later layer passes the sample on;
``skip``
    an earlier layer answered: the token passes on unchanged, the layer
    reports zeros and leaves its activation buffer alone.

What it reports is one entry of the layer's result FIFO
(``lela.rtl.layer.result_layout``): ``pred``, ``label``, ``train``, ``exit``,
``scores``, ``digest``. The same file holds the two facts of one layer's
weight memory the RTL and the testbench share: the update (memory) order
and the weight digest.
"""

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np

from . import error_unit, mac_array, update_unit
from .dropout import dropout

__all__ = ["LayerStep", "Token", "layer_step", "update_order", "weight_digest"]


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


@dataclass(frozen=True)
class Token:
    """What travels with a sample from layer to layer (``lela.rtl.layer.token_layout``).

    Attributes
    ----------
    label : int
        The sample's class.
    train : bool
        A training sample (else inference).
    exit : int
        The answering layer: the last one until an earlier layer answers.
    early_exit : bool
        Early exit is enabled for this (inference) sample.
    threshold : int
        The early-exit margin threshold (score format).
    exited : bool
        An earlier layer answered: pass through.
    """

    label: int
    train: bool
    exit: int
    early_exit: bool = False
    threshold: int = 0
    exited: bool = False

    @classmethod
    def first(cls, cfg, label, *, train, early_exit=False, threshold=0):
        """The token the input buffer makes for a sample: no layer has answered."""
        return cls(label=int(label), train=bool(train), exit=cfg.layers - 1,
                   early_exit=bool(early_exit), threshold=int(threshold))


@dataclass(eq=False)
class LayerStep:
    """What one layer did with one sample (integer arrays; ``None`` where the
    layer did not compute it).

    Attributes
    ----------
    mode : str
        ``train``, ``infer`` or ``skip``.
    token : Token
        The token passed on to the next layer.
    a, h, s : ndarray or None
        Pre-activation, activation and scores (not in ``skip``).
    g, d : ndarray or None
        Loss gradient and local error (``train`` only).
    prediction : int or None
        Index of the top score, the lowest on a tie (not in ``skip``).
    w, b : ndarray
        The layer's weights and biases as they stand after the step (the
        inputs themselves unless it updated them; in a mini-batch, those
        after the batch's update if the sample completed the batch).
    lanes : int
        ``P`` of the layer (the digest's word order).
    classes : int
        ``C`` (the length of the reported scores).
    """

    mode: str
    token: Token
    w: np.ndarray
    b: np.ndarray
    lanes: int
    classes: int
    a: np.ndarray | None = None
    h: np.ndarray | None = None
    s: np.ndarray | None = None
    g: np.ndarray | None = None
    d: np.ndarray | None = None
    prediction: int | None = None

    @cached_property
    def margin(self):
        """Top score minus the second (``None`` in ``skip``)."""
        return None if self.s is None else error_unit.margin(self.s)

    @property
    def pred(self):
        """The reported prediction: 0 in ``skip``."""
        return 0 if self.prediction is None else self.prediction

    @property
    def scores(self):
        """The reported scores: zeros in ``skip``."""
        return np.zeros(self.classes, dtype=np.int64) if self.s is None else self.s

    @cached_property
    def digest(self):
        """The reported weight digest: of :attr:`w` and :attr:`b` after ``train``, else 0."""
        return weight_digest(self.w, self.b, self.lanes) if self.mode == "train" else 0

    def result(self):
        """The layer's result entry (``lela.rtl.layer.result_layout``) as a dict."""
        return {"pred": self.pred, "label": self.token.label, "train": int(self.token.train),
                "exit": self.token.exit, "scores": self.scores, "digest": self.digest}


def layer_step(cfg, index, w, b, m, k, h_in, token, learn=True, drop=None, update=True):
    """Layer ``index`` (0-based) of ``cfg`` with weights ``w``, biases ``b``
    and classifier matrices ``m`` (scores) and ``k`` (feedback) takes one
    sample: input activations ``h_in`` and its :class:`Token`; ``learn`` is
    the layer's control word (a training sample updates it only if true);
    ``drop`` is its dropout LFSR (needed with dropout; a training step moves
    it on). With ``update`` (online) a training step updates the weights;
    without, it computes ``d`` and leaves them (a mini-batch sums ``d
    h_in^T`` and updates once per batch). Returns a :class:`LayerStep` whose
    ``h`` is the activations after :func:`dropout`; ``w`` and ``b`` are not
    modified."""
    lanes = cfg.lanes[index]
    if token.exited:
        return LayerStep("skip", token, w, b, lanes, cfg.classes)
    training = token.train and learn
    a, h = mac_array.forward(cfg, w, b, h_in)
    h = dropout(cfg, index, h, drop, training)
    s = error_unit.scores(cfg, index, m, h)
    prediction = error_unit.prediction(s)
    if training:
        g = error_unit.loss_grad(cfg, s, token.label)
        d = error_unit.local_error(cfg, index, k, g, h)
        if update:
            w, b = update_unit.update(cfg, index, w, b, d, h_in)
        return LayerStep("train", token, w, b, lanes, cfg.classes, a, h, s, g, d, prediction)
    step = LayerStep("infer", token, w, b, lanes, cfg.classes, a, h, s, prediction=prediction)
    if (not token.train and token.early_exit and index < cfg.layers - 1
            and step.margin >= token.threshold):
        step.token = replace(token, exited=True, exit=index)
    return step
