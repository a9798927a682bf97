"""8N1 UART: bit timing, loopback under idle/backpressure, baud mismatch, errors."""

import random

import pytest
from amaranth import Module
from amaranth.sim import Simulator

from lela.boards.uart import MIN_DIVISOR, UARTRx, UARTTx, divisor_for

PERIOD = 1e-6


def run(dut, *benches, deadline=None):
    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    for bench in benches:
        sim.add_testbench(bench)
    sim.run()


def test_divisor_rejects_bad_values():
    with pytest.raises(ValueError, match=r"divisor must be an integer >= 4, not 3"):
        UARTTx(divisor=3)
    with pytest.raises(ValueError, match=r"divisor must be an integer >= 4, not 'x'"):
        UARTRx(divisor="x")
    assert divisor_for(12e6, 115200) == 104
    with pytest.raises(ValueError, match=r"baud rate 3000000 needs at least 4"):
        divisor_for(10e6, 3_000_000)
    with pytest.raises(ValueError, match=r"baud rate 2500000 is 4.0% off at 12 MHz \(divisor 5\)"):
        divisor_for(12e6, 2_500_000)


@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 7, 16])
def test_tx_bit_timing(divisor):
    """Every bit of every byte lasts exactly ``divisor`` cycles, LSB first, 8N1."""
    dut = UARTTx(divisor=divisor)
    data = [0x00, 0xFF, 0xA5, 0x5A, 0x01, 0x80]
    line = []

    async def feed(ctx):
        for byte in data:
            ctx.set(dut.i_data.payload, byte)
            ctx.set(dut.i_data.valid, 1)
            await ctx.tick().until(dut.i_data.ready)
        ctx.set(dut.i_data.valid, 0)
        await ctx.tick().repeat(12 * divisor)

    async def watch(ctx):
        async for _, _, tx in ctx.tick().sample(dut.tx):
            line.append(tx)

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(feed)
    sim.add_testbench(watch, background=True)
    sim.run()

    want = []
    for byte in data:
        want += [0] + [(byte >> i) & 1 for i in range(8)] + [1]
    bits = []
    i = line.index(0)
    for _ in data:
        for _ in range(10):
            chunk = line[i:i + divisor]
            assert len(set(chunk)) == 1, f"divisor {divisor}: bit at cycle {i} not steady: {chunk}"
            bits.append(chunk[0])
            i += divisor
    assert bits == want, f"divisor {divisor}"
    assert set(line[i:]) == {1}


def _loopback(divisor, seed, idle, backpressure):
    m = Module()
    m.submodules.tx = tx = UARTTx(divisor=divisor)
    m.submodules.rx = rx = UARTRx(divisor=divisor)
    m.d.comb += rx.rx.eq(tx.tx)
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(40)]
    got = []

    async def feed(ctx):
        for byte in data:
            if idle and rng.random() < 0.5:
                await ctx.tick().repeat(rng.randint(1, 3 * divisor))
            ctx.set(tx.i_data.payload, byte)
            ctx.set(tx.i_data.valid, 1)
            await ctx.tick().until(tx.i_data.ready)
            ctx.set(tx.i_data.valid, 0)

    async def drain(ctx):
        errors = 0
        while len(got) < len(data):
            # the consumer may stall, but for less than one byte time
            if backpressure and rng.random() < 0.5:
                ctx.set(rx.o_data.ready, 0)
                await ctx.tick().repeat(rng.randint(1, 8 * divisor))
            ctx.set(rx.o_data.ready, 1)
            _, _, payload, valid, err, ovr = await ctx.tick().sample(
                rx.o_data.payload, rx.o_data.valid, rx.o_frame_error, rx.o_overrun)
            errors += err + ovr
            if valid:
                got.append(payload)
        assert errors == 0

    sim = Simulator(m)
    sim.add_clock(PERIOD)
    sim.add_testbench(feed)
    sim.add_testbench(drain)
    sim.run()
    assert got == data, f"seed {seed}, divisor {divisor}"


@pytest.mark.parametrize("idle", [False, True], ids=["no-idle", "idle"])
@pytest.mark.parametrize("backpressure", [False, True], ids=["no-bp", "bp"])
@pytest.mark.parametrize("divisor", [MIN_DIVISOR, 13])
def test_loopback(divisor, idle, backpressure):
    _loopback(divisor, seed=divisor * 10 + 2 * idle + backpressure, idle=idle,
              backpressure=backpressure)


async def _send_bits(ctx, pin, byte, period_cycles, stop=1):
    """Drive one 8N1 character with a (possibly fractional) bit period."""
    bits = [0] + [(byte >> i) & 1 for i in range(8)] + [stop]
    t = 0.0
    for b in bits:
        ctx.set(pin, b)
        t_next = t + period_cycles
        await ctx.tick().repeat(max(1, round(t_next) - round(t)))
        t = t_next
    ctx.set(pin, 1)


@pytest.mark.parametrize("mismatch", [-0.03, 0.0, 0.03])
def test_rx_tolerates_baud_mismatch(mismatch):
    divisor, seed = 16, 7
    dut = UARTRx(divisor=divisor)
    rng = random.Random(seed)
    data = [rng.randrange(256) for _ in range(32)]
    got = []

    async def line(ctx):
        await ctx.tick().repeat(5)
        for byte in data:
            await _send_bits(ctx, dut.rx, byte, divisor * (1 + mismatch))
        await ctx.tick().repeat(2 * divisor)

    async def drain(ctx):
        ctx.set(dut.o_data.ready, 1)
        async for _, _, valid, payload in ctx.tick().sample(dut.o_data.valid, dut.o_data.payload):
            if valid:
                got.append(payload)

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line)
    sim.add_testbench(drain, background=True)
    sim.run()
    assert got == data, f"seed {seed}, mismatch {mismatch:+.0%}"


def test_rx_frame_error_and_overrun():
    """A 0 stop bit drops the byte and flags it; an unread byte makes the next one overrun."""
    divisor = 8
    dut = UARTRx(divisor=divisor)
    got, flags = [], {"frame": 0, "overrun": 0}

    async def line(ctx):
        ctx.set(dut.rx, 1)
        await ctx.tick().repeat(4)
        await _send_bits(ctx, dut.rx, 0x3C, divisor, stop=0)
        await ctx.tick().repeat(2 * divisor)
        await _send_bits(ctx, dut.rx, 0x42, divisor)      # received, left unread
        await _send_bits(ctx, dut.rx, 0x43, divisor)      # overruns
        await ctx.tick().repeat(2 * divisor)
        _, _, valid, payload = await ctx.tick().sample(dut.o_data.valid, dut.o_data.payload)
        got.append((valid, payload))

    async def watch(ctx):
        async for _, _, fe, ovr in ctx.tick().sample(dut.o_frame_error, dut.o_overrun):
            flags["frame"] += fe
            flags["overrun"] += ovr

    sim = Simulator(dut)
    sim.add_clock(PERIOD)
    sim.add_testbench(line)
    sim.add_testbench(watch, background=True)
    sim.run()
    assert flags == {"frame": 1, "overrun": 1}
    assert got == [(1, 0x42)]
