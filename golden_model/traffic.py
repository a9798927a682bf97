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

lela's RTL trains online (``batch = 1``) with its weights on chip: each layer
reads its weights twice per sample (forward pass, then the update once the
local error is known) and writes them once, which is what its counters show.

**The mini-batch local engine** (:func:`local_engine_traffic`; docs/design.md
§2a, docs/numerics.md "Mini-batches") streams each layer's weights from
external memory once per mini-batch of ``B`` training samples: while it reads
a weight word for batch ``n+1``'s forward pass it applies batch ``n``'s update
(the sum over the batch of ``d h^T``, rounded once) and writes the word back;
an update-only pass (the *flush*) applies the last batch. Its assumptions, on
top of 1 and 4:

7. **Each weight word is read once and written once per batch**; the first
   batch of a run reads without writing (nothing is pending) and the flush
   reads and writes, so a run of ``S`` training samples in ``k = ceil(S/B)``
   batches reads every weight ``k + 1`` times and writes it ``k`` times. An
   unbounded run (``samples=None``) tends to ``1/B`` of each per sample.
8. **Its batch buffers are on the device** (:func:`local_engine_buffer_words`):
   per layer, its inputs ``h_{i-1}`` of two batches (``2 B N_{i-1}``: batch
   ``n``'s for the update, batch ``n+1``'s for the forward pass), its
   outputs ``h_i`` of the batch in the forward pass (``B N_i``, for the
   scores and ``relu'``; the next layer's input) and its errors ``d_i`` of
   the batch being applied (``B N_i``). No activation and no error leaves the
   device; the classifiers are regenerated from seeds.

For the same network and ``B``, backprop (assumptions 2, 3 and 5) can be given
an on-device activation memory (``on_chip`` words, none in the paper's
analysis): what fits there is not written out and read back.
:func:`traffic_ratio` gives the engine's words over backprop's for a list of
``B``.
"""

from __future__ import annotations

import math

__all__ = ["FIELDS", "backprop_traffic", "local_engine_buffer_words", "local_engine_traffic",
           "local_traffic", "total", "traffic_ratio"]

#: Words per training sample, in each row of a traffic table.
FIELDS = ("weight_reads", "weight_writes", "act_reads", "act_writes")


def _check_batch(batch):
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be an integer >= 1, not {batch!r}")


def _row(name, weight_reads, weight_writes, act_reads, act_writes):
    return {"name": name, "weight_reads": weight_reads, "weight_writes": weight_writes,
            "act_reads": act_reads, "act_writes": act_writes}


def backprop_traffic(cfg, batch=1, on_chip=0):
    """Words backprop moves to and from external memory per training sample.

    Parameters
    ----------
    cfg : lela.config.Config
        The network: ``sizes`` (input and hidden layers) and ``classes``.
    batch : int
        Mini-batch size; weights move once per batch.
    on_chip : int
        Words of on-device memory for the activations the backward pass needs
        (0, the paper's analysis: every stored activation goes out). They are
        kept in the order the backward pass reads them, a batch at a time:
        ``h_L`` of the ``batch`` samples first, then ``h_{L-1}``, ..., then
        ``x``; a layer that fits in part spills the rest. A kept ``h_i`` is
        neither written nor read back; a kept ``x`` is not read again.

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
    if isinstance(on_chip, bool) or not isinstance(on_chip, int) or on_chip < 0:
        raise ValueError(f"on_chip must be an integer >= 0, not {on_chip!r}")
    n = cfg.sizes
    # words per sample of x, h_1, ..., h_L that go out (and come back)
    spilled, room = [0.0] * len(n), on_chip
    for i in reversed(range(len(n))):
        kept = min(room, batch * n[i])
        room -= kept
        spilled[i] = (batch * n[i] - kept) / batch
    rows = []
    for i in range(cfg.layers):
        w = n[i] * n[i + 1]
        rows.append(_row(f"layer {i + 1}", 2 * w / batch, w / batch, spilled[i],
                         spilled[i + 1]))
    # the classifier's input h_L, stored by layer L, is read back once for the
    # classifier's update (and, the same word, for relu'(a_L))
    w = n[-1] * cfg.classes
    rows.append(_row("classifier", 2 * w / batch, w / batch, spilled[-1], 0.0))
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


def local_engine_traffic(cfg, batch=1, samples=None):
    """Words lela's mini-batch local engine moves to and from external memory
    per training sample, with every layer's weights there (assumptions 1, 4,
    7, 8 of the module).

    Parameters
    ----------
    cfg : lela.config.Config
        The network: ``sizes``.
    batch : int
        Mini-batch size ``B``.
    samples : int or None
        Training samples of the run, from a start with nothing pending to the
        flush after the last: every weight is read ``ceil(samples / B) + 1``
        times and written ``ceil(samples / B)`` times. None: an unbounded run,
        ``1/B`` read and ``1/B`` write per weight and sample.

    Returns
    -------
    list of dict
        One row per hidden layer, as :func:`local_traffic` (no activation
        words: the batch buffers are on the device).
    """
    _check_batch(batch)
    if samples is None:   # reads and writes of every weight over `per` samples
        reads, writes, per = 1, 1, batch
    else:
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be an integer >= 1 or None, not {samples!r}")
        k = math.ceil(samples / batch)
        reads, writes, per = k + 1, k, samples
    rows = []
    for i in range(cfg.layers):
        w = cfg.sizes[i] * cfg.sizes[i + 1]
        rows.append(_row(f"layer {i + 1}", w * reads / per, w * writes / per, 0.0, 0.0))
    return rows


def local_engine_buffer_words(cfg, batch=1):
    """Words of on-device buffer each layer of the mini-batch local engine
    needs (assumption 8): ``B (2 N_{i-1} + 2 N_i)`` for layer ``i``, a list
    in layer order."""
    _check_batch(batch)
    return [batch * (2 * cfg.sizes[i] + 2 * cfg.sizes[i + 1]) for i in range(cfg.layers)]


def traffic_ratio(cfg, batches, on_chip=0):
    """Per mini-batch size, the words per training sample of the local engine
    (:func:`local_engine_traffic`, an unbounded run) and of backprop
    (:func:`backprop_traffic` with ``on_chip`` words for its activations), and
    their ratio.

    Parameters
    ----------
    cfg : lela.config.Config
        The network.
    batches : iterable of int
        The mini-batch sizes ``B``.
    on_chip : int
        Backprop's on-device activation memory in words (0: the paper's).

    Returns
    -------
    list of dict
        One per ``B``, in order: ``batch``, ``local_words``,
        ``backprop_words``, ``ratio`` (local over backprop).
    """
    out = []
    for b in batches:
        local = total(local_engine_traffic(cfg, b))["words"]
        bp = total(backprop_traffic(cfg, b, on_chip))["words"]
        out.append({"batch": b, "local_words": local, "backprop_words": bp,
                    "ratio": local / bp})
    return out


def total(rows):
    """The sum of every field over ``rows``, and ``words`` = their sum."""
    out = {f: sum(r[f] for r in rows) for f in FIELDS}
    out["words"] = sum(out.values())
    return out
