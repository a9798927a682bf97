"""The classifier LFSR: its states, and the replay after a rewind."""

from amaranth.hdl import Assert, Cover, Fragment, Mux, Signal, Value

from lela.config import FEEDBACK_MODES
from lela.rtl.lfsr import ClassifierLfsr

from .base import Harness, implies, probe


class LfsrHarness(Harness):
    """One generator per feedback mode (``modes``), driven by free ``en`` /
    ``rewind``: states never zero; a rewind reloads both seeds; entries are
    odd and in ``[-(2**m_bits - 1), 2**m_bits - 1]``. Inductive in one step,
    so unbounded."""

    def __init__(self, *, m_bits, m_seed, k_seed, modes=FEEDBACK_MODES,
                 lfsr_cls=ClassifierLfsr):
        super().__init__()
        self.m_seed, self.k_seed = m_seed, k_seed
        self.duts = {mode: lfsr_cls(m_bits=m_bits, m_seed=m_seed, k_seed=k_seed, feedback=mode)
                     for mode in modes}
        for dut in self.duts.values():
            self.free_inputs(dut)

    def check(self, m):
        for mode, dut in self.duts.items():
            m.submodules[mode] = frag = Fragment.get(dut, None)
            states = [(probe(frag, "m_state"), self.m_seed)]
            if mode != "symmetric":
                states.append((probe(frag, "k_state"), self.k_seed))
            rewound = self.ok_past & self.past(dut.rewind, name=f"{mode}_rewind")
            stepped = self.ok_past & self.past(dut.en & ~dut.rewind, name=f"{mode}_en")
            top = (1 << dut.m_bits) - 1
            for state, seed in states:
                m.d.comb += [Assert(state != 0), Assert(implies(rewound, state == seed)),
                             Cover(stepped & (state != seed))]
            for entry in (dut.m[0], dut.k[0]):
                m.d.comb += [Assert(entry[0]), Assert((entry >= -top) & (entry <= top)),
                             Cover(entry == top), Cover(entry == -top)]
            m.d.comb += Cover(rewound)


class LfsrReplayHarness(Harness):
    """After a rewind every generator (one per mode) replays the entries it
    gave after reset: the first ``count`` entries of the first epoch are
    recorded, every later epoch (begun by a rewind) is compared with them.
    Bounded: the depth must hold an epoch, a rewind and a replay."""

    def __init__(self, *, m_bits, m_seed, k_seed, modes=FEEDBACK_MODES, count=4,
                 lfsr_cls=ClassifierLfsr):
        super().__init__()
        self.duts = {mode: lfsr_cls(m_bits=m_bits, m_seed=m_seed, k_seed=k_seed, feedback=mode)
                     for mode in modes}
        self.count = count
        for dut in self.duts.values():
            self.free_inputs(dut)

    def check(self, m):
        n = self.count
        for mode, dut in self.duts.items():
            m.submodules[mode] = dut
            entry = (Value.cast(dut.m).as_unsigned()
                     | (Value.cast(dut.k).as_unsigned() << len(dut.m)))
            idx = Signal(range(n + 1), name=f"{mode}_idx")   # entries consumed this epoch
            epoch = Signal(2, name=f"{mode}_epoch")            # 0: since reset; 1+: rewound
            rec = [Signal(len(entry), name=f"{mode}_rec{i}") for i in range(n)]
            seen = Signal(n, name=f"{mode}_seen")              # rec[i] holds entry i
            with m.If(dut.rewind):
                m.d.sync += [idx.eq(0), epoch.eq(Mux(epoch == 3, 3, epoch + 1))]
            with m.Elif(dut.en & (idx < n)):
                m.d.sync += idx.eq(idx + 1)
            for i in range(n):
                here = idx == i
                with m.If(here & (epoch == 0)):
                    m.d.sync += [rec[i].eq(entry), seen[i].eq(1)]
                m.d.comb += Assert(implies(here & (epoch != 0) & seen[i], entry == rec[i]))
            m.d.comb += Cover((epoch == 2) & (idx == n - 1) & seen[n - 1])
