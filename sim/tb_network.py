"""cocotb testbench of the network top, checked against the fixed-point model.

The design runs free; Python talks to it per beat on the input stream and per
sample on the output stream (never per idle cycle), which is what makes
epochs of training affordable in Verilator.

The job (JSON, path in ``$LELA_JOB``) says what to do:

``config``          the :class:`lela.config.Config` as a dict
``data``            npz with ``x`` (n, N_0) quantized inputs, ``label`` (n,),
                    ``train`` (n,) 0/1
``seed``            seed of the random idle / backpressure / reset timing
``idle``            probability that the producer inserts idle cycles before a beat
``backpressure``    probability that the consumer holds ``ready`` low on a result
``check_every``     compare results with the model every N samples (the model
                    still steps on every sample); 1 = every sample
``early_exit``      ``[enable, threshold]`` for inference samples
``reset_at``        sample indices at which reset is asserted mid-sample: after
                    half its beats and a random wait of up to ``B`` cycles
                    (``lela.contract.cycle_bound``), so that it can fall in
                    any phase of the samples in flight
``readback``        true: read every weight and bias back at the end and compare
``counters``        true: compare the per-layer counters with the analytic model
``progress``        true: a progress bar on stderr
``result``          where the result JSON goes

Every comparison is exact. A mismatch message names the seed, the sample,
the layer, the field and the first differing index.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sys
import time
from pathlib import Path

import cocotb
import numpy as np
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, ReadOnly, RisingEdge, Timer

from lela.config import Config
from lela.contract import (
    ACCESS_DATA_BITS,
    COUNTER_HIGH,
    COUNTERS,
    SPACE_B,
    SPACE_COUNTERS,
    SPACE_W,
    access_address,
    cycle_bound,
)
from lela.golden_model.counters import layer_modes, totals
from lela.golden_model.network import FixedNetwork, initial_weights, update_order
from lela.sim.stream import CLOCK_NS, Mismatch, compare


def _first_diff(got, want):
    got, want = np.asarray(got), np.asarray(want)
    idx = int(np.flatnonzero(got.reshape(-1) != want.reshape(-1))[0])
    return idx, got.reshape(-1)[idx], want.reshape(-1)[idx]


class Port:
    """Handshakes with the design and its access port (``cfg``: the
    :class:`~lela.config.Config` it was built from)."""

    def __init__(self, dut, cfg):
        self.dut = dut
        self.cfg = cfg

    async def transfer(self, signal, payload=None):
        """Return just after the rising edge at which ``signal`` is 1 (the
        caller holds the other side of the handshake at 1), with the value of
        ``payload`` at that edge. Values are read in the read-only phase, when
        the time step has settled: ``lela_tb`` makes its clock in the design,
        and what a read in a ``RisingEdge(clk)`` callback sees differs between
        simulators (Verilator: after the edge's updates, Icarus: before).
        Python wakes on the edges of ``signal``, not on every cycle."""
        while True:
            await ReadOnly()
            if signal.value == 1:
                break
            await RisingEdge(signal)
        value = payload.value if payload is not None else None
        await RisingEdge(self.dut.clk)
        return value

    async def access(self, addr, data=0, write=0):
        """One access-port request; returns ``(data, error)``."""
        dut = self.dut
        dut.i_acc__payload.value = (addr | (data << ACCESS_DATA_BITS)
                                    | (write << 2 * ACCESS_DATA_BITS))
        dut.i_acc__valid.value = 1
        await self.transfer(dut.i_acc__ready)
        dut.i_acc__valid.value = 0
        dut.o_acc__ready.value = 1
        raw = int(await self.transfer(dut.o_acc__valid, dut.o_acc__payload))
        return raw & ((1 << ACCESS_DATA_BITS) - 1), (raw >> ACCESS_DATA_BITS) & 1


class Bench(Port):
    """The testbench of one job: drives the design, steps the model, compares."""

    def __init__(self, dut, job):
        super().__init__(dut, Config.from_dict(job["config"]))
        self.job = job
        self.seed = job.get("seed", 0)
        self.rng = random.Random(self.seed)
        d = np.load(job["data"])
        self.x, self.label, self.train = d["x"], d["label"], d["train"]
        self.model = FixedNetwork(self.cfg)
        from lela.rtl.top import Network
        sig = Network(self.cfg, trace=job.get("trace", True)).signature
        self.in_layout = sig.members["i_sample"].signature.members["payload"].shape
        self.out_layout = sig.members["o_result"].signature.members["payload"].shape
        self.trace = "scores" in dict(self.out_layout)
        self.expected = {}       # sample index -> the model's NetworkStep for it
        self.results = {}        # sample index -> decoded result
        self.out_times = []
        self.history = [self.snapshot()]  # model weights before and after each fed training sample
        self.pending = []        # sample indices fed, result not yet seen, in order
        self.check_every = max(1, int(job.get("check_every", 1)))
        self.n_checked = 0
        self.python_s = 0.0  # time spent in the model and the comparisons
        self.reset_states = []  # what each layer held after each mid-sample reset

    # -- model side ------------------------------------------------------
    def model_step(self, n):
        """Step the model with sample ``n`` as the design takes it; keep the
        expected result beat (``FixedNetwork.step``) for :meth:`compare`."""
        x, t, train = self.x[n], int(self.label[n]), bool(self.train[n])
        enable, threshold = self.job.get("early_exit", [0, 0])
        self.expected[n] = self.model.step(x, t, train=train, early_exit=bool(enable),
                                           threshold=int(threshold))
        if train:
            self.history.append(self.snapshot())
            del self.history[:-(self.cfg.layers + 5)]

    def compare(self, n, got):
        """Raise :class:`Mismatch` unless result ``got`` of sample ``n`` is the model's."""
        step = self.expected.pop(n)
        self.n_checked += 1
        if self.n_checked % self.check_every and not self.job.get("final_check_all"):
            return
        # digests computed only for the checked ones
        compare(self.cfg, got, step.result(trace=self.trace), f"seed {self.seed}, sample {n}")

    # -- design side -----------------------------------------------------
    def resolved(self, value, n):
        """``value`` as an int; an X or Z bit is a mismatch naming its field."""
        text = str(value)
        if set(text) <= {"0", "1"}:
            return int(text, 2)
        width = len(text)
        bad = [width - 1 - i for i, ch in enumerate(text) if ch not in "01"]
        fields = sorted({name for name, f in dict(self.out_layout).items()
                         for b in bad if f.offset <= b < f.offset + f.width})
        if os.environ.get("LELA_DEBUG"):
            print("X payload", text, file=sys.stderr)
        raise Mismatch(f"seed {self.seed}, sample {n}: result bits {min(bad)}..{max(bad)} "
                       f"({', '.join(fields)}) are X/Z")

    def decode(self, raw):
        """A result beat's bits as a dict (``pred``, ``exit``, ``label``, ``train``, ...)."""
        v = self.out_layout.from_bits(raw)
        out = {"pred": [int(v.pred[i]) for i in range(self.cfg.layers)],
               "exit": int(v.exit), "label": int(v.label), "train": int(v.train)}
        if self.trace:
            out["scores"] = [[int(v.scores[i][c]) for c in range(self.cfg.classes)]
                             for i in range(self.cfg.layers)]
            out["digest"] = [int(v.digest[i]) for i in range(self.cfg.layers)]
        return out

    async def reset(self, cycles=3):
        """Assert reset for ``cycles`` clock cycles."""
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    async def drive(self, indices, stop):
        """Feed the samples ``indices`` (idle cycles, mid-sample resets as the job
        says) until done or ``stop()``."""
        dut, job = self.dut, self.job
        idle, resets = job.get("idle", 0.0), set(job.get("reset_at", []))
        n0 = self.cfg.sizes[0]
        pos = 0
        while pos < len(indices) and not stop():
            n = indices[pos]
            t0 = time.perf_counter()
            self.model_step(n)
            self.python_s += time.perf_counter() - t0
            self.pending.append(n)
            interrupted = False
            for k in range(n0):
                if idle and self.rng.random() < idle:
                    dut.i_sample__valid.value = 0
                    await ClockCycles(dut.clk, self.rng.randint(1, 8))
                if n in resets and k == n0 // 2:
                    resets.discard(n)
                    dut.i_sample__valid.value = 0
                    await ClockCycles(dut.clk, self.rng.randint(1, cycle_bound(self.cfg)))
                    first = self.pending[0]  # the samples in flight are fed again
                    await self.after_reset(n)
                    pos = indices.index(first)
                    interrupted = True
                    break
                last = k == n0 - 1
                dut.i_sample__payload.value = self.in_layout.const({
                    "x": int(self.x[n, k]), "label": int(self.label[n]) if last else 0,
                    "train": int(self.train[n]) if last else 0}).as_bits()
                dut.i_sample__valid.value = 1
                await self.transfer(dut.i_sample__ready)
            dut.i_sample__valid.value = 0
            if not interrupted:
                pos += 1

    async def monitor(self, total):
        """Take ``total`` result beats (with the job's backpressure) and compare each."""
        dut = self.dut
        bp = self.job.get("backpressure", 0.0)
        bar = None
        if self.job.get("progress"):
            from tqdm import tqdm
            bar = tqdm(total=total, unit="sample", file=sys.stderr, mininterval=1.0,
                       dynamic_ncols=True)
        try:
            while len(self.results) < total:
                if dut.o_result__valid.value != 1:
                    await RisingEdge(dut.o_result__valid)
                if bp and self.rng.random() < bp:
                    dut.o_result__ready.value = 0
                    await ClockCycles(dut.clk, self.rng.randint(1, 16))
                    dut.o_result__ready.value = 1
                raw = await self.transfer(dut.o_result__valid, dut.o_result__payload)
                # handshake at this edge: valid and ready were both 1
                self.out_times.append(get_sim_time(unit="ns") // CLOCK_NS)
                t0 = time.perf_counter()
                n = self.pending.pop(0)
                got = self.decode(self.resolved(raw, n))
                self.results[n] = got
                self.compare(n, got)
                self.python_s += time.perf_counter() - t0
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()

    async def read_layer(self, i):
        """Layer ``i``'s ``(W, b)`` read through the access port."""
        n_in, n_out = self.cfg.sizes[i], self.cfg.sizes[i + 1]
        w = np.zeros(n_in * n_out, dtype=np.int64)
        for idx in range(n_in * n_out):
            w[idx], err = await self.access(access_address(i, SPACE_W, idx))
            assert not err, f"layer {i}: reading W[{idx}] returned an error"
        b = np.zeros(n_out, dtype=np.int64)
        for j in range(n_out):
            b[j], err = await self.access(access_address(i, SPACE_B, j))
            assert not err, f"layer {i}: reading b[{j}] returned an error"
        sign = 1 << (self.cfg.weight_width - 1)
        fix = lambda v: ((v & ((1 << self.cfg.weight_width) - 1)) ^ sign) - sign
        return fix(w).reshape(n_out, n_in), fix(b)

    async def check_weights(self, where):
        """Every layer's weights and biases read back equal the model's."""
        for i in range(self.cfg.layers):
            w, b = await self.read_layer(i)
            for name, got, want in (("W", w, self.model.w[i]), ("b", b, self.model.b[i])):
                if not np.array_equal(got, want):
                    idx, g, e = _first_diff(got, want)
                    raise Mismatch(f"seed {self.seed}, {where}, layer {i}: {name} flat index "
                                   f"{idx} is {g}, model says {e}")

    async def preload(self, path):
        """Write the weights and biases of ``path`` (npz: w0, b0, w1, ...) through
        the access port and into the model."""
        d = np.load(path)
        await self.load([(d[f"w{i}"], d[f"b{i}"]) for i in range(self.cfg.layers)])

    async def load(self, weights):
        """Write ``[(w, b), ...]`` through the access port and into the model."""
        mask = (1 << ACCESS_DATA_BITS) - 1
        for i, (w, b) in enumerate(weights):
            w, b = np.asarray(w, dtype=np.int64), np.asarray(b, dtype=np.int64)
            for idx, v in enumerate(w.reshape(-1)):
                _, err = await self.access(access_address(i, SPACE_W, idx), int(v) & mask, 1)
                assert not err, f"layer {i}: writing W[{idx}] returned an error"
            for j, v in enumerate(b):
                _, err = await self.access(access_address(i, SPACE_B, j), int(v) & mask, 1)
                assert not err, f"layer {i}: writing b[{j}] returned an error"
            self.model.w[i], self.model.b[i] = w.copy(), b.copy()
        self.history = [self.snapshot()]

    async def after_reset(self, n):
        """Reset mid-sample ``n``. Every layer must then hold the weights of
        one model state or a prefix of one update between two consecutive
        states (in update order: the first words new, the rest old). The model
        adopts what the design holds, and the samples in flight are fed again."""
        await self.reset()
        self.pending.clear()
        self.expected.clear()
        states = self.history
        for i in range(self.cfg.layers):
            w, b = await self.read_layer(i)
            exact = any(np.array_equal(w, s[i][0]) and np.array_equal(b, s[i][1])
                        for s in states)
            mixed = any(_prefix_mix(w, b, old[i], new[i], self.cfg.lanes[i])
                        for old, new in itertools.pairwise(states))
            if not (exact or mixed):
                raise Mismatch(f"seed {self.seed}, reset in sample {n}, layer {i}: the weights "
                               f"are neither a model state nor a prefix of one update")
            self.reset_states.append("state" if exact else "partial update")
            self.model.w[i], self.model.b[i] = w, b
        self.history = [self.snapshot()]

    def snapshot(self):
        """A copy of the model's weights and biases."""
        return [(w.copy(), b.copy()) for w, b in zip(self.model.w, self.model.b)]


def _prefix_mix(w, b, old, new, lanes):
    def ok(got, o, n):
        got, o, n = (np.asarray(a).reshape(-1) for a in (got, o, n))
        bad_new = np.flatnonzero(got != n)
        bad_old = np.flatnonzero(got != o)
        if len(np.flatnonzero((got != n) & (got != o))):
            return False
        return not len(bad_new) or not len(bad_old) or bad_old.max() < bad_new.min()
    return (ok(update_order(w, lanes), update_order(old[0], lanes), update_order(new[0], lanes))
            and ok(b, old[1], new[1]))


@cocotb.test()
async def network(dut):
    """Stream the job's samples through the top and compare everything with the model."""
    job = json.loads(Path(os.environ["LELA_JOB"]).read_text())
    result = {"ok": False}
    try:
        bench = Bench(dut, job)
        # every input driven (no X) and reset asserted before the first clock edge
        dut.rst.value = 1
        for port in ("i_sample__valid", "i_sample__payload", "i_acc__valid", "i_acc__payload",
                     "o_acc__ready"):
            getattr(dut, port).value = 0
        dut.o_result__ready.value = 1
        enable, threshold = job.get("early_exit", [0, 0])
        dut.early_exit.value = int(enable)
        dut.threshold.value = int(threshold)
        await Timer(1, unit="ns")    # the design makes its clock (lela_tb, sim/runner.py)
        await bench.reset()
        if job.get("preload"):
            await bench.preload(job["preload"])
        elif not bench.cfg.memory.initial_contents:
            # no initial contents: the model's initial weights go in first
            await bench.load(initial_weights(bench.cfg))
        start = get_sim_time(unit="ns") // CLOCK_NS
        indices = list(range(len(bench.label)))
        failed = []
        driver = cocotb.start_soon(bench.drive(indices, stop=lambda: bool(failed)))
        try:
            await bench.monitor(len(indices))
        except AssertionError:
            failed.append(True)
            raise
        await driver
        end = get_sim_time(unit="ns") // CLOCK_NS
        if job.get("readback"):
            await bench.check_weights("after the last sample")
        counters = None
        if job.get("counters"):
            counters = await read_counters(bench)
            if not job.get("reset_at"):
                check_counters(bench, counters, indices)
        t = np.diff(bench.out_times)
        steady = t[len(t) // 2:] if len(t) > 4 else t
        result.update({
            "ok": True, "samples": len(indices), "cycles": int(end - start),
            "cycles_per_sample_steady": float(np.median(steady)) if len(steady) else None,
            "pred": [bench.results[n]["pred"] for n in indices],
            "exit": [bench.results[n]["exit"] for n in indices],
            "python_seconds": bench.python_s, "reset_states": bench.reset_states,
            "counters": counters, "out_cycles": [int(t) - start for t in bench.out_times]})
    except AssertionError as e:
        result["error"] = str(e)
        raise
    finally:
        Path(job["result"]).write_text(json.dumps(result))


async def read_counters(bench):
    """Every layer's counters through the access port (bits 31..0 of counter
    ``c`` at index ``c``, the bits above at ``c + COUNTER_HIGH``)."""
    out = []
    for i in range(bench.cfg.layers):
        row = {}
        for c, name in enumerate(COUNTERS):
            lo, err_lo = await bench.access(access_address(i, SPACE_COUNTERS, c))
            hi, err_hi = await bench.access(access_address(i, SPACE_COUNTERS, c + COUNTER_HIGH))
            assert not (err_lo or err_hi), f"layer {i}: reading counter {name} returned an error"
            row[name] = hi << ACCESS_DATA_BITS | lo
        out.append(row)
    return out


def check_counters(bench, counters, indices):
    """The counters equal the analytic model for the samples seen (from reset)."""
    modes = [layer_modes(bench.cfg, bool(bench.train[n]),
                         bench.results[n]["exit"] if not bench.train[n] else None)
             for n in indices]
    want = totals(bench.cfg, modes)
    for i, (got_row, want_row) in enumerate(zip(counters, want)):
        for name, value in want_row.items():
            if got_row[name] != value:
                raise Mismatch(f"seed {bench.seed}, after {len(indices)} samples, layer {i}: "
                               f"counter {name} is {got_row[name]}, the model says {value}")
