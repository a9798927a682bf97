"""The formal checks of lela, by name: harness, mode and depth.

``docs/verification.md`` describes each one; ``test_formal.py`` runs them.
Configurations are small (a few bits, a few neurons) so that the whole
suite takes minutes; the arithmetic checks also run at the default widths.
"""

from collections.abc import Callable
from dataclasses import dataclass

from lela.config import DEFAULT, Config
from lela.contract import packet_fifo_depth
from lela.rtl.input_buffer import sample_layout

from . import broken
from .harness import (
    EDGE_STAGES,
    ErrorHandshakeHarness,
    ErrorStagesHarness,
    InputBufferHarness,
    LayerHarness,
    LfsrHarness,
    LfsrReplayHarness,
    MacArrayHarness,
    NetworkHarness,
    PacketFifoHarness,
    StageHarness,
    UpdateUnitHarness,
    contract_stages,
)

__all__ = ["BROKEN", "CHECKS", "EU_CFG", "EU_CLASSES_CFG", "EU_NEURONS_CFG", "LAYER1_CFG", "LAYER_CFG", "NEG_CFG", "NET1_CFG", "NET2_CFG",
           "OUTSIDE_CONTRACT", "PACKET_FIFO", "PACKET_FIFO_DEFAULT", "PACKET_FIFO_ONE_BEAT",
           "PACKET_FIFO_TIGHT", "Check"]

#: One layer: 3 inputs, so the weight memory has 3 words (not a power of two:
#: an out-of-range address exists), 2 neurons on 2 lanes, 2 classes.
LAYER_CFG = Config(sizes=(3, 2), classes=2, lanes=(2,), act_width=4, act_frac=2,
                   weight_width=5, weight_frac=3, m_bits=2, m_seeds=(0x1234567,),
                   k_seeds=(0x89ABCDE,), eta_shift=1)
#: Two groups of neurons, so the error unit delivers d more than once per pass.
EU_CFG = LAYER_CFG.replace(sizes=(3, 4))
#: The error unit with several classifier products per cycle: both classes of
#: a neuron (Q = 2, registers for the sums), two whole neurons (Q = 4).
EU_CLASSES_CFG = EU_CFG.replace(classifier_lanes=(2,))
EU_NEURONS_CFG = EU_CFG.replace(classifier_lanes=(4,))
#: Negative update shifts (exact left shifts): weight_shift -1, bias_shift -2.
NEG_CFG = LAYER_CFG.replace(act_frac=1, eta_shift=0)
#: Network tops: one input per sample keeps a sample short enough for a
#: bounded check to see it trained and reported.
NET1_CFG = Config(sizes=(1, 2), classes=2, lanes=(2,), act_width=4, act_frac=2,
                  weight_width=4, weight_frac=2, m_bits=1, m_seeds=(0x1234567,),
                  k_seeds=(0x89ABCDE,), eta_shift=1)
NET2_CFG = NET1_CFG.with_layers((1, 2, 2)).replace(lanes=(2, 2))
#: A second layer: its input slot has 2 values a word (the first layer's
#: lanes), its memories 12 weight words and 3 bias words.
LAYER1_CFG = NET2_CFG.replace(sizes=(1, 4, 6))

#: Packet FIFOs: 3-beat frames in 8 entries (a frame does not divide the
#: storage, so frames wrap around it), 1-beat frames in the fewest entries,
#: 4-beat frames in exactly two frames' room, and the default network's.
PACKET_FIFO = {"shape": 4, "length": 3, "depth": 8}
PACKET_FIFO_ONE_BEAT = {"shape": 4, "length": 1, "depth": 2}
PACKET_FIFO_TIGHT = {"shape": 4, "length": 4, "depth": 8}
PACKET_FIFO_DEFAULT = {"shape": sample_layout(DEFAULT), "length": DEFAULT.sizes[0],
                       "depth": packet_fifo_depth(DEFAULT.sizes[0])}

_LFSR = {"m_bits": DEFAULT.m_bits, "m_seed": DEFAULT.m_seeds[0], "k_seed": DEFAULT.k_seeds[0]}


@dataclass(frozen=True)
class Check:
    """One SymbiYosys run: ``build()`` makes the harness."""

    name: str
    group: str
    mode: str
    depth: int
    build: Callable
    #: For the broken fixtures: the status the check must end with.
    expect: str = "PASS"


def _stages_small():
    return contract_stages(LAYER_CFG) + [(f"neg_{n}", *rest)
                                         for n, *rest in contract_stages(NEG_CFG)]


def _stages_all():
    return ([(f"default_{n}", *rest) for n, *rest in contract_stages(DEFAULT)]
            + _stages_small() + EDGE_STAGES)


CHECKS = [
    # arithmetic: every saturating stage, in isolation, free inputs
    Check("saturation_default", "saturation", "prove", 1,
          lambda: StageHarness(contract_stages(DEFAULT))),
    Check("saturation_small", "saturation", "prove", 1, lambda: StageHarness(_stages_small())),
    Check("saturation_edges", "saturation", "prove", 1, lambda: StageHarness(EDGE_STAGES)),
    Check("saturation_cover", "saturation", "cover", 3, lambda: StageHarness(_stages_all())),
    # arithmetic in place
    Check("mac_array", "mac_array", "prove", 4, lambda: MacArrayHarness(LAYER_CFG)),
    Check("mac_array_cover", "mac_array", "cover", 10, lambda: MacArrayHarness(LAYER_CFG)),
    Check("mac_array_hold", "mac_array", "prove", 4,
          lambda: MacArrayHarness(LAYER_CFG, hold=True)),
    Check("mac_array_hold_cover", "mac_array", "cover", 10,
          lambda: MacArrayHarness(LAYER_CFG, hold=True)),
    Check("update_unit", "update_unit", "prove", 3, lambda: UpdateUnitHarness(LAYER_CFG)),
    Check("update_unit_negative_shifts", "update_unit", "prove", 3,
          lambda: UpdateUnitHarness(NEG_CFG)),
    Check("update_unit_default", "update_unit", "prove", 3, lambda: UpdateUnitHarness(DEFAULT)),
    Check("update_unit_cover", "update_unit", "cover", 4, lambda: UpdateUnitHarness(LAYER_CFG)),
    Check("error_stages", "error_unit", "prove", 1, lambda: ErrorStagesHarness(LAYER_CFG)),
    Check("error_stages_cover", "error_unit", "cover", 24, lambda: ErrorStagesHarness(LAYER_CFG)),
    Check("error_handshake", "error_unit", "bmc", 48, lambda: ErrorHandshakeHarness(EU_CFG)),
    Check("error_handshake_cover", "error_unit", "cover", 48,
          lambda: ErrorHandshakeHarness(EU_CFG)),
    Check("error_stages_classes", "error_unit", "prove", 1,
          lambda: ErrorStagesHarness(EU_CLASSES_CFG)),
    Check("error_stages_neurons", "error_unit", "prove", 1,
          lambda: ErrorStagesHarness(EU_NEURONS_CFG)),
    Check("error_stages_neurons_cover", "error_unit", "cover", 24,
          lambda: ErrorStagesHarness(EU_NEURONS_CFG)),
    Check("error_handshake_classes", "error_unit", "bmc", 38,
          lambda: ErrorHandshakeHarness(EU_CLASSES_CFG)),
    Check("error_handshake_neurons", "error_unit", "bmc", 38,
          lambda: ErrorHandshakeHarness(EU_NEURONS_CFG)),
    Check("error_handshake_neurons_cover", "error_unit", "cover", 38,
          lambda: ErrorHandshakeHarness(EU_NEURONS_CFG)),
    # LFSR
    Check("lfsr_state", "lfsr", "prove", 1, lambda: LfsrHarness(**_LFSR)),
    Check("lfsr_state_cover", "lfsr", "cover", 30, lambda: LfsrHarness(**_LFSR)),
    Check("lfsr_replay", "lfsr", "bmc", 14, lambda: LfsrReplayHarness(**_LFSR)),
    Check("lfsr_replay_cover", "lfsr", "cover", 14, lambda: LfsrReplayHarness(**_LFSR)),
    # layer: memory-write discipline, counters, results, slots, pipeline
    # (depth 8: a window that reaches back past the serial access decode's
    # DECODE, so that its registers hold what DECODE loaded)
    Check("layer_memory_writes", "layer", "prove", 8,
          lambda: LayerHarness(LAYER_CFG, groups=("memory",))),
    Check("layer1_memory_writes", "layer", "prove", 6,
          lambda: LayerHarness(LAYER1_CFG, layer=1, groups=("memory",))),
    Check("layer_memory_writes_unregistered", "layer", "prove", 8,
          lambda: LayerHarness(LAYER_CFG.replace(read_register=False), groups=("memory",))),
    Check("layer1_memory_writes_cover", "layer", "cover", 61,
          lambda: LayerHarness(LAYER1_CFG, layer=1, groups=("memory",))),
    Check("layer_counters", "layer", "prove", 1,
          lambda: LayerHarness(LAYER_CFG, groups=("counters",))),
    Check("layer_results", "layer", "prove", 4,
          lambda: LayerHarness(LAYER_CFG, groups=("results",))),
    Check("layer_slots", "layer", "prove", 4, lambda: LayerHarness(LAYER_CFG, groups=("slots",))),
    Check("layer_pipeline", "layer", "bmc", 30,
          lambda: LayerHarness(LAYER_CFG, groups=("pipeline",))),
    Check("layer_cover", "layer", "cover", 48, lambda: LayerHarness(LAYER_CFG)),
    # network top and its input buffer
    Check("input_buffer", "network", "prove", 3, lambda: InputBufferHarness(LAYER_CFG)),
    Check("input_buffer_cover", "network", "cover", 12, lambda: InputBufferHarness(LAYER_CFG)),
    Check("network", "network", "bmc", 28, lambda: NetworkHarness(NET1_CFG, trace=True)),
    Check("network_cover", "network", "cover", 40, lambda: NetworkHarness(NET1_CFG, trace=True)),
    Check("network_two_layers", "network", "bmc", 20,
          lambda: NetworkHarness(NET2_CFG, trace=False, cover_training=False)),
    Check("network_two_layers_cover", "network", "cover", 33,
          lambda: NetworkHarness(NET2_CFG, trace=False, cover_training=False)),
    # the AXI wrapper's packet FIFO: one check per property group, then all at once
    Check("packet_fifo_stream", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("stream",))),
    Check("packet_fifo_frames", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("frames",))),
    Check("packet_fifo_dropped", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("dropped",))),
    Check("packet_fifo_ready", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("ready",))),
    Check("packet_fifo_cover", "axi", "cover", 12, lambda: PacketFifoHarness(**PACKET_FIFO)),
    Check("packet_fifo_one_beat", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO_ONE_BEAT)),
    Check("packet_fifo_one_beat_cover", "axi", "cover", 12,
          lambda: PacketFifoHarness(**PACKET_FIFO_ONE_BEAT)),
    Check("packet_fifo_tight", "axi", "prove", 1, lambda: PacketFifoHarness(**PACKET_FIFO_TIGHT)),
    Check("packet_fifo_tight_cover", "axi", "cover", 12,
          lambda: PacketFifoHarness(**PACKET_FIFO_TIGHT)),
    Check("packet_fifo_default", "axi", "prove", 1,
          lambda: PacketFifoHarness(**PACKET_FIFO_DEFAULT)),
]

#: Deliberately broken blocks: each check must FAIL with a counterexample.
BROKEN = [
    Check("broken_wrapping_saturation", "saturation", "prove", 1,
          lambda: StageHarness(contract_stages(LAYER_CFG), stage_cls=broken.WrappingStage),
          expect="FAIL"),
    Check("broken_half_less_mac_array", "mac_array", "bmc", 8,
          lambda: MacArrayHarness(LAYER_CFG, mac_cls=broken.HalfLessMacArray, hold=True),
          expect="FAIL"),
    Check("broken_zero_reset_lfsr", "lfsr", "prove", 1,
          lambda: LfsrHarness(**_LFSR, modes=("symmetric",), lfsr_cls=broken.ZeroResetLfsr),
          expect="FAIL"),
    Check("broken_skipping_finish", "error_unit", "bmc", 30,
          lambda: ErrorHandshakeHarness(EU_CFG, eu_cls=broken.SkippingFinishErrorUnit),
          expect="FAIL"),
    Check("broken_late_in_flight", "network", "bmc", 20,
          lambda: NetworkHarness(NET1_CFG, trace=False, cover_training=False,
                                 network_cls=broken.LateInFlightNetwork),
          expect="FAIL"),
    Check("broken_greedy_input_buffer", "network", "prove", 10,
          lambda: InputBufferHarness(LAYER_CFG, buffer_cls=broken.GreedyInputBuffer),
          expect="FAIL"),
    # the frames properties alone, without the auxiliary invariants, from reset:
    # the counterexample is on the property itself
    Check("broken_unrewound_packet_fifo", "axi", "bmc", 12,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("frames",), invariants=False,
                                    fifo_cls=broken.UnrewoundPacketFIFO),
          expect="FAIL"),
    Check("broken_trusting_packet_fifo", "axi", "bmc", 12,
          lambda: PacketFifoHarness(**PACKET_FIFO, groups=("frames",), invariants=False,
                                    fifo_cls=broken.TrustingPacketFIFO),
          expect="FAIL"),
]

#: A block driven outside its documented contract: must FAIL too (the docs
#: say why the contract is needed).
OUTSIDE_CONTRACT = [
    Check("error_unit_restart_mid_pass", "error_unit", "bmc", 40,
          lambda: ErrorHandshakeHarness(EU_CFG, restarts=True), expect="FAIL"),
]
