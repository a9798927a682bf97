"""Analytic model of the per-layer counters of the RTL: twin of
``lela.rtl.counters`` (per sample; the RTL counts per cycle).

Every layer counts, per sample it processes (``COUNTERS``, in access-port
order):

``busy_cycles``
    cycles the layer engine is not idle (from the cycle after it accepts a
    sample to the cycle it hands the result over);
``mac_multiplies``
    lane multiplies of the MAC array (forward ``h_k W[j,k]``, update ``d_j h_k``;
    the bias beats' are not counted: ``lela.contract.group_beats``);
``classifier_multiplies``
    multiplies of the error unit (``M[c,j] h_j`` and ``K[c,j] g_c``);
``weight_reads`` / ``weight_writes``
    weights (not physical words) read from / written to the weight memory by
    the engine (the access port is not counted);
``act_reads``
    activations read: ``h_k`` from the input buffer (one per MAC beat) and
    this layer's own activations read back by its error unit (scores, then
    ``relu'`` in the error pass; ``P`` per word);
``act_writes``
    activations written to this layer's output buffer.

A layer treats a sample in one of three ``MODES``: ``train`` (forward,
scores, local error, update), ``infer`` (forward and scores: an inference
sample, or a training sample while the layer's ``learn`` control word is 0)
or ``skip`` (an earlier layer answered an early-exit inference: pass the
token on).

The counts are exact: the schedule of a layer depends only on the
configuration, never on data or on the other layers (a layer starts a sample
only when its input is complete, its output slot is free and its result can
be taken). The cycle count follows the schedule in docs/architecture.md; the
latencies are the RTL's pipeline depths, from ``lela.contract``.
"""

from lela.contract import (
    COUNTERS,
    EU_FETCH_CYCLES,
    EU_FINISH_CYCLES,
    EU_PIPELINE_CYCLES,
    classifier_lanes,
    drain_cycles,
    forward_to_scores,
    group_beats,
    handover_cycles,
)

__all__ = ["COUNTERS", "MODES", "busy_cycles", "classifier_cycles", "layer_modes", "per_sample",
           "steady_cycles", "totals", "update_beat_cycles"]

MODES = ("train", "infer", "skip")


def update_beat_cycles(cfg):
    """Cycles per update beat: 1, or 2 with a single-port weight memory (the
    reads and the write-backs of the words take turns on its one port)."""
    return cfg.memory.update_beat_cycles


def _shape(cfg, layer):
    n_in, n = cfg.sizes[layer], cfg.sizes[layer + 1]
    p = cfg.lanes[layer]
    return n_in, n, p, n // p, cfg.classes


def classifier_cycles(cfg, layer):
    """Cycles of the error unit's entries for one group of ``P`` neurons:
    ``P C / Q`` (``Q``: :func:`lela.contract.classifier_lanes`)."""
    _, _, p, _, c = _shape(cfg, layer)
    return p * c // classifier_lanes(cfg, layer)


def _scores_done(cfg, layer):
    """Cycle (counting the first busy cycle as 1) at which the scores are final."""
    _, _, _, g, c = _shape(cfg, layer)
    beats = group_beats(cfg, layer)
    entries = classifier_cycles(cfg, layer)
    per_group = EU_FETCH_CYCLES + entries
    # the error unit reads group q once it is written (cycle (q+1) beats +
    # forward_to_scores) and once it is done with group q-1; the later of the
    # two bounds wins at an end
    written = forward_to_scores(cfg)
    last_entry = max(beats + written + g * per_group - 1,
                     g * beats + written + per_group - 1)
    return last_entry + c + EU_FINISH_CYCLES


def busy_cycles(cfg, layer, mode):
    """Busy cycles of ``layer`` (0-based) for one sample in ``mode``."""
    if mode == "skip":
        return 1
    scores = _scores_done(cfg, layer)
    if mode == "infer":
        return scores
    if mode != "train":
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    _, _, _, g, _ = _shape(cfg, layer)
    beats = group_beats(cfg, layer)
    beat = update_beat_cycles(cfg)
    # one group of d after its start
    d_group = EU_FETCH_CYCLES + classifier_cycles(cfg, layer) + EU_PIPELINE_CYCLES
    first_update = scores + d_group             # issue of the first update beat
    last_update = first_update + (g - 1) * max(beat * beats, d_group) + beat * (beats - 1)
    return last_update + drain_cycles(cfg)


def steady_cycles(cfg):
    """Cycles per training sample of the network in steady state: the slowest
    layer's busy cycles and its hand-over (:func:`lela.contract.handover_cycles`)."""
    return max(busy_cycles(cfg, i, "train") for i in range(cfg.layers)) + handover_cycles(cfg)


def per_sample(cfg, layer, mode):
    """Every counter's increment for one sample of ``layer`` in ``mode`` (dict)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    n_in, n, _, g, c = _shape(cfg, layer)
    passes = {"train": 2, "infer": 1, "skip": 0}[mode]
    return {
        "busy_cycles": busy_cycles(cfg, layer, mode),
        "mac_multiplies": passes * n_in * n,
        "classifier_multiplies": passes * c * n,
        "weight_reads": passes * n_in * n,
        "weight_writes": n_in * n if mode == "train" else 0,
        "act_reads": passes * (g * n_in + n),
        "act_writes": n if mode != "skip" else 0,
    }


def layer_modes(cfg, train, exit_layer=None, learn=None):
    """Mode of every layer for one sample: ``train`` (``infer`` for the
    layers whose entry of ``learn`` is false; default every layer learns);
    or, for inference, ``infer`` up to the answering layer (``exit_layer``,
    default the last) and ``skip`` after it."""
    if train:
        learn = [True] * cfg.layers if learn is None else learn
        return ["train" if on else "infer" for on in learn]
    last = cfg.layers - 1 if exit_layer is None else exit_layer
    return ["infer" if i <= last else "skip" for i in range(cfg.layers)]


def totals(cfg, samples):
    """Counter values after ``samples``, an iterable of per-sample layer-mode
    lists (see :func:`layer_modes`), from reset: one dict per layer."""
    out = [dict.fromkeys(COUNTERS, 0) for _ in range(cfg.layers)]
    for modes in samples:
        for i, mode in enumerate(modes):
            for name, v in per_sample(cfg, i, mode).items():
                out[i][name] += v
    return out
