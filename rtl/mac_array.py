"""Streaming MAC array: twin of ``lela.golden_model.mac_array``.

``P`` lanes share one activation ``h_k`` per cycle; lane ``p`` multiplies it
by its own operand: the weight ``W[j, k]`` in the forward pass, the local
error ``d_j`` in the update pass (``j = g*P + p``). One ``act x weight``
multiplier per lane serves both passes, with a register right after it, the
shape of one DSP block (iCE40 SB_MAC16, ECP5 MULT18X18D).

The bias is a beat of its own: the layer ends each group's forward beats
with the bias word in ``w`` and the activation 1.0 (``2**act_frac``,
:func:`lela.contract.bias_activation`) in ``h``, so the product is
``b << act_frac`` and the sum needs no adder of its own (and in the update
pass the same beat's product ``d << act_frac`` updates the bias through the
update unit's weight datapath, ``lela.rtl.update_unit``).

Pipeline, counted from S1, the cycle the lanes see their operands (the
layer presents the memory addresses ``lela.contract.read_latency`` cycles
earlier: the memories' read, and their read registers if the configuration
has them)::

    S1    memory data in; operands h and (w or d)            -> operand registers
    S2    product = h * operand                              -> product register
          (both registers inside the lane's multiplier, lela.rtl.multiplier)
    S3    forward: acc = (first ? 0 : acc) + product
          update:  the update unit consumes the product
    S4    forward, after the group's last beat:
          h = relu(sat(round_shift(acc, weight_frac)))          (h_valid)

That is the form for fabric whose flip-flops cost a logic cell each (iCE40).
With ``hold`` (ECP5, where a slice has two flip-flops beside its two LUT4s)
the lane trades its accumulator's multiplexer for flip-flops::

    S3    forward: sum = acc + product; acc = last ? half : sum;
          hold = sum >> weight_frac, its saturation decided
    S4    h = relu(sat(hold))

The accumulator starts from ``half``, the rounding's half LSB of the result
(``2**(weight_frac - 1)``), and returns to it after a group's last beat by
its flip-flops' own synchronous set and reset: no multiplexer in front of
the adder, and the rounding is done when the sum is. Both forms give
``relu(sat(round_shift(sum_k h_k w_k + (b << act_frac), weight_frac)))``
exactly, with the same latencies.

The operand and product registers are the input and output registers of
one DSP block (iCE40 SB_MAC16, ECP5 MULT18X18D): the multiplier sees no
memory, multiplexer or adder in its cycle. ``primitives`` chooses how the
lane's multiplier is built (:func:`lela.rtl.multiplier.multiplier`): a
``*`` between registers, or an ECP5 ``MULT18X18D`` with its registers set.
With ``h_lead`` (``from_config``: with ``cfg.read_register``) ``h`` comes one
cycle before the other S1 inputs and is registered there in a copy per
``lela.contract.H_COPY_LANES`` lanes, which feeds those lanes' operand
registers: no register drives every lane's DSP block, which spread over the
die (docs/boards.md). There is no bubble between groups: the accumulator takes the first beat of
the next group while the finished sum is post-processed. The latencies are
``lela.contract.PRODUCT_LATENCY`` (S1 -> product register, S3) and
``lela.contract.FORWARD_LATENCY`` (S1 of a group's last beat -> ``h_valid``,
S4).
"""

from amaranth.hdl import Const, Module, Mux, ResetSignal, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import H_COPY_LANES, mac_acc_width

from .multiplier import multiplier
from .numerics import round_shift, saturate, saturate_registered
from .params import check_int

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
        Inputs of the layer (a forward sum has ``n_in`` terms and the bias
        beat's); sets the accumulator width.
    act_width : int
        Activation width (``h``, ``d``, result; their fraction bits do not
        matter here).
    weight_width, weight_frac : int
        Weight and bias format.
    primitives : str
        ``Config.primitives``: what the lanes' multipliers are built from.
    hold : bool
        The lean form above (``from_config``: with ``primitives = "ecp5"``).
    h_lead : bool
        ``h`` one cycle before S1, registered in copies (above).

    Attributes
    ----------
    valid : In(1)
        S1: a beat is present.
    op : In(1)
        S1: :data:`OP_FORWARD` or :data:`OP_UPDATE`.
    first, last : In(1)
        S1: first / last beat of a group of ``P`` neurons (``k == 0`` / the
        bias beat).
    h : In(signed(act_width))
        S1 (with ``h_lead`` the cycle before): the shared activation ``h_k``.
    w : In(ArrayLayout(signed(weight_width), lanes))
        S1: the weight word ``W[g*P + p, k]`` (the bias word on the bias beat).
    d : In(ArrayLayout(signed(act_width), lanes))
        S1: local errors of the group (update pass).
    product : Out(ArrayLayout(signed(product_width), lanes))
        S3: registered products ``h * w`` or ``h * d``.
    h_valid : Out(1)
        S4: ``h_out`` holds the group's activations (one cycle).
    h_out : Out(ArrayLayout(signed(act_width), lanes))
        S4: ``relu(sat(round_shift(sum, weight_frac)))`` of each lane (the
        sum of the group's products, its bias beat's included).
    """

    def __init__(self, *, lanes, n_in, act_width, weight_width, weight_frac,
                 primitives="portable", hold=False, h_lead=False):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "n_in", n_in, 1)
        check_int(self, "act_width", act_width, 2, 32)
        check_int(self, "weight_width", weight_width, 2, 32)
        check_int(self, "weight_frac", weight_frac, 0, weight_width - 1)
        self._lanes = lanes
        self._n_in = n_in
        self._act_width = act_width
        self._weight_width, self._weight_frac = weight_width, weight_frac
        self._primitives = primitives
        self._hold = bool(hold)
        self._h_lead = bool(h_lead)
        #: Accumulator bits: the whole sum plus the bias, never overflows
        #: (``lela.contract.forward_acc_width`` of the layer).
        self.acc_width = mac_acc_width(act_width, weight_width, n_in)
        #: With ``hold``: the accumulator's start, the rounding's half LSB of
        #: the result.
        self.acc_start = 1 << (weight_frac - 1) if weight_frac else 0
        #: Bits of one product (second operand: a weight or an error).
        self.product_width = act_width + max(act_width, weight_width)
        act, wgt = signed(act_width), signed(weight_width)
        super().__init__({
            "valid": In(1), "op": In(1), "first": In(1), "last": In(1),
            "h": In(act),
            "w": In(data.ArrayLayout(wgt, lanes)),
            "d": In(data.ArrayLayout(act, lanes)),
            "product": Out(data.ArrayLayout(signed(self.product_width), lanes)),
            "h_valid": Out(1),
            "h_out": Out(data.ArrayLayout(act, lanes)),
        })

    @classmethod
    def from_config(cls, cfg, layer):
        """The MAC array of hidden layer ``layer`` (0-based) of ``cfg``."""
        return cls(lanes=cfg.lanes[layer], n_in=cfg.sizes[layer], act_width=cfg.act_width,
                   weight_width=cfg.weight_width,
                   weight_frac=cfg.weight_frac, primitives=cfg.primitives,
                   hold=cfg.primitives == "ecp5", h_lead=cfg.read_register)

    @property
    def lanes(self):
        """Number of lanes ``P``."""
        return self._lanes

    @property
    def hold(self):
        """The lean form: accumulators restarted by their flip-flops' set/reset."""
        return self._hold

    def elaborate(self, platform):
        """One multiplier, product register and accumulator per lane."""
        m = Module()
        P = self._lanes

        # S1 -> S2 -> S3: operand registers, multiply, product register (a
        # DSP block's input and output registers). Only the control has a
        # reset: the data registers (operands, products) are read on a valid
        # beat only, so a DSP block can hold them (iCE40 SB_MAC16 registers
        # have no sync reset) and the reset's fanout stays small
        # (docs/boards.md)
        s2_fwd, s2_first, s2_last = Signal(), Signal(), Signal()
        s3_fwd, s3_first, s3_last = Signal(), Signal(), Signal()
        m.d.sync += [
            s2_fwd.eq(self.valid & (self.op == OP_FORWARD)), s2_first.eq(self.first),
            s2_last.eq(self.last), s3_fwd.eq(s2_fwd), s3_first.eq(s2_first), s3_last.eq(s2_last),
        ]
        h = [self.h] * P
        if self._h_lead:
            copies = [Signal.like(self.h, name=f"h_copy{c}", reset_less=True, attrs={"keep": 1})
                      for c in range(-(-P // H_COPY_LANES))]
            m.d.sync += [c.eq(self.h) for c in copies]
            h = [copies[p // H_COPY_LANES] for p in range(P)]
        for p in range(P):
            # h registered once per lane, each copy (the multiplier's operand
            # register) feeding one multiplier: one register for all P lanes
            # would fan out across the die (docs/boards.md)
            mult = multiplier(self._primitives, a_width=self._act_width,
                              b_width=max(self._act_width, self._weight_width), keep_a=P > 1)
            m.submodules[f"mult{p}"] = mult
            m.d.comb += [mult.a.eq(h[p]),
                         mult.b.eq(Mux(self.op == OP_FORWARD, self.w[p], self.d[p])),
                         self.product[p].eq(mult.p)]

        # S3 -> S4: accumulate (forward only); S4: the results
        s4_done = Signal()
        m.d.sync += s4_done.eq(s3_fwd & s3_last)
        m.d.comb += self.h_valid.eq(s4_done)
        aw = self._act_width
        results = (self._accumulate_held(m, s2_fwd, s2_last) if self._hold
                   else self._accumulate(m, s3_fwd, s3_first))
        for p, a in enumerate(results):
            m.d.comb += self.h_out[p].eq(Mux(a < 0, Const(0, signed(aw)), a))
        return m

    def _accumulate(self, m, s3_fwd, s3_first):
        """The accumulators, restarted by a multiplexer; the saturated results
        in S4."""
        out = []
        for p in range(self._lanes):
            acc = Signal(signed(self.acc_width), name=f"acc{p}", reset_less=True)
            with m.If(s3_fwd):
                m.d.sync += acc.eq(Mux(s3_first, 0, acc) + self.product[p])
            out.append(saturate(round_shift(acc, self._weight_frac), self._act_width))
        return out

    def _accumulate_held(self, m, s2_fwd, s2_last):
        """The accumulators, restarted from ``acc_start`` by their flip-flops'
        set/reset (as by a reset: the domain's reset as a second one would
        leave a multiplexer in front of them), the finished sums rounded and
        held with their saturation decided (``saturate_registered``); the
        saturated results in S4. Each lane has its own S3 copies of
        the restart (a group's last beat, or the domain's reset in the cycle
        before) and of the forward beat's enable (``keep``): one register
        for all lanes drove their set/reset through logic across the die
        (docs/boards.md)."""
        wf = self._weight_frac
        out = []
        for p in range(self._lanes):
            acc = Signal(signed(self.acc_width), name=f"acc{p}", init=self.acc_start,
                         reset_less=True)
            restart = Signal(name=f"restart{p}", init=1, reset_less=True, attrs={"keep": 1})
            fwd = Signal(name=f"fwd{p}", reset_less=True, attrs={"keep": 1})
            m.d.sync += [restart.eq(ResetSignal() | (s2_fwd & s2_last)), fwd.eq(s2_fwd)]
            total = acc + self.product[p]
            with m.If(restart):
                m.d.sync += acc.eq(self.acc_start)
            with m.Elif(fwd):
                m.d.sync += acc.eq(total)
            # the rounded sum's saturation decided in S3, applied in S4
            rounded = total[wf:self.acc_width].as_signed()
            out.append(saturate_registered(m, rounded, self._act_width, name=f"hold{p}"))
        return out
