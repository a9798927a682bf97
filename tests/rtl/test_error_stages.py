"""The error unit's stages (``rtl.error_stages``), each on its own: the
sequencer against the order and fetch rules of a pass, the products, the sum
and gradient memories and the error bank against Python twins, the scores'
finish against ``golden_model.error_unit``."""

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.hdl import Value
from amaranth.sim import Simulator

from lela.contract import EU_FETCH_CYCLES
from lela.golden_model import error_unit as golden
from lela.golden_model.numerics import signed_range
from lela.rtl.error_stages import (
    ClassifierProducts,
    ClassifierSequencer,
    ErrorBank,
    GradientMemory,
    ScoreFinish,
    ScoreSums,
)


def _simulate(dut, tb):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(tb)
    sim.run()


def _signed(v, width):
    v &= (1 << width) - 1
    return v - (1 << width) if v >> (width - 1) else v


def _pack(values, width):
    """Elements of an array of ``width``-bit fields as one raw integer."""
    return sum((int(v) & ((1 << width) - 1)) << (width * n) for n, v in enumerate(values))


@pytest.mark.parametrize("groups, steps, slices, scoring", [
    (1, 1, 1, True), (3, 2, 5, True), (4, 1, 2, True), (2, 3, 1, True),
    (1, 1, 1, False), (3, 2, 5, False), (4, 1, 2, False), (2, 3, 1, False),
])
def test_sequencer_order_and_fetch(groups, steps, slices, scoring):
    """One pass: group g's word is read (``rd_addr == g``) as soon as it may
    be (scores: ``groups_ready > g``; errors: group g-1 taken), loaded the
    next cycle, and its ``J S`` beats follow ``EU_FETCH_CYCLES`` after the
    read, back to back, slice-minor, with the flags of their position;
    ``slc_next`` is the next cycle's slice."""
    dut = ClassifierSequencer(groups=groups, steps=steps, slices=slices)
    rng = np.random.default_rng(groups * 100 + steps * 10 + slices + scoring)
    order = [(g, j, s) for g in range(groups) for j in range(steps) for s in range(slices)]

    async def tb(ctx):
        ctx.set(dut.start if scoring else dut.start_d, 1)
        await ctx.tick()
        ctx.set(dut.start if scoring else dut.start_d, 0)
        ready, beats, reads, took, prev_next = 0, [], [], [], None
        pending = 0                       # cycle from which the next group's read is due
        for cycle in range(groups * (steps * slices + 40) + 20):
            # the environment: words arrive, or whole groups of d are taken, at random
            if scoring and ready < groups and rng.random() < 0.3:
                ready += 1
            ctx.set(dut.groups_ready, ready)
            take = (not scoring and len(took) < len(reads)
                    and sum(g == len(took) for _, g in beats) == steps * slices
                    and rng.random() < 0.3)
            ctx.set(dut.d_take, int(take))
            beat = dut.beat
            if prev_next is not None:
                assert ctx.get(beat.slc) == prev_next, f"cycle {cycle}: slc_next"
            prev_next = ctx.get(dut.slc_next)
            g = len(reads)
            due = (g < groups and cycle >= pending
                   and (ready > g if scoring else g == 0 or len(took) >= g and took[g - 1] < cycle))
            assert ctx.get(dut.word_read) == due, f"cycle {cycle}: read of group {g}"
            if due:
                assert ctx.get(dut.rd_addr) == g
                reads.append(cycle)
                pending = float("inf")    # until the group's last beat
            assert ctx.get(beat.load) == (bool(reads) and cycle == reads[-1] + 1)
            if ctx.get(beat.run):
                n = len(beats)
                g, j, s = order[n]
                assert ctx.get(beat.scoring) == scoring
                assert (ctx.get(beat.step), ctx.get(beat.slc)) == (j, s)
                assert ctx.get(beat.first_j) == (g == 0 and j == 0)
                assert ctx.get(beat.first_c) == (s == 0)
                assert ctx.get(beat.last_c) == (s == slices - 1)
                assert ctx.get(beat.last) == (n == len(order) - 1)
                assert cycle == reads[g] + EU_FETCH_CYCLES + j * slices + s
                beats.append((cycle, g))
                if j == steps - 1 and s == slices - 1:
                    pending = cycle + 1
            if take:
                took.append(cycle)
            await ctx.tick()
        assert len(beats) == len(order) and len(reads) == groups

    _simulate(dut, tb)


@pytest.mark.parametrize("lanes, neurons, slice_classes, slices, entry_width", [
    (4, 1, 1, 10, 5), (4, 1, 2, 5, 5), (2, 1, 5, 2, 9), (8, 2, 10, 1, 5), (4, 4, 10, 1, 3),
])
def test_products_against_twin(lanes, neurons, slice_classes, slices, entry_width):
    """Free inputs every cycle: stage B holds ``M e h`` (scores) or ``K e g``
    (errors) of the beat two cycles earlier, the relu' mask of its neurons and
    its control, stage A2 the control of the beat one cycle earlier."""
    aw = 8
    P, R, QC = lanes, neurons, slice_classes
    J, Q = P // R, R * QC
    dut = ClassifierProducts(lanes=P, neurons=R, slice_classes=QC, slices=slices,
                             act_width=aw, entry_width=entry_width)
    rng = np.random.default_rng(P * 1000 + R * 100 + QC)
    elo, ehi = -(1 << (entry_width - 1)), 1 << (entry_width - 1)

    async def tb(ctx):
        h_word = [0] * P
        a2 = b = None
        for cycle in range(300):
            i = {"run": int(rng.integers(0, 2)), "load": int(rng.random() < 0.2),
                 "scoring": int(rng.integers(0, 2)), "step": int(rng.integers(0, J)),
                 "slc": int(rng.integers(0, slices)), "first_j": int(rng.integers(0, 2)),
                 "first_c": int(rng.integers(0, 2)), "last_c": int(rng.integers(0, 2)),
                 "last": int(rng.integers(0, 2))}
            for k, v in i.items():
                ctx.set(getattr(dut.beat, k), v)
            word = rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), size=P)
            m, k = (rng.integers(elo, ehi, size=Q) for _ in range(2))
            g = rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), size=QC)
            ctx.set(Value.cast(dut.rd_data), _pack(word, aw))
            ctx.set(Value.cast(dut.m), _pack(m, entry_width))
            ctx.set(Value.cast(dut.k), _pack(k, entry_width))
            ctx.set(Value.cast(dut.g), _pack(g, aw))
            if a2 is not None:
                assert (ctx.get(dut.a2_run), ctx.get(dut.a2_scoring), ctx.get(dut.a2_last),
                        ctx.get(dut.a2_slc)) == (a2["run"], a2["scoring"], a2["last"],
                                                 a2["slc"]), f"cycle {cycle}: A2"
            if b is not None:
                assert (ctx.get(dut.b_valid), ctx.get(dut.b_scoring), ctx.get(dut.b_first_j),
                        ctx.get(dut.b_first_c), ctx.get(dut.b_last_c), ctx.get(dut.b_slc)) \
                    == (b["run"], b["scoring"], b["first_j"], b["first_c"], b["last_c"],
                        b["slc"]), f"cycle {cycle}: B control"
                assert ctx.get(dut.b_mask) == b["mask"], f"cycle {cycle}: mask"
                got = [[ctx.get(dut.b_prod[r][q]) for q in range(QC)] for r in range(R)]
                assert got == b["prod"], f"cycle {cycle}: products"
            # this beat's operands (the word register as it is now)
            hs = [int(h_word[i["step"] * R + r]) for r in range(R)]
            prod = [[int((m if i["scoring"] else k)[r * QC + q])
                     * (hs[r] if i["scoring"] else int(g[q])) for q in range(QC)]
                    for r in range(R)]
            mask = sum(int(h > 0) << r for r, h in enumerate(hs))
            b, a2 = (None if a2 is None else a2), dict(i, prod=prod, mask=mask)
            if i["load"]:
                h_word = list(word)
            await ctx.tick()

    _simulate(dut, tb)


@pytest.mark.parametrize("neurons, slice_classes, slices", [
    (1, 1, 10), (1, 2, 5), (1, 5, 2), (2, 10, 1), (4, 10, 1), (1, 13, 1),
])
def test_score_sums_against_numpy(neurons, slice_classes, slices):
    """A pass of neuron steps (each the ``S`` slices back to back, idle
    cycles between steps), then the ``C`` sums read back in a random order:
    each is the sum of its products over the steps, ``R`` neurons each; a
    second pass starts from zero."""
    R, QC, S = neurons, slice_classes, slices
    C, pw, accw = QC * S, 12, 24
    dut = ScoreSums(acc_width=accw, neurons=R, slice_classes=QC, slices=S, prod_width=pw)
    rng = np.random.default_rng(R * 100 + QC * 10 + S)
    zero = [[0] * QC for _ in range(R)]

    async def tb(ctx):
        for _ in range(2):
            steps = int(rng.integers(1, 5))
            sched = []                         # per cycle: (add, first, addr, prod)
            for j in range(steps):
                sched += [(0, 0, 0, zero)] * int(rng.integers(0, 3))
                for s in range(S):
                    prod = rng.integers(-(1 << (pw - 1)), 1 << (pw - 1), size=(R, QC))
                    sched.append((1, int(j == 0), s, prod.tolist()))
            sched.append((0, 0, 0, zero))
            expected = np.zeros(C, dtype=np.int64)
            for add, first, s, prod in sched:
                if add:
                    for q in range(QC):
                        c = s * QC + q
                        expected[c] = (0 if first else expected[c]) + sum(p[q] for p in prod)
            for t, (add, first, s, prod) in enumerate(sched):
                ctx.set(dut.add, add)
                ctx.set(dut.first, first)
                ctx.set(dut.addr, s)
                ctx.set(dut.pre_addr, sched[t + 1][2] if t + 1 < len(sched) else 0)
                ctx.set(Value.cast(dut.prod), _pack([v for p in prod for v in p], pw))
                await ctx.tick()
            ctx.set(dut.add, 0)
            ctx.set(Value.cast(dut.prod), 0)
            for c in rng.permutation(C):
                ctx.set(dut.rd_en, 1)
                ctx.set(dut.rd_word, int(c) // QC)
                ctx.set(dut.rd_elem, int(c) % QC)
                await ctx.tick()
                ctx.set(dut.rd_en, 0)
                assert ctx.get(dut.rd_data) == expected[c], f"class {c}"

    _simulate(dut, tb)


@pytest.mark.parametrize("slice_classes, slices", [(1, 10), (2, 5), (5, 2), (10, 1), (13, 1)])
def test_gradient_memory_against_twin(slice_classes, slices):
    """Free writes and reads: the read data is the word as it was before the
    cycle of its read (memories: one cycle later; registers: at once)."""
    QC, S, aw = slice_classes, slices, 9
    dut = GradientMemory(act_width=aw, slice_classes=QC, slices=S)
    rng = np.random.default_rng(QC * 10 + S)

    async def tb(ctx):
        state = np.zeros((S, QC), dtype=np.int64)
        expected = None
        for cycle in range(200):
            en, word = int(rng.random() < 0.6), int(rng.integers(0, S))
            elem = int(rng.integers(0, QC))
            value = int(rng.integers(-(1 << (aw - 1)), 1 << (aw - 1)))
            addr = int(rng.integers(0, S))
            for port, v in (("wr_en", en), ("wr_word", word), ("wr_elem", elem),
                            ("wr_data", value), ("rd_addr", addr)):
                ctx.set(getattr(dut, port), v)
            got = [ctx.get(dut.rd_data[q]) for q in range(QC)]
            if S == 1:
                assert got == state[0].tolist(), f"cycle {cycle}"
            elif expected is not None:
                assert got == expected, f"cycle {cycle}"
            expected = state[addr].tolist()
            if en:
                state[word, elem] = value
            await ctx.tick()

    _simulate(dut, tb)


@pytest.mark.parametrize("classes, act_width, act_frac", [(10, 16, 12), (2, 8, 4), (13, 12, 8)])
def test_score_finish_against_golden(classes, act_width, act_frac):
    """The ``C`` scores of a sample in class order, with idle cycles: ``g``
    of each is ``loss_grad``'s, and at ``scores_done`` the scores, the
    prediction and the margin are the golden model's (ties and saturated
    scores included)."""
    cfg = SimpleNamespace(act_width=act_width, act_frac=act_frac)   # what loss_grad reads
    dut = ScoreFinish(classes=classes, act_width=act_width, act_frac=act_frac)
    rng = np.random.default_rng(classes + act_width)
    lo, hi = signed_range(act_width)
    one = 1 << act_frac

    async def tb(ctx):
        for n in range(12):
            pool = [lo, hi, 0, one, -one, one - 1, -one + 1, *rng.integers(lo, hi + 1, size=3)]
            s = np.array([pool[int(i)] for i in rng.integers(0, len(pool), size=classes)]) \
                if n % 2 else rng.integers(lo, hi + 1, size=classes)
            label = int(rng.integers(0, classes))
            g_exp = golden.loss_grad(cfg, s, label)
            ctx.set(dut.label, label)
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            assert not ctx.get(dut.scores_done)
            for c in range(classes):
                for _ in range(int(rng.integers(0, 2))):
                    await ctx.tick()
                ctx.set(dut.valid, 1)
                ctx.set(dut.s, int(s[c]))
                ctx.set(dut.cls, c)
                assert ctx.get(dut.g_we)
                assert ctx.get(dut.g) == g_exp[c], f"sample {n}, class {c}: g"
                await ctx.tick()
                ctx.set(dut.valid, 0)
                assert ctx.get(dut.scores_done) == (c == classes - 1)
            assert [ctx.get(dut.scores[c]) for c in range(classes)] == s.tolist()
            assert ctx.get(dut.pred) == golden.prediction(s), f"sample {n}: prediction"
            assert ctx.get(dut.margin) == golden.margin(s), f"sample {n}: margin"

    _simulate(dut, tb)


@pytest.mark.parametrize("lanes, neurons", [(1, 1), (4, 1), (8, 2), (4, 4), (16, 4)])
def test_error_bank_groups(lanes, neurons):
    """Groups of ``P / R`` deliveries of ``R`` errors with idle cycles: after
    the last, ``d`` is the group in order (zero where masked) and ``d_valid``
    holds until ``take``; ``clear`` (a new pass) empties a half-filled group."""
    P, R, aw = lanes, neurons, 10
    J = P // R
    dut = ErrorBank(lanes=P, neurons=R, act_width=aw)
    rng = np.random.default_rng(P * 10 + R)

    async def tb(ctx):
        for n in range(8):
            if n % 3 == 0:
                # a new pass, sometimes after a partial group
                for _ in range(int(rng.integers(0, J))):
                    ctx.set(dut.valid, 1)
                    await ctx.tick()
                ctx.set(dut.valid, 0)
                ctx.set(dut.clear, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
            expected = []
            for j in range(J):
                for _ in range(int(rng.integers(0, 3))):
                    await ctx.tick()
                assert not ctx.get(dut.d_valid)
                e = rng.integers(-(1 << (aw - 1)), 1 << (aw - 1), size=R)
                mask = rng.integers(0, 2, size=R)
                ctx.set(dut.valid, 1)
                ctx.set(Value.cast(dut.e), _pack(e, aw))
                ctx.set(dut.mask, sum(int(b) << r for r, b in enumerate(mask)))
                expected += [int(v) if b else 0 for v, b in zip(e, mask)]
                await ctx.tick()
                ctx.set(dut.valid, 0)
            for _ in range(int(rng.integers(1, 4))):
                assert ctx.get(dut.d_valid)
                assert [ctx.get(dut.d[p]) for p in range(P)] == expected, f"group {n}"
                await ctx.tick()
            ctx.set(dut.take, 1)
            await ctx.tick()
            ctx.set(dut.take, 0)
            assert not ctx.get(dut.d_valid)

    _simulate(dut, tb)
