"""The network top: the input buffer, ``L`` layer engines, the result
collector and the access port (golden twin: ``lela.golden_model.network``).

Samples stream in (one beat per input value) into a two-slot input buffer;
each layer starts a sample as soon as its input slot is full and its own
output slot free, so layer ``i`` trains on sample ``n+1`` while layer ``i+1``
trains on sample ``n``. A token (label, train flag, early-exit state) travels
with each sample from slot to slot. Every layer reports each sample into its
own small result FIFO; the collector emits one result beat per sample, in
input order, when every layer has reported it.
"""

import itertools

from amaranth.hdl import Cat, Module, Signal, signed
from amaranth.lib import data, fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from lela.config import Config, ConfigError
from lela.contract import (
    ACCESS_DATA_BITS,
    ACCESS_INDEX_BITS,
    DIGEST_BITS,
    LAYER_SHIFT,
    MAX_LAYERS,
    SPACE_SHIFT,
    exit_bits,
    label_bits,
)

from .input_buffer import InputBuffer, sample_layout
from .layer import Layer, result_layout
from .params import invalid

__all__ = [
    "ACCESS_LAYOUT", "MAX_CLASSES", "MAX_OPERAND_BITS", "RESPONSE_LAYOUT", "Network",
    "check_buildable", "network_result_layout", "result_fifo_depth",
]

#: Widest activation or weight: one signed 18x18 multiplier per lane (ECP5
#: MULT18X18D; iCE40's SB_MAC16 takes 16 bits).
MAX_OPERAND_BITS = 18
#: Classes: the error unit keeps its ``C`` partial score sums and ``C``
#: gradients in two ``C``-word memories and the result beat carries ``C``
#: scores per layer.
MAX_CLASSES = 256
#: One access-port request: ``addr`` is ``lela.contract.access_address``
#: (``layer << LAYER_SHIFT | space << SPACE_SHIFT | index``).
ACCESS_LAYOUT = data.StructLayout({"addr": ACCESS_DATA_BITS, "data": ACCESS_DATA_BITS,
                                   "write": 1})
#: One access-port response.
RESPONSE_LAYOUT = data.StructLayout({"data": ACCESS_DATA_BITS, "error": 1})


def check_buildable(cfg):
    """Raise :class:`~lela.config.ConfigError` (naming the field) if the RTL
    cannot be built for ``cfg``; return ``cfg``."""
    if not isinstance(cfg, Config):
        raise TypeError(f"cfg must be a lela.config.Config, not {cfg!r}")
    cfg.check_hardware()
    for name in ("act_width", "weight_width"):
        value = getattr(cfg, name)
        if value > MAX_OPERAND_BITS:
            raise ConfigError(f"{name}: the MAC lanes multiply signed operands of at most "
                              f"{MAX_OPERAND_BITS} bits (one DSP block), not {value!r}")
    if cfg.classes > MAX_CLASSES:
        raise ConfigError(f"classes: the error unit supports at most {MAX_CLASSES} classes, "
                          f"not {cfg.classes!r}")
    if cfg.layers > MAX_LAYERS:
        raise ConfigError(f"sizes: the access port addresses at most {MAX_LAYERS} layers, "
                          f"not {cfg.sizes!r}")
    for i in range(cfg.layers):
        n_in, n = cfg.sizes[i], cfg.sizes[i + 1]
        if n_in * n > 1 << ACCESS_INDEX_BITS:
            raise ConfigError(
                f"sizes: layer {i + 1} has {n_in * n} weights, more than the "
                f"{1 << ACCESS_INDEX_BITS} the access port's index field addresses "
                f"(weight memory too large), not {cfg.sizes!r}")
        if cfg.lanes[i] > n or n % cfg.lanes[i]:
            raise ConfigError(f"lanes: layer {i + 1}: {cfg.lanes[i]} lanes do not divide its "
                              f"{n} neurons, not {cfg.lanes!r}")
    return cfg


def network_result_layout(cfg, trace=True):
    """Payload of one ``o_result`` beat."""
    lb, L = label_bits(cfg.classes), cfg.layers
    fields = {"pred": data.ArrayLayout(lb, L), "exit": exit_bits(cfg), "label": lb, "train": 1}
    if trace:
        fields["scores"] = data.ArrayLayout(data.ArrayLayout(signed(cfg.act_width),
                                                             cfg.classes), L)
        fields["digest"] = data.ArrayLayout(DIGEST_BITS, L)
    return data.StructLayout(fields)


def result_fifo_depth(cfg, layer):
    """Entries of layer ``layer``'s result FIFO: the samples that can be between
    it and the last layer (two per slot buffer), so it never holds a layer up."""
    return 2 * (cfg.layers - layer) + 1


class Network(wiring.Component):
    """The training engine: every layer trains at once, pipelined across samples.

    Parameters
    ----------
    cfg : Config
        Must pass :func:`check_buildable` (checked here, before elaboration).
    trace : bool
        Add every layer's scores and weight digest to each result.

    Attributes
    ----------
    i_sample : In(stream.Signature(sample_layout))
        ``{x, label, train}``, one beat per input value, ``N_0`` beats per
        sample; ``label`` and ``train`` are taken from the last beat.
    o_result : Out(stream.Signature(network_result_layout))
        One beat per sample, in input order: ``pred`` per layer, ``exit``,
        ``label``, ``train`` (and ``scores``, ``digest`` per layer with
        ``trace``).
    threshold : In(unsigned(act_width))
        Early-exit margin threshold (sampled with a sample's last beat).
    early_exit : In(1)
        Early exit for inference samples (sampled with a sample's last beat).
    i_acc : In(stream.Signature(ACCESS_LAYOUT))
        ``{addr, data, write}``; address ``lela.contract.access_address(layer,
        space, index)``.
        Served only while no sample is in flight.
    o_acc : Out(stream.Signature(RESPONSE_LAYOUT))
        ``{data, error}``: exactly one response per request.
    """

    def __init__(self, cfg, *, trace=True):
        try:
            check_buildable(cfg)
        except (ConfigError, TypeError) as e:
            invalid(self, e)
        self._cfg = cfg
        self._trace = bool(trace)
        super().__init__({
            "i_sample": In(stream.Signature(sample_layout(cfg))),
            "o_result": Out(stream.Signature(network_result_layout(cfg, trace))),
            "threshold": In(cfg.act_width),
            "early_exit": In(1),
            "i_acc": In(stream.Signature(ACCESS_LAYOUT)),
            "o_acc": Out(stream.Signature(RESPONSE_LAYOUT)),
        })
        #: The input buffer and the layer engines (public for simulation backdoors).
        self.inputs = InputBuffer(cfg)
        self.layers = [Layer(cfg, index=i, trace=self._trace) for i in range(cfg.layers)]

    @property
    def cfg(self):
        """The configuration."""
        return self._cfg

    @property
    def trace(self):
        """Results carry every layer's scores and weight digest."""
        return self._trace

    @staticmethod
    def _in_flight(m, inbuf, layers):
        """A sample is in the network: registered (the OR of every layer's
        state spans the chip), so conservatively: a sample in flight now was
        in flight, or gave the input buffer its first beat, in the cycle before."""
        in_flight = Signal()
        sample_beat = inbuf.i_sample.valid & inbuf.i_sample.ready
        m.d.sync += in_flight.eq(inbuf.busy | Cat(*(l.busy | l.o_full for l in layers)).any()
                                 | sample_beat)
        return in_flight

    def elaborate(self, platform):
        """The input buffer, the layers in a chain, the result FIFOs and collector,
        and the access-port sequence."""
        m = Module()
        cfg, L = self._cfg, self._cfg.layers
        m.submodules.inputs = inbuf = self.inputs
        layers = self.layers
        for i, layer in enumerate(layers):
            m.submodules[f"layer{i}"] = layer
        m.d.comb += [inbuf.threshold.eq(self.threshold), inbuf.early_exit.eq(self.early_exit)]
        wiring.connect(m, wiring.flipped(self.i_sample), inbuf.i_sample)

        # slot interfaces: buffer i feeds layer i
        m.d.comb += [layers[0].i_full.eq(inbuf.o_full), layers[0].i_token.eq(inbuf.o_token),
                     inbuf.i_release.eq(layers[0].o_release),
                     inbuf.i_addr.eq(layers[0].o_in_addr),
                     layers[0].i_in_data.eq(inbuf.o_data)]
        for up, down in itertools.pairwise(layers):
            m.d.comb += [down.i_full.eq(up.o_full), down.i_token.eq(up.o_token),
                         up.i_release.eq(down.o_release), up.i_out_addr.eq(down.o_in_addr),
                         down.i_in_data.eq(up.o_out_data)]
        # nobody reads the last layer's activations: its slots free at once
        m.d.comb += layers[-1].i_release.eq(layers[-1].o_full)

        # per-layer result FIFOs and the collector
        views = []
        for i, layer in enumerate(layers):
            layout = result_layout(cfg, self._trace)
            q = fifo.SyncFIFOBuffered(width=layout.size, depth=result_fifo_depth(cfg, i))
            m.submodules[f"results{i}"] = q
            m.d.comb += [q.w_en.eq(layer.o_result.valid), q.w_data.eq(layer.o_result.payload),
                         layer.o_result.ready.eq(q.w_rdy)]
            views.append((q, data.View(layout, q.r_data)))
        out = self.o_result
        m.d.comb += out.valid.eq(Cat(*(q.r_rdy for q, _ in views)).all())
        for i, (q, v) in enumerate(views):
            m.d.comb += [q.r_en.eq(out.valid & out.ready), out.payload.pred[i].eq(v.pred)]
            if self._trace:
                m.d.comb += [out.payload.scores[i].eq(v.scores),
                             out.payload.digest[i].eq(v.digest)]
        last = views[-1][1]
        m.d.comb += [out.payload.exit.eq(last.exit), out.payload.label.eq(last.label),
                     out.payload.train.eq(last.train)]

        # access port: served only while no sample is in flight
        in_flight = self._in_flight(m, inbuf, layers)
        req = Signal(ACCESS_LAYOUT)
        rsp = Signal(RESPONSE_LAYOUT)
        sel = req.addr[LAYER_SHIFT:]
        for i, layer in enumerate(layers):
            m.d.comb += [layer.acc.write.eq(req.write),
                         layer.acc.space.eq(req.addr[SPACE_SHIFT:LAYER_SHIFT]),
                         layer.acc.index.eq(req.addr[:ACCESS_INDEX_BITS]),
                         layer.acc.wdata.eq(req.data)]
        accept = self.i_acc.valid & ~in_flight
        with m.FSM(name="access"):
            with m.State("IDLE"):
                m.d.comb += [self.i_acc.ready.eq(~in_flight), inbuf.enable.eq(~accept)]
                with m.If(accept):
                    m.d.sync += req.eq(self.i_acc.payload)
                    m.next = "REQUEST"
            with m.State("REQUEST"):
                with m.If(sel >= L):
                    m.d.sync += [rsp.data.eq(0), rsp.error.eq(1)]
                    m.next = "RESPOND"
                with m.Else():
                    for i, layer in enumerate(layers):
                        m.d.comb += layer.acc.req.eq(sel == i)
                    m.next = "WAIT"
            with m.State("WAIT"):
                for i, layer in enumerate(layers):
                    with m.If((sel == i) & layer.acc.done):
                        m.d.sync += [rsp.data.eq(layer.acc.rdata), rsp.error.eq(layer.acc.error)]
                        m.next = "RESPOND"
            with m.State("RESPOND"):
                m.d.comb += [self.o_acc.valid.eq(1), self.o_acc.payload.eq(rsp)]
                with m.If(self.o_acc.ready):
                    m.next = "IDLE"
        return m
