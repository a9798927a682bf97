"""Two-slot (ping-pong) activation buffer between a producer and a consumer.

One memory of ``2 * depth`` words, slot ``s`` at words ``s*depth ..
s*depth + depth - 1``, and one token per slot. The producer fills a slot
while the consumer reads the other, so a layer can compute sample ``n+1``
while the next layer still reads sample ``n``:

* the producer writes the words of slot ``w_slot`` (any order, one per
  cycle) and then *publishes* it with its token: the slot is full from the
  next cycle on and the buffer expects the other slot next (``fill_slot``);
* the consumer sees the oldest full slot (``o_full``, ``o_token``), reads its
  words by address (``i_addr``, data one cycle later in ``o_data``) and
  *releases* it (``i_release`` while ``o_full``): the slot is free from the
  next cycle on and the consumer's turn passes to the other slot.

Slots are filled and released in turn, so samples leave in the order they
were published. The producer may publish only a slot that is free
(``fill_free`` when it began filling it); the buffer does not check it.

The same block is the network's input buffer (``N_0`` words of one value)
and every layer's activation buffer (``N_out / P`` words of ``P`` values;
with ``own_read``, a second read port lets the layer's error unit read the
slot it filled). Twin: ``SlotTwin`` in ``tests/rtl/test_slot_buffer.py``.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from lela.contract import bits

from .params import check_int, invalid

__all__ = ["SlotBuffer"]


class SlotBuffer(wiring.Component):
    """Two slots of ``depth`` words with a token each, filled and drained in turn.

    Parameters
    ----------
    depth : int
        Words per slot.
    shape : ArrayLayout
        Shape of one word (``lanes`` activations).
    token : Layout
        Shape of the token that travels with a slot's sample.
    own_read : bool
        Add a second read port for the producer (``own_addr`` / ``own_data``).

    Attributes
    ----------
    fill_slot : Out(1)
        The slot the producer fills next.
    fill_free : Out(1)
        That slot is free: the producer may begin filling it.
    w_slot : In(1)
        The slot the producer writes, publishes and reads back (``fill_slot``
        when it began filling it, held until it has published it).
    w_en : In(1)
        Write ``w_data`` to word ``w_addr`` of slot ``w_slot`` (at the clock edge).
    w_addr : In(unsigned(bits(depth)))
    w_data : In(shape)
    publish : In(1)
        Slot ``w_slot`` holds a sample with token ``publish_token``: it is
        full from the next cycle on, and ``fill_slot`` becomes the other slot.
    publish_token : In(token)
    own_addr : In(unsigned(bits(depth)))
        With ``own_read``: word of slot ``w_slot`` to read for the producer.
    own_data : Out(shape)
        That word, one cycle later.
    o_full : Out(1)
        The consumer's slot holds a sample.
    o_token : Out(token)
        Its token (stable while ``o_full``).
    i_addr : In(unsigned(bits(depth)))
        Word of the consumer's slot to read.
    o_data : Out(shape)
        That word, one cycle later.
    i_release : In(1)
        The consumer is done with its slot (ignored unless ``o_full``): it is
        free from the next cycle on, and the consumer's slot becomes the other one.
    occupied : Out(1)
        Some slot is full.
    """

    def __init__(self, *, depth, shape, token, own_read=False):
        check_int(self, "depth", depth, 1)
        if not isinstance(shape, data.ArrayLayout):
            invalid(self, TypeError(f"shape must be a data.ArrayLayout, not {shape!r}"))
        self._depth = depth
        self._own_read = bool(own_read)
        members = {
            "fill_slot": Out(1), "fill_free": Out(1),
            "w_slot": In(1), "w_en": In(1), "w_addr": In(bits(depth)), "w_data": In(shape),
            "publish": In(1), "publish_token": In(token),
            "o_full": Out(1), "o_token": Out(token), "i_addr": In(bits(depth)),
            "o_data": Out(shape), "i_release": In(1),
            "occupied": Out(1),
        }
        if self._own_read:
            members.update({"own_addr": In(bits(depth)), "own_data": Out(shape)})
        super().__init__(members)
        #: The memory of both slots (public for simulation backdoors and
        #: formal checks): slot ``s``, word ``a`` at address ``s*depth + a``.
        self.memory = Memory(shape=shape, depth=2 * depth, init=[])

    @property
    def depth(self):
        """Words per slot."""
        return self._depth

    def memory_bits(self):
        """Bits of the buffer's memory (both slots)."""
        return self.memory.depth * data.Layout.cast(self.memory.shape).size

    def elaborate(self, platform):
        """Two slots, a ``full`` bit and a token each, and two turn pointers."""
        m = Module()
        depth = self._depth
        m.submodules.memory = mem = self.memory
        # port order: write, consumer read, producer read (formal checks use write_ports[0])
        wr, rd = mem.write_port(), mem.read_port()

        full = Signal(2)
        tokens = [Signal(self.o_token.shape(), name=f"token{s}") for s in range(2)]
        wr_slot, rd_slot = Signal(), Signal()
        m.d.comb += [
            self.fill_slot.eq(wr_slot),
            self.fill_free.eq(~full.bit_select(wr_slot, 1)),
            wr.addr.eq(self.w_slot * depth + self.w_addr), wr.data.eq(self.w_data),
            wr.en.eq(self.w_en),
            rd.addr.eq(rd_slot * depth + self.i_addr), self.o_data.eq(rd.data),
            self.o_full.eq(full.bit_select(rd_slot, 1)),
            self.o_token.eq(Mux(rd_slot, tokens[1], tokens[0])),
            self.occupied.eq(full.any()),
        ]
        if self._own_read:
            own = mem.read_port()
            m.d.comb += [own.addr.eq(self.w_slot * depth + self.own_addr),
                         self.own_data.eq(own.data)]

        # a slot is released only while full and published only while free, so
        # the two never meet in one slot in one cycle
        with m.If(self.i_release & self.o_full):
            m.d.sync += [full.bit_select(rd_slot, 1).eq(0), rd_slot.eq(~rd_slot)]
        with m.If(self.publish):
            m.d.sync += [full.bit_select(self.w_slot, 1).eq(1), wr_slot.eq(~self.w_slot)]
            with m.If(self.w_slot):
                m.d.sync += tokens[1].eq(self.publish_token)
            with m.Else():
                m.d.sync += tokens[0].eq(self.publish_token)
        return m
