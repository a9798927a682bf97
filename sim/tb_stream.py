"""cocotb test of the streaming top ``lela_stream`` (:mod:`lela.sim.stream`).

The design feeds itself from the samples file and writes every result to the
results file; this test only waits, and acts at the pauses. The job's
``pauses`` list them in order, the first at ``+pause_at``: at each, once its
samples are out, the test reads the counters through the access port (if the
pause says ``counters``), writes every layer's control word ``learn`` (if it
gives ``learn``), sets the next pause and lets the stream go on. With the
job's ``counters`` it reads them at the end. The results are compared with
the model by the caller (:func:`lela.sim.stream.check_results`).

The job (JSON, path in ``$LELA_JOB``): ``config`` (the configuration as a
dict), ``pauses`` (``[{"at", "counters", "learn"}]``), ``counters`` (read the
counters at the end) and ``result`` (where the result JSON goes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cocotb
from cocotb.simtime import get_sim_time
from cocotb.triggers import ReadOnly, RisingEdge, Timer

from lela.config import Config
from lela.contract import SPACE_CONTROL, access_address, cycle_bound
from lela.sim.stream import CLOCK_NS
from lela.sim.tb_network import read_counters


async def _wait_high(signal, clk, period):
    """Return after the first rising edge of ``clk`` at which ``signal`` is 1
    (inputs may be written then). ``signal`` is looked at every ``period``
    cycles, not watched: a value callback would cost the simulator a check on
    every step."""
    while True:
        await ReadOnly()
        if signal.value == 1:
            break
        await Timer(period * CLOCK_NS, unit="ns")
    await RisingEdge(clk)


class StreamPort:
    """The access port of ``lela_stream``: one request per rise of ``acc_go``
    (what :func:`lela.sim.tb_network.read_counters` needs of a testbench)."""

    def __init__(self, dut, cfg):
        self.dut = dut
        self.cfg = cfg

    async def access(self, addr, data=0, write=0):
        """One access-port request; returns ``(data, error)``."""
        dut = self.dut
        dut.acc_addr.value = addr
        dut.acc_wdata.value = data
        dut.acc_write.value = write
        dut.acc_go.value = 1
        await _wait_high(dut.acc_done, dut.clk, 1)
        value = int(dut.acc_rdata.value), int(dut.acc_error.value)
        dut.acc_go.value = 0
        await RisingEdge(dut.clk)
        await RisingEdge(dut.clk)
        return value


@cocotb.test()
async def stream(dut):
    """Wait for the stream to end, reading the counters where the job says."""
    job = json.loads(Path(os.environ["LELA_JOB"]).read_text())
    result = {"ok": False}
    try:
        port = StreamPort(dut, Config.from_dict(job["config"]))
        period = cycle_bound(port.cfg)   # about a sample's time
        await Timer(1, unit="ns")
        counters_at = None
        pauses = job.get("pauses", [])
        for k, pause in enumerate(pauses):
            await _wait_high(dut.paused, dut.clk, period)
            if pause.get("counters"):
                counters_at = await read_counters(port)
            for i, on in enumerate(pause.get("learn") or ()):
                _, error = await port.access(access_address(i, SPACE_CONTROL), int(on), 1)
                assert not error, f"layer {i}: the control write was refused"
            dut.pause_next.value = pauses[k + 1]["at"] if k + 1 < len(pauses) else 0xFFFFFFFF
            dut.resume.value = 1
            await RisingEdge(dut.clk)
            dut.resume.value = 0
        await _wait_high(dut.done, dut.clk, period)
        cycles = get_sim_time(unit="ns") // CLOCK_NS
        counters = await read_counters(port) if job.get("counters") else None
        result.update({"ok": True, "cycles": int(cycles), "counters": counters,
                       "counters_at": counters_at})
    except AssertionError as e:
        result["error"] = str(e)
        raise
    finally:
        Path(job["result"]).write_text(json.dumps(result))
