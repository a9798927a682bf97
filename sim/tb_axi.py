"""cocotb test of the AXI wrapper ``lela_axi`` (:mod:`lela.rtl.axi`) with
cocotbext-axi's drivers: ``AxiStreamSource`` for the samples,
``AxiStreamSink`` for the results, ``AxiLiteMaster`` for the registers and
the access-port window.

The clock is cocotb's (:class:`cocotb.clock.Clock`, ``CLOCK_NS``):
cocotbext-axi's drivers sample and drive at every rising edge of it, which is
how they are meant to run on every simulator, and they wake Python on every
cycle anyway, so a clock made in Verilog (as ``lela_tb`` has) would save
little here.

The job (JSON, path in ``$LELA_JOB``):

``config``        the :class:`lela.config.Config` as a dict
``data``          npz with ``x`` (n, N_0) quantized inputs, ``label`` (n,), ``train`` (n,)
``seed``          seed of the pause generators and of the malformed frames' contents
``input_pause``   probability that a source (``s_axis``, AW, W, AR) pauses on a cycle
``output_pause``  probability that a sink (``m_axis``, B, R) holds ``ready`` low on a cycle
``early_exit``    ``[enable, threshold]``, written to CONTROL and THRESHOLD first
``malformed``     ``[[n, beats], ...]``: before sample ``n``, a frame of ``beats``
                  beats (not ``N_0``; random values, ``train`` set) that must be dropped
``probes``        ``[{"op": "read"|"write", "addr": A, "data": D, "bytes": B}, ...]``:
                  AXI4-Lite accesses made before the samples (their responses are
                  returned; ``bytes`` < 4 makes a partial write)
``readback``      read every weight and bias back at the end
``result``        where the result JSON goes

The result: ``id``, ``info`` (every layer's INFO words), ``control``
(CONTROL and THRESHOLD read back), ``probes`` (``[resp, data]`` each),
``results`` (each result payload in hex: its words joined, low word first),
``dropped`` (DROPPED_FRAMES at the end), ``weights`` and ``biases`` (the raw
32-bit words read back, per layer). The comparison with the model is the
caller's (:func:`lela.sim.axi.run_axi`).
"""

from __future__ import annotations

import json
import os
import random
import warnings
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.simtime import get_sim_time
from cocotb.triggers import ClockCycles, SimTimeoutError, with_timeout
from cocotbext.axi import (
    AxiLiteBus,
    AxiLiteMaster,
    AxiResp,
    AxiStreamBus,
    AxiStreamFrame,
    AxiStreamSink,
    AxiStreamSource,
)

from lela.config import Config
from lela.contract import (
    AXIL_CONTROL,
    AXIL_CONTROL_EARLY_EXIT,
    AXIL_DATA_BITS,
    AXIL_DROPPED_FRAMES,
    AXIL_ID,
    AXIL_THRESHOLD,
    INFO,
    SPACE_B,
    SPACE_INFO,
    SPACE_W,
    axil_window,
    axil_window_address,
    cycle_bound,
    label_bits,
)
from lela.golden_model.network import initial_weights
from lela.sim.stream import CLOCK_NS

# cocotbext-axi 0.1.28 still calls what cocotb 2 deprecates (setimmediatevalue,
# Task.kill, Edge, Event.data): its own business, not this testbench's
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"cocotbext\.axi\.")

#: Cycles reset is held after time 0.
RESET_CYCLES = 4
WORD_BYTES = AXIL_DATA_BITS // 8


def _pauses(seed, name, probability):
    """A seeded pause generator: True (pause) on a cycle with ``probability``."""
    rng = random.Random(f"{seed}/{name}")
    while True:
        yield rng.random() < probability


class AxiBench:
    """cocotbext-axi's drivers on ``lela_axi``, and the job's sequence."""

    def __init__(self, dut, job):
        self.dut, self.job = dut, job
        self.cfg = Config.from_dict(job["config"])
        self.seed = job.get("seed", 0)
        self.source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst,
                                      byte_lanes=1)     # one input value per beat
        self.sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axil"), dut.clk, dut.rst)
        # generous: a sample's cycle bound, its frame, and every pause, many times
        # over; a result or an AXI4-Lite response later than this is a failure
        self.limit = 20 * (cycle_bound(self.cfg) + 4 * self.cfg.sizes[0] + 64)
        p_in, p_out = job.get("input_pause", 0.0), job.get("output_pause", 0.0)
        w, r = self.master.write_if, self.master.read_if
        for name, driver, p in (("s_axis", self.source, p_in), ("aw", w.aw_channel, p_in),
                                ("w", w.w_channel, p_in), ("ar", r.ar_channel, p_in),
                                ("m_axis", self.sink, p_out), ("b", w.b_channel, p_out),
                                ("r", r.r_channel, p_out)):
            if p:
                driver.set_pause_generator(_pauses(self.seed, name, p))

    def window(self, layer, space, index=0):
        """AXI4-Lite address of an access-port word."""
        return axil_window_address(self.cfg.layers, layer, space, index)

    async def bounded(self, coro, what):
        """Await ``coro`` for at most ``limit`` cycles."""
        try:
            return await with_timeout(coro, self.limit * CLOCK_NS, "ns")
        except SimTimeoutError:
            raise AssertionError(f"seed {self.seed}: {what} within {self.limit} "
                                 f"cycles") from None

    async def read(self, addr):
        """One AXI4-Lite read: ``(data, resp)``."""
        what = f"no answer to the AXI4-Lite read of {addr:#x}"
        if addr & axil_window(self.cfg.layers):
            what += " (the window waits while a sample is in flight: is one stuck?)"
        rsp = await self.bounded(self.master.read(addr, WORD_BYTES), what)
        return int.from_bytes(rsp.data, "little"), int(rsp.resp)

    async def write(self, addr, value, nbytes=WORD_BYTES):
        """One AXI4-Lite write of ``nbytes`` bytes of ``value`` at ``addr``: resp."""
        data = int(value).to_bytes(WORD_BYTES, "little")[:nbytes]
        rsp = await self.bounded(self.master.write(addr, data),
                                 f"no answer to the AXI4-Lite write of {addr:#x}")
        return int(rsp.resp)

    async def read_ok(self, addr, what):
        """:meth:`read`, which must answer OKAY; the data."""
        data, resp = await self.read(addr)
        assert resp == AxiResp.OKAY, f"seed {self.seed}: reading {what} returned resp {resp}"
        return data

    async def write_ok(self, addr, value, what):
        """:meth:`write`, which must answer OKAY."""
        resp = await self.write(addr, value)
        assert resp == AxiResp.OKAY, f"seed {self.seed}: writing {what} returned resp {resp}"

    def frames(self, x, label, train):
        """The frames to send, in order: every sample, and the malformed ones."""
        n0, lb = self.cfg.sizes[0], label_bits(self.cfg.classes)
        mask = (1 << len(self.dut.s_axis_tdata)) - 1
        bad = {}
        for n, beats in self.job.get("malformed", []):
            bad.setdefault(n, []).append(beats)
        rng = np.random.default_rng([self.seed, 1])
        out = []
        for n in range(len(label) + 1):
            for beats in bad.get(n, []):
                assert beats != n0, f"a malformed frame of {beats} beats is a good one"
                values = rng.integers(-(1 << (self.cfg.act_width - 1)),
                                      1 << (self.cfg.act_width - 1), size=beats)
                out.append(AxiStreamFrame([int(v) & mask for v in values],
                                          tuser=int(rng.integers(self.cfg.classes)) | 1 << lb))
            if n < len(label):
                out.append(AxiStreamFrame([int(v) & mask for v in x[n]],
                                          tuser=int(label[n]) | int(train[n]) << lb))
        return out

    async def read_layer(self, i):
        """Layer ``i``'s weights and biases through the window, raw words."""
        n_in, n_out = self.cfg.sizes[i], self.cfg.sizes[i + 1]
        w = [await self.read_ok(self.window(i, SPACE_W, k), f"layer {i} W[{k}]")
             for k in range(n_in * n_out)]
        b = [await self.read_ok(self.window(i, SPACE_B, j), f"layer {i} b[{j}]")
             for j in range(n_out)]
        return w, b

    async def run(self, result):
        """Reset, registers, probes, the frames, the results, the read-back
        (see the module docstring), into the dict ``result``."""
        dut, job, cfg = self.dut, self.job, self.cfg
        dut.rst.value = 1
        Clock(dut.clk, CLOCK_NS, unit="ns").start()
        await ClockCycles(dut.clk, RESET_CYCLES)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)

        result["id"] = await self.read_ok(AXIL_ID, "ID")
        result["info"] = [[await self.read_ok(self.window(i, SPACE_INFO, k), f"layer {i} {name}")
                           for k, name in enumerate(INFO)] for i in range(cfg.layers)]
        enable, threshold = job.get("early_exit", [0, 0])
        await self.write_ok(AXIL_CONTROL, AXIL_CONTROL_EARLY_EXIT if enable else 0, "CONTROL")
        await self.write_ok(AXIL_THRESHOLD, threshold, "THRESHOLD")
        result["control"] = [await self.read_ok(AXIL_CONTROL, "CONTROL"),
                             await self.read_ok(AXIL_THRESHOLD, "THRESHOLD")]
        probes = []
        for p in job.get("probes", []):
            if p["op"] == "read":
                data, resp = await self.read(p["addr"])
            else:
                data, resp = None, await self.write(p["addr"], p.get("data", 0),
                                                    p.get("bytes", WORD_BYTES))
            probes.append([resp, data])
        result["probes"] = probes
        if not cfg.memory.initial_contents:
            # no initial contents: the model's initial weights go in first
            for i, (w, b) in enumerate(initial_weights(cfg)):
                mask = (1 << AXIL_DATA_BITS) - 1
                for k, v in enumerate(w.reshape(-1)):
                    await self.write_ok(self.window(i, SPACE_W, k), int(v) & mask, f"W[{k}]")
                for j, v in enumerate(b):
                    await self.write_ok(self.window(i, SPACE_B, j), int(v) & mask, f"b[{j}]")

        d = np.load(job["data"])
        x, label, train = d["x"], d["label"], d["train"]
        start = get_sim_time(unit="ns")
        for frame in self.frames(x, label, train):
            await self.source.send(frame)
        payloads = []
        for n in range(len(label)):
            frame = await self.bounded(self.sink.recv(), f"no result for sample {n}")
            payloads.append(format(int.from_bytes(bytes(frame.tdata), "little"), "x"))
        result["results"] = payloads
        result["cycles"] = int((get_sim_time(unit="ns") - start) // CLOCK_NS)
        # a frame that should have been dropped would come out as one more result
        await ClockCycles(dut.clk, 2 * cycle_bound(cfg) + 4 * cfg.sizes[0])
        result["dropped"] = await self.read_ok(AXIL_DROPPED_FRAMES, "DROPPED_FRAMES")
        if job.get("readback"):
            layers = [await self.read_layer(i) for i in range(cfg.layers)]
            result["weights"] = [w for w, _ in layers]
            result["biases"] = [b for _, b in layers]
        assert self.sink.empty(), (f"seed {self.seed}: {self.sink.count()} more result(s) "
                                   f"than the {len(label)} samples")


@cocotb.test()
async def axi(dut):
    """Drive ``lela_axi`` as the job says and record what comes back."""
    job = json.loads(Path(os.environ["LELA_JOB"]).read_text())
    result = {"ok": False}
    try:
        await AxiBench(dut, job).run(result)
        result["ok"] = True
    except AssertionError as e:
        result["error"] = str(e)
        raise
    finally:
        Path(job["result"]).write_text(json.dumps(result))
