"""Local error unit: twin of ``lela.rtl.error_unit``.

Scores ``s = sat_A(round_shift(M h, score_shift))``; the loss gradient ``g``
(square hinge, the factor 2 folded into eta) ``g_c = sat_A(-t_c max(0, ONE -
t_c s_c))`` with ``t_c = +1`` for the label and ``-1`` otherwise; then
``d_j = sat_A(round_shift(sum_c K[c,j] g_c, score_shift))`` where ``h_j > 0``
and 0 elsewhere (``relu'(a_j)`` is ``a_j > 0``, i.e. ``h_j > 0``).
"""

import numpy as np

from .numerics import round_shift, saturate

__all__ = ["local_error", "loss_grad", "margin", "prediction", "scores"]


def scores(cfg, layer, m, h):
    """Scores ``s = sat_A(round_shift(M h, score_shift))`` of layer ``layer``."""
    return saturate(round_shift(m @ h, cfg.score_shift(layer)), cfg.act_width)


def loss_grad(cfg, s, label):
    """Square-hinge gradient ``g_c = sat_A(-t_c max(0, ONE - t_c s_c))`` of the scores."""
    one = 1 << cfg.act_frac
    t = np.full(s.shape, -1, dtype=np.int64)
    t[label] = 1
    return saturate(-t * np.maximum(one - t * s, 0), cfg.act_width)


def local_error(cfg, layer, k, g, h):
    """Local error ``d = sat_A(round_shift(K^T g, score_shift))`` where ``h > 0``, else 0."""
    e = saturate(round_shift(k.T @ g, cfg.score_shift(layer)), cfg.act_width)
    return np.where(h > 0, e, 0)


def prediction(s):
    """Index of the largest score; the lowest index wins a tie."""
    return int(np.argmax(s))


def margin(s):
    """Largest score minus the second largest (integer, score format)."""
    top = np.sort(s)[::-1]
    return int(top[0] - top[1])
