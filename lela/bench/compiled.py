"""The compiled CPU baseline: the same online rule as the hardware (local
errors, batch 1, square hinge), float32, compiled with numba, one core.

This is what a user would run instead of lela for online learning on a CPU,
so the throughput section reports the boards against it. It follows
``lela.golden_model.float_model.FloatNetwork`` with method ``local`` and
``batch=1`` operation for operation (a test compares the two in float64):
per sample the forward pass through every layer with the weights before the
sample, then every layer's update from its own classifier's error.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from numba.typed import List

from lela.golden_model.float_model import FloatNetwork

__all__ = ["CompiledOnline"]


@njit(cache=False, fastmath=True)
def _train(ws, bs, ms, ks, hs, a_s, x, labels, order, etas):
    layers = len(ws)
    for n in order:
        h = x[n]
        for i in range(layers):   # forward, every layer before any update
            w, b, a, out = ws[i], bs[i], a_s[i], hs[i + 1]
            for j in range(w.shape[0]):
                acc = b[j]
                for k in range(w.shape[1]):
                    acc += w[j, k] * h[k]
                a[j] = acc
                out[j] = max(0, acc)
            h = out
        hs[0][:] = x[n]
        label = labels[n]
        for i in range(layers):   # each layer from its own error
            w, b, m, kk, a, inp, h = ws[i], bs[i], ms[i], ks[i], a_s[i], hs[i], hs[i + 1]
            classes = m.shape[0]
            g = np.empty(classes, dtype=w.dtype)
            for c in range(classes):
                s = 0
                for j in range(m.shape[1]):
                    s += m[c, j] * h[j]
                t = 1 if c == label else -1
                margin = 1 - t * s
                g[c] = -t * margin if margin > 0 else 0
            for j in range(w.shape[0]):
                if a[j] <= 0:
                    continue
                d = 0
                for c in range(classes):
                    d += g[c] * kk[c, j]
                step = etas[i] * d
                for k in range(w.shape[1]):
                    w[j, k] -= step * inp[k]
                b[j] -= step


class CompiledOnline:
    """The online local-error rule of ``cfg`` compiled for one core.

    Parameters
    ----------
    cfg : lela.config.Config
        Sizes, seeds, ``eta_shift`` and ``feedback`` (``loss`` must be
        ``square_hinge``, the hardware's; no dropout).
    dtype : numpy dtype
        float32 for the baseline, float64 to compare with the float model.
    """

    def __init__(self, cfg, dtype=np.float32):
        if cfg.loss != "square_hinge" or cfg.dropout:
            raise ValueError("the compiled baseline trains the hardware's rule: square_hinge "
                             f"loss and no dropout, not loss {cfg.loss!r}, dropout "
                             f"{cfg.dropout!r}")
        ref = FloatNetwork(cfg, "local")
        self.dtype = np.dtype(dtype)
        self.etas = np.array(cfg.etas, dtype=dtype)
        cast = lambda arrays: List([np.ascontiguousarray(v, dtype=dtype) for v in arrays])
        self.w, self.b = cast(ref.w), cast(ref.b)
        self.m, self.k = cast(ref.m), cast(ref.k)
        self._h = List([np.zeros(n, dtype=dtype) for n in cfg.sizes])
        self._a = List([np.zeros(n, dtype=dtype) for n in cfg.sizes[1:]])

    def train_epoch(self, x, labels, order=None):
        """One online pass over ``x`` (B x N_0) in ``order`` (default: as given)."""
        order = np.arange(len(labels)) if order is None else np.asarray(order)
        _train(self.w, self.b, self.m, self.k, self._h, self._a,
               np.ascontiguousarray(x, dtype=self.dtype), np.asarray(labels, dtype=np.int64),
               order.astype(np.int64), self.etas)
