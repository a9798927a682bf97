"""The command engine on its own: frames in (their payload put in a frame
buffer by the test), response requests out, stalled or not; the frame is
taken only when its response is. Every command against a core is in
``test_hostlink.py``."""

import struct

import pytest
from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from lela import protocol as P
from lela.boards.commands import CommandEngine
from lela.boards.frames import FrameBuffer
from lela.config import Config
from lela.host import driver as H

from .standin import StandIn

CFG = Config().with_layers((8, 4, 4)).replace(classes=3)
MAX_PAYLOAD = 64
DEPTH = 5


class Engine(wiring.Component):
    def __init__(self):
        core = StandIn(CFG)
        core._MustUse__silence = True  # only its signature is wanted
        self.engine = CommandEngine(CFG, core.signature, result_depth=DEPTH,
                                    max_payload=MAX_PAYLOAD)
        self.buf = FrameBuffer(max_payload=MAX_PAYLOAD)
        self.wr_addr = Signal(range(MAX_PAYLOAD))
        self.wr_data = Signal(8)
        self.wr_en = Signal()
        self.rd_addr = Signal(range(MAX_PAYLOAD))
        self.reading = Signal()
        super().__init__({})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine, m.submodules.buf = self.engine, self.buf
        port, eng = self.buf.port, self.engine.o_buf
        m.d.comb += [
            port.wr_addr.eq(Mux(self.wr_en, self.wr_addr, eng.wr_addr)),
            port.wr_data.eq(Mux(self.wr_en, self.wr_data, eng.wr_data)),
            port.wr_en.eq(self.wr_en | eng.wr_en),
            port.rd_addr.eq(Mux(self.reading, self.rd_addr, eng.rd_addr)),
            eng.rd_data.eq(port.rd_data),
        ]
        return m


def run(requests, *, stall):
    """``requests``: (command, status, payload) frames; returns each one's
    response request (command, status, length, payload from the buffer)."""
    dut = Engine()
    e = dut.engine
    got = []

    async def testbench(ctx):
        for command, status, payload in requests:
            for addr, value in enumerate(payload[:MAX_PAYLOAD]):
                ctx.set(dut.wr_addr, addr)
                ctx.set(dut.wr_data, value)
                ctx.set(dut.wr_en, 1)
                await ctx.tick()
            ctx.set(dut.wr_en, 0)
            ctx.set(e.i_frame.payload.command, command)
            ctx.set(e.i_frame.payload.length, len(payload))
            ctx.set(e.i_frame.payload.status, status)
            ctx.set(e.i_frame.valid, 1)
            waited, errors = 0, 0
            while True:
                assert not ctx.get(e.i_frame.ready) or ctx.get(e.o_respond.ready), \
                    "the frame was taken before its response"
                req = None
                if ctx.get(e.o_respond.valid):
                    req = (ctx.get(e.o_respond.payload.command),
                           ctx.get(e.o_respond.payload.status),
                           ctx.get(e.o_respond.payload.length))
                    ctx.set(e.o_respond.ready, waited >= stall)
                    waited += 1
                errors += ctx.get(e.o_error)
                done = ctx.get(e.i_frame.ready)
                await ctx.tick()
                if done:
                    break
            assert errors == (req[1] != P.Status.OK), "o_error pulses once per rejected request"
            ctx.set(e.o_respond.ready, 0)
            ctx.set(e.i_frame.valid, 0)
            ctx.set(dut.reading, 1)
            data = bytearray()
            for addr in range(req[2]):
                ctx.set(dut.rd_addr, addr)
                await ctx.tick().repeat(2)
                data.append(ctx.get(dut.buf.port.rd_data))
            ctx.set(dut.reading, 0)
            got.append((*req, bytes(data)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    return got


@pytest.mark.parametrize("stall", [0, 4], ids=["taken", "stalled"])
def test_frame_errors_are_answered(stall):
    errors = [P.Status.SYNC, P.Status.TIMEOUT, P.Status.CRC, P.Status.LENGTH]
    requests = [(0x21 if s != P.Status.SYNC else 0, s, b"") for s in errors]
    assert run(requests, stall=stall) == [(c, s, 0, b"") for c, s, _ in requests]


@pytest.mark.parametrize("stall", [0, 4], ids=["taken", "stalled"])
def test_commands_checked(stall):
    C = P.Command
    requests = [(0x7F, P.Status.OK, b"\x00"),                       # unknown
                (C.SET_MODE, P.Status.OK, b"\x01\x00"),             # wrong length
                (C.SET_MODE, P.Status.OK, b"\x05"),                 # reserved bit
                (C.SET_THRESHOLD, P.Status.OK, struct.pack("<I", 0x1234)),
                (C.SET_MODE, P.Status.OK, b"\x03"),
                (C.READ_RESULTS, P.Status.OK, b"\x01"),             # none owed
                (C.STATUS, P.Status.OK, b"")]
    got = run(requests, stall=stall)
    want = [P.Status.COMMAND, P.Status.LENGTH, P.Status.VALUE, P.Status.OK, P.Status.OK,
            P.Status.VALUE, P.Status.OK]
    assert [g[:2] for g in got] == [(c, s) for (c, _, _), s in zip(requests, want)]
    _, _, length, payload = got[-1]
    assert length == P.STATUS_BYTES
    st = H.BoardStatus.decode(payload)
    assert (st.version, st.train, st.early_exit, st.threshold, st.rejected) == \
        (P.PROTOCOL_VERSION, True, True, 0x1234, sum(s != P.Status.OK for s in want))
    assert (st.result_depth, st.max_payload, st.inputs, st.classes, st.layers) == \
        (DEPTH, MAX_PAYLOAD, 8, 3, 2)
