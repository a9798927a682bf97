"""Memory traffic per training sample under the paper's analysis: backprop and local errors.

Mostafa, Ramesh and Cauwenberghs (section "hardware", Fig. 2, Table 1)
compare the memory traffic of standard backpropagation with that of learning
from local errors, for a compute device whose memory cannot hold the
network, so that weights and stored activations live in an external memory.
:func:`backprop_traffic` and :func:`local_traffic` count the words each rule
moves between the compute device and that memory, per training sample, for
a :class:`lela.config.Config`. lela's own traffic is not a model: it is
counted by the hardware (``weight_reads``/``weight_writes``,
``golden_model/counters.py``) and compared with these in ``lela bench``.

Assumptions (the paper's, made explicit):

1. **One word per weight and per activation.** Biases are left out on both
   sides (``N_i`` words per layer, under 0.5 % of the weights here; lela's
   counters count weights only).
2. **Weights are streamed**, layer by layer, in the forward pass and again in
   the backward pass; the backward pass uses each weight once both to carry
   the error down and to update it (read once, written once). With
   mini-batches of ``batch`` samples every weight moves once per batch, so its
   share per sample is ``1 / batch``.
3. **The device buffers one layer's output activations** (the input of the
   next layer), no more: backprop must write every hidden layer's activations
   out in the forward pass and read them back in the backward pass, where
   layer ``i``'s update needs ``h_{i-1}`` (the input ``x`` for the first
   layer, which is read again) and its error needs ``relu'(a_i)``. For ReLU
   the derivative is recovered from the stored ``h_i`` (``h_i > 0`` exactly
   when ``a_i > 0``), and ``h_i`` is needed for layer ``i+1``'s update at the
   same time, so each stored activation is read once. The first read of
   ``x`` (the sample itself) is not counted, on either side.
4. **Errors are buffered on the device**, one layer at a time, and never
   written out; scores and the loss gradient are computed on the device.
5. **Backprop's network has a trainable top classifier** (``C x N_L``
   weights): without one it cannot classify. Its weights are streamed like
   the others. The local rule's classifiers are fixed and regenerated from
   seeds: they are never stored (docs/design.md §1).
6. **Local errors** (the paper's Fig. 2b): a layer's weights are updated in
   the same pass that uses them, so they are read once and written once per
   batch, and no activation leaves the device.

lela trains online (``batch = 1``) with its weights on chip: each layer reads
its weights twice per sample (forward pass, then the update once the local
error is known) and writes them once, which is what its counters show.
"""

from __future__ import annotations

__all__ = ["FIELDS", "backprop_traffic", "local_traffic", "total"]

#: Words per training sample, in each row of a traffic table.
FIELDS = ("weight_reads", "weight_writes", "act_reads", "act_writes")


def _check_batch(batch):
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, not {batch!r}")


def _row(name, weight_reads, weight_writes, act_reads, act_writes):
    return {"name": name, "weight_reads": weight_reads, "weight_writes": weight_writes,
            "act_reads": act_reads, "act_writes": act_writes}


def backprop_traffic(cfg, batch=1):
    """Words backprop moves to and from external memory per training sample.

    Parameters
    ----------
    cfg : lela.config.Config
        The network: ``sizes`` (input and hidden layers) and ``classes``.
    batch : int
        Mini-batch size; weights move once per batch.

    Returns
    -------
    list of dict
        One row per hidden layer (``"layer 1"``, ...) then one for the top
        classifier (``"classifier"``), each with the :data:`FIELDS` as floats
        (words per sample). Row ``i`` holds layer ``i``'s weights and the
        activations it *stores* (``act_writes``: its outputs ``h_i``) and
        *reads back* (``act_reads``: its input ``h_{i-1}``, the sample ``x``
        for the first layer).
    """
    _check_batch(batch)
    rows = []
    n = cfg.sizes
    for i in range(cfg.layers):
        w = n[i] * n[i + 1]
        rows.append(_row(f"layer {i + 1}", 2 * w / batch, w / batch, float(n[i]),
                         float(n[i + 1])))
    # the classifier's input h_L, stored by layer L, is read back once for the
    # classifier's update (and, the same word, for relu'(a_L))
    w = n[-1] * cfg.classes
    rows.append(_row("classifier", 2 * w / batch, w / batch, float(n[-1]), 0.0))
    return rows


def local_traffic(cfg, batch=1):
    """Words the local rule moves to and from external memory per training
    sample under the paper's analysis (weights read and written once per
    batch, no activation stored): one row per hidden layer, as
    :func:`backprop_traffic`."""
    _check_batch(batch)
    rows = []
    for i in range(cfg.layers):
        w = cfg.sizes[i] * cfg.sizes[i + 1]
        rows.append(_row(f"layer {i + 1}", w / batch, w / batch, 0.0, 0.0))
    return rows


def total(rows):
    """The sum of every field over ``rows``, and ``words`` = their sum."""
    out = {f: sum(r[f] for r in rows) for f in FIELDS}
    out["words"] = sum(out.values())
    return out
