"""The one configuration object of lela.

A :class:`Config` builds the golden models, the RTL, the testbenches and the
board builds.  It is frozen and validated on construction: a bad value raises
:class:`ConfigError` whose message names the field and quotes the value.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from .contract import (
    DROPOUT_BITS,
    LFSR_WIDTH,
    bias_shift,
    classifier_choices,
    layer_cycle_bound,
    multipliers_used,
    score_acc_bound,
    weight_shift,
)

__all__ = ["BUILD_TABLE", "DEFAULT", "DEFAULT_ETA_SHIFTS", "FEEDBACK_MODES", "LOSSES", "PRIMITIVES",
           "WEIGHT_MEMORIES", "Config", "ConfigError", "WeightMemory",
           "balance_lanes", "config_file", "divisors", "read_toml"]

FEEDBACK_MODES = ("symmetric", "sign_concordant", "independent")
LOSSES = ("square_hinge", "cross_entropy")
#: Primitive sets the RTL can be built from (``Config.primitives``).
PRIMITIVES = ("portable", "ecp5")
#: Operand bits of the ECP5's MULT18X18D (signed).
ECP5_MULT_BITS = 18
#: Losses the fixed-point datapath (and so the RTL) implements.
HARDWARE_LOSSES = ("square_hinge",)


@dataclasses.dataclass(frozen=True)
class WeightMemory:
    """A kind of weight memory (``Config.weight_memory``): what the layer, the
    counter model, the testbenches, the host driver and the build need to know.

    Attributes
    ----------
    name : str
        Its name in a configuration.
    ports : int
        2: a read port and a write port; 1: one port for reads and writes.
    initial_contents : bool
        The memory starts with the model's initial weights. Without, they are
        written through the access port before the first sample (and the build
        infers RAM that cannot be initialised, such as the iCE40 UP5K's SPRAM).
    """
    name: str
    ports: int
    initial_contents: bool

    @property
    def update_beat_cycles(self) -> int:
        """Cycles per weight in the update pass: the read and the write-back of
        a word share one cycle on two ports, take turns on one."""
        return 3 - self.ports


#: Kinds of weight memory a layer can be built with, by name (see :class:`Config`).
WEIGHT_MEMORIES = {m.name: m for m in (WeightMemory("dual_port", ports=2, initial_contents=True),
                                       WeightMemory("single_port", ports=1,
                                                    initial_contents=False))}

#: The default ``eta_shift`` of hidden layers 1, 2, 3 (deeper layers take the
#: last): a layer's step grows with the square of its input, which is the data
#: for layer 1 and activations above it, so the step falls with the depth
#: (chosen on digits, docs/numerics.md "Steps and ranges per layer").
DEFAULT_ETA_SHIFTS = (5, 8, 10)

#: Widest signed intermediate value the fixed-point model computes exactly (it
#: uses NumPy int64); :meth:`Config.check_fixed_point` keeps every step within it.
INT_BITS = 64


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field."""


def _default_m_seeds():
    return (0x1A2B3C4D, 0x5E6F7081, 0x92A3B4C5)


def _default_k_seeds():
    return (0x0F1E2D3C, 0x4B5A6978, 0x8796A5B4)


@dataclass(frozen=True)
class Config:
    """Network, datapath and learning-rule parameters.

    Parameters
    ----------
    sizes : tuple of int
        ``(N_0, N_1, ..., N_L)``: input width then the width of every hidden
        layer. Each hidden layer has its own fixed random classifier.
    classes : int
        Number of classes ``C``.
    lanes : tuple of int
        MAC lanes ``P`` of every hidden layer (one entry per hidden layer);
        must divide the layer's width.
    act_width, act_frac : int
        Activation (and input, score, error) format: signed ``act_width``-bit
        two's complement with ``act_frac`` fraction bits.
    weight_width, weight_frac : int
        Weight and bias format: signed ``weight_width`` bits, ``weight_frac``
        fraction bits.
    m_bits : int
        Bits of one random classifier entry: entries are the odd integers in
        ``[-(2**m_bits - 1), 2**m_bits - 1]``.
    m_seeds, k_seeds : tuple of int
        Per-layer seeds of the classifier LFSR (``M_i``) and of the feedback
        magnitude LFSR (``K_i``); non-zero 32-bit values.
    init_seed : int
        Seed of the initial weights (baked into the weight memories).
    eta_shift : int or tuple of int
        Learning rate ``eta = 2**-eta_shift``: one value for every hidden
        layer, or one entry per hidden layer (:attr:`eta_shifts`; entries that
        are all equal become that one value). Default: :data:`DEFAULT_ETA_SHIFTS`
        for as many hidden layers as ``sizes`` has.
    feedback : str
        ``symmetric`` (K = M), ``sign_concordant`` (independent magnitudes,
        signs of M) or ``independent``.
    loss : str
        ``square_hinge`` (hardware) or ``cross_entropy`` (float model only).
    dropout : float or tuple of float
        Dropout probability of every hidden layer's activations while it
        trains, one value for all or one entry per hidden layer, in
        ``[0, 1)``. The hardware drops a neuron when an 8-bit LFSR draw is
        below ``256 p`` (:attr:`dropout_thresholds`), so ``p`` must be a
        multiple of 1/256 for it; at inference (and while the layer does not
        learn) it scales its activations by ``1 - p`` instead
        (docs/numerics.md "Dropout").
    dropout_seeds : tuple of int
        Per-layer seed of the dropout LFSR (non-zero 32-bit values), or empty
        (the default) for seeds derived from ``m_seeds`` (:attr:`dropout_seeds_used`).
    batch : int
        Mini-batch size ``B`` of the fixed-point rule: the training samples of
        a batch go forward with the same weights, and each layer steps once
        per batch by the sum over the batch of ``d h^T`` (and of ``d``),
        summed exactly and rounded once (docs/numerics.md "Mini-batches").
        1 (the default) is the online rule, bit for bit. The RTL trains
        online only for now (:meth:`check_hardware`).
    weight_memory : str
        How each layer's weight memory is built. ``dual_port`` (default): a
        read port and a write port, initial contents (the initial weights);
        the update pass reads a word and writes one back every cycle.
        ``single_port``: one port for reads and writes and no initial
        contents, so that it maps to single-port RAM such as the iCE40 UP5K's
        SPRAM; the weights must be written through the access port before the
        first sample, and the update pass takes two cycles per word (a read,
        then a write-back). The arithmetic is the same in both.
    counters : bool
        Build the seven per-layer performance counters (access-port space 2).
        Without them a counter read is an access error; they cost about a
        third of a layer's logic on an iCE40.
    control : bool
        Build each layer's control word ``learn`` (access-port space 4,
        ``lela.contract.CONTROL``): the host can stop a layer from learning,
        for layer-wise training. Without it every layer always learns and a
        control access is an access error; it costs about 26 logic cells on
        the iCE40 UP5K, whose build leaves it out (docs/boards.md).
    read_register : bool
        Register the weight and bias memories' read data and the input
        activation word once more before the MAC array and the update unit
        (``lela.contract.read_latency``): no memory output drives logic in its
        cycle, which the ECP5's block RAM needs for a fast clock; the
        activations are registered once more on their way into the layer's
        output buffer, so that no adder drives its memory in the same cycle. It
        costs one cycle per forward pass and per update pass of a sample, one
        between the forward pass and the scores, and a register
        per read and written bit (``2 P weight_width + (P_in + P) act_width``
        flip-flops per layer, ``P_in`` the previous layer's lanes, 1 for the
        first); the
        arithmetic is the same with and without. The access port then also
        registers its request (``25 + weight_width`` flip-flops per layer,
        :class:`lela.rtl.access_port.AccessPort`).
    primitives : str
        What the MAC lanes' multipliers are built from. ``portable``
        (default): a ``*`` between registers, which any simulator runs and
        synthesis maps to its DSP blocks as it can. ``ecp5``: each lane's
        multiplier is an ECP5 ``MULT18X18D`` instantiated with its input and
        output registers set (Yosys sets none of them when it infers one),
        the ULX3S build's form; simulation uses lela's behavioural model of
        the primitive (``rtl/models/ecp5``), so the board's netlist is the
        one simulated. The cycle counts and the arithmetic are the same in
        both; ``ecp5`` needs ``act_width`` and ``weight_width`` of at most 18
        bits (the multiplier's operands).
    classifier_lanes : tuple of int
        Classifier products per cycle ``Q`` of every hidden layer's error unit
        (one entry per hidden layer), or empty (the default) to choose them
        from the lanes (:func:`lela.contract.classifier_lanes`). ``Q`` is a
        divisor of ``classes`` or ``R * classes`` for a divisor ``R`` of the
        layer's lanes. ``Q = 1`` multiplies with a ``*`` (a DSP block);
        ``Q > 1`` shifts and adds the ``m_bits``-wide entries in logic.
    """

    sizes: tuple[int, ...] = (64, 128, 128, 128)
    classes: int = 10
    lanes: tuple[int, ...] = (4, 4, 4)
    act_width: int = 16
    act_frac: int = 10
    weight_width: int = 16
    weight_frac: int = 14
    m_bits: int = 4
    m_seeds: tuple[int, ...] = field(default_factory=_default_m_seeds)
    k_seeds: tuple[int, ...] = field(default_factory=_default_k_seeds)
    init_seed: int = 1
    eta_shift: int | tuple[int, ...] | None = None
    feedback: str = "symmetric"
    loss: str = "square_hinge"
    dropout: float | tuple[float, ...] = 0.0
    dropout_seeds: tuple[int, ...] = ()
    batch: int = 1
    weight_memory: str = "dual_port"
    counters: bool = True
    control: bool = True
    read_register: bool = True
    primitives: str = "portable"
    classifier_lanes: tuple[int, ...] = ()

    def __post_init__(self):
        for name in ("sizes", "lanes", "m_seeds", "k_seeds", "classifier_lanes", "eta_shift",
                     "dropout", "dropout_seeds"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        if self.eta_shift is None and isinstance(self.sizes, tuple) and len(self.sizes) > 1:
            object.__setattr__(self, "eta_shift",
                               _stretch_steps(DEFAULT_ETA_SHIFTS, len(self.sizes) - 1))
        for name in ("eta_shift", "dropout"):   # one value for every layer is written one way
            value = getattr(self, name)
            if (isinstance(value, tuple) and isinstance(self.sizes, tuple)
                    and len(value) == len(self.sizes) - 1
                    and len(set(value)) == 1):
                object.__setattr__(self, name, value[0])
        self._validate()

    # -- validation -------------------------------------------------------
    def _validate(self):
        def fail(name, value, why):
            raise ConfigError(f"{name}: {why}, not {value!r}")

        def check_int(name, value, lo, hi=None):
            if not isinstance(value, int) or isinstance(value, bool):
                fail(name, value, "must be an integer")
            if value < lo or (hi is not None and value > hi):
                rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
                fail(name, value, f"must be {rng}")

        def check_tuple(name, value, length=None):
            if not isinstance(value, tuple) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in value
            ):
                fail(name, value, "must be a sequence of integers")
            if length is not None and len(value) != length:
                fail(name, value, f"must have {length} entries (one per hidden layer)")

        check_tuple("sizes", self.sizes)
        if len(self.sizes) < 2:
            fail("sizes", self.sizes, "must list the input width and at least one hidden layer")
        for n in self.sizes:
            if n < 1:
                fail("sizes", self.sizes, "every width must be >= 1")
        check_int("classes", self.classes, 2, 2**12)
        layers = len(self.sizes) - 1
        check_tuple("lanes", self.lanes, layers)
        for i, (p, n) in enumerate(zip(self.lanes, self.sizes[1:])):
            if p < 1:
                fail("lanes", self.lanes, f"layer {i + 1} needs at least 1 lane")
            if n % p:
                fail("lanes", self.lanes,
                     f"layer {i + 1}: {p} lanes do not divide its {n} neurons")
        if self.classifier_lanes != ():
            check_tuple("classifier_lanes", self.classifier_lanes, layers)
            for i, (q, p) in enumerate(zip(self.classifier_lanes, self.lanes)):
                choices = classifier_choices(self.classes, p)
                if q not in choices:
                    fail("classifier_lanes", self.classifier_lanes,
                         f"layer {i + 1} ({self.classes} classes, {p} lanes) can have "
                         f"{', '.join(map(str, choices))}")
        check_int("act_width", self.act_width, 4, 32)
        check_int("act_frac", self.act_frac, 0, self.act_width - 2)
        check_int("weight_width", self.weight_width, 4, 32)
        check_int("weight_frac", self.weight_frac, 0, self.weight_width - 2)
        check_int("m_bits", self.m_bits, 1, 8)
        for name in ("m_seeds", "k_seeds"):
            value = getattr(self, name)
            check_tuple(name, value, layers)
            for s in value:
                if not 0 < s < 2**LFSR_WIDTH:
                    fail(name, value, f"every seed must be in [1, 2**{LFSR_WIDTH} - 1]")
        check_int("init_seed", self.init_seed, 0, 2**63 - 1)
        if isinstance(self.eta_shift, tuple):
            check_tuple("eta_shift", self.eta_shift, layers)
            for s in self.eta_shift:
                if not 0 <= s <= 24:
                    fail("eta_shift", self.eta_shift, "every entry must be in [0, 24]")
        else:
            check_int("eta_shift", self.eta_shift, 0, 24)
        if self.feedback not in FEEDBACK_MODES:
            fail("feedback", self.feedback, f"must be one of {', '.join(FEEDBACK_MODES)}")
        if self.feedback != "symmetric":
            for i, (m_seed, k_seed) in enumerate(zip(self.m_seeds, self.k_seeds)):
                if m_seed == k_seed:
                    fail("k_seeds", self.k_seeds,
                         f"layer {i + 1}: equal to its m_seeds entry, which makes K = M "
                         f"({self.feedback} feedback would be symmetric)")
        if self.loss not in LOSSES:
            fail("loss", self.loss, f"must be one of {', '.join(LOSSES)}")
        rates = self.dropout if isinstance(self.dropout, tuple) else (self.dropout,)
        for p in rates:
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
                fail("dropout", self.dropout, "must be a number in [0, 1)"
                     + (" in every entry" if isinstance(self.dropout, tuple) else ""))
        if isinstance(self.dropout, tuple) and len(self.dropout) != layers:
            fail("dropout", self.dropout, f"must have {layers} entries (one per hidden layer)")
        if self.dropout_seeds != ():
            check_tuple("dropout_seeds", self.dropout_seeds, layers)
            for s in self.dropout_seeds:
                if not 0 < s < 2**LFSR_WIDTH:
                    fail("dropout_seeds", self.dropout_seeds,
                         f"every seed must be in [1, 2**{LFSR_WIDTH} - 1]")
        check_int("batch", self.batch, 1)
        if not isinstance(self.weight_memory, str) or self.weight_memory not in WEIGHT_MEMORIES:
            fail("weight_memory", self.weight_memory,
                 f"must be one of {', '.join(WEIGHT_MEMORIES)}")
        for name in ("counters", "control"):
            if not isinstance(getattr(self, name), bool):
                fail(name, getattr(self, name), "must be true or false")
        if not isinstance(self.read_register, bool):
            fail("read_register", self.read_register, "must be true or false")
        if self.primitives not in PRIMITIVES:
            fail("primitives", self.primitives, f"must be one of {', '.join(PRIMITIVES)}")
        if self.primitives == "ecp5":
            for name in ("act_width", "weight_width"):
                if getattr(self, name) > ECP5_MULT_BITS:
                    fail(name, getattr(self, name),
                         f"must be at most {ECP5_MULT_BITS} with primitives = 'ecp5' (the "
                         f"MULT18X18D's operands)")

    def check_hardware(self):
        """Raise :class:`ConfigError` if the RTL cannot run this config: the
        checks of :meth:`check_fixed_point`, and ``batch = 1`` (the RTL trains
        online only for now). Returns the configuration."""
        self.check_fixed_point()
        if self.batch != 1:
            raise ConfigError(f"batch: the RTL trains online only (batch = 1) for now, "
                              f"not {self.batch!r}")
        return self

    def check_fixed_point(self):
        """Raise :class:`ConfigError` if the fixed-point datapath (the golden
        model's :class:`~lela.golden_model.network.FixedNetwork`) cannot run
        this config: its loss, dropout probabilities of ``k/256`` and every
        intermediate value within :data:`INT_BITS`. Returns the configuration."""
        if self.loss not in HARDWARE_LOSSES:
            raise ConfigError(
                f"loss: the fixed-point datapath implements {', '.join(HARDWARE_LOSSES)}, "
                f"not {self.loss!r}")
        for p in self.dropout_rates:
            if p * (1 << DROPOUT_BITS) != int(p * (1 << DROPOUT_BITS)):
                raise ConfigError(
                    f"dropout: the hardware drops with a probability of k/{1 << DROPOUT_BITS}, "
                    f"not {self.dropout!r}")
        for names, what, largest in self._intermediate_magnitudes():
            bits = largest.bit_length() + 1
            if bits > INT_BITS:
                values = tuple(getattr(self, n) for n in names)
                raise ConfigError(
                    f"{', '.join(names)}: {what} needs {bits} bits, more than the "
                    f"{INT_BITS} the fixed-point model computes exactly, not {values!r}")
        return self

    def _intermediate_magnitudes(self):
        """``(fields, what, largest)``: the largest magnitude each step of the
        fixed-point datapath can reach (sum, rounding addend and bias included)."""
        act, weight = 1 << (self.act_width - 1), 1 << (self.weight_width - 1)

        def half(shift):  # rounding addend of round_shift
            return 1 << (shift - 1) if shift > 0 else 0

        def lsh(shift):  # a negative shift is a left shift
            return max(0, -shift)

        for i in range(self.layers):
            n_in, n = self.sizes[i], self.sizes[i + 1]
            yield (("act_width", "weight_width"), f"layer {i + 1}'s forward sum",
                   act * weight * n_in + (weight << self.act_frac) + half(self.weight_frac))
            yield (("act_width", "m_bits"), f"layer {i + 1}'s score and error sums",
                   score_acc_bound(self.act_width, self.m_bits, n, self.classes)
                   + half(self.score_shift(i)))
        # a mini-batch's update sums ``batch`` products (or errors) before its rounding
        shifts = ("act_width", "act_frac", "weight_frac", "eta_shift") + (
            ("batch",) if self.batch > 1 else ())
        for i in range(self.layers):
            ws, bs = weight_shift(self, i), bias_shift(self, i)
            yield shifts, f"layer {i + 1}'s weight update", \
                ((self.batch * act * act) << lsh(ws)) + half(ws) + weight
            yield shifts, f"layer {i + 1}'s bias update", \
                ((self.batch * act) << lsh(bs)) + half(bs) + weight

    # -- derived quantities ----------------------------------------------
    @property
    def layers(self) -> int:
        """Number of hidden layers ``L``."""
        return len(self.sizes) - 1

    def score_shift(self, layer: int) -> int:
        """Right shift that scales the integer classifier entries of layer ``layer`` (0-based).

        ``M_i = m / 2**score_shift`` with ``m`` the odd LFSR integers: the
        entries then have a standard deviation of ``2.31 / 2**ceil(log2(N_i) / 2)``,
        between about ``1.63/sqrt(N_i)`` and ``2.31/sqrt(N_i)`` (the scale that
        learned best on digits, see docs/numerics.md).
        """
        n = self.sizes[layer + 1]
        return max(self.m_bits + math.ceil(math.log2(n) / 2) - 2, 0)

    @property
    def memory(self) -> WeightMemory:
        """The kind of weight memory (``weight_memory``) as a :class:`WeightMemory`."""
        return WEIGHT_MEMORIES[self.weight_memory]

    @property
    def eta_shifts(self) -> tuple[int, ...]:
        """``eta_shift`` of every hidden layer."""
        if isinstance(self.eta_shift, tuple):
            return self.eta_shift
        return (self.eta_shift,) * self.layers

    @property
    def dropout_rates(self) -> tuple[float, ...]:
        """``dropout`` of every hidden layer."""
        if isinstance(self.dropout, tuple):
            return self.dropout
        return (self.dropout,) * self.layers

    @property
    def dropout_thresholds(self) -> tuple[int, ...]:
        """Per hidden layer, ``k = 256 p``: a neuron is dropped when its 8-bit
        draw is below ``k`` (``check_fixed_point`` makes sure it is an integer)."""
        return tuple(int(p * (1 << DROPOUT_BITS)) for p in self.dropout_rates)

    @property
    def dropout_seeds_used(self) -> tuple[int, ...]:
        """The dropout LFSR's seed of every hidden layer: ``dropout_seeds``, or
        derived from ``m_seeds`` (the next seed of the recipe that extends
        seeds for new layers) when it is empty."""
        if self.dropout_seeds:
            return self.dropout_seeds
        return tuple(_stretch((m,), 2)[1] for m in self.m_seeds)

    @property
    def etas(self) -> tuple[float, ...]:
        """The learning rate ``2**-eta_shift`` of every hidden layer."""
        return tuple(2.0 ** -s for s in self.eta_shifts)

    # -- construction -----------------------------------------------------
    def replace(self, **changes) -> Config:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        """The fields as a JSON/TOML-ready dict (tuples as lists)."""
        return {f.name: (list(v) if isinstance(v := getattr(self, f.name), tuple) else v)
                for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> Config:
        """The configuration of ``data``; :class:`ConfigError` on an unknown field."""
        known = {f.name for f in fields(cls)}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"{key}: unknown configuration field, not {value!r}")
        return cls(**data)

    @classmethod
    def from_toml(cls, path) -> Config:
        """The configuration in a TOML file (a ``[lela]`` table or the top level;
        a ``[build]`` table is ``lela build``'s, :data:`BUILD_TABLE`)."""
        path = Path(path)
        data = read_toml(path, "config file", ConfigError)
        data = {k: v for k, v in data.items() if k != BUILD_TABLE}
        if "lela" in data and len(data) > 1:
            others = ", ".join(sorted(k for k in data if k != "lela"))
            raise ConfigError(f"config file {str(path)!r}: fields outside the [lela] table "
                              f"would be ignored ({others})")
        return cls.from_dict(data.get("lela", data))

    def with_layers(self, sizes) -> Config:
        """A copy for new ``sizes``, stretching per-layer tuples that no longer fit.

        Lanes keep their first value where it divides the new widths; a
        per-layer ``eta_shift`` keeps its first entries, the last repeated for
        new layers; seeds are extended by a fixed recipe. Used by CLI flags
        that change the depth.
        """
        sizes = tuple(sizes)
        layers = len(sizes) - 1
        lanes = tuple(self.lanes[0] if n % self.lanes[0] == 0 else 1 for n in sizes[1:])
        return self.replace(sizes=sizes, lanes=lanes, classifier_lanes=(),
                            eta_shift=_stretch_steps(self.eta_shifts, layers),
                            dropout=_stretch_steps(self.dropout_rates, layers),
                            dropout_seeds=(_stretch(self.dropout_seeds, layers)
                                           if self.dropout_seeds else ()),
                            m_seeds=_stretch(self.m_seeds, layers),
                            k_seeds=_stretch(self.k_seeds, layers))


def divisors(n):
    """The divisors of ``n``, ascending."""
    return [d for d in range(1, n + 1) if n % d == 0]


def balance_lanes(cfg, multipliers):
    """A copy of ``cfg`` whose lanes per layer fit a budget of ``multipliers``
    multiplier blocks (:func:`lela.contract.multipliers_used`) and keep the
    pipeline balanced: starting from one lane per layer, the slowest layers
    (largest ``2 N_in N_out / P``) take their next divisor of lanes together
    while the budget holds. The classifier lanes are chosen from the lanes
    (explicit ``classifier_lanes`` are dropped). :class:`ConfigError` if even
    one lane per layer does not fit."""
    if not isinstance(multipliers, int) or isinstance(multipliers, bool):
        raise ConfigError(f"multipliers: must be an integer, not {multipliers!r}")
    cfg = cfg.replace(lanes=(1,) * cfg.layers, classifier_lanes=())
    need = multipliers_used(cfg)
    if multipliers < need:
        raise ConfigError(f"multipliers: {cfg.layers} hidden layers need at least {need} (one "
                          f"MAC lane and one classifier multiplier each), not {multipliers!r}")
    while True:
        bounds = [layer_cycle_bound(cfg, i) for i in range(cfg.layers)]
        lanes = list(cfg.lanes)
        for i, bound in enumerate(bounds):
            if bound == max(bounds):   # every slowest layer, or the bound stays
                bigger = [d for d in divisors(cfg.sizes[i + 1]) if d > lanes[i]]
                if not bigger:
                    return cfg
                lanes[i] = bigger[0]
        trial = cfg.replace(lanes=tuple(lanes))
        if multipliers_used(trial) > multipliers:
            return cfg
        cfg = trial


def read_toml(path, what, error):
    """The TOML file ``path`` as a dict; ``error`` (an exception class) with a
    one-line message naming ``what`` and the path if it cannot be read."""
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise error(f"{what} {str(path)!r} does not exist") from None
    except IsADirectoryError:
        raise error(f"{what} {str(path)!r} is a directory") from None
    except PermissionError:
        raise error(f"{what} {str(path)!r} cannot be read (permission denied)") from None
    except tomllib.TOMLDecodeError as e:
        raise error(f"{what} {str(path)!r} is not valid TOML: {e}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)!r} is not UTF-8 text") from None


def _stretch_steps(steps, n):
    return tuple(steps[:n]) + (steps[-1],) * max(0, n - len(steps))


def _stretch(seeds, n):
    seeds = list(seeds[:n])
    while len(seeds) < n:
        seeds.append((seeds[-1] * 0x9E3779B1 + 0x7F4A7C15) % (2**LFSR_WIDTH - 1) + 1)
    return tuple(seeds)


DEFAULT = Config()

#: The table of a configuration file that holds how a board is built for it
#: (its clock, nextpnr's router: ``lela.build.build_settings``), beside the
#: engine's fields (``[lela]``).
BUILD_TABLE = "build"


def config_file(name) -> Path:
    """Path of the configuration shipped as ``lela/configs/<name>.toml``
    (``default``, ``sim`` and one per board)."""
    path = Path(str(resources.files("lela").joinpath("configs", f"{name}.toml")))
    if not path.is_file():
        shipped = sorted(p.stem for p in path.parent.glob("*.toml"))
        raise ConfigError(f"no shipped configuration named {name!r} "
                          f"(there are: {', '.join(shipped)})")
    return path
