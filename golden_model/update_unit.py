"""Local weight-update unit: twin of ``lela.rtl.update_unit``.

Online, in place: ``W[j,k] = sat_W(W[j,k] - round_shift(d_j h_k, weight_shift))``
and ``b_j = sat_W(b_j - round_shift(d_j, bias_shift))`` with the shifts of
``lela.contract`` (``2 act_frac - weight_frac + eta_shift`` and ``act_frac -
weight_frac + eta_shift``; a negative shift is a left shift).

A mini-batch of ``B`` samples (``Config.batch``, docs/numerics.md
"Mini-batches") sums the products exactly over the batch and rounds once:
``W[j,k] = sat_W(W[j,k] - round_shift(sum_n d_j^n h_k^n, weight_shift))`` and
``b_j = sat_W(b_j - round_shift(sum_n d_j^n, bias_shift))``
(:class:`PendingUpdate`). With one sample the sum is the product: the online
update, bit for bit.
"""

import numpy as np

from lela.contract import bias_shift, weight_shift

from .numerics import round_shift, saturate

__all__ = ["PendingUpdate", "update"]


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


class PendingUpdate:
    """The pending update of one hidden layer over a mini-batch: the exact
    sums ``sum_n d^n h_in^n^T`` and ``sum_n d^n`` of the samples the layer
    trained on since the last :meth:`apply`.

    The sums are exact integers (int64; ``Config.check_fixed_point`` bounds
    ``batch`` products plus the rounding addend within 64 bits): no
    intermediate rounding, no saturation.

    Parameters
    ----------
    cfg : lela.config.Config
        The configuration (formats, ``eta_shift`` of the layer).
    index : int
        The hidden layer (0-based).

    Attributes
    ----------
    sum_w : ndarray
        ``N_out x N_in`` int64, the sum of the products ``d_j h_k``.
    sum_b : ndarray
        ``N_out`` int64, the sum of the errors ``d_j``.
    samples : int
        Samples added since the last :meth:`apply`.
    """

    def __init__(self, cfg, index):
        self.cfg, self.index = cfg, index
        n_in, n_out = cfg.sizes[index], cfg.sizes[index + 1]
        self.sum_w = np.zeros((n_out, n_in), dtype=np.int64)
        self.sum_b = np.zeros(n_out, dtype=np.int64)
        # the neurons with a non-zero error in some sample: only their rows move
        self._rows = np.zeros(n_out, dtype=bool)
        self.samples = 0

    def add(self, d, h_in):
        """Add one sample's error ``d`` (``N_out``) and the layer's input
        ``h_in`` (``N_in``) of that sample to the sums."""
        rows = np.flatnonzero(d)
        self.sum_w[rows] += np.outer(d[rows], h_in)
        self.sum_b += d
        self._rows[rows] = True
        self.samples += 1

    def apply(self, w, b):
        """New ``(w, b)``: the sums rounded once (``weight_shift``,
        ``bias_shift``) and subtracted with saturation; the inputs are not
        modified. The sums are cleared. A row no sample had an error for
        steps by ``round_shift(0) = 0``, so it is not computed."""
        cfg, i = self.cfg, self.index
        rows = np.flatnonzero(self._rows)
        w_new = w.copy()
        w_new[rows] = saturate(w[rows] - round_shift(self.sum_w[rows], weight_shift(cfg, i)),
                               cfg.weight_width)
        b_new = saturate(b - round_shift(self.sum_b, bias_shift(cfg, i)), cfg.weight_width)
        self.sum_w[rows] = 0
        self.sum_b[:] = 0
        self._rows[:] = False
        self.samples = 0
        return w_new, b_new
