"""Dropout of a layer's activations: twin of ``lela.golden_model.dropout``.

Between the MAC array and the layer's activation buffer: one word of ``P``
activations (a group of neurons) per ``valid``. While the layer trains
(``training``), lane ``p`` keeps its activation when its draw, bits ``8p ..
8p+7`` of the next ``8 P`` steps of the layer's dropout LFSR, is at least
``threshold`` (``k = 256 p``), and gives 0 otherwise; the LFSR then moves on
by those steps. Otherwise every lane is ``round_shift(h (256 - k), 8)``,
shifts and adds of the constant (no multiplier), and the LFSR stays. The
``8 P`` steps are unrolled combinationally (:func:`lela.rtl.lfsr.unroll`).
The output is combinational: it is written to the buffer in ``valid``'s cycle.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import DROPOUT_BITS, LFSR_WIDTH

from .lfsr import unroll
from .params import check_int

__all__ = ["Dropout"]


def _times_constant(h, constant, width):
    """``h * constant`` for a non-negative ``h`` as a sum of shifts (logic, not
    a multiplier block)."""
    total = None
    for b in range(constant.bit_length()):
        if constant >> b & 1:
            term = h.as_unsigned() << b
            total = term if total is None else total + term
    return total[:width]


class Dropout(wiring.Component):
    """Dropout of ``lanes`` activations a cycle.

    Parameters
    ----------
    lanes : int
        ``P``: activations per word.
    act_width : int
        Bits of an activation (signed; the inputs are ReLU outputs, >= 0).
    threshold : int
        ``k`` in ``[1, 255]``: a draw below it drops the neuron.
    seed : int
        Seed of the dropout LFSR (non-zero, 32 bits).

    Attributes
    ----------
    valid : In(1)
        A word of activations is in ``h`` (the LFSR moves on if ``training``).
    training : In(1)
        The layer trains on the sample: drop; else scale by ``1 - k/256``.
    h : In(ArrayLayout(signed(act_width), lanes))
        The activations.
    h_out : Out(ArrayLayout(signed(act_width), lanes))
        The activations after dropout (combinational).
    """

    def __init__(self, *, lanes, act_width, threshold, seed):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "act_width", act_width, 2)
        check_int(self, "threshold", threshold, 1, (1 << DROPOUT_BITS) - 1)
        check_int(self, "seed", seed, 1, 2**LFSR_WIDTH - 1)
        self._lanes, self._act_width = lanes, act_width
        self._threshold, self._seed = threshold, seed
        word = data.ArrayLayout(signed(act_width), lanes)
        super().__init__({"valid": In(1), "training": In(1), "h": In(word), "h_out": Out(word)})

    @classmethod
    def from_config(cls, cfg, layer):
        """The dropout of hidden layer ``layer`` (0-based) of ``cfg`` (which has dropout there)."""
        return cls(lanes=cfg.lanes[layer], act_width=cfg.act_width,
                   threshold=cfg.dropout_thresholds[layer], seed=cfg.dropout_seeds_used[layer])

    def elaborate(self, platform):
        """The LFSR state, its unrolled draws, the keep test and the scale per lane."""
        m = Module()
        P, aw, k = self._lanes, self._act_width, self._threshold
        state = Signal(LFSR_WIDTH, init=self._seed)
        draws, after = unroll(state, DROPOUT_BITS * P)
        with m.If(self.valid & self.training):
            m.d.sync += state.eq(after)
        keep = (1 << DROPOUT_BITS) - k
        for p in range(P):
            h = self.h[p]
            draw = draws[DROPOUT_BITS * p:DROPOUT_BITS * (p + 1)]
            kept = Mux(draw >= k, h, 0)
            product = Signal(unsigned(aw + DROPOUT_BITS), name=f"scaled{p}")
            m.d.comb += product.eq(_times_constant(h, keep, aw + DROPOUT_BITS)
                                   + (1 << (DROPOUT_BITS - 1)))
            scaled = product[DROPOUT_BITS:].as_signed()
            m.d.comb += self.h_out[p].eq(Mux(self.training, kept, scaled))
        return m
