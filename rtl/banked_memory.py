"""A layer's weight memory in banks, each lane with its own output multiplexer.

A memory of ``depth`` words of ``lanes`` lanes, read and written as one
``amaranth.lib.memory.Memory`` of that shape would be (a read port with
enable and one cycle of latency, a write port with one enable per lane),
built as ``lanes x banks`` memories of ``bank_depth`` words of one lane
each. Synthesis maps a wide, deep memory as one array of block RAMs with
one output multiplexer per bit, whose select is one register of the read
address's top bits: in the MNIST build (784-160-160-160, layer 1's 320-bit
wide, 6,272-word weight memory in 117 DP16KD) those select registers drove
1,845 and 2,068 LUT4 across the die, and they were the most congested nets
of the router (docs/boards.md). Here every lane registers its own copy of
the bank select (``keep``: synthesis must not merge the copies) and
multiplexes its own banks, so the select of a lane reaches that lane's
multiplexer only. With ``bank_depth`` the depth of one block RAM
(``lela.rtl.ecp5.BLOCK_RAM_WORDS``) each bank is one block RAM.

Reads and writes are those of the single memory: the same data in the same
cycle for every address, enable and write pattern
(``tests/rtl/test_banked_memory.py`` compares the two).
"""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import PRIMITIVES
from lela.contract import bits

from .params import check_int

__all__ = ["BankedMemory", "bank_depth"]


class BankedMemory(wiring.Component):
    """``depth`` words of ``lanes`` lanes of ``shape``, in banks of ``bank_depth`` words.

    Parameters
    ----------
    shape : ShapeLike
        One lane's word.
    lanes : int
        Lanes per word.
    depth : int
        Words.
    bank_depth : int
        Words per bank (the last bank holds the rest).
    init : list
        Initial contents: ``depth`` words, each a list of ``lanes`` values
        (as ``Memory(shape=data.ArrayLayout(shape, lanes), ...)`` takes them),
        or empty for none.

    Attributes
    ----------
    r_addr : In(range(depth))
    r_en : In(1)
        Read address and enable (1 by default); the data of an enabled read
        appear on ``r_data`` one cycle later, and stay while ``r_en`` is low.
    r_data : Out(data.ArrayLayout(shape, lanes))
    w_addr : In(range(depth))
    w_data : In(data.ArrayLayout(shape, lanes))
    w_en : In(lanes)
        Write address, data and one enable per lane.
    """

    def __init__(self, *, shape, lanes, depth, bank_depth, init=()):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "depth", depth, 1)
        check_int(self, "bank_depth", bank_depth, 2)
        if bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth}")
        init = [list(word) for word in init]
        if init and (len(init) != depth or any(len(word) != lanes for word in init)):
            raise ValueError(f"init must have {depth} words of {lanes} lanes")
        self._shape, self._lanes, self._depth = shape, lanes, depth
        self._bank_depth, self._init = bank_depth, init
        layout = data.ArrayLayout(shape, lanes)
        super().__init__({
            "r_addr": In(range(depth)), "r_en": In(1, init=1), "r_data": Out(layout),
            "w_addr": In(range(depth)), "w_data": In(layout), "w_en": In(lanes),
        })

    @property
    def banks(self):
        """Banks per lane."""
        return -(-self._depth // self._bank_depth)

    def elaborate(self, platform):
        """Per lane: its banks, its registered bank select, its multiplexer."""
        m = Module()
        B, D, P = self.banks, self._bank_depth, self._lanes
        lo = bits(D)
        r_bank, w_bank = self.r_addr[lo:], self.w_addr[lo:]
        w_here = [Signal(name=f"w_bank{b}") for b in range(B)]
        m.d.comb += [w_here[b].eq(w_bank == b) for b in range(B)]
        for p in range(P):
            outs = []
            for b in range(B):
                words = min(D, self._depth - b * D)
                init = [word[p] for word in self._init[b * D:b * D + words]]
                mem = Memory(shape=self._shape, depth=words, init=init)
                m.submodules[f"lane{p}_bank{b}"] = mem
                rd, wr = mem.read_port(), mem.write_port()
                m.d.comb += [rd.addr.eq(self.r_addr[:lo]), rd.en.eq(self.r_en),
                             wr.addr.eq(self.w_addr[:lo]), wr.data.eq(self.w_data[p]),
                             wr.en.eq(self.w_en[p] & w_here[b])]
                outs.append(rd.data)
            if B == 1:
                m.d.comb += self.r_data[p].eq(outs[0])
                continue
            sel = Signal(range(B), name=f"sel{p}", reset_less=True, attrs={"keep": 1})
            with m.If(self.r_en):
                m.d.sync += sel.eq(r_bank)
            m.d.comb += self.r_data[p].eq(Array(outs)[sel])
        return m


def bank_depth(primitives):
    """Words per bank of a layer's weight memory built from ``primitives``
    (``Config.primitives``): the block RAM's (:data:`lela.rtl.ecp5.BLOCK_RAM_WORDS`)
    for ``ecp5``; None for ``portable`` (one memory, mapped as synthesis can)."""
    if primitives not in PRIMITIVES:
        raise ValueError(f"primitives must be one of {', '.join(PRIMITIVES)}, "
                         f"not {primitives!r}")
    if primitives == "ecp5":
        from .ecp5 import BLOCK_RAM_WORDS
        return BLOCK_RAM_WORDS
    return None
