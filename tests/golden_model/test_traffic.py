"""``golden_model.traffic``: the paper's memory-traffic analysis, counted by hand."""

import pytest

from lela.config import Config
from lela.golden_model import counters
from lela.golden_model.traffic import (
    FIELDS,
    backprop_traffic,
    local_engine_buffer_words,
    local_engine_traffic,
    local_traffic,
    total,
    traffic_ratio,
)

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


# -- the mini-batch local engine ------------------------------------------
# CFG: weights 12 (layer 1) and 6 (layer 2); backprop adds a 10-weight classifier

def test_local_engine_by_hand():
    # an unbounded run: every weight read once and written once per batch
    for batch, words in ((1, 18.0), (2, 9.0), (4, 4.5)):
        rows = local_engine_traffic(CFG, batch)
        assert [r["name"] for r in rows] == ["layer 1", "layer 2"]
        assert [r["weight_reads"] for r in rows] == [12 / batch, 6 / batch]
        assert [r["weight_writes"] for r in rows] == [12 / batch, 6 / batch]
        assert total(rows) == {"weight_reads": words, "weight_writes": words, "act_reads": 0.0,
                               "act_writes": 0.0, "words": 2 * words}
    # its batch-1 weight words are those of the paper's local rule
    assert local_engine_traffic(CFG, 1) == local_traffic(CFG, 1)


def test_local_engine_run_with_its_flush():
    # 10 samples in batches of 4 (4, 4, 2): sweeps for batches 1, 2, 3 and the
    # flush read (4 reads); the last three write (3 writes)
    rows = local_engine_traffic(CFG, 4, samples=10)
    assert [r["weight_reads"] for r in rows] == [4 * 12 / 10, 4 * 6 / 10]
    assert [r["weight_writes"] for r in rows] == [3 * 12 / 10, 3 * 6 / 10]
    # online, 3 samples: 4 reads and 3 writes of every weight
    assert total(local_engine_traffic(CFG, 1, samples=3))["weight_reads"] == 4 * 18 / 3
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=rf"samples must be an integer >= 1 or None, "
                                             rf"not {bad!r}"):
            local_engine_traffic(CFG, 4, samples=bad)


def test_local_engine_buffers():
    # B (2 N_in + 2 N_out): layer 1 4 and 3, layer 2 3 and 2
    assert local_engine_buffer_words(CFG, 1) == [14, 10]
    assert local_engine_buffer_words(CFG, 8) == [112, 80]


def test_backprop_with_activations_on_chip():
    # batch 2, 6 words: h_2 (2 x 2 = 4 words) is kept, 2 of h_1's 6, none of x's 8
    rows = backprop_traffic(CFG, 2, on_chip=6)
    assert [r["act_writes"] for r in rows] == [2, 0, 0]     # h_1, h_2 stored per sample
    assert [r["act_reads"] for r in rows] == [4, 2, 0]      # x, h_1, h_2 read back
    assert [r["weight_reads"] for r in rows] == [12, 6, 10]
    # enough for everything: no activation word, only the weights
    t = total(backprop_traffic(CFG, 2, on_chip=2 * (4 + 3 + 2)))
    assert (t["act_reads"], t["act_writes"], t["words"]) == (0, 0, 42)
    assert backprop_traffic(CFG, 3, on_chip=0) == backprop_traffic(CFG, 3)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match=rf"on_chip must be an integer >= 0, not {bad!r}"):
            backprop_traffic(CFG, 1, on_chip=bad)


def test_traffic_ratio_by_hand():
    # local 36 / B; backprop 84 / B (weights) + 14 (activations)
    got = traffic_ratio(CFG, [1, 2, 4, 12])
    assert [r["batch"] for r in got] == [1, 2, 4, 12]
    assert [r["local_words"] for r in got] == [36, 18, 9, 3]
    assert [r["backprop_words"] for r in got] == [98, 56, 35, 21]
    assert [r["ratio"] for r in got] == [36 / 98, 18 / 56, 9 / 35, 3 / 21]
    # backprop with its activations on chip: only the weights' 84 / B are left
    got = traffic_ratio(CFG, [2], on_chip=18)
    assert got == [{"batch": 2, "local_words": 18, "backprop_words": 42, "ratio": 18 / 42}]
