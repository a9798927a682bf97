"""Dropout of a layer's activations: twin of ``lela.rtl.dropout``.

While a layer trains, neuron ``j`` is dropped (its activation 0, so its local
classifier, its error and the next layer see nothing of it) when its 8-bit
draw from the layer's dropout LFSR is below ``k = 256 p``; the others are
kept unscaled. The draws are the LFSR of ``lela.golden_model.lfsr``, one
``DROPOUT_BITS``-bit draw per neuron in neuron order, every sample the layer
trains on, from the layer's seed (``Config.dropout_seeds_used``). At
inference, and on a training sample while the layer does not learn, every
activation is ``round_shift(h (256 - k), 8)``: the expected value of the
training activations (docs/numerics.md "Dropout").
"""

import numpy as np

from lela.contract import DROPOUT_BITS

from .numerics import round_shift

__all__ = ["dropout"]


def dropout(cfg, index, h, drop, training):
    """Layer ``index``'s activations ``h`` as it stores them, with dropout
    ``p = k/256`` (``cfg.dropout_thresholds``): while it trains, neuron ``j``
    is dropped (0) when the ``j``-th 8-bit draw of ``drop`` (the layer's
    :class:`~lela.golden_model.lfsr.JumpLfsr`, which moves on) is below
    ``k``; otherwise ``round_shift(h (256 - k), 8)``, the expected value of
    the training activations. ``h`` itself without dropout."""
    k = cfg.dropout_thresholds[index]
    if not k:
        return h
    if training:
        return np.where(drop.draws() >= k, h, 0)
    return round_shift(h * ((1 << DROPOUT_BITS) - k), DROPOUT_BITS)
