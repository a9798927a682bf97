"""``rtl.dropout.Dropout`` against ``golden_model.dropout``: random words of
activations, training and inference mixed, with gaps; every output word and
the LFSR's moves equal the model's."""

import re

import numpy as np
import pytest
from amaranth.sim import Simulator

from lela.config import Config
from lela.contract import DROPOUT_BITS
from lela.golden_model.dropout import dropout
from lela.golden_model.lfsr import JumpLfsr
from lela.rtl.dropout import Dropout


@pytest.mark.parametrize("lanes, act_width, p", [(1, 8, 0.5), (4, 16, 0.25), (3, 12, 20 / 256)])
def test_words_against_the_model(lanes, act_width, p):
    seed = 70 + lanes
    rng = np.random.default_rng(seed)
    cfg = Config(sizes=(4, 6 * lanes), lanes=(lanes,), m_seeds=(5,), k_seeds=(6,),
                 act_width=act_width, act_frac=act_width - 4, weight_frac=12, dropout=p)
    dut = Dropout.from_config(cfg, 0)
    model = JumpLfsr(cfg.dropout_seeds_used[0], lanes, DROPOUT_BITS)   # one group's draws
    words = rng.integers(0, 1 << (act_width - 1), size=(40, lanes))
    training = rng.random(40) < 0.6
    dropped = []

    async def tb(ctx):
        for n, (h, tr) in enumerate(zip(words, training)):
            while rng.random() < 0.3:
                ctx.set(dut.valid, 0)
                await ctx.tick()
            ctx.set(dut.h, [int(v) for v in h])
            ctx.set(dut.training, int(tr))
            ctx.set(dut.valid, 1)
            got = np.array([ctx.get(dut.h_out[q]) for q in range(lanes)])
            want = dropout(cfg, 0, h, model, bool(tr))
            np.testing.assert_array_equal(got, want, err_msg=f"seed {seed}, word {n}, "
                                                             f"training {tr}")
            dropped.append(int(((got == 0) & (h > 0)).sum()) if tr else 0)
            await ctx.tick()
        ctx.set(dut.valid, 0)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()
    assert sum(dropped) > 0, f"seed {seed}: nothing dropped"


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=re.escape("threshold must be an integer in [1, 255], "
                                                   "not 0")):
        Dropout(lanes=2, act_width=8, threshold=0, seed=1)
    with pytest.raises(ValueError, match=re.escape("seed must be an integer in [1, 4294967295], "
                                                   "not 0")):
        Dropout(lanes=2, act_width=8, threshold=3, seed=0)
