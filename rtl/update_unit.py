"""Local weight-update unit: twin of ``lela.golden_model.update_unit``.

Read-modify-write of one layer's weights and biases, in place:

``W = sat_W(W - round_shift(d_j h_k, weight_shift))`` and
``b = sat_W(b - round_shift(d_j, bias_shift))``.

Both are one datapath: the layer ends each group's update beats with a bias
beat, whose old word is the bias word and whose product is
``d_j << act_frac`` (the MAC array multiplies ``d_j`` by the activation 1.0,
:func:`lela.contract.bias_activation`), and
``round_shift(d_j << act_frac, weight_shift) == round_shift(d_j, bias_shift)``
exactly, since ``weight_shift = bias_shift + act_frac`` (docs/numerics.md).

The products come from the MAC array's shared multipliers (S3); the old word
arrives from the memory two cycles earlier (S1) and is registered here twice,
so the new word is ready in S3, ``lela.contract.write_latency`` cycles after
S1 (S4 with ``register_difference``), and written back to the address it was
read from. Weight words are written in the weight memory's own order, which
is ``golden_model.network.update_order``: group ``g``, input ``k``, lane
``p``; a group's bias word after its weights.

The unit also folds every written word into the layer's Fletcher digest
(``golden_model.network.weight_digest``), ``P`` words per cycle::

    A' = A + sum_p w_p          B' = B + P*A + sum_p (P - p) * w_p   (mod 2**32)

The biases come after all weights in the digest, but are written group by
group during the update, so they get their own sums ``(A_b, B_b)`` and are
appended at the end: ``A = A_W + A_b``, ``B = B_W + N_out*A_W + B_b``.
"""

from types import SimpleNamespace

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import DIGEST_BITS, WRITE_LATENCY, weight_shift

from .numerics import saturate, saturate_registered, sub_round_shift
from .params import check_int

__all__ = ["UpdateUnit"]

#: Width of each Fletcher sum: the digest is ``B << 32 | A`` (``DIGEST_BITS``).
_MOD = DIGEST_BITS // 2


class UpdateUnit(wiring.Component):
    """Weight and bias update with the running Fletcher digest.

    Parameters
    ----------
    lanes : int
        ``P``: weights per memory word (one per MAC lane).
    n_out : int
        Neurons of the layer (number of biases, for the digest).
    act_frac, weight_frac, eta_shift : int
        Number formats and learning rate (``eta = 2**-eta_shift``).
    product_width : int
        Width of the MAC array's products.
    digest : bool
        Build the digest logic (``trace`` builds only).
    register_difference : bool
        Register ``W - round_shift(d h, weight_shift)`` before its
        saturation (``from_config``: with ``cfg.read_register``): the product
        comes from a DSP block and the new word goes to a block RAM, which can
        be far apart on the die. The new words come one cycle later
        (:attr:`write_latency`).

    Attributes
    ----------
    clear : In(1)
        Restart the digest (before a sample's first beat).
    valid, bias : In(1)
        S1: an update beat is present / it is its group's bias beat.
    w : In(ArrayLayout(signed(weight_width), lanes))
        S1: the old word (memory read data): a weight word, or on the bias
        beat the bias word.
    product : In(ArrayLayout(signed(product_width), lanes))
        S3: ``d_j * h_k`` from the MAC array (``d_j << act_frac`` on the bias beat).
    w_valid, b_valid : Out(1)
        S3 (S4 with ``register_difference``): write ``new`` back to the
        beat's weight word / to the group's bias word.
    new : Out(ArrayLayout(signed(weight_width), lanes))
        The new word.
    w_held : Out(ArrayLayout(signed(weight_width), lanes))
        S2: ``w`` one cycle later, registered on every cycle (a layer without
        the read register lets its access port read a weight word from here,
        so the memories feed no logic in their cycle).
    digest : Out(unsigned(64))
        ``B << 32 | A`` of everything written since ``clear`` (one cycle
        after the last write).
    """

    def __init__(self, *, lanes, n_out, act_frac, weight_width, weight_frac, eta_shift,
                 product_width, digest=True, register_difference=False):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "n_out", n_out, lanes)
        check_int(self, "act_frac", act_frac, 0)
        check_int(self, "weight_width", weight_width, 2, 32)
        check_int(self, "weight_frac", weight_frac, 0, weight_width - 1)
        check_int(self, "eta_shift", eta_shift, 0)
        check_int(self, "product_width", product_width, 2)
        self._lanes, self._n_out = lanes, n_out
        self._weight_width = weight_width
        self._digest = bool(digest)
        self._register_difference = bool(register_difference)
        #: S1 of a beat -> its write-back (``lela.contract.write_latency``).
        self.write_latency = WRITE_LATENCY + int(self._register_difference)
        formats = SimpleNamespace(act_frac=act_frac, weight_frac=weight_frac,
                                  eta_shifts=(eta_shift,))
        #: ``lela.contract.weight_shift`` (negative: left shift).
        self.weight_shift = weight_shift(formats, 0)
        wgt = data.ArrayLayout(signed(weight_width), lanes)
        super().__init__({
            "clear": In(1), "valid": In(1), "bias": In(1), "w": In(wgt),
            "product": In(data.ArrayLayout(signed(product_width), lanes)),
            "w_valid": Out(1), "b_valid": Out(1), "new": Out(wgt), "w_held": Out(wgt),
            "digest": Out(DIGEST_BITS),
        })

    @classmethod
    def from_config(cls, cfg, layer, *, product_width, digest=True):
        """The update unit of hidden layer ``layer`` (0-based) of ``cfg``."""
        return cls(lanes=cfg.lanes[layer], n_out=cfg.sizes[layer + 1], act_frac=cfg.act_frac,
                   weight_width=cfg.weight_width, weight_frac=cfg.weight_frac,
                   eta_shift=cfg.eta_shifts[layer], product_width=product_width, digest=digest,
                   register_difference=cfg.read_register)

    def elaborate(self, platform):
        """The S1 -> S2 -> S3 registers, the new words and the digest sums."""
        m = Module()
        P, ww = self._lanes, self._weight_width
        wgt = data.ArrayLayout(signed(ww), P)

        # S1 -> S2 -> S3; only the control has a reset (the words are read
        # with their valid only)
        s2_valid, s2_bias, s3_valid, s3_bias = (
            Signal(name=n) for n in ("s2_valid", "s2_bias", "s3_valid", "s3_bias"))
        s2_w, s3_w = Signal(wgt, reset_less=True), Signal(wgt, reset_less=True)
        m.d.sync += [s2_valid.eq(self.valid), s2_bias.eq(self.bias), s2_w.eq(self.w),
                     s3_valid.eq(s2_valid), s3_bias.eq(s2_bias), s3_w.eq(s2_w)]
        m.d.comb += self.w_held.eq(s2_w)

        # S3: new words (with ``register_difference``, the difference's
        # saturation decided in S3 and registered, applied in S4)
        diff = [sub_round_shift(s3_w[p], self.product[p], self.weight_shift) for p in range(P)]
        valid, bias = s3_valid, s3_bias
        if self._register_difference:
            valid, bias = Signal(name="s4_valid"), Signal(name="s4_bias")
            m.d.sync += [valid.eq(s3_valid), bias.eq(s3_bias)]
            new = [saturate_registered(m, v, ww, name=f"s4_diff{p}") for p, v in enumerate(diff)]
        else:
            new = [saturate(v, ww) for v in diff]
        m.d.comb += [self.w_valid.eq(valid & ~bias), self.b_valid.eq(valid & bias)]
        m.d.comb += [self.new[p].eq(v) for p, v in enumerate(new)]

        if not self._digest:
            return m

        # two's complement words, modulo 2**32
        values = [self.new[p].as_signed() for p in range(P)]
        total = sum(values)
        weighted = sum((P - p) * v for p, v in enumerate(values))
        a_w, b_w, a_b, b_b = (Signal(_MOD, name=n) for n in ("a_w", "b_w", "a_b", "b_b"))
        with m.If(self.clear):
            m.d.sync += [a_w.eq(0), b_w.eq(0), a_b.eq(0), b_b.eq(0)]
        with m.Elif(self.w_valid):
            m.d.sync += [a_w.eq(a_w + total), b_w.eq(b_w + P * a_w + weighted)]
        with m.Elif(self.b_valid):
            m.d.sync += [a_b.eq(a_b + total), b_b.eq(b_b + P * a_b + weighted)]
        a = (a_w + a_b)[:_MOD]
        b = (b_w + self._n_out * a_w + b_b)[:_MOD]
        m.d.comb += self.digest.eq(Cat(a, b))
        return m
