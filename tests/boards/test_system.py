"""The board-side system through its UART pins: a request as 8N1 bits in, the
response as 8N1 bits out (the path the boards use, which the simulated
transports bypass at the byte stream)."""

import struct

from amaranth.sim import Simulator

from lela import protocol as P
from lela.boards.system import SerialCore
from lela.config import Config
from lela.host import driver as H

from .standin import StandIn

CFG = Config().with_layers((8, 4, 4)).replace(classes=3)
DIVISOR = 6


def bits_of(data):
    out = []
    for byte in data:
        out += [0] + [(byte >> i) & 1 for i in range(8)] + [1]
    return out


def test_requests_over_the_uart_lines():
    dut = SerialCore(CFG, divisor=DIVISOR, timeout=1 << 12, core=StandIn(CFG))
    # back to back: a SET_THRESHOLD then a STATUS, with no gap between the frames
    request = (H.encode_request(P.Command.SET_THRESHOLD, struct.pack("<I", 0x1234))
               + H.encode_request(P.Command.STATUS))
    line_out = []

    async def host_tx(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(3 * DIVISOR)
        for bit in bits_of(request):
            ctx.set(dut.rx, bit)
            await ctx.tick().repeat(DIVISOR)
        ctx.set(dut.rx, 1)
        # enough for both responses (5 + 2 and 5 + 20 + 2 bytes)
        await ctx.tick().repeat(40 * 10 * DIVISOR)

    async def host_rx(ctx):
        async for _, _, tx in ctx.tick().sample(dut.tx):
            line_out.append(tx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host_tx)
    sim.add_testbench(host_rx, background=True)
    sim.run()

    # decode the line: find start bits, sample mid-bit
    received, i = [], 0
    while i < len(line_out):
        if line_out[i] == 0:
            mid = i + DIVISOR // 2
            byte = sum(line_out[mid + DIVISOR * (k + 1)] << k for k in range(8))
            assert line_out[mid + 9 * DIVISOR] == 1, f"stop bit of byte {len(received)}"
            received.append(byte)
            i = mid + 9 * DIVISOR
        else:
            i += 1
    data = bytes(received)
    ok = P.SYNC_RESPONSE, P.Command.SET_THRESHOLD, P.Status.OK, 0, 0
    assert data[:5] == bytes(ok)
    assert P.crc16(data[1:7]) == 0
    status = data[7:]
    assert status[:5] == bytes([P.SYNC_RESPONSE, P.Command.STATUS, P.Status.OK,
                                P.STATUS_BYTES, 0])
    assert P.crc16(status[1:5 + P.STATUS_BYTES + 2]) == 0
    st = H.BoardStatus.decode(status[5:5 + P.STATUS_BYTES])
    assert (st.inputs, st.classes, st.layers, st.threshold, st.rejected) == (8, 3, 2, 0x1234, 0)
