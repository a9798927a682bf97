"""Streaming MAC array, forward pass: twin of ``lela.rtl.mac_array``.

``a_j = sat_A(round_shift(sum_k W[j,k] h[k] + (b_j << act_frac), weight_frac))``
and ``h_j = max(a_j, 0)``. The accumulator is wide enough for the whole sum
(``lela.contract.forward_acc_width``), so the order of accumulation does not
matter.
"""

import numpy as np

from .numerics import round_shift, saturate

__all__ = ["forward"]


def forward(cfg, w, b, h_in):
    """Pre-activation ``a`` and activation ``h`` (int64 arrays) of one layer.

    ``w``: (N_out, N_in) int, ``b``: (N_out,) int, ``h_in``: (N_in,) int, all
    in their contract formats.
    """
    acc = w @ h_in + (b << cfg.act_frac)
    a = saturate(round_shift(acc, cfg.weight_frac), cfg.act_width)
    return a, np.maximum(a, 0)
