"""The training schedule, once for every trainer: the order of the samples
in each epoch, and the layer-wise schedule's phases.

``simultaneous`` trains every layer on every sample; ``layerwise`` trains
layer 1 alone for ``epochs``, then layer 2 alone, ... (docs/numerics.md §11).
The RTL trainer (``lela.sim.train``), the host driver (``lela.host.driver``)
and the benchmarks take their sample order from here, so that the same seed
gives every trainer the same samples in the same order.
"""

import numpy as np

__all__ = ["SCHEDULES", "epoch_order", "layerwise_phases", "training_order"]

#: The schedules.
SCHEDULES = ("simultaneous", "layerwise")


def epoch_order(count, epoch, seed=0):
    """The order of the ``count`` training samples in ``epoch`` (fixed by ``seed``)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def layerwise_phases(cfg, epochs, samples):
    """The layer-wise schedule's control words: ``[(n, flags)]``, layer ``i``
    alone learning from training sample ``i * epochs * samples`` on."""
    return [(i * epochs * samples, [j == i for j in range(cfg.layers)])
            for i in range(cfg.layers)]


def training_order(cfg, samples, epochs, schedule, seed=0):
    """The indices of the training samples, in the order they are trained, for
    ``epochs`` of ``schedule`` (``epochs`` per layer with ``layerwise``);
    ValueError naming the schedules for another."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {schedule!r}")
    total = epochs * (cfg.layers if schedule == "layerwise" else 1)
    return np.concatenate([epoch_order(samples, e, seed) for e in range(total)])
