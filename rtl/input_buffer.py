"""The network's input buffer: the sample stream into two slots of ``N_0``
inputs, the first layer's input (its ``SlotBuffer``, one value per word).

A sample is ``N_0`` beats of the input stream, one value each. ``label`` and
``train`` are taken from a sample's last beat, ``threshold`` and
``early_exit`` in the same cycle; with them the sample's token starts its
way through the layers (``exited`` 0, ``exit`` the last layer until a layer
answers).
"""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from lela.config import Config
from lela.contract import bits, label_bits

from .layer import token_layout
from .params import invalid
from .slot_buffer import SlotBuffer

__all__ = ["InputBuffer", "sample_layout"]


def sample_layout(cfg):
    """Payload of one input beat."""
    return data.StructLayout({"x": signed(cfg.act_width), "label": label_bits(cfg.classes),
                              "train": 1})


class InputBuffer(wiring.Component):
    """Two slots of ``N_0`` inputs filled from the sample stream (the network's
    layer-0 activation buffer).

    Parameters
    ----------
    cfg : Config

    Attributes
    ----------
    i_sample : In(stream.Signature(sample_layout))
        One beat per input value; taken while ``enable`` and a slot is free.
    enable : In(1)
        Accept beats (the top holds it low while an access is served).
    threshold : In(unsigned(act_width))
        Early-exit threshold, sampled with a sample's last beat.
    early_exit : In(1)
        Early exit for the sample, sampled with its last beat.
    o_full, o_token, i_release, i_addr, o_data
        Slot interface of the first layer (:class:`~lela.rtl.slot_buffer.SlotBuffer`
        ``o_full``, ``o_token``, ``i_release``, ``i_addr``, ``o_data``; data one
        cycle after the address).
    busy : Out(1)
        A sample is partly received or waiting in a slot.
    """

    def __init__(self, cfg):
        if not isinstance(cfg, Config):
            invalid(self, TypeError(f"cfg must be a lela.config.Config, not {cfg!r}"))
        self._cfg = cfg
        n0 = cfg.sizes[0]
        tok = token_layout(cfg)
        word = data.ArrayLayout(signed(cfg.act_width), 1)
        super().__init__({
            "i_sample": In(stream.Signature(sample_layout(cfg))),
            "enable": In(1),
            "threshold": In(cfg.act_width), "early_exit": In(1),
            "o_full": Out(1), "o_token": Out(tok), "i_release": In(1),
            "i_addr": In(bits(n0)),
            "o_data": Out(word),
            "busy": Out(1),
        })
        #: The two slots (its memory: ``slots.memory``).
        self.slots = SlotBuffer(depth=n0, shape=word, token=tok)

    def memory_bits(self):
        """Bits of the buffer's memory, by name."""
        return {"inputs": self.slots.memory_bits()}

    def elaborate(self, platform):
        """A beat counter in front of the slot buffer."""
        m = Module()
        cfg = self._cfg
        n0 = cfg.sizes[0]
        m.submodules.slots = slots = self.slots

        k = Signal(bits(n0))
        beat = self.i_sample
        take = beat.valid & beat.ready
        m.d.comb += [
            beat.ready.eq(self.enable & slots.fill_free),
            slots.w_slot.eq(slots.fill_slot), slots.w_addr.eq(k),
            slots.w_data[0].eq(beat.payload.x), slots.w_en.eq(take),
            slots.i_addr.eq(self.i_addr), self.o_data.eq(slots.o_data),
            self.o_full.eq(slots.o_full), self.o_token.eq(slots.o_token),
            slots.i_release.eq(self.i_release),
            self.busy.eq((k != 0) | slots.occupied),
        ]
        token = slots.publish_token
        m.d.comb += [token.label.eq(beat.payload.label), token.train.eq(beat.payload.train),
                     token.early_exit.eq(self.early_exit), token.threshold.eq(self.threshold),
                     token.exited.eq(0), token.exit.eq(cfg.layers - 1)]
        with m.If(take):
            with m.If(k == n0 - 1):
                m.d.comb += slots.publish.eq(1)
                m.d.sync += k.eq(0)
            with m.Else():
                m.d.sync += k.eq(k + 1)
        return m
