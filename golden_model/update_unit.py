"""Local weight-update unit: twin of ``lela.rtl.update_unit``.

In place: ``W[j,k] = sat_W(W[j,k] - round_shift(d_j h_k, weight_shift))`` and
``b_j = sat_W(b_j - round_shift(d_j, bias_shift))`` with the shifts of
``lela.contract`` (``2 act_frac - weight_frac + eta_shift`` and ``act_frac -
weight_frac + eta_shift``; a negative shift is a left shift).
"""

import numpy as np

from lela.contract import bias_shift, weight_shift

from .numerics import round_shift, saturate

__all__ = ["update"]


def update(cfg, index, w, b, d, h_in):
    """New ``(w, b)`` of hidden layer ``index`` after one online step (inputs
    are not modified). Only the rows of the neurons with an error are
    computed: a row whose ``d_j`` is 0 steps by ``round_shift(0) = 0``."""
    rows = np.flatnonzero(d)
    dw = round_shift(np.outer(d[rows], h_in), weight_shift(cfg, index))
    w_new = w.copy()
    w_new[rows] = saturate(w[rows] - dw, cfg.weight_width)
    db = round_shift(d, bias_shift(cfg, index))
    return w_new, saturate(b - db, cfg.weight_width)
