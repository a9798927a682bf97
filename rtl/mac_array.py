"""Streaming MAC array: twin of ``lela.golden_model.mac_array``.

``P`` lanes share one activation ``h_k`` per cycle; lane ``p`` multiplies it
by its own operand: the weight ``W[j, k]`` in the forward pass, the local
error ``d_j`` in the update pass (``j = g*P + p``). One ``act x weight``
multiplier per lane serves both passes, with a register right after it, the
shape of one DSP block (iCE40 SB_MAC16, ECP5 MULT18X18D).

Pipeline, counted from S1, the cycle the lanes see their operands (the
layer presents the memory addresses ``lela.contract.read_latency`` cycles
earlier: the memories' read, and their read register if the configuration
has one)::

    S1    memory data in; operands h and (w or d)            -> operand registers
    S2    product = h * operand                              -> product register
          (both registers inside the lane's multiplier, lela.rtl.multiplier)
    S3    forward: acc = (first ? b << act_frac : acc) + product
          update:  the update unit consumes the product
    S4    forward, after the group's last beat:
          h = relu(sat(round_shift(acc, weight_frac)))         (h_valid)

The operand and product registers are the input and output registers of
one DSP block (iCE40 SB_MAC16, ECP5 MULT18X18D): the multiplier sees no
memory, multiplexer or adder in its cycle. ``primitives`` chooses how the
lane's multiplier is built (:func:`lela.rtl.multiplier.multiplier`): a
``*`` between registers, or an ECP5 ``MULT18X18D`` with its registers set. There is no bubble between
groups: the accumulator restarts from the bias on the first beat of the
next group while the finished one is post-processed. The latencies are
``lela.contract.PRODUCT_LATENCY`` (S1 -> product register, S3) and
``lela.contract.FORWARD_LATENCY`` (S1 of a group's last beat -> ``h_valid``,
S4).
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import mac_acc_width

from ._params import check_int
from .multiplier import multiplier
from .numerics import round_shift, saturate

__all__ = ["OP_FORWARD", "OP_UPDATE", "MacArray"]

#: ``op`` values.
OP_FORWARD, OP_UPDATE = 0, 1


class MacArray(wiring.Component):
    """``lanes`` signed multiply-accumulate lanes sharing one activation.

    Parameters
    ----------
    lanes : int
        Number of lanes ``P``.
    n_in : int
        Inputs of the layer (terms of a forward sum); sets the accumulator width.
    act_width, act_frac : int
        Activation format (``h``, ``d``, result).
    weight_width, weight_frac : int
        Weight and bias format.
    primitives : str
        ``Config.primitives``: what the lanes' multipliers are built from.

    Attributes
    ----------
    valid : In(1)
        S1: a beat is present.
    op : In(1)
        S1: :data:`OP_FORWARD` or :data:`OP_UPDATE`.
    first, last : In(1)
        S1: first / last beat of a group of ``P`` neurons (``k == 0`` /
        ``k == n_in - 1``).
    h : In(signed(act_width))
        S1: the shared activation ``h_k``.
    w : In(ArrayLayout(signed(weight_width), lanes))
        S1: the weight word ``W[g*P + p, k]``.
    d : In(ArrayLayout(signed(act_width), lanes))
        S1: local errors of the group (update pass).
    bias : In(ArrayLayout(signed(weight_width), lanes))
        S1: the group's biases (forward pass, used on ``first``).
    product : Out(ArrayLayout(signed(product_width), lanes))
        S3: registered products ``h * w`` or ``h * d``.
    h_valid : Out(1)
        S4: ``h_out`` holds the group's activations (one cycle).
    h_out : Out(ArrayLayout(signed(act_width), lanes))
        S4: ``relu(sat(round_shift(acc, weight_frac)))`` of each lane.
    """

    def __init__(self, *, lanes, n_in, act_width, act_frac, weight_width, weight_frac,
                 primitives="portable"):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "n_in", n_in, 1)
        check_int(self, "act_width", act_width, 2, 32)
        check_int(self, "act_frac", act_frac, 0, act_width - 1)
        check_int(self, "weight_width", weight_width, 2, 32)
        check_int(self, "weight_frac", weight_frac, 0, weight_width - 1)
        self._lanes = lanes
        self._n_in = n_in
        self._act_width, self._act_frac = act_width, act_frac
        self._weight_width, self._weight_frac = weight_width, weight_frac
        self._primitives = primitives
        #: Accumulator bits: the whole sum plus the bias, never overflows
        #: (``lela.contract.forward_acc_width`` of the layer).
        self.acc_width = mac_acc_width(act_width, weight_width, n_in)
        #: Bits of one product (second operand: a weight or an error).
        self.product_width = act_width + max(act_width, weight_width)
        act, wgt = signed(act_width), signed(weight_width)
        super().__init__({
            "valid": In(1), "op": In(1), "first": In(1), "last": In(1),
            "h": In(act),
            "w": In(data.ArrayLayout(wgt, lanes)),
            "d": In(data.ArrayLayout(act, lanes)),
            "bias": In(data.ArrayLayout(wgt, lanes)),
            "product": Out(data.ArrayLayout(signed(self.product_width), lanes)),
            "h_valid": Out(1),
            "h_out": Out(data.ArrayLayout(act, lanes)),
        })

    @classmethod
    def from_config(cls, cfg, layer):
        """The MAC array of hidden layer ``layer`` (0-based) of ``cfg``."""
        return cls(lanes=cfg.lanes[layer], n_in=cfg.sizes[layer], act_width=cfg.act_width,
                   act_frac=cfg.act_frac, weight_width=cfg.weight_width,
                   weight_frac=cfg.weight_frac, primitives=cfg.primitives)

    @property
    def lanes(self):
        """Number of lanes ``P``."""
        return self._lanes

    def elaborate(self, platform):
        """One multiplier, product register and accumulator per lane."""
        m = Module()
        P = self._lanes
        af, wf, aw = self._act_frac, self._weight_frac, self._act_width

        # S1 -> S2 -> S3: operand registers, multiply, product register (a
        # DSP block's input and output registers). Only the control has a
        # reset: the data registers (operands, products, biases, accumulators)
        # are read on a valid beat only, so a DSP block can hold them (iCE40
        # SB_MAC16 registers have no sync reset) and the reset's fanout stays
        # small (docs/boards.md)
        s3_fwd, s3_first, s3_last = Signal(), Signal(), Signal()
        s3_bias = Signal(data.ArrayLayout(signed(self._weight_width), P), reset_less=True)
        s2_fwd, s2_first, s2_last = Signal(), Signal(), Signal()
        s2_bias = Signal.like(s3_bias, reset_less=True)
        m.d.sync += [
            s2_fwd.eq(self.valid & (self.op == OP_FORWARD)), s2_first.eq(self.first),
            s2_last.eq(self.last), s2_bias.eq(self.bias),
            s3_fwd.eq(s2_fwd), s3_first.eq(s2_first), s3_last.eq(s2_last),
            s3_bias.eq(s2_bias),
        ]
        for p in range(P):
            # h registered once per lane, each copy (the multiplier's operand
            # register) feeding one multiplier: one register for all P lanes
            # would fan out across the die (docs/boards.md)
            mult = multiplier(self._primitives, a_width=self._act_width,
                              b_width=max(self._act_width, self._weight_width), keep_a=P > 1)
            m.submodules[f"mult{p}"] = mult
            m.d.comb += [mult.a.eq(self.h),
                         mult.b.eq(Mux(self.op == OP_FORWARD, self.w[p], self.d[p])),
                         self.product[p].eq(mult.p)]

        # S3 -> S4: accumulate (forward only)
        acc = [Signal(signed(self.acc_width), name=f"acc{p}", reset_less=True) for p in range(P)]
        s4_done = Signal()
        m.d.sync += s4_done.eq(s3_fwd & s3_last)
        with m.If(s3_fwd):
            for p in range(P):
                start = Mux(s3_first, s3_bias[p] << af, acc[p])
                m.d.sync += acc[p].eq(start + self.product[p])

        # S4: round, saturate, relu
        m.d.comb += self.h_valid.eq(s4_done)
        for p in range(P):
            a = saturate(round_shift(acc[p], wf), aw)
            m.d.comb += self.h_out[p].eq(Mux(a < 0, Const(0, signed(aw)), a))
        return m
