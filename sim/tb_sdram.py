"""cocotb testbench of the LiteDRAM wrapper (``lela_sdram_tb``, see
:mod:`lela.sim.sdram`): random writes and reads through the wrapper's streams,
every read compared with a Python dict of what was written.

Python wakes once per cycle of lela's clock, at its falling edge: it counts
the transfers of the rising edge before (``valid`` and ``ready`` as they were
at the falling edge before that: nothing the testbench reads changes between a
falling and the next rising edge), then sets the next ``valid``/``payload``
and ``rdata.ready``. A source that has offered a beat keeps it until it is
taken (a stream's rule); a new beat is offered on a cycle with probability
``1 - idle``.

The job (JSON, path in ``$LELA_JOB``):

``seed``            seed of the program and of the stalls
``ops``             number of random commands
``write_fraction``  probability that a command is a write
``cmd_idle``, ``wdata_idle``  probability that a source offers nothing on a cycle
``backpressure``    probability that ``rdata.ready`` is low on a cycle
``measure``         first measure, without stalls: the latency of a lone read
                    and the cycles per command of sequential and of random-address
                    writes and reads
``flip_expected``   index of a read whose expected value is inverted (the
                    comparison's own test), or -1
``result``          where the result JSON goes

The result: ``ok``, ``error`` (the first mismatch, with the seed), ``reads``
and ``writes`` checked, ``init_ns`` (reset release to ``init_done``),
``measured`` (when asked), ``sim_ns`` and ``cycles`` of lela's clock.
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import FallingEdge, RisingEdge, SimTimeoutError, with_timeout

from lela.rtl.sdram import ADDRESS_WIDTH, DATA_WIDTH, MASK_WIDTH, WORDS

from .sdram import RESET_NS

#: Limit of the wait for ``init_done`` after reset (ns of simulated time).
INIT_TIMEOUT_NS = 5_000_000
FULL_MASK = (1 << MASK_WIDTH) - 1


def cmd_word(we, addr):
    """The ``cmd`` payload (``cmd_layout``: ``we`` in bit 0, then ``addr``)."""
    return int(we) | addr << 1


def wdata_word(data, mask):
    """The ``wdata`` payload (``wdata_layout``: ``data``, then ``we``)."""
    return data | mask << DATA_WIDTH


def merge(old, data, mask):
    """``old`` with the bytes of ``data`` that ``mask`` enables."""
    for byte in range(MASK_WIDTH):
        if mask >> byte & 1:
            lane = 0xFF << 8 * byte
            old = old & ~lane | data & lane
    return old


class Program:
    """Commands, write data and the expected reads, built against a dict of
    the memory's contents (shared by the program's phases)."""

    def __init__(self, memory):
        self.memory = memory
        self.cmds, self.wdata, self.expected = [], [], []

    def write(self, addr, data, mask=FULL_MASK):
        """A write of ``data`` with byte enables ``mask`` (all for a word's first)."""
        if addr not in self.memory:
            mask = FULL_MASK    # the model's initial contents are not ours to know
        self.memory[addr] = merge(self.memory.get(addr, 0), data, mask)
        self.cmds.append(cmd_word(1, addr))
        self.wdata.append(wdata_word(data, mask))

    def read(self, addr):
        """A read of a written word."""
        self.cmds.append(cmd_word(0, addr))
        self.expected.append((addr, self.memory[addr]))


class Streams:
    """Drives ``cmd`` and ``wdata`` and takes ``rdata`` (see the module docstring)."""

    def __init__(self, dut, rng, *, cmd_idle=0.0, wdata_idle=0.0, backpressure=0.0):
        self.dut, self.rng = dut, rng
        self.idle = {"cmd": cmd_idle, "wdata": wdata_idle}
        self.backpressure = backpressure
        self.cycles = 0

    async def run(self, program, max_cycles):
        """Send the program; return ``(reads, cmd_cycles, read_cycles)``: the
        data read and the cycle of each command's and each read's transfer."""
        dut, rng = self.dut, self.rng
        src = {"cmd": program.cmds, "wdata": program.wdata}
        sent = {"cmd": 0, "wdata": 0}
        offered = {"cmd": False, "wdata": False}
        ready = {"cmd": False, "wdata": False}
        reads, cmd_cycles, read_cycles = [], [], []
        taking, r_valid, r_data = False, False, 0
        start = self.cycles
        while (sent["cmd"] < len(src["cmd"]) or sent["wdata"] < len(src["wdata"])
               or len(reads) < len(program.expected)):
            await FallingEdge(dut.clk)
            self.cycles += 1
            if self.cycles - start > max_cycles:
                raise TimeoutError(
                    f"after {max_cycles} cycles: {sent['cmd']}/{len(src['cmd'])} commands, "
                    f"{sent['wdata']}/{len(src['wdata'])} write beats, "
                    f"{len(reads)}/{len(program.expected)} reads")
            for name in src:
                if offered[name] and ready[name]:
                    sent[name] += 1
                    offered[name] = False
                    if name == "cmd":
                        cmd_cycles.append(self.cycles)
            if taking and r_valid:
                reads.append(r_data)
                read_cycles.append(self.cycles)
            for name, beats in src.items():
                if not offered[name]:
                    offered[name] = (sent[name] < len(beats)
                                     and rng.random() >= self.idle[name])
                    if offered[name]:
                        getattr(dut, f"{name}__payload").value = beats[sent[name]]
                    getattr(dut, f"{name}__valid").value = int(offered[name])
                ready[name] = bool(getattr(dut, f"{name}__ready").value)
            taking = rng.random() >= self.backpressure
            dut.rdata__ready.value = int(taking)
            r_valid = bool(dut.rdata__valid.value)
            r_data = int(dut.rdata__payload.value) if r_valid else 0
        for name in src:
            getattr(dut, f"{name}__valid").value = 0
        dut.rdata__ready.value = 0
        return reads, cmd_cycles, read_cycles


def check(program, reads, seed, what, flip=-1):
    """Every read equal to the dict's word; AssertionError naming the first
    that is not."""
    bad = []
    for i, ((addr, want), got) in enumerate(zip(program.expected, reads, strict=True)):
        if i == flip:
            want ^= (1 << DATA_WIDTH) - 1
        if got != want:
            bad.append((i, addr, want, got))
    if bad:
        i, addr, want, got = bad[0]
        raise AssertionError(f"seed {seed}, {what}: read {i} of word {addr:#08x} gave "
                             f"{got:#06x}, expected {want:#06x} ({len(bad)} of "
                             f"{len(reads)} reads differ)")


async def measure(dut, memory, seed, period_ns):
    """Latency of a lone read and cycles per command, without stalls."""
    rng = random.Random(seed + 1)
    streams = Streams(dut, rng)
    out = {}
    # a lone read: from its command's transfer to its data's (lela's cycles)
    lat = []
    for _ in range(8):
        addr = rng.randrange(WORDS)
        prog = Program(memory)
        prog.write(addr, rng.getrandbits(DATA_WIDTH))
        await streams.run(prog, 10_000)
        for _ in range(50):                      # let the write reach the memory
            await FallingEdge(dut.clk)
        streams.cycles += 50
        prog = Program(memory)
        prog.read(addr)
        reads, cmd_c, read_c = await streams.run(prog, 10_000)
        check(prog, reads, seed, "lone read")
        lat.append(read_c[0] - cmd_c[0])
    out["read_latency_cycles"] = [min(lat), max(lat)]
    for kind in ("sequential", "random"):
        n = 512
        base = rng.randrange(WORDS - n)
        addrs = (list(range(base, base + n)) if kind == "sequential"
                 else [rng.randrange(WORDS) for _ in range(n)])
        prog = Program(memory)
        for a in addrs:
            prog.write(a, rng.getrandbits(DATA_WIDTH))
        _, cmd_c, _ = await streams.run(prog, 100_000)
        # the first writes fill the crossing FIFO; the rest go at the controller's pace
        w = (cmd_c[-1] - cmd_c[n // 4]) / (n - 1 - n // 4)
        prog = Program(memory)
        for a in addrs:
            prog.read(a)
        reads, cmd_c, read_c = await streams.run(prog, 100_000)
        check(prog, reads, seed, f"{kind} reads")
        r = (read_c[-1] - read_c[n // 4]) / (n - 1 - n // 4)
        out[f"{kind}_write_cycles"] = round(w, 3)
        out[f"{kind}_read_cycles"] = round(r, 3)
    out["lela_clock_ns"] = period_ns
    return out


def random_program(memory, rng, ops, write_fraction):
    """About ``ops`` random commands in runs: a run of writes (any byte mask)
    or of reads of written words, either to consecutive words from a random
    place (1 to 64: a layer streams its weights so, and the controller keeps
    pace with such runs, which is what fills the crossing FIFOs) or to
    scattered words (a third of the writes to words written before, half of
    the reads of the last eight written)."""
    prog = Program(memory)
    written = []
    while len(prog.cmds) < ops:
        n = min(rng.randint(1, 64), ops - len(prog.cmds))
        write = not written or rng.random() < write_fraction
        if rng.random() < 0.5:                       # consecutive words
            if write:
                base = rng.randrange(WORDS - n)
                for addr in range(base, base + n):
                    written.append(addr)
                    prog.write(addr, rng.getrandbits(DATA_WIDTH),
                               rng.randrange(1, FULL_MASK + 1))
            else:
                start = rng.randrange(len(written))
                for addr in written[start:start + n]:
                    prog.read(addr)
            continue
        for _ in range(n):                           # scattered words
            if write:
                addr = (rng.choice(written) if written and rng.random() < 1 / 3
                        else rng.randrange(WORDS))
                written.append(addr)
                prog.write(addr, rng.getrandbits(DATA_WIDTH), rng.randrange(1, FULL_MASK + 1))
            else:
                prog.read(rng.choice(written[-8:] if rng.random() < 0.5 else written))
    return prog


async def _run(dut, job, result):
    seed = job["seed"]
    assert len(dut.cmd__payload) == 1 + ADDRESS_WIDTH, len(dut.cmd__payload)
    for name in ("cmd", "wdata"):
        getattr(dut, f"{name}__valid").value = 0
    dut.rdata__ready.value = 0
    await with_timeout(RisingEdge(dut.init_done), INIT_TIMEOUT_NS, "ns")
    result["init_ns"] = get_sim_time(unit="ns") - RESET_NS
    result["init_error"] = int(dut.init_error.value)
    if result["init_error"]:
        raise AssertionError("init_error is set after init_done")
    period = job["lela_clock_ns"]
    memory = {}
    if job.get("measure"):
        result["measured"] = await measure(dut, memory, seed, period)
    rng = random.Random(seed)
    prog = random_program(memory, rng, job["ops"], job["write_fraction"])
    streams = Streams(dut, rng, cmd_idle=job["cmd_idle"], wdata_idle=job["wdata_idle"],
                      backpressure=job["backpressure"])
    t0, ns0 = time.perf_counter(), get_sim_time(unit="ns")
    reads, _, _ = await streams.run(prog, 200 * len(prog.cmds) + 10_000)
    result["random_wall_s"] = time.perf_counter() - t0
    result["random_sim_ns"] = get_sim_time(unit="ns") - ns0
    result["random_cycles"] = streams.cycles
    check(prog, reads, seed, "random traffic", job.get("flip_expected", -1))
    result["reads"], result["writes"] = len(reads), len(prog.wdata)
    result["sim_ns"] = get_sim_time(unit="ns")


@cocotb.test()
async def sdram(dut):
    """The job's traffic through the wrapper, every read checked."""
    job_path = Path(os.environ["LELA_JOB"])
    job = json.loads(job_path.read_text())
    result = {"ok": False}
    try:
        await _run(dut, job, result)
        result["ok"] = True
    except (AssertionError, TimeoutError, SimTimeoutError) as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
    Path(job["result"]).write_text(json.dumps(result))
    assert result["ok"], result["error"]
