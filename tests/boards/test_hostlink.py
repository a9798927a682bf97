"""The host link in simulation, against a stand-in core: every command, the
stream four ways, and one test per class of bad input proving nothing changed.

The stand-in (``standin.py``) has the network core's ports and a trivial,
predictable datapath, so these tests cover the protocol in seconds; training
bit-exact with the real core is in ``test_host.py``.
"""

import struct

import numpy as np
import pytest

from lela import protocol as P
from lela.boards.hostlink import MIN_MAX_PAYLOAD, RESULT_DEPTH, HostLink
from lela.config import Config
from lela.host import driver as H

from .standin import StandIn

SMALL = Config().with_layers((8, 4, 4)).replace(classes=3)
LINK_TIMEOUT = 256


def open_board(cfg=SMALL, **kwargs):
    transport = H.SimTransport(cfg, core=StandIn(cfg), link_timeout=LINK_TIMEOUT, **kwargs)
    return H.Board(transport, cfg)


@pytest.fixture
def board():
    b = open_board()
    yield b
    b.transport.close()


def signature(cfg):
    core = StandIn(cfg)
    core._MustUse__silence = True  # only its signature is wanted
    return core.signature


def random_weights(cfg, seed):
    rng = np.random.default_rng(seed)
    lo, hi = -(1 << (cfg.weight_width - 1)), 1 << (cfg.weight_width - 1)
    return [(rng.integers(lo, hi, size=(cfg.sizes[i + 1], cfg.sizes[i])),
             rng.integers(lo, hi, size=cfg.sizes[i + 1])) for i in range(cfg.layers)]


def snapshot(board):
    """Everything a rejected request must leave alone, read through the link."""
    weights = board.read_weights()
    counters = [tuple(board.read_counters(i, 2)) for i in range(board.cfg.layers)]
    st = board.status()
    return weights, counters, (st.train, st.early_exit, st.threshold, st.in_flight, st.pending)


def assert_same(before, after, what):
    (w0, c0, s0), (w1, c1, s1) = before, after
    for i, ((wa, ba), (wb, bb)) in enumerate(zip(w0, w1)):
        np.testing.assert_array_equal(wb, wa, err_msg=f"{what}: layer {i} W changed")
        np.testing.assert_array_equal(bb, ba, err_msg=f"{what}: layer {i} b changed")
    assert c1 == c0, f"{what}: counters changed (a sample reached the core)"
    assert s1 == s0, f"{what}: settings or samples in flight changed"


def expected(cfg, label, train, n_layers=None):
    return H.Result(tuple((label + i) % cfg.classes for i in range(cfg.layers)),
                    cfg.layers - 1, label, train)


# -- parameters -----------------------------------------------------------------
def test_parameters_are_validated():
    sig = signature(SMALL)
    with pytest.raises(ValueError, match=r"timeout must be an integer >= 16, not 3"):
        HostLink(SMALL, sig, timeout=3)
    with pytest.raises(ValueError, match=r"result_depth must be an integer in \[1, 255\], not 0"):
        HostLink(SMALL, sig, timeout=100, result_depth=0)
    with pytest.raises(ValueError, match=r"max_payload must be an integer in \[20, 65535\], not 8"):
        HostLink(SMALL, sig, timeout=100, max_payload=8)
    with pytest.raises(TypeError, match=r"core must be the network's signature or component, "
                                        r"not 'x'"):
        HostLink(SMALL, "x", timeout=100)
    link = HostLink(SMALL, sig, timeout=100)
    link._MustUse__silence = True
    assert (link.max_payload, link.result_depth, link.timeout) == (MIN_MAX_PAYLOAD,
                                                                    RESULT_DEPTH, 100)
    big = Config().with_layers((784, 8))
    link = HostLink(big, signature(big), timeout=100)
    link._MustUse__silence = True
    assert link.max_payload == 2048  # a 784-input sample is 1570 bytes


# -- commands ---------------------------------------------------------------------
def test_status_reports_the_build(board):
    st = board.status()
    assert st == H.BoardStatus(version=P.PROTOCOL_VERSION, train=False, early_exit=False,
                               in_flight=0, pending=0, result_depth=RESULT_DEPTH, layers=2,
                               max_payload=MIN_MAX_PAYLOAD, inputs=8, classes=3, act_width=16,
                               weight_width=16, threshold=0, rejected=0)


def test_mode_and_threshold(board):
    board.set_mode(train=True, early_exit=True)
    board.set_threshold(0xBEEF)
    st = board.status()
    assert (st.train, st.early_exit, st.threshold) == (True, True, 0xBEEF)
    board.set_mode(train=False)
    st = board.status()
    assert (st.train, st.early_exit, st.threshold) == (False, False, 0xBEEF)


@pytest.mark.parametrize("idle", [0.0, 0.3], ids=["no-idle", "idle"])
@pytest.mark.parametrize("backpressure", [0.0, 0.3], ids=["no-bp", "bp"])
def test_samples_in_order_four_ways(idle, backpressure):
    """Results come back one per sample, in order, whatever the byte timing."""
    seed = 100 + int(idle * 10) + int(backpressure * 100)
    board = open_board(stalls=(idle, backpressure, seed))
    rng = np.random.default_rng(seed)
    try:
        n = 2 * RESULT_DEPTH + 5
        x = rng.integers(-(1 << 15), 1 << 15, size=(n, 8))
        labels = rng.integers(0, 3, size=n)
        board.set_mode(train=True)
        got = board.run(x[:n // 2], labels[:n // 2])
        board.set_mode(train=False)
        got += board.run(x[n // 2:], labels[n // 2:])
        want = [expected(SMALL, int(t), k < n // 2) for k, t in enumerate(labels)]
        assert got == want, f"seed {seed}"
        assert tuple(board.read_counters(0, 2)) == (n, n // 2), f"seed {seed}"
        assert board.status().rejected == 0
    finally:
        board.transport.close()


def test_results_wait_and_busy(board):
    """READ_RESULTS waits for samples in flight; a SAMPLE that could not get a
    result slot is refused (BUSY) and never reaches the core."""
    board.set_mode(train=True)
    for k in range(RESULT_DEPTH):
        board.send_sample(np.zeros(8, int), k % 3)
    with pytest.raises(H.BusyError, match=r"SAMPLE: BUSY"):
        board.send_sample(np.zeros(8, int), 0)
    got = board.read_results(RESULT_DEPTH)
    assert got == [expected(SMALL, k % 3, True) for k in range(RESULT_DEPTH)]
    assert tuple(board.read_counters(0, 2)) == (RESULT_DEPTH, RESULT_DEPTH)


def test_memory_round_trip(board):
    weights = random_weights(SMALL, seed=5)
    board.write_weights(weights)
    for i, (w, b) in enumerate(board.read_weights()):
        np.testing.assert_array_equal(w, weights[i][0], err_msg=f"seed 5, layer {i} W")
        np.testing.assert_array_equal(b, weights[i][1], err_msg=f"seed 5, layer {i} b")
    for i in range(SMALL.layers):
        info = board.read_mem(P.address(i, P.SPACE_INFO), 2)
        assert list(info) == [SMALL.sizes[i], SMALL.sizes[i + 1]]


def test_long_transfers_are_split_into_frames():
    """A memory bigger than one frame's payload is read and written in chunks."""
    cfg = Config().with_layers((16, 32)).replace(classes=3)
    board = open_board(cfg, max_payload=64)
    try:
        weights = random_weights(cfg, seed=6)
        board.write_weights(weights)  # 512 words: 35 frames of 15 words at most
        w, b = board.read_layer(0)
        np.testing.assert_array_equal(w, weights[0][0], err_msg="seed 6")
        np.testing.assert_array_equal(b, weights[0][1], err_msg="seed 6")
    finally:
        board.transport.close()


def test_checkpoint_round_trip(board, tmp_path):
    weights = random_weights(SMALL, seed=7)
    board.write_weights(weights)
    board.save_checkpoint(tmp_path / "a.npz")
    board.write_weights(random_weights(SMALL, seed=8))
    board.load_checkpoint(tmp_path / "a.npz")
    for i, (w, b) in enumerate(board.read_weights()):
        np.testing.assert_array_equal(w, weights[i][0], err_msg=f"layer {i} W")
        np.testing.assert_array_equal(b, weights[i][1], err_msg=f"layer {i} b")
    other = Config().with_layers((8, 5, 4)).replace(classes=3)
    np.savez(tmp_path / "b.npz", **{f"{k}{i}": v for i, (w, b) in
                                   enumerate(random_weights(other, 1))
                                   for k, v in (("w", w), ("b", b))})
    with pytest.raises(H.ConfigMismatch, match=r"layer 0 is \(5, 8\) \+ \(5,\), the "
                                               r"configuration needs \(4, 8\) \+ \(4,\)"):
        board.load_checkpoint(tmp_path / "b.npz")


def test_config_mismatch_is_refused():
    transport = H.SimTransport(SMALL, core=StandIn(SMALL), link_timeout=LINK_TIMEOUT)
    try:
        with pytest.raises(H.ConfigMismatch, match=r"built for .* = \(8, 3, 2, 16, 16\), the "
                                                   r"host's configuration is \(8, 4, 2, 16, 16\)"):
            H.Board(transport, SMALL.replace(classes=4))
    finally:
        transport.close()


def test_frames_on_the_wire_are_unchanged(board):
    """Request and response bytes recorded before the link's CRC came from
    ``amaranth.lib.crc``: the gateware checks and sends the same checksums."""
    for request, response in (("a5020100014eb9", "5a0200000069a8"),   # SET_MODE train: OK
                              ("a5010000fbad", "5a01010000c544")):    # STATUS, bad CRC
        board.transport.write(bytes.fromhex(request))
        assert board.transport.read(7).hex() == response, request
    assert board.status().train


# -- bad input: one test per class, each proving nothing changed ---------------------------
def raw(board, data):
    """Send raw bytes; return the response's error (or None for OK)."""
    board.transport.write(bytes(data))
    try:
        board.read_response()
    except H.LinkError as e:
        return e
    return None


def frame(command, payload, *, crc_xor=0, length=None):
    body = struct.pack("<BH", command, len(payload) if length is None else length) + payload
    return bytes([P.SYNC_REQUEST]) + body + struct.pack(">H", P.crc16(body) ^ crc_xor)


def sample_payload(label, value=0, n=8):
    return struct.pack("<H", label) + struct.pack("<h", value) * n


def write_payload(addr, words):
    return struct.pack("<I", addr) + b"".join(struct.pack("<I", w & 0xFFFFFFFF) for w in words)


def bad_sync(board):
    return raw(board, b"\x00\x13\x37\xff")


def bad_checksum_sample(board):
    board.set_mode(train=True)
    return raw(board, frame(P.Command.SAMPLE, sample_payload(1), crc_xor=0x0100))


def bad_checksum_write(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [1, 2, 3]), crc_xor=1))


def length_over_buffer(board):
    # the payload is longer than the board's buffer; all its bytes are sent
    n = board.max_payload + 1
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [7] * ((n - 4) // 4 + 1))))


def length_wrong_for_command(board):
    board.set_mode(train=True)
    return raw(board, frame(P.Command.SAMPLE, sample_payload(1)[:-2]))


def length_not_whole_words(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [5, 5])[:-1]))


def truncated_frame(board):
    data = frame(P.Command.WRITE_MEM, write_payload(0, [9] * 8))
    return raw(board, data[:len(data) // 2])  # then silence: the link times out


def unknown_command(board):
    return raw(board, frame(0x7F, b"\x00"))


def write_beyond_layers(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(P.address(2, P.SPACE_W), [1])))


def write_beyond_memory(board):
    # the first three words are in range, the last is not: none is written
    start = P.address(1, P.SPACE_B, SMALL.sizes[2] - 3)
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(start, [1, 2, 3, 4])))


def write_unknown_space(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(P.address(0, 5), [1])))


def write_counters(board):
    return raw(board, frame(P.Command.WRITE_MEM,
                            write_payload(P.address(0, P.SPACE_COUNTERS), [0])))


def write_layer_info(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(P.address(1, P.SPACE_INFO), [3])))


def read_out_of_range(board):
    return raw(board, frame(P.Command.READ_MEM,
                            struct.pack("<IH", P.address(0, P.SPACE_B, 2), 3)))


def write_in_train_mode(board):
    board.set_mode(train=True)
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [1, 2])))


def write_with_sample_in_flight(board):
    board.send_sample(np.zeros(8, int), 2)  # inference mode, result not read yet
    err = raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [1, 2])))
    assert board.read_results(1) == [expected(SMALL, 2, False)]
    return err


def label_out_of_range(board):
    board.set_mode(train=True)
    return raw(board, frame(P.Command.SAMPLE, sample_payload(SMALL.classes)))


def weight_out_of_format(board):
    return raw(board, frame(P.Command.WRITE_MEM, write_payload(0, [5, 1 << 15])))


def mode_reserved_bits(board):
    return raw(board, frame(P.Command.SET_MODE, b"\x05"))


def threshold_too_wide(board):
    return raw(board, frame(P.Command.SET_THRESHOLD, struct.pack("<I", 1 << 16)))


def results_not_owed(board):
    return raw(board, frame(P.Command.READ_RESULTS, b"\x01"))


def read_too_many(board):
    return raw(board, frame(P.Command.READ_MEM, struct.pack("<IH", 0, board.max_payload // 4 + 1)))


def mode_change_in_flight(board):
    board.send_sample(np.zeros(8, int), 1)
    err = raw(board, frame(P.Command.SET_MODE, b"\x01"))
    assert board.read_results(1) == [expected(SMALL, 1, False)]
    return err


def sample_without_result_slot(board):
    for _ in range(RESULT_DEPTH):
        board.send_sample(np.zeros(8, int), 0)
    err = raw(board, frame(P.Command.SAMPLE, sample_payload(1)))
    board.read_results(RESULT_DEPTH)
    return err


BAD_INPUTS = [
    (bad_sync, H.SyncError),
    (bad_checksum_sample, H.ChecksumError),
    (bad_checksum_write, H.ChecksumError),
    (length_over_buffer, H.LengthError),
    (length_wrong_for_command, H.LengthError),
    (length_not_whole_words, H.LengthError),
    (truncated_frame, H.FrameTimeoutError),
    (unknown_command, H.UnknownCommandError),
    (write_beyond_layers, H.AddressError),
    (write_beyond_memory, H.AddressError),
    (write_unknown_space, H.AddressError),
    (write_counters, H.AddressError),
    (write_layer_info, H.AddressError),
    (read_out_of_range, H.AddressError),
    (write_in_train_mode, H.TrainingError),
    (write_with_sample_in_flight, H.TrainingError),
    (label_out_of_range, H.ValueRangeError),
    (weight_out_of_format, H.ValueRangeError),
    (mode_reserved_bits, H.ValueRangeError),
    (threshold_too_wide, H.ValueRangeError),
    (results_not_owed, H.ValueRangeError),
    (read_too_many, H.ValueRangeError),
    (mode_change_in_flight, H.BusyError),
    (sample_without_result_slot, H.BusyError),
]


@pytest.mark.parametrize("attack, error", BAD_INPUTS, ids=[a.__name__ for a, _ in BAD_INPUTS])
def test_bad_input_is_rejected_and_changes_nothing(attack, error):
    board = open_board()
    try:
        board.write_weights(random_weights(SMALL, seed=11))
        board.set_threshold(77)
        before = snapshot(board)
        mode = board.status()
        err = attack(board)
        assert isinstance(err, error), f"{attack.__name__}: got {err!r}, want {error.__name__}"
        # put back what the attack set up through valid requests, then compare
        board.set_mode(train=mode.train, early_exit=mode.early_exit)
        after = snapshot(board)
        if attack in (write_with_sample_in_flight, mode_change_in_flight,
                      sample_without_result_slot):
            # valid samples were part of the set-up: they count, nothing else may change
            before = (before[0], [(c[0] + after[1][i][0] - before[1][i][0], c[1])
                                  for i, c in enumerate(before[1])], before[2])
        assert_same(before, after, attack.__name__)
        assert board.status().rejected == 1
        # and the link still works
        board.write_mem(0, [42])
        assert board.read_mem(0, 1)[0] == 42
    finally:
        board.transport.close()


def test_inputs_and_words_must_fit_their_formats():
    """With 12-bit formats (2 bytes on the wire) the spare bits must be a sign extension."""
    cfg = SMALL.replace(act_width=12, act_frac=8, weight_width=12, weight_frac=10)
    board = open_board(cfg)
    try:
        board.set_mode(train=True)
        before = snapshot(board)
        for value, ok in ((2047, True), (-2048, True), (2048, False), (-2049, False)):
            err = raw(board, frame(P.Command.SAMPLE, struct.pack("<H", 0)
                                   + struct.pack("<h", value) * 8))
            assert (err is None) == ok, f"input {value}: {err!r}"
            if ok:
                board.read_results(1)
        trained = [(c[0] + 2, c[1] + 2) for c in before[1]]
        assert tuple(board.read_counters(0, 2)) == trained[0]
        board.set_mode(train=False)
        for value, ok in ((2047, True), (-2048, True), (2048, False), (-2049, False)):
            err = raw(board, frame(P.Command.WRITE_MEM, write_payload(P.address(0, 0, 3),
                                                                      [value])))
            assert (err is None) == ok, f"weight {value}: {err!r}"
        assert board.read_layer(0)[0][0, 3] == -2048
    finally:
        board.transport.close()


@pytest.mark.parametrize("attack", [write_beyond_layers, write_beyond_memory, write_unknown_space],
                         ids=lambda a: a.__name__)
def test_address_check_with_32_bit_weights(attack):
    """32-bit weights have no value check: the address is still checked
    before anything is written."""
    cfg = SMALL.replace(act_width=32, act_frac=8, weight_width=32, weight_frac=28)
    board = open_board(cfg)
    try:
        before = board.read_weights()
        assert isinstance(attack(board), H.AddressError)
        for i, ((wa, ba), (wb, bb)) in enumerate(zip(before, board.read_weights())):
            np.testing.assert_array_equal(wb, wa, err_msg=f"layer {i} W changed")
            np.testing.assert_array_equal(bb, ba, err_msg=f"layer {i} b changed")
        board.write_mem(0, [(1 << 30) + 5])
        assert board.read_mem(0, 1)[0] == (1 << 30) + 5
    finally:
        board.transport.close()
