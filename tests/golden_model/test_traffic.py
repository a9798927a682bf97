"""``golden_model.traffic``: the paper's memory-traffic analysis, counted by hand."""

import pytest

from lela.config import Config
from lela.golden_model import counters
from lela.golden_model.traffic import FIELDS, backprop_traffic, local_traffic, total

CFG = Config(sizes=(4, 3, 2), classes=5, lanes=(1, 1), m_seeds=(1, 2), k_seeds=(3, 4))


def test_backprop_by_hand():
    rows = backprop_traffic(CFG)
    assert [r["name"] for r in rows] == ["layer 1", "layer 2", "classifier"]
    # weights 12, 6 and 10 (classifier): read twice, written once
    assert [r["weight_reads"] for r in rows] == [24, 12, 20]
    assert [r["weight_writes"] for r in rows] == [12, 6, 10]
    # h_1, h_2 stored; x, h_1, h_2 read back
    assert [r["act_writes"] for r in rows] == [3, 2, 0]
    assert [r["act_reads"] for r in rows] == [4, 3, 2]
    t = total(rows)
    assert t == {"weight_reads": 56, "weight_writes": 28, "act_reads": 9, "act_writes": 5,
                 "words": 98}


def test_batch_shares_the_weights_not_the_activations():
    one, many = total(backprop_traffic(CFG)), total(backprop_traffic(CFG, batch=4))
    assert many["weight_reads"] == one["weight_reads"] / 4
    assert many["weight_writes"] == one["weight_writes"] / 4
    assert (many["act_reads"], many["act_writes"]) == (one["act_reads"], one["act_writes"])


def test_local_rule_under_the_paper_and_in_lela():
    t = total(local_traffic(CFG, batch=2))
    assert t == {"weight_reads": 9, "weight_writes": 9, "act_reads": 0, "act_writes": 0,
                 "words": 18}
    # lela (online, weights on chip) reads each weight twice and writes it once
    for i, row in enumerate(local_traffic(CFG)):
        hw = counters.per_sample(CFG, i, "train")
        assert hw["weight_reads"] == 2 * row["weight_reads"]
        assert hw["weight_writes"] == row["weight_writes"]


@pytest.mark.parametrize("fn", [backprop_traffic, local_traffic])
@pytest.mark.parametrize("batch", [0, 1.5, True])
def test_batch_is_validated(fn, batch):
    with pytest.raises(ValueError, match=rf"batch must be an integer >= 1, not {batch!r}"):
        fn(CFG, batch)


def test_rows_have_every_field():
    for row in backprop_traffic(Config()) + local_traffic(Config()):
        assert set(FIELDS) <= set(row)
