"""Transports of the host link: the bytes between the host driver and a board.

A transport has ``write(data)``, ``read(n)`` (exactly ``n`` bytes or
:class:`TransportTimeout`) and ``close()``. :class:`SerialTransport` talks
to a real board's USB-UART through pyserial; :class:`SimTransport` runs the
host link and the network core in Amaranth's simulator;
``lela.host.verilated.VerilatorTransport`` runs them compiled with
Verilator.
"""

from __future__ import annotations

import collections

from lela.boards.hostlink import RESULT_DEPTH
from lela.boards.system import LinkedCore
from lela.config import ConfigError

__all__ = ["ProtocolError", "SerialTransport", "SimTransport", "TransportError",
           "TransportTimeout"]


class TransportError(Exception):
    """The transport cannot be opened (a serial port that does not exist or is busy)."""


class ProtocolError(Exception):
    """The host received something that is not a valid response frame."""


class TransportTimeout(ProtocolError):
    """The board did not answer in time."""



class SerialTransport:
    """A real board's USB-UART, through pyserial (a device path, or any
    pyserial URL such as ``socket://host:port`` or ``loop://``)."""

    def __init__(self, port, *, baud=115200, timeout=5.0):
        import serial
        try:
            self._serial = serial.serial_for_url(port, baudrate=baud, timeout=timeout)
        except (serial.SerialException, ValueError) as e:
            raise TransportError(f"cannot open the serial port {port!r}: {e}") from None
        self._serial.reset_input_buffer()

    def write(self, data):
        """Send ``data`` to the board."""
        self._serial.write(data)

    def read(self, n):
        """Exactly ``n`` bytes from the board, or :class:`TransportTimeout`."""
        data = self._serial.read(n)
        if len(data) < n:
            raise TransportTimeout(f"the board sent {len(data)} of {n} bytes before the timeout")
        return data

    def close(self):
        """Close the port."""
        self._serial.close()


class SimTransport:
    """The board in Amaranth's simulator: host link + network core.

    Bytes go straight into the link's byte stream, one per clock cycle: the
    UART is bypassed (its bit timing would make every byte cost ~10 x divisor
    cycles of pure waiting; the UART has its own tests, and
    ``tests/boards/test_system.py`` runs a frame through it). Between bytes the
    design runs free; Python wakes only per byte and when the link answers.

    Parameters
    ----------
    cfg : lela.config.Config
    core : wiring.Component or None
        The core; by default ``lela.rtl.top.Network(cfg, trace=False)``.
    link_timeout : int
        The link's inter-byte timeout, in cycles.
    max_cycles : int
        Cycles a read may wait for the board before :class:`TransportTimeout`.
    """

    PERIOD = 1e-6
    #: cycles between looks at the host's queue when it is empty
    POLL = 8
    #: cycles simulated per step while the host waits for bytes
    STEP = 256

    def __init__(self, cfg, *, core=None, link_timeout=4096, max_cycles=10_000_000,
                 result_depth=None, max_payload=None, stalls=None):
        from amaranth.sim import Simulator

        if cfg.primitives != "portable":
            raise ConfigError(f"primitives: Amaranth's simulator runs the portable form only "
                              f"(vendor primitives are instances; simulate them with "
                              f"Verilator), not {cfg.primitives!r}")
        self.dut = dut = LinkedCore(cfg, timeout=link_timeout, core=core,
                                    result_depth=result_depth or RESULT_DEPTH,
                                    max_payload=max_payload)
        self.max_cycles = max_cycles
        self.cycles = 0
        if stalls is None:
            self._idle, self._backpressure, self._rng = 0.0, 0.0, None
        else:
            import random
            self._idle, self._backpressure, seed = stalls
            self._rng = random.Random(seed)
        self._closed = False
        self._to_board = collections.deque()
        self._from_board = bytearray()
        self._sim = Simulator(dut)
        self._sim.add_clock(self.PERIOD)
        self._sim.add_testbench(self._feed, background=True)
        self._sim.add_testbench(self._collect, background=True)

    async def _feed(self, ctx):
        rx, rng = self.dut.i_rx, self._rng
        while not self._closed:
            if self._to_board:
                if self._idle and rng.random() < self._idle:
                    ctx.set(rx.valid, 0)
                    await ctx.tick().repeat(rng.randint(1, 8))
                ctx.set(rx.payload, self._to_board[0])
                ctx.set(rx.valid, 1)
                await ctx.tick().until(rx.ready)
                self._to_board.popleft()
                if not self._to_board:
                    ctx.set(rx.valid, 0)
            else:
                await ctx.tick().repeat(self.POLL)

    async def _collect(self, ctx):
        from amaranth.sim import BrokenTrigger

        tx, rng = self.dut.o_tx, self._rng
        ctx.set(tx.ready, 1)
        while not self._closed:
            if not ctx.get(tx.valid):
                # sleep until the link talks (the design runs free meanwhile); wake
                # now and then to notice close()
                try:
                    await ctx.posedge(tx.valid).delay(self.STEP * self.PERIOD)
                except BrokenTrigger:
                    pass  # both fired in one step: look again
                continue
            if self._backpressure and rng.random() < self._backpressure:
                ctx.set(tx.ready, 0)
                await ctx.tick().repeat(rng.randint(1, 8))
                ctx.set(tx.ready, 1)
            _, _, valid, payload = await ctx.tick().sample(tx.valid, tx.payload)
            if valid:
                self._from_board.append(payload)

    def _step(self, cycles):
        self.cycles += cycles
        self._sim.run_until(self.cycles * self.PERIOD)

    def write(self, data):
        """Queue ``data`` for the board's byte stream."""
        self._to_board.extend(data)

    def read(self, n):
        """Run the design until ``n`` bytes came back (or :class:`TransportTimeout`)."""
        waited = 0
        while len(self._from_board) < n:
            if waited >= self.max_cycles:
                raise TransportTimeout(f"the simulated board sent {len(self._from_board)} of "
                                       f"{n} bytes in {waited} cycles")
            self._step(self.STEP)
            waited += self.STEP
        data = bytes(self._from_board[:n])
        del self._from_board[:n]
        return data

    def idle(self, cycles):
        """Let the board run ``cycles`` cycles with nothing sent."""
        self._step(cycles)

    def close(self):
        """End the testbenches (they return within a few steps)."""
        if not self._closed:
            self._closed = True
            self._step(2 * self.STEP)
