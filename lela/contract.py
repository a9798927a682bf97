"""The contract: every fact the RTL, the models, the testbench and the host share.

Pure Python (no Amaranth): the RTL (``lela.rtl``), the fixed-point and
counter models (``lela.golden_model``), the cocotb testbench (``lela.sim``)
and the host driver (``lela.boards``) import these names; none of them
defines its own copy. Changing a value here changes every side at once, and
the tests that compare them (RTL against model, board against model) keep
them honest.

Sections: the access port (address map, counters, layer information), the
classifier generator's LFSR, the result digest, the pipeline latencies of the layer engine, the widths and
shifts derived from a :class:`~lela.config.Config`, the cycle bound, and the
AXI wrapper's register map and stream formats (``lela.rtl.axi``).
"""

from __future__ import annotations

__all__ = [
    "ACCESS_DATA_BITS",
    "ACCESS_INDEX_BITS",
    "ACCESS_SPACE_BITS",
    "AXIL_CONTROL",
    "AXIL_CONTROL_EARLY_EXIT",
    "AXIL_DATA_BITS",
    "AXIL_DROPPED_FRAMES",
    "AXIL_ID",
    "AXIL_ID_VALUE",
    "AXIL_REGISTERS",
    "AXIL_THRESHOLD",
    "AXIS_RESULT_BITS",
    "AXI_OKAY",
    "AXI_SLVERR",
    "CONTROL",
    "CONTROL_RESET",
    "COUNTERS",
    "COUNTER_BITS",
    "COUNTER_HIGH",
    "DIGEST_BITS",
    "DROPOUT_BITS",
    "EU_FETCH_CYCLES",
    "EU_FINISH_CYCLES",
    "EU_PIPELINE_CYCLES",
    "FORWARD_LATENCY",
    "H_COPY_LANES",
    "INFO",
    "LAYER_SHIFT",
    "LFSR_MASK",
    "LFSR_WIDTH",
    "MAX_LAYERS",
    "PRODUCT_LATENCY",
    "SPACES",
    "SPACE_B",
    "SPACE_CONTROL",
    "SPACE_COUNTERS",
    "SPACE_INFO",
    "SPACE_SHIFT",
    "SPACE_W",
    "WRITE_LATENCY",
    "access_address",
    "axil_address_bits",
    "axil_window",
    "axil_window_address",
    "axis_input_bits",
    "axis_result_words",
    "bias_activation",
    "bias_shift",
    "bits",
    "classifier_choices",
    "classifier_lanes",
    "classifier_split",
    "cycle_bound",
    "drain_cycles",
    "exit_bits",
    "forward_acc_width",
    "forward_to_scores",
    "group_beats",
    "handover_cycles",
    "label_bits",
    "layer_cycle_bound",
    "mac_acc_width",
    "multipliers_used",
    "packet_fifo_depth",
    "read_latency",
    "score_acc_bound",
    "score_acc_width",
    "split_access_address",
    "sum_width",
    "weight_shift",
    "write_latency",
]

# -- access port --------------------------------------------------------------
#: Address spaces of a layer: weights (read/write), biases (read/write),
#: counters (read-only), layer information (read-only), control (read/write).
SPACE_W, SPACE_B, SPACE_COUNTERS, SPACE_INFO, SPACE_CONTROL = 0, 1, 2, 3, 4
SPACES = {SPACE_W: "weights", SPACE_B: "biases", SPACE_COUNTERS: "counters",
          SPACE_INFO: "layer information", SPACE_CONTROL: "control"}
#: Bits of the index field of an access-port address.
ACCESS_INDEX_BITS = 20
#: Bits of the space field.
ACCESS_SPACE_BITS = 4
#: An address is ``layer << LAYER_SHIFT | space << SPACE_SHIFT | index``.
SPACE_SHIFT = ACCESS_INDEX_BITS
LAYER_SHIFT = SPACE_SHIFT + ACCESS_SPACE_BITS
#: Width of an address and of a data word of the access port.
ACCESS_DATA_BITS = 32
#: Layers addressable through the access port (the 8-bit layer field).
MAX_LAYERS = 1 << (ACCESS_DATA_BITS - LAYER_SHIFT)

#: Counter index -> name, in access-port order (see ``lela.golden_model.counters``).
COUNTERS = ("busy_cycles", "mac_multiplies", "classifier_multiplies", "weight_reads",
            "weight_writes", "act_reads", "act_writes")
#: Width of every per-layer counter (never wraps in practice: 2**48 cycles is
#: 32 days at 100 MHz).
COUNTER_BITS = 48
#: Access-port index of a counter's high word (bits ``COUNTER_BITS-1..32``):
#: ``n + COUNTER_HIGH``.
COUNTER_HIGH = 16
#: Layer-information words (space ``SPACE_INFO``), in index order.
INFO = ("n_in", "n_out", "lanes", "classes", "m_seed", "k_seed", "act_width", "weight_width")
#: Control words (space ``SPACE_CONTROL``, one bit each, read/write), in index
#: order. ``learn``: the layer updates its weights on training samples; with
#: 0 it treats them as inference samples (forward and scores, no update, digest
#: 0) and passes them on, so that the host can train one layer at a time.
CONTROL = ("learn",)
#: Each control word's value after reset.
CONTROL_RESET = {"learn": 1}


def access_address(layer, space, index=0):
    """Access-port address of ``index`` in ``space`` of ``layer``."""
    return layer << LAYER_SHIFT | space << SPACE_SHIFT | index


def split_access_address(addr):
    """``(layer, space, index)`` of an access-port address."""
    return (addr >> LAYER_SHIFT, (addr >> SPACE_SHIFT) & ((1 << ACCESS_SPACE_BITS) - 1),
            addr & ((1 << ACCESS_INDEX_BITS) - 1))


# -- random classifier generator ----------------------------------------------
#: Width of the classifier generator's LFSR: a seed is in ``[1, 2**LFSR_WIDTH - 1]``.
LFSR_WIDTH = 32
#: Its feedback mask: polynomial ``x^32 + x^22 + x^2 + x + 1`` (Galois, right-shifting;
#: the order of the entries is in ``lela.golden_model.lfsr``).
LFSR_MASK = 0x80200003

#: Bits of one dropout draw: a neuron is dropped when its draw (the next
#: ``DROPOUT_BITS`` steps of its layer's dropout LFSR, first bit lowest) is
#: below ``Config.dropout_thresholds``.
DROPOUT_BITS = 8

# -- results ------------------------------------------------------------------
#: Width of a layer's weight digest (the running Fletcher sums ``B << 32 | A``).
DIGEST_BITS = 64

# -- latencies of the layer engine (cycles) -----------------------------------
# A beat is *issued* in the cycle the layer presents its memory addresses; its
# MAC array and update unit see the read data in S1, ``read_latency`` cycles
# later. The block latencies below count from S1.


def read_latency(cfg):
    """Layer: issue of a beat -> S1. The memories answer one cycle after the
    address; ``cfg.read_register`` registers their read data (and the input
    activation word) once more, so that no memory output drives logic in its
    cycle (an ECP5 block RAM's read data comes 5.83 ns after the clock,
    docs/boards.md), and then once more on their way to the lanes: the input
    activation chosen from its word is registered in a copy per few lanes
    (:data:`H_COPY_LANES`), so that no net from one register reaches every
    lane's DSP block across the die."""
    return 1 + 2 * int(cfg.read_register)


#: With ``cfg.read_register``: lanes fed by one register copy of the input
#: activation (:func:`read_latency`).
H_COPY_LANES = 8


def group_beats(cfg, layer):
    """Beats of one group of ``P`` neurons of hidden layer ``layer`` in either
    pass: one per input ``h_k``, then the bias beat (:func:`bias_activation`)."""
    return cfg.sizes[layer] + 1


def bias_activation(cfg):
    """The activation a group's bias beat multiplies the bias word by (the
    update pass: the error ``d_j``): 1.0 in the activation format,
    ``2**act_frac``. The forward sum gets ``b << act_frac`` as a product, and
    the update ``round_shift(d << act_frac, weight_shift)``, which equals
    ``round_shift(d, bias_shift)``: the lanes' multipliers and the update's
    one datapath serve the biases too. A value of the activation format:
    every configuration has ``act_frac <= act_width - 2``."""
    return 1 << cfg.act_frac


#: MAC array: S1 of a group's last forward beat -> ``h_valid`` (stage S4).
FORWARD_LATENCY = 3
#: MAC array: S1 of a beat -> its product register readable (stage S3: operand
#: registers, product register).
PRODUCT_LATENCY = 2
#: Update unit: S1 of a beat -> its write-back (stage S3) without the read
#: register (:func:`write_latency`).
WRITE_LATENCY = 2


def write_latency(cfg):
    """Update unit: S1 of a beat -> its write-back. With ``cfg.read_register``
    one cycle more: the new weight's difference is registered before its
    saturation (a DSP block's product and a block RAM's write register can be
    far apart on the die, docs/boards.md)."""
    return WRITE_LATENCY + int(cfg.read_register)


def forward_to_scores(cfg):
    """Layer: issue of a group's last forward beat -> the error unit sees the
    word count (the activations are written in S4, with ``cfg.read_register``
    one cycle later, and the count one cycle after the write)."""
    return read_latency(cfg) + FORWARD_LATENCY + int(cfg.read_register) + 1


#: Error unit: cycles spent reading a group's activation word before its entries
#: (the read, then the word register).
EU_FETCH_CYCLES = 2
#: Error unit: last entry of an error pass (stage A) -> its group of ``d``
#: visible (stages A2, B, C, F).
EU_PIPELINE_CYCLES = 5
#: Error unit: last entry of a scores pass (stage A) -> ``scores_done``, on
#: top of one cycle per class (the finish reads the ``C`` sums back one by one:
#: the operand registers, a wait for the last write, the read, stages C and
#: F, the flag).
EU_FINISH_CYCLES = 6


def handover_cycles(cfg):
    """Layer: the cycles from handing a sample's result over to accepting the
    next sample waiting in its input slot: 1, or 2 with ``cfg.read_register``
    (the input slot's state and token are registered where they enter the
    layer: the slots of two layers can be far apart on the die, docs/boards.md)."""
    return 1 + int(cfg.read_register)


def drain_cycles(cfg):
    """Layer: issue of the last update beat -> result handed over (the last
    write-back, then the digest register)."""
    return read_latency(cfg) + write_latency(cfg) + 1


# -- derived widths and shifts ------------------------------------------------
def bits(n):
    """Bits of an unsigned index below ``n``: ``max(1, ceil(log2(n)))``."""
    return max(1, (n - 1).bit_length())


def label_bits(classes):
    """Bits of a class index."""
    return bits(classes)


def exit_bits(cfg):
    """Bits of the exit-layer index."""
    return bits(cfg.layers)


def sum_width(largest):
    """Bits of a signed number that holds every value of magnitude <= ``largest``."""
    return largest.bit_length() + 1


def forward_acc_width(cfg, layer):
    """Width of layer ``layer``'s forward accumulator: ``N_in`` products of
    signed ``act_width`` x ``weight_width`` operands, plus one for the bias."""
    return mac_acc_width(cfg.act_width, cfg.weight_width, cfg.sizes[layer])


def mac_acc_width(a_width, b_width, terms):
    """Bits of a signed accumulator that sums ``terms`` products of signed
    ``a_width`` x ``b_width`` operands without overflow (one extra term
    allowed for a bias)."""
    return sum_width((1 << (a_width + b_width - 2)) * (terms + 1))


def score_acc_bound(act_width, m_bits, neurons, classes):
    """Largest magnitude in the error unit's accumulator: the score sums
    (``neurons`` products of an activation and a classifier entry
    ``|e| <= 2**m_bits - 1``) and the error sums (``classes`` such products)
    share it."""
    return ((1 << m_bits) - 1) * (1 << (act_width - 1)) * max(neurons, classes)


def score_acc_width(act_width, m_bits, neurons, classes):
    """Width of the error unit's accumulator (:func:`score_acc_bound`)."""
    return sum_width(score_acc_bound(act_width, m_bits, neurons, classes))


def weight_shift(cfg, layer):
    """Right shift of hidden layer ``layer``'s (0-based) weight update
    ``d_j h_k`` (a negative value shifts left)."""
    return 2 * cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[layer]


def bias_shift(cfg, layer):
    """Right shift of hidden layer ``layer``'s bias update ``d_j`` (a negative
    value shifts left)."""
    return cfg.act_frac - cfg.weight_frac + cfg.eta_shifts[layer]


# -- classifier lanes ---------------------------------------------------------
def classifier_choices(classes, lanes):
    """The classifier lanes ``Q`` (products per cycle) an error unit of
    ``classes`` classes and ``lanes`` MAC lanes can have: a divisor of ``C``
    (``Q`` classes of one neuron per cycle), or ``R * C`` for a divisor ``R``
    of ``P`` (``R`` whole neurons per cycle)."""
    return ([q for q in range(1, classes + 1) if classes % q == 0]
            + [r * classes for r in range(2, lanes + 1) if lanes % r == 0])


def classifier_split(classes, q):
    """``(R, Q_c)``: the neurons and the classes of one neuron that ``Q``
    classifier lanes cover per cycle (``Q = R * Q_c``)."""
    return (1, q) if q <= classes else (q // classes, classes)


def classifier_lanes(cfg, layer):
    """``Q``: classifier products per cycle of layer ``layer``'s error unit.

    ``cfg.classifier_lanes`` when given; else the smallest
    :func:`classifier_choices` value that spends at most ``B / 32`` cycles
    on a group of ``P`` neurons (``B`` is :func:`cycle_bound`), so that the
    error unit's tail before and after the update pass costs about ``B / 16``.
    A network whose bound is under ``32 C`` keeps one product per cycle.
    """
    if cfg.classifier_lanes:
        return cfg.classifier_lanes[layer]
    p, c = cfg.lanes[layer], cfg.classes
    target = cycle_bound(cfg) // 32
    if target < c:
        return 1
    choices = classifier_choices(c, p)
    return next((q for q in choices if p * c // q <= target), choices[-1])


def multipliers_used(cfg):
    """Multiplier blocks (DSPs: MULT18X18D, SB_MAC16) of ``cfg``'s layers: one
    per MAC lane, and one per error unit with ``Q = 1`` (its ``*``); wider
    classifier lanes shift and add in logic. For operands that fit one block
    (up to 18 bits on the ECP5, 16 on the iCE40)."""
    return sum(cfg.lanes) + sum(classifier_lanes(cfg, i) == 1 for i in range(cfg.layers))


# -- cycle bound --------------------------------------------------------------
def layer_cycle_bound(cfg, layer):
    """``2 N_in N_out / P`` of layer ``layer``: forward and update, one weight
    per lane per cycle."""
    return 2 * cfg.sizes[layer] * cfg.sizes[layer + 1] // cfg.lanes[layer]


def cycle_bound(cfg):
    """``B``: the slowest layer's :func:`layer_cycle_bound` (the pipeline's
    lower bound on cycles per training sample)."""
    return max(layer_cycle_bound(cfg, i) for i in range(cfg.layers))


# -- AXI wrapper (lela.rtl.axi, ``lela generate --bus axi``) ------------------
#: Width of an AXI4-Lite data word and of every register.
AXIL_DATA_BITS = 32
#: Byte addresses of the control registers (below the window).
AXIL_CONTROL, AXIL_THRESHOLD, AXIL_DROPPED_FRAMES, AXIL_ID = 0x00, 0x04, 0x08, 0x0C
#: ``CONTROL`` bit 0: early exit for inference samples (the core's ``early_exit``).
AXIL_CONTROL_EARLY_EXIT = 1 << 0
#: What ``ID`` reads: ASCII ``"LELA"``.
AXIL_ID_VALUE = 0x4C454C41
#: Control register address -> ``(name, access)``.
AXIL_REGISTERS = {AXIL_CONTROL: ("CONTROL", "read/write"),
                  AXIL_THRESHOLD: ("THRESHOLD", "read/write"),
                  AXIL_DROPPED_FRAMES: ("DROPPED_FRAMES", "read-only"),
                  AXIL_ID: ("ID", "read-only")}
#: AXI response codes (``BRESP``, ``RRESP``).
AXI_OKAY, AXI_SLVERR = 0, 2
#: Width of a result word on the output stream (``m_axis_tdata``).
AXIS_RESULT_BITS = 32


def axil_window(layers):
    """Byte address of the access-port window of a network of ``layers``
    layers: the bit above the widest window address (``access_address << 2``
    with a layer field of ``bits(layers)`` bits)."""
    return 1 << (LAYER_SHIFT + bits(layers) + 2)


def axil_address_bits(layers):
    """Width of the AXI4-Lite address (``AWADDR``, ``ARADDR``): the window bit
    is its top bit."""
    return axil_window(layers).bit_length()


def axil_window_address(layers, layer, space, index=0):
    """AXI4-Lite byte address of access-port word ``index`` of ``space`` of
    ``layer``: ``axil_window(layers) | access_address(layer, space, index) << 2``."""
    return axil_window(layers) | access_address(layer, space, index) << 2


def axis_input_bits(act_width):
    """Width of ``s_axis_tdata``: one input value, rounded up to whole bytes."""
    return 8 * -(-act_width // 8)


def axis_result_words(result_bits):
    """Words of ``AXIS_RESULT_BITS`` a result payload of ``result_bits`` bits takes."""
    return -(-result_bits // AXIS_RESULT_BITS)


def packet_fifo_depth(n0):
    """Entries of the input packet FIFO: ``2 N_0`` rounded up to a power of
    two, so that a frame can be written while the one before it is read."""
    return 1 << (2 * n0 - 1).bit_length()
