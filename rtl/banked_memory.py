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

With ``output_register`` every bank's read data is registered once more
before the multiplexer (read latency 2): the block RAM's own output register
where the banks are the family's primitive (``primitives = "ecp5"``: a
:class:`lela.rtl.ecp5.Dp16kd` with ``REGMODE_B = "OUTREG"``, about 0.95 ns
from the clock to its output instead of about 5.8 ns), a register behind an
Amaranth ``Memory`` in the portable form.

Reads and writes are those of the single memory (with its read data
registered once more, with ``output_register``): the same data in the same
cycle for every address, enable and write pattern
(``tests/rtl/test_banked_memory.py`` compares the two, the primitive's
through Verilator and Icarus with its model).
"""

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.config import PRIMITIVES
from lela.contract import bits

from .params import check_int

__all__ = ["BankedMemory", "block_ram_words"]


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
    output_register : bool
        Register each bank's read data once more (read latency 2 instead of 1).
    write_register : bool
        Register the write address, data and enables once more, per lane, before
        the banks: a write lands one cycle later than the single memory's (its
        read of that word in that cycle returns the old word). It cuts the path
        from the update unit's arithmetic to block RAMs that may sit across the
        die; the layer reads no word within a cycle of its write-back (the
        drain covers it, ``lela.contract.drain_cycles``).
    primitives : str
        What builds a bank (``Config.primitives``): an Amaranth ``Memory``
        (``portable``), or the family's block RAM (``ecp5``: ``bank_depth``
        must be :data:`lela.rtl.ecp5.BLOCK_RAM_WORDS`).

    Attributes
    ----------
    r_addr : In(range(depth))
    r_en : In(1)
        Read address and enable (1 by default); the data of an enabled read
        appear on ``r_data`` :attr:`latency` cycles later, and stay until the
        data of the next enabled read replace them.
    r_data : Out(data.ArrayLayout(shape, lanes))
    w_addr : In(range(depth))
    w_data : In(data.ArrayLayout(shape, lanes))
    w_en : In(lanes)
        Write address, data and one enable per lane.
    """

    def __init__(self, *, shape, lanes, depth, bank_depth, init=(), output_register=False,
                 write_register=False, primitives="portable"):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "depth", depth, 1)
        check_int(self, "bank_depth", bank_depth, 2)
        if bank_depth & (bank_depth - 1):
            raise ValueError(f"bank_depth must be a power of two, not {bank_depth}")
        init = [list(word) for word in init]
        if init and (len(init) != depth or any(len(word) != lanes for word in init)):
            raise ValueError(f"init must have {depth} words of {lanes} lanes")
        self._shape, self._lanes, self._depth = shape, lanes, depth
        if primitives not in PRIMITIVES:
            raise ValueError(f"primitives must be one of {', '.join(PRIMITIVES)}, "
                             f"not {primitives!r}")
        if primitives != "portable" and bank_depth != block_ram_words(primitives):
            raise ValueError(f"bank_depth must be {block_ram_words(primitives)} with "
                             f"primitives = {primitives!r}, not {bank_depth}")
        self._bank_depth, self._init = bank_depth, init
        self._output_register, self._primitives = bool(output_register), primitives
        self._write_register = bool(write_register)
        layout = data.ArrayLayout(shape, lanes)
        super().__init__({
            "r_addr": In(range(depth)), "r_en": In(1, init=1), "r_data": Out(layout),
            "w_addr": In(range(depth)), "w_data": In(layout), "w_en": In(lanes),
        })

    @property
    def banks(self):
        """Banks per lane."""
        return -(-self._depth // self._bank_depth)

    @property
    def latency(self):
        """Cycles from an enabled read's address to its data: 1, or 2 with
        ``output_register``."""
        return 1 + self._output_register

    def _bank(self, m, name, words, init):
        """One bank: ``(r_addr, r_en, r_data, w_addr, w_data, w_en)``, ``r_data``
        with the latency of :attr:`latency`."""
        if self._primitives == "ecp5":
            from .ecp5 import Dp16kd
            m.submodules[name] = ram = Dp16kd(shape=self._shape, init=init,
                                              output_register=self._output_register)
            return ram.r_addr, ram.r_en, ram.r_data, ram.w_addr, ram.w_data, ram.w_en
        m.submodules[name] = mem = Memory(shape=self._shape, depth=words, init=init)
        rd, wr = mem.read_port(), mem.write_port()
        data_out = rd.data
        if self._output_register:
            data_out = Signal.like(rd.data, name=f"{name}_out", reset_less=True)
            m.d.sync += data_out.eq(rd.data)
        return rd.addr, rd.en, data_out, wr.addr, wr.data, wr.en

    def elaborate(self, platform):
        """Per lane: its banks, its registered bank select, its multiplexer."""
        m = Module()
        B, D, P = self.banks, self._bank_depth, self._lanes
        lo = bits(D)
        r_bank = self.r_addr[lo:]
        for p in range(P):
            # the lane's write: as it comes, or registered once more (its own copy)
            w_addr, w_data, w_en = self.w_addr, self.w_data[p], self.w_en[p]
            if self._write_register:
                regs = (Signal.like(w_addr, name=f"w_addr{p}", reset_less=True,
                                    attrs={"keep": 1}),
                        Signal.like(w_data, name=f"w_data{p}", reset_less=True),
                        Signal(name=f"w_en{p}"))
                m.d.sync += [reg.eq(v) for reg, v in zip(regs, (w_addr, w_data, w_en))]
                w_addr, w_data, w_en = regs
            outs = []
            for b in range(B):
                words = min(D, self._depth - b * D)
                init = [word[p] for word in self._init[b * D:b * D + words]]
                r_addr, r_en, r_data, bank_w_addr, bank_w_data, bank_w_en = self._bank(
                    m, f"lane{p}_bank{b}", words, init)
                m.d.comb += [r_addr.eq(self.r_addr[:lo]), r_en.eq(self.r_en),
                             bank_w_addr.eq(w_addr[:lo]), bank_w_data.eq(w_data),
                             bank_w_en.eq(w_en & (w_addr[lo:] == b))]
                outs.append(r_data)
            if B == 1:
                m.d.comb += self.r_data[p].eq(outs[0])
                continue
            # the bank of the last enabled read, then (output register) a cycle later
            sel = Signal(range(B), name=f"sel{p}", reset_less=True, attrs={"keep": 1})
            with m.If(self.r_en):
                m.d.sync += sel.eq(r_bank)
            if self._output_register:
                sel_out = Signal(range(B), name=f"sel{p}_out", reset_less=True,
                                 attrs={"keep": 1})
                m.d.sync += sel_out.eq(sel)
                sel = sel_out
            m.d.comb += self.r_data[p].eq(Array(outs)[sel])
        return m


def block_ram_words(primitives):
    """Words of one block RAM of the family that ``primitives`` names
    (``Config.primitives``), a bank of a layer's weight memory:
    :data:`lela.rtl.ecp5.BLOCK_RAM_WORDS` for ``ecp5``; None for ``portable``
    (one memory, mapped as synthesis can)."""
    if primitives not in PRIMITIVES:
        raise ValueError(f"primitives must be one of {', '.join(PRIMITIVES)}, "
                         f"not {primitives!r}")
    if primitives == "ecp5":
        from .ecp5 import BLOCK_RAM_WORDS
        return BLOCK_RAM_WORDS
    return None
