"""``golden_model.schedule``: the sample order and phases every trainer uses."""

import numpy as np
import pytest

from lela.config import Config
from lela.golden_model.schedule import (
    SCHEDULES,
    epoch_order,
    layerwise_phases,
    training_order,
)

CFG = Config().with_layers((4, 8, 8)).replace(lanes=(2, 2))


def test_each_epoch_is_a_permutation_fixed_by_seed_and_epoch():
    first = epoch_order(10, 0, seed=3)
    assert sorted(first) == list(range(10))
    np.testing.assert_array_equal(first, epoch_order(10, 0, seed=3))
    assert not np.array_equal(first, epoch_order(10, 1, seed=3))
    assert not np.array_equal(first, epoch_order(10, 0, seed=4))


def test_training_order_is_the_epochs_in_turn():
    order = training_order(CFG, 10, 3, "simultaneous", seed=5)
    np.testing.assert_array_equal(order, np.concatenate([epoch_order(10, e, 5) for e in range(3)]))
    # layer-wise: the epochs again for each layer, the phases at their starts
    assert len(training_order(CFG, 10, 3, "layerwise", seed=5)) == 3 * 10 * CFG.layers
    assert layerwise_phases(CFG, 3, 10) == [(0, [True, False]), (30, [False, True])]


def test_an_unknown_schedule_is_named():
    with pytest.raises(ValueError, match=f"schedule must be one of {', '.join(SCHEDULES)}, "
                                         f"not 'backwards'"):
        training_order(CFG, 10, 1, "backwards")
