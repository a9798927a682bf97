"""Host driver of the board link (``lela board``).

:class:`Board` speaks the framed protocol of :mod:`lela.protocol`
over a transport (:mod:`lela.host.transport`: a real board's USB-UART, or
the host link and the network core in Amaranth's simulator or compiled with
Verilator). The same driver code runs on all of them; a status code other
than OK becomes a :class:`LinkError` subclass named after it.
"""

from __future__ import annotations

import json
import struct
import time
import zipfile
from dataclasses import dataclass

import numpy as np

from lela import protocol as P
from lela.config import ConfigError
from lela.contract import COUNTERS
from lela.data import check_dataset
from lela.golden_model.network import FixedNetwork
from lela.golden_model.schedule import layerwise_phases, training_order
from lela.protocol import Command, Status

from .transport import (
    ProtocolError,
    SerialTransport,
    SimTransport,
    TransportError,
    TransportTimeout,
)
from .verilated import VerilatorTransport

__all__ = [
    "AddressError",
    "Board",
    "BoardStatus",
    "BusyError",
    "CheckpointError",
    "ChecksumError",
    "ConfigMismatch",
    "FrameTimeoutError",
    "LengthError",
    "LinkError",
    "ProtocolError",
    "Result",
    "SerialTransport",
    "SimTransport",
    "SyncError",
    "TrainingError",
    "TransportError",
    "TransportTimeout",
    "UnknownCommandError",
    "ValueRangeError",
    "VerilatorTransport",
    "encode_request",
    "train_board",
]


# -- errors -------------------------------------------------------------------
class LinkError(Exception):
    """The board answered with a status other than OK (and changed nothing)."""

    status = None

    def __init__(self, command, message=""):
        self.command = command
        name = Command(command).name if command in Command._value2member_map_ else hex(command)
        super().__init__(f"{name}: {self.status.name}" + (f" ({message})" if message else ""))


class ChecksumError(LinkError):
    """The frame's checksum is wrong (status CRC)."""

    status = Status.CRC


class LengthError(LinkError):
    """The length is too large for the buffer, or wrong for the command (status LENGTH)."""

    status = Status.LENGTH


class UnknownCommandError(LinkError):
    """The board does not know the command (status COMMAND)."""

    status = Status.COMMAND


class AddressError(LinkError):
    """An address out of range, or a write to a read-only space (status ADDRESS)."""

    status = Status.ADDRESS


class TrainingError(LinkError):
    """A weight write while training: train mode set or a sample in flight (status TRAINING)."""

    status = Status.TRAINING


class BusyError(LinkError):
    """No room for another result, or a static setting changed mid-flight (status BUSY)."""

    status = Status.BUSY


class ValueRangeError(LinkError):
    """A field's value is out of range: label, count, mode, threshold, word (status VALUE)."""

    status = Status.VALUE


class FrameTimeoutError(LinkError):
    """A frame stopped arriving half-way: the inter-byte timeout (status TIMEOUT)."""

    status = Status.TIMEOUT


class SyncError(LinkError):
    """Bytes outside a frame that are not the sync byte (status SYNC)."""

    status = Status.SYNC


_ERRORS = {cls.status: cls for cls in (
    ChecksumError, LengthError, UnknownCommandError, AddressError, TrainingError, BusyError,
    ValueRangeError, FrameTimeoutError, SyncError)}


class ConfigMismatch(Exception):
    """The board was built for another configuration than the host's."""


class CheckpointError(ValueError):
    """A checkpoint file cannot be read; the message names the file."""


# -- frames -------------------------------------------------------------------
def encode_request(command, payload=b""):
    """The bytes of a request frame."""
    body = struct.pack("<BH", command, len(payload)) + bytes(payload)
    return bytes([P.SYNC_REQUEST]) + body + struct.pack(">H", P.crc16(body))


@dataclass(frozen=True)
class BoardStatus:
    """The STATUS block of the board (``protocol.STATUS_FORMAT``), decoded."""
    version: int
    train: bool
    early_exit: bool
    in_flight: int
    pending: int
    result_depth: int
    layers: int
    max_payload: int
    inputs: int
    classes: int
    act_width: int
    weight_width: int
    threshold: int
    rejected: int

    @classmethod
    def decode(cls, data):
        """The status from the payload of a STATUS response."""
        (version, flags, in_flight, pending, depth, layers, max_payload, inputs, classes,
         aw, ww, threshold, rejected) = struct.unpack(P.STATUS_FORMAT, data)
        return cls(version, bool(flags & P.Mode.TRAIN), bool(flags & P.Mode.EARLY_EXIT),
                   in_flight, pending, depth, layers, max_payload, inputs, classes, aw, ww,
                   threshold, rejected)


@dataclass(frozen=True)
class Result:
    """One sample's result: per-layer predictions, exit layer, label, train flag."""

    pred: tuple
    exit: int
    label: int
    train: bool


# -- the driver -------------------------------------------------------------------
class Board:
    """The lela board behind ``transport``, built for ``cfg``.

    On connection the board's status is read and compared with ``cfg``
    (inputs, classes, layers, number formats): :class:`ConfigMismatch` if they
    differ, since weights and samples would then be misread.
    """

    def __init__(self, transport, cfg):
        self.transport = transport
        self.cfg = cfg
        st = self.status()
        if st.version != P.PROTOCOL_VERSION:
            raise ConfigMismatch(f"the board speaks protocol version {st.version}, "
                                 f"this host {P.PROTOCOL_VERSION}")
        mine = (cfg.sizes[0], cfg.classes, cfg.layers, cfg.act_width, cfg.weight_width)
        theirs = (st.inputs, st.classes, st.layers, st.act_width, st.weight_width)
        if mine != theirs:
            raise ConfigMismatch(
                f"the board was built for (inputs, classes, layers, act_width, weight_width) = "
                f"{theirs}, the host's configuration is {mine}")
        self.result_depth = st.result_depth
        self.max_payload = st.max_payload
        self._ab = P.act_bytes(cfg)
        self._rec = struct.Struct("<" + "H" * cfg.layers + "BHB")

    # -- frames --
    def request(self, command, payload=b""):
        """Send one request; return the response payload or raise its error."""
        self.transport.write(encode_request(command, payload))
        return self.read_response(command)

    def read_response(self, command=None):
        """Read one response frame; raise :class:`LinkError` for a non-OK status."""
        skipped = 0
        while self.transport.read(1)[0] != P.SYNC_RESPONSE:
            skipped += 1
            if skipped > 1 << 16:
                raise ProtocolError("no response sync byte")
        header = self.transport.read(P.RESPONSE_HEADER - 1)
        got_cmd, status, length = struct.unpack("<BBH", header)
        body = self.transport.read(length + P.CRC_BYTES)
        if P.crc16(header + body) != 0:
            raise ProtocolError(f"response to command {got_cmd:#04x} has a bad checksum")
        if command is not None and got_cmd != command and status == Status.OK:
            raise ProtocolError(f"response is for command {got_cmd:#04x}, not {command:#04x}")
        if status != Status.OK:
            try:
                raise _ERRORS[Status(status)](got_cmd)
            except ValueError:
                raise ProtocolError(f"unknown status {status:#04x}") from None
        return body[:length]

    # -- settings --
    def status(self):
        """Read the board's :class:`BoardStatus`."""
        return BoardStatus.decode(self.request(Command.STATUS))

    def set_mode(self, *, train, early_exit=False):
        """Set the mode of the samples sent after this: training, early-exit inference."""
        mode = (P.Mode.TRAIN if train else 0) | (P.Mode.EARLY_EXIT if early_exit else 0)
        self.request(Command.SET_MODE, bytes([mode]))

    def set_threshold(self, threshold):
        """Set the early-exit margin threshold (activation format)."""
        self.request(Command.SET_THRESHOLD, struct.pack("<I", threshold))

    # -- samples --
    def encode_sample(self, x_q, label):
        """The SAMPLE payload of quantized inputs ``x_q`` and ``label``."""
        x = np.asarray(x_q, dtype=np.int64).reshape(-1)
        if len(x) != self.cfg.sizes[0]:
            raise ValueError(f"a sample has {self.cfg.sizes[0]} inputs, not {len(x)}")
        mask = (1 << (8 * self._ab)) - 1
        values = b"".join(int(v & mask).to_bytes(self._ab, "little") for v in x)
        return struct.pack("<H", label) + values

    def send_sample(self, x_q, label):
        """Feed one quantized sample (trains it in train mode)."""
        self.request(Command.SAMPLE, self.encode_sample(x_q, label))

    def read_results(self, n):
        """Wait for and return the next ``n`` results."""
        out = []
        per_frame = self.max_payload // self._rec.size
        while n > 0:
            k = min(n, per_frame, 255)
            data = self.request(Command.READ_RESULTS, bytes([k]))
            for j in range(k):
                *pred, exit_layer, label, flags = self._rec.unpack_from(data, j * self._rec.size)
                out.append(Result(tuple(pred), exit_layer, label, bool(flags & 1)))
            n -= k
        return out

    def run(self, x_q, labels, *, on_result=None):
        """Stream samples through the board (in the current mode) with up to the
        board's result depth in flight; return the results in order."""
        n = len(labels)
        results, outstanding, i = [], 0, 0
        while len(results) < n:
            while i < n and outstanding < self.result_depth:
                self.send_sample(x_q[i], int(labels[i]))
                i += 1
                outstanding += 1
            k = outstanding if i == n else max(1, outstanding // 2)
            for r in self.read_results(k):
                results.append(r)
                if on_result is not None:
                    on_result(len(results) - 1, r)
            outstanding -= k
        return results

    # -- memories --
    def read_mem(self, addr, count):
        """``count`` 32-bit words from ``addr`` on (uint32 array)."""
        out = []
        per_frame = self.max_payload // P.WORD_BYTES
        while count > 0:
            k = min(count, per_frame)
            data = self.request(Command.READ_MEM, struct.pack("<IH", addr, k))
            out.append(np.frombuffer(data, dtype="<u4"))
            addr, count = addr + k, count - k
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def write_mem(self, addr, words):
        """Write 32-bit words (signed or unsigned ints) from ``addr`` on."""
        words = np.asarray(words, dtype=np.int64).reshape(-1) & 0xFFFFFFFF
        per_frame = (self.max_payload - P.ADDRESS_BYTES) // P.WORD_BYTES
        for start in range(0, len(words), per_frame):
            chunk = words[start:start + per_frame]
            self.request(Command.WRITE_MEM, struct.pack("<I", addr + start)
                         + chunk.astype("<u4").tobytes())

    def _signed(self, words, width):
        words = np.asarray(words, dtype=np.int64) & ((1 << width) - 1)
        return np.where(words >> (width - 1), words - (1 << width), words)

    def read_layer(self, layer):
        """``(W, b)`` of hidden layer ``layer`` (0-based), as signed integers."""
        n_in, n_out = self.cfg.sizes[layer], self.cfg.sizes[layer + 1]
        ww = self.cfg.weight_width
        w = self._signed(self.read_mem(P.address(layer, P.SPACE_W), n_in * n_out), ww)
        b = self._signed(self.read_mem(P.address(layer, P.SPACE_B), n_out), ww)
        return w.reshape(n_out, n_in), b

    def write_layer(self, layer, w, b):
        """Write layer ``layer``'s weights ``w`` (N_out x N_in) and biases ``b``."""
        self.write_mem(P.address(layer, P.SPACE_W), np.asarray(w).reshape(-1))
        self.write_mem(P.address(layer, P.SPACE_B), np.asarray(b).reshape(-1))

    def read_weights(self):
        """``[(w, b), ...]`` of every layer, read through the access port."""
        return [self.read_layer(i) for i in range(self.cfg.layers)]

    def write_weights(self, weights):
        """Write ``[(w, b), ...]`` into every layer."""
        for i, (w, b) in enumerate(weights):
            self.write_layer(i, w, b)

    def read_counters(self, layer, count=None):
        """The per-layer counters (32-bit words, space 2), in the core's order."""
        if not self.cfg.counters:
            raise ValueError("this configuration has no counters (counters = false): "
                             "the board was built without them")
        if count is None:
            count = len(COUNTERS)
        return self.read_mem(P.address(layer, P.SPACE_COUNTERS), count)

    def _check_control(self):
        if not self.cfg.control:
            raise ConfigError("control: the board was built without the control words (every "
                              "layer always learns), not False")

    def set_learn(self, flags):
        """Every layer's control word ``learn`` (``flags``: one bool per hidden
        layer): a layer whose flag is false does not update on training samples."""
        self._check_control()
        flags = list(flags)
        if len(flags) != self.cfg.layers:
            raise ValueError(f"learn: {self.cfg.layers} flags (one per hidden layer), "
                             f"not {len(flags)}")
        for i, on in enumerate(flags):
            self.write_mem(P.address(i, P.SPACE_CONTROL), [int(bool(on))])

    def read_learn(self):
        """Every layer's control word ``learn`` (list of bool)."""
        self._check_control()
        return [bool(self.read_mem(P.address(i, P.SPACE_CONTROL), 1)[0])
                for i in range(self.cfg.layers)]

    # -- checkpoints --
    def save_checkpoint(self, path):
        """Every weight and bias into an ``.npz`` (``w0, b0, w1, ...`` and the config)."""
        arrays = {}
        for i, (w, b) in enumerate(self.read_weights()):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        np.savez(path, config=json.dumps(self.cfg.to_dict()), **arrays)

    def load_checkpoint(self, path):
        """Write a checkpoint's weights and biases (checked against the config first)."""
        try:
            with np.load(path) as d:
                weights = [(d[f"w{i}"], d[f"b{i}"]) for i in range(self.cfg.layers)
                           if f"w{i}" in d]
                extra = [k for k in d.files if k.startswith("w") and k[1:].isdigit()
                         and int(k[1:]) >= self.cfg.layers]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise CheckpointError(f"{path}: not a readable checkpoint ({e})") from None
        if len(weights) != self.cfg.layers or extra:
            raise ConfigMismatch(f"{path}: the checkpoint does not have {self.cfg.layers} layers")
        for i, (w, b) in enumerate(weights):
            want = (self.cfg.sizes[i + 1], self.cfg.sizes[i])
            if w.shape != want or b.shape != (want[0],):
                raise ConfigMismatch(f"{path}: layer {i} is {w.shape} + {b.shape}, "
                                     f"the configuration needs {want} + ({want[0]},)")
        self.write_weights(weights)


def train_board(board, dataset, *, epochs=1, schedule="simultaneous", order_seed=0, check=True,
                log=print):
    """Train through ``board``, then evaluate; compare with the fixed-point
    model sample by sample and, at the end, weight by weight. ``schedule``
    ``layerwise`` trains layer 1 alone for ``epochs``, then layer 2 alone, ...
    (the layers' control words ``learn``, written between the phases; every
    layer learns again at the end)."""
    cfg = board.cfg
    check_dataset(cfg, dataset)
    order = training_order(cfg, len(dataset.x_train), epochs, schedule, order_seed)
    if schedule == "layerwise":
        board._check_control()
    model = FixedNetwork(cfg)
    x_train, x_test = model.quantize(dataset.x_train), model.quantize(dataset.x_test)
    phases = (layerwise_phases(cfg, epochs, len(x_train)) if schedule == "layerwise"
              else [(0, [True] * cfg.layers)])
    mismatches = []

    def check_train(n, r):
        if not check:
            return
        # the model's result beat for the sample, from the golden twin of the network step
        want = model.step(x_train[order[n]], int(dataset.y_train[order[n]]),
                          train=True).result(trace=False)
        got = {"pred": list(r.pred), "exit": r.exit, "label": r.label, "train": int(r.train)}
        if got != want and not mismatches:
            mismatches.append(f"training sample {n}: the board's result {got}, the model's {want}")

    if check or not cfg.memory.initial_contents:
        log("lela board: loading the model's initial weights ...")
        board.write_weights(list(zip(model.w, model.b)))
    t0 = time.perf_counter()
    c0 = getattr(board.transport, "cycles", None)
    ends = [start for start, _ in phases[1:]] + [len(order)]
    for (start, flags), end in zip(phases, ends):
        if schedule == "layerwise":   # memory writes only outside train mode
            board.set_mode(train=False)
            board.set_learn(flags)
            model.learn = list(flags)
        board.set_mode(train=True)
        board.run(x_train[order[start:end]], dataset.y_train[order[start:end]],
                  on_result=lambda n, r, start=start: check_train(start + n, r))
    train_s = time.perf_counter() - t0
    cycles = None if c0 is None else board.transport.cycles - c0
    board.set_mode(train=False)
    if schedule == "layerwise":
        board.set_learn([True] * cfg.layers)
        model.learn = [True] * cfg.layers
    test = board.run(x_test, dataset.y_test)
    pred = np.array([r.pred for r in test])
    acc = (pred == np.asarray(dataset.y_test)[:, None]).mean(axis=0)
    report = {"config": cfg.to_dict(), "dataset": dataset.name, "epochs": epochs,
              "schedule": schedule,
              "train_samples": len(order), "test_samples": len(x_test),
              "train_seconds": train_s, "test_accuracy_board": [float(a) for a in acc]}
    if cycles is not None:
        # a simulated board: clock cycles per training sample, host link included
        # (bytes at one per cycle: the simulated board has no UART)
        report["cycles_per_train_sample"] = cycles / len(order)
    if check:
        model_pred = model.predict_batch(x_test)
        report["test_accuracy_model"] = [float(a) for a in
                                         (model_pred == np.asarray(dataset.y_test)[:, None])
                                         .mean(axis=0)]
        if not np.array_equal(pred, model_pred) and not mismatches:
            mismatches.append("test predictions differ from the model's")
        for i, (w, b) in enumerate(board.read_weights()):
            if not (np.array_equal(w, model.w[i]) and np.array_equal(b, model.b[i])):
                mismatches.append(f"layer {i}: weights read back differ from the model's")
        report["equal_to_model"] = not mismatches
        report["mismatches"] = mismatches
    return report
