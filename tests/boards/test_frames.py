"""The frame layer on its own: the receiver fed good frames and each class of
bad frame, its frame stream taken at once or stalled; the sender's frames
checked with the host's CRC, under backpressure. Frames are encoded and
checked with ``lela.protocol`` and the host driver's encoder."""

import random
import struct

import pytest
from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from lela import protocol as P
from lela.boards.frames import FrameBuffer, FrameReceiver, FrameSender, connect_crc
from lela.host import driver as H

MAX_PAYLOAD = 64
TIMEOUT = 40


class Receiver(wiring.Component):
    """A receiver with its own CRC processor; its buffer writes are recorded by the test."""

    def __init__(self):
        self.rx = FrameReceiver(max_payload=MAX_PAYLOAD, timeout=TIMEOUT)
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.rx = self.rx
        m.submodules.crc = crc = P.CRC.create()
        connect_crc(m, crc, self.rx.o_crc)
        return m


def run_receiver(chunks, *, stall, seed, p_valid=0.8, cycles_after=200):
    """Feed ``chunks`` (bytes, idle cycles after their last byte), a byte
    offered with probability ``p_valid`` a cycle; take each frame at once
    (``stall=0``) or ``stall`` cycles after it appears. Returns the frames,
    each ``(command, length, status, payload written)`` (payload None unless OK)."""
    dut = Receiver()
    rx, frame, buf = dut.rx.i_rx, dut.rx.o_frame, dut.rx.o_buf
    rng = random.Random(seed)
    items = [(b, gap if i == len(data) - 1 else 0) for data, gap in chunks
             for i, b in enumerate(data)]
    frames = []

    async def testbench(ctx):
        memory, writes = bytearray(MAX_PAYLOAD), set()
        k, idle, after, waited, held = 0, 0, 0, 0, None
        while k < len(items) or after < cycles_after:
            after += k == len(items)
            valid = k < len(items) and idle == 0 and rng.random() < p_valid
            ctx.set(rx.valid, valid)
            ctx.set(rx.payload, items[k][0] if k < len(items) else 0)
            ready = False
            if ctx.get(frame.valid):
                payload = (ctx.get(frame.payload.command), ctx.get(frame.payload.length),
                           ctx.get(frame.payload.status))
                if held is not None:  # (a SYNC or TIMEOUT frame appears with its cause)
                    assert payload == held, "a frame changed while it waited"
                    assert not ctx.get(rx.ready), "a byte was taken while a frame waited"
                held, ready = payload, waited >= stall
                waited += 1
            ctx.set(frame.ready, ready)
            took = valid and ctx.get(rx.ready)
            if ctx.get(buf.wr_en):
                addr = ctx.get(buf.wr_addr)
                assert addr not in writes, f"address {addr} written twice"
                memory[addr] = ctx.get(buf.wr_data)
                writes.add(addr)
            if ready:
                command, length, status = held
                if status in (P.Status.OK, P.Status.LENGTH, P.Status.CRC):
                    # every payload byte that fits the buffer, at its place
                    assert writes == set(range(min(length, MAX_PAYLOAD))), held
                ok = status == P.Status.OK
                frames.append((command, length, status, bytes(memory[:length]) if ok else None))
                writes.clear()
                waited, held = 0, None
            await ctx.tick()
            if took:
                idle = items[k][1]
                k += 1
            elif idle:
                idle -= 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return frames


def frame(command, payload, *, crc_xor=0, length=None):
    data = H.encode_request(command, payload)
    if length is not None:
        body = struct.pack("<BH", command, length) + payload
        data = bytes([P.SYNC_REQUEST]) + body + struct.pack(">H", P.crc16(body))
    if crc_xor:
        data = data[:-2] + (int.from_bytes(data[-2:], "big") ^ crc_xor).to_bytes(2, "big")
    return data


def ok(command, payload):
    return (command, len(payload), P.Status.OK, payload)


def random_payload(rng, n):
    return bytes(rng.randrange(256) for _ in range(n))


STALLS = [0, 3, 2 * TIMEOUT]
STALL_IDS = ["taken", "stalled", "stalled-past-timeout"]


@pytest.mark.parametrize("stall", STALLS, ids=STALL_IDS)
def test_good_frames(stall):
    rng = random.Random(1)
    sent = [(rng.randrange(256), random_payload(rng, n))
            for n in (0, 1, 5, MAX_PAYLOAD, 17, 0, 3)]
    got = run_receiver([(frame(c, p), 0) for c, p in sent], stall=stall, seed=2)
    assert got == [ok(c, p) for c, p in sent]


@pytest.mark.parametrize("stall", STALLS, ids=STALL_IDS)
def test_bad_sync(stall):
    """Bytes outside a frame: one SYNC frame (command 0), then dropped up to the next sync."""
    good = frame(P.Command.SET_MODE, b"\x01")
    got = run_receiver([(b"\x00\x13\x37", 0), (good, 0), (b"\xff", 0), (good, 0)],
                       stall=stall, seed=3)
    assert [f[0] for f in got if f[2] == P.Status.SYNC] == [0, 0]
    assert [f[2:] for f in got] == [(P.Status.SYNC, None), ok(P.Command.SET_MODE, b"\x01")[2:],
                                    (P.Status.SYNC, None), ok(P.Command.SET_MODE, b"\x01")[2:]]


@pytest.mark.parametrize("stall", STALLS, ids=STALL_IDS)
def test_bad_crc(stall):
    payload = b"\x10\x20\x30"
    got = run_receiver([(frame(0x21, payload, crc_xor=1), 0), (frame(0x21, payload), 0),
                        (frame(0x01, b"", crc_xor=0x8000), 0)], stall=stall, seed=4)
    assert got == [(0x21, 3, P.Status.CRC, None), ok(0x21, payload), (0x01, 0, P.Status.CRC, None)]


@pytest.mark.parametrize("stall", STALLS, ids=STALL_IDS)
def test_length_over_the_buffer(stall):
    """Every byte of an oversized payload is taken, none written past the buffer."""
    rng = random.Random(5)
    big, one_over = random_payload(rng, MAX_PAYLOAD + 3), random_payload(rng, MAX_PAYLOAD + 1)
    small = random_payload(rng, 4)
    got = run_receiver([(frame(0x21, big), 0), (frame(0x20, small), 0),
                        (frame(0x21, one_over), 0), (frame(0x21, big, crc_xor=2), 0)],
                       stall=stall, seed=6)
    assert got == [(0x21, MAX_PAYLOAD + 3, P.Status.LENGTH, None), ok(0x20, small),
                   (0x21, MAX_PAYLOAD + 1, P.Status.LENGTH, None),
                   (0x21, MAX_PAYLOAD + 3, P.Status.CRC, None)]


@pytest.mark.parametrize("stall", STALLS, ids=STALL_IDS)
@pytest.mark.parametrize("cut", [1, 2, 3, 4, 9, 10], ids=lambda n: f"after-{n}-bytes")
def test_truncated_by_timeout(stall, cut):
    """A frame that stops: TIMEOUT with what had arrived, then the next frame is whole."""
    data = frame(0x21, bytes(range(5)))
    good = frame(0x02, b"\x03")
    got = run_receiver([(data[:cut], TIMEOUT + 5), (good, 0)], stall=stall, seed=7 + cut)
    command = data[1] if cut > 1 else 0
    assert [f[:1] + f[2:3] for f in got] == [(command, P.Status.TIMEOUT), (0x02, P.Status.OK)]
    assert got[1] == ok(0x02, b"\x03")


def test_no_timeout_within_the_limit():
    """Gaps just under the timeout between the bytes of a frame are not a timeout."""
    data = frame(0x21, bytes(range(6)))
    got = run_receiver([(data[i:i + 1], TIMEOUT - 2) for i in range(len(data))],
                       stall=0, seed=9, p_valid=1.0)
    assert got == [ok(0x21, bytes(range(6)))]


def test_parameters_are_validated():
    with pytest.raises(ValueError, match=r"timeout must be an integer >= 16, not 3"):
        FrameReceiver(max_payload=16, timeout=3)
    with pytest.raises(ValueError, match=r"max_payload must be an integer in \[1, 65535\]"):
        FrameSender(max_payload=0)


# -- the sender ------------------------------------------------------------------------------
class Sender(wiring.Component):
    """A sender reading a frame buffer the test fills, with its own CRC processor."""

    def __init__(self):
        self.tx = FrameSender(max_payload=MAX_PAYLOAD)
        self.buf = FrameBuffer(max_payload=MAX_PAYLOAD)
        self.wr_addr = Signal(range(MAX_PAYLOAD))
        self.wr_data = Signal(8)
        self.wr_en = Signal()
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx, m.submodules.buf = self.tx, self.buf
        m.submodules.crc = crc = P.CRC.create()
        connect_crc(m, crc, self.tx.o_crc)
        port = self.buf.port
        m.d.comb += [port.rd_addr.eq(self.tx.o_buf.rd_addr),
                     self.tx.o_buf.rd_data.eq(port.rd_data),
                     port.wr_addr.eq(self.wr_addr), port.wr_data.eq(self.wr_data),
                     port.wr_en.eq(self.wr_en)]
        return m


def encode_response(command, status, payload):
    """A response frame as the protocol defines it."""
    body = struct.pack("<BBH", command, status, len(payload)) + payload
    return bytes([P.SYNC_RESPONSE]) + body + struct.pack(">H", P.crc16(body))


@pytest.mark.parametrize("backpressure", [0.0, 0.5, 0.9], ids=["no-bp", "bp", "heavy-bp"])
def test_sender_frames_pass_the_host_check(backpressure):
    rng = random.Random(int(backpressure * 10))
    buffer = random_payload(rng, MAX_PAYLOAD)
    requests = [(rng.randrange(256), rng.choice(list(P.Status)), n)
                for n in (0, 1, 20, MAX_PAYLOAD, 2, 0, 7)]
    dut = Sender()
    out = bytearray()
    taken = []

    async def testbench(ctx):
        for addr, value in enumerate(buffer):
            ctx.set(dut.wr_addr, addr)
            ctx.set(dut.wr_data, value)
            ctx.set(dut.wr_en, 1)
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        req, tx = dut.tx.i_respond, dut.tx.o_tx
        for command, status, n in requests:
            ctx.set(req.valid, 0)
            await ctx.tick().repeat(rng.randrange(1, 4))
            ctx.set(req.payload.command, command)
            ctx.set(req.payload.status, status)
            ctx.set(req.payload.length, n)
            ctx.set(req.valid, 1)
            start = len(out)
            while True:
                ready = rng.random() >= backpressure
                ctx.set(tx.ready, ready)
                if ctx.get(tx.valid) and ready:
                    out.append(ctx.get(tx.payload))
                done = ctx.get(req.ready)
                await ctx.tick()
                if done:
                    break
            taken.append(len(out) - start)
        ctx.set(req.valid, 0)
        ctx.set(tx.ready, 1)
        for _ in range(10):
            assert not ctx.get(tx.valid), "bytes after the last response"
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()

    want = [encode_response(c, s, buffer[:n]) for c, s, n in requests]
    # each request is taken as its frame's last byte is sent
    assert taken == [len(w) for w in want]
    assert bytes(out) == b"".join(want)
    # and the host's own check accepts every frame
    pos = 0
    for command, status, n in requests:
        data = bytes(out[pos:pos + P.RESPONSE_HEADER + n + P.CRC_BYTES])
        assert data[0] == P.SYNC_RESPONSE
        assert P.crc16(data[1:]) == 0, f"response to {command:#x}: the host's CRC check fails"
        assert struct.unpack("<BBH", data[1:5]) == (command, status, n)
        pos += len(data)
