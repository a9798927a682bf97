"""The host driver end to end on the simulated board (host link + the real
network core): training bit-exact with the fixed-point model, checkpoints,
early exit, and the driver's own frame handling."""

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from lela import protocol as P
from lela.config import Config, config_file
from lela.data import load_dataset
from lela.golden_model.network import FixedNetwork
from lela.host import driver as H

SIM_CFG = Config.from_toml(config_file("sim"))
TRAIN_SAMPLES = 200
ORDER_SEED = 3
BUILD_ROOT = Path(__file__).resolve().parents[2] / "build" / "board-sim"


def first_diff(got, want):
    idx = int(np.flatnonzero(np.asarray(got).reshape(-1) != np.asarray(want).reshape(-1))[0])
    return idx, np.asarray(got).reshape(-1)[idx], np.asarray(want).reshape(-1)[idx]


def assert_weights(board_weights, model, where):
    for i, (w, b) in enumerate(board_weights):
        for name, got, want in (("W", w, model.w[i]), ("b", b, model.b[i])):
            if not np.array_equal(got, want):
                idx, g, e = first_diff(got, want)
                raise AssertionError(f"{where}, layer {i}: {name} flat index {idx} is {g}, "
                                     f"model says {e}")


def digits(cfg, n, seed):
    model = FixedNetwork(cfg)
    ds = load_dataset("digits")
    order = np.random.default_rng(seed).permutation(len(ds.x_train))[:n]
    return model, model.quantize(ds.x_train[order]), ds.y_train[order]


@pytest.fixture(scope="module")
def trained():
    """The simulated board (real core, Verilator) after TRAIN_SAMPLES training
    samples, and the model after the same samples."""
    from lela.host.verilated import VerilatorTransport

    cfg = SIM_CFG
    board = H.Board(VerilatorTransport(cfg, root=BUILD_ROOT), cfg)
    model, x, y = digits(cfg, TRAIN_SAMPLES, ORDER_SEED)
    board.set_mode(train=True)
    results = board.run(x, y)
    traces = [model.train_step(x[n], int(y[n])) for n in range(len(y))]
    yield board, model, results, traces, (x, y)
    board.transport.close()


@pytest.mark.slow
def test_training_through_the_link_is_bit_exact(trained):
    board, model, results, traces, (_, y) = trained
    assert len(results) == TRAIN_SAMPLES
    for n, (r, tr) in enumerate(zip(results, traces)):
        want = tuple(t.prediction for t in tr)
        assert r.pred == want, f"seed {ORDER_SEED}, sample {n}: predictions {r.pred}, model {want}"
        assert (r.label, r.train, r.exit) == (int(y[n]), True, SIM_CFG.layers - 1), \
            f"seed {ORDER_SEED}, sample {n}"
    assert_weights(board.read_weights(), model, f"seed {ORDER_SEED}, after {TRAIN_SAMPLES}")


@pytest.mark.slow
def test_checkpoint_round_trip_is_bit_exact(trained, tmp_path):
    board, model, _, _, (x, y) = trained
    path = tmp_path / "ckpt.npz"
    board.save_checkpoint(path)
    with np.load(path) as d:
        for i in range(SIM_CFG.layers):
            np.testing.assert_array_equal(d[f"w{i}"], model.w[i], err_msg=f"layer {i} W saved")
            np.testing.assert_array_equal(d[f"b{i}"], model.b[i], err_msg=f"layer {i} b saved")
    # overwrite everything, load the checkpoint back, read back
    fresh = FixedNetwork(SIM_CFG)
    board.set_mode(train=False)
    board.write_weights(list(zip(fresh.w, fresh.b)))
    assert_weights(board.read_weights(), fresh, "after overwriting")
    board.load_checkpoint(path)
    assert_weights(board.read_weights(), model, "after loading the checkpoint")
    # and training goes on from it exactly as the model does
    board.set_mode(train=True)
    results = board.run(x[:6], y[:6])
    for n, r in enumerate(results):
        want = tuple(t.prediction for t in model.train_step(x[n], int(y[n])))
        assert r.pred == want, f"after reload, sample {n}: {r.pred}, model {want}"
    assert_weights(board.read_weights(), model, "after training on from the checkpoint")


@pytest.mark.slow
def test_inference_and_early_exit(trained):
    board, model, _, _, (x, y) = trained
    board.set_mode(train=False)
    got = board.run(x[:8], y[:8])
    for n, r in enumerate(got):
        assert r.pred == tuple(model.predict(x[n])) and not r.train, f"sample {n}"
    threshold = 1 << (SIM_CFG.act_frac - 2)
    board.set_threshold(threshold)
    board.set_mode(train=False, early_exit=True)
    got = board.run(x[:8], y[:8])
    board.set_mode(train=False)
    for n, r in enumerate(got):
        pred, exit_layer = model.predict_early_exit(x[n], threshold)
        assert (r.exit, r.pred[r.exit]) == (exit_layer, pred), f"sample {n}, threshold {threshold}"


def test_counters_and_layer_info(trained):
    board, _, _, _, _ = trained
    from lela.contract import COUNTERS
    for i in range(SIM_CFG.layers):
        counters = board.read_counters(i)
        assert len(counters) == len(COUNTERS)
        assert all(c > 0 for c in counters), f"layer {i}: {dict(zip(COUNTERS, counters))}"
        info = board.read_mem(P.address(i, P.SPACE_INFO), 2)
        assert list(info) == [SIM_CFG.sizes[i], SIM_CFG.sizes[i + 1]]


@pytest.mark.slow
def test_pysim_board_trains_bit_exact():
    """The same driver on the board in Amaranth's simulator (a smaller network)."""
    cfg = SIM_CFG.with_layers((64, 8, 8, 8)).replace(lanes=(4, 4, 4))
    board = H.Board(H.SimTransport(cfg), cfg)
    try:
        model, x, y = digits(cfg, 12, seed=5)
        board.set_mode(train=True)
        for n, r in enumerate(board.run(x, y)):
            want = tuple(t.prediction for t in model.train_step(x[n], int(y[n])))
            assert r.pred == want, f"seed 5, sample {n}: predictions {r.pred}, model {want}"
        assert_weights(board.read_weights(), model, "seed 5, after 12 samples (pysim)")
    finally:
        board.transport.close()


def test_layerwise_training_on_the_pysim_board():
    """``train_board`` with the layer-wise schedule: the control words read
    back as written, every result and at the end every weight equal the model's."""
    cfg = SIM_CFG.with_layers((64, 8, 8)).replace(lanes=(4, 4))
    board = H.Board(H.SimTransport(cfg), cfg)
    try:
        assert board.read_learn() == [True, True]
        board.set_learn([False, True])
        assert board.read_learn() == [False, True]
        with pytest.raises(ValueError, match=r"learn: 2 flags \(one per hidden layer\), not 3"):
            board.set_learn([True] * 3)
        data = load_dataset("digits").subset(6, 4)
        report = H.train_board(board, data, epochs=1, schedule="layerwise", order_seed=2,
                               log=lambda *_: None)
        assert report["equal_to_model"], report["mismatches"]
        assert report["train_samples"] == 12 and board.read_learn() == [True, True]
    finally:
        board.transport.close()


def test_lela_board_train_cli(tmp_path, capsys):
    """`lela board train --sim` end to end: bit-exact, report written."""
    from lela.cli import main

    out = tmp_path / "report.json"
    rc = main(["board", "train", "--sim", "--build-dir", str(BUILD_ROOT),
               "--config", str(config_file("sim")),
               "--train-samples", "100", "--test-samples", "40", "--json", str(out)])
    report = json.loads(out.read_text())
    assert rc == 0, capsys.readouterr()
    assert report["equal_to_model"] and report["train_samples"] == 100
    assert report["test_accuracy_board"] == report["test_accuracy_model"]


def test_ulx3s_board_with_its_primitives_trains_bit_exact(tmp_path, capsys):
    """The ULX3S's own configuration (its MAC lanes MULT18X18D instances,
    simulated with lela's model of the primitive) through the host link on
    the Verilator board: bit-exact, every weight read back."""
    from lela.cli import main

    assert Config.from_toml(config_file("ulx3s")).primitives == "ecp5"
    out = tmp_path / "report.json"
    rc = main(["board", "train", "--sim", "--board", "ulx3s", "--build-dir", str(BUILD_ROOT),
               "--epochs", "1", "--train-samples", "12", "--test-samples", "6",
               "--json", str(out)])
    assert rc == 0, capsys.readouterr()
    report = json.loads(out.read_text())
    assert report["equal_to_model"], report["mismatches"]


def test_pysim_board_refuses_vendor_primitives():
    from lela.config import ConfigError
    from lela.host.transport import SimTransport

    with pytest.raises(ConfigError, match=r"^primitives: Amaranth's simulator runs the portable "
                                          r"form only .* not 'ecp5'$"):
        SimTransport(SIM_CFG.replace(primitives="ecp5"))


# -- the driver's frame handling, without a board -------------------------------
class Canned:
    """A transport that answers with fixed bytes."""

    def __init__(self, data):
        self.data, self.sent = bytearray(data), bytearray()

    def write(self, data):
        self.sent += data

    def read(self, n):
        if len(self.data) < n:
            raise H.TransportTimeout("no more bytes")
        out = bytes(self.data[:n])
        del self.data[:n]
        return out

    def close(self):
        pass


def response(command, status, payload=b"", *, crc_xor=0):
    body = struct.pack("<BBH", command, status, len(payload)) + payload
    return bytes([P.SYNC_RESPONSE]) + body + struct.pack(">H", P.crc16(body) ^ crc_xor)


def bare_board(data):
    board = H.Board.__new__(H.Board)  # no status handshake
    board.transport = Canned(data)
    return board


def test_crc16_check_value_and_frame_bytes():
    assert P.crc16(b"123456789") == 0x29B1  # CRC-16/CCITT-FALSE check value
    frame = H.encode_request(P.Command.READ_MEM, struct.pack("<IH", 0x01000002, 3))
    assert frame[:4] == bytes([P.SYNC_REQUEST, P.Command.READ_MEM, 6, 0])
    assert P.crc16(frame[1:]) == 0  # the CRC over a whole frame leaves 0


@pytest.mark.parametrize("status", [s for s in P.Status if s != P.Status.OK])
def test_status_codes_become_exceptions(status):
    board = bare_board(response(P.Command.WRITE_MEM, status))
    with pytest.raises(H.LinkError, match=rf"WRITE_MEM: {status.name}") as info:
        board.request(P.Command.WRITE_MEM, b"")
    assert info.value.status == status


def test_bad_responses_are_protocol_errors():
    board = bare_board(response(P.Command.STATUS, 0, b"\x01\x02", crc_xor=4))
    with pytest.raises(H.ProtocolError, match=r"bad checksum"):
        board.request(P.Command.STATUS)
    board = bare_board(response(P.Command.STATUS, 0x42))
    with pytest.raises(H.ProtocolError, match=r"unknown status 0x42"):
        board.request(P.Command.STATUS)
    board = bare_board(b"\x00\x01" + response(P.Command.SET_MODE, 0))
    with pytest.raises(H.ProtocolError, match=r"response is for command 0x02, not 0x01"):
        board.request(P.Command.STATUS)
    board = bare_board(response(P.Command.STATUS, 0)[:4])
    with pytest.raises(H.TransportTimeout):
        board.request(P.Command.STATUS)


def test_serial_transport_on_a_loopback_url():
    """pyserial's loop:// stands in for the port: bytes and the read timeout."""
    t = H.SerialTransport("loop://", timeout=0.05)
    try:
        frame = response(P.Command.STATUS, P.Status.BUSY)
        t.write(frame)
        assert t.read(len(frame)) == frame
        with pytest.raises(H.TransportTimeout, match=r"the board sent 0 of 1 bytes"):
            t.read(1)
        t.write(response(P.Command.SET_MODE, P.Status.TRAINING))
        board = H.Board.__new__(H.Board)
        board.transport = t
        with pytest.raises(H.TrainingError, match=r"SET_MODE: TRAINING"):
            board.read_response(P.Command.SET_MODE)
    finally:
        t.close()


def test_icebreaker_config_trains_bit_exact():
    """The iCEBreaker's configuration (SPRAM-style single-port weight memory
    without initial contents, no counters) on the Verilator board: the
    initial weights go in through the link, then 100 training samples equal
    the model, every weight read back equals it, and counter reads are refused."""
    from lela.host.verilated import VerilatorTransport

    cfg = Config.from_toml(config_file("icebreaker"))
    assert cfg.weight_memory == "single_port" and not cfg.counters
    board = H.Board(VerilatorTransport(cfg, root=BUILD_ROOT), cfg)
    try:
        model, x, y = digits(cfg, 100, ORDER_SEED)
        board.write_weights(list(zip(model.w, model.b)))
        assert_weights(board.read_weights(), model, "after loading")
        board.set_mode(train=True)
        results = board.run(x, y)
        for n, r in enumerate(results):
            want = tuple(t.prediction for t in model.train_step(x[n], int(y[n])))
            assert r.pred == want, f"training sample {n}: board {r.pred}, model {want}"
        assert_weights(board.read_weights(), model, "after 100 samples")
        with pytest.raises(ValueError, match="no counters"):
            board.read_counters(0)
        with pytest.raises(H.AddressError):
            board.read_mem(P.address(0, P.SPACE_COUNTERS), 1)
    finally:
        board.transport.close()
