"""Section ``simulators``: cycles per second of Amaranth's simulator, Icarus and
Verilator on the same design and samples, with the predictions of each checked
against Amaranth's."""

from __future__ import annotations

import time

import numpy as np

from lela.data import load_digits
from lela.golden_model.network import FixedNetwork

from .checks import check_equal
from .common import run_samples, sizes_text

__all__ = ["measure", "pysim_speed", "same_predictions"]


def pysim_speed(cfg, x, label):
    """Train on ``x`` in Amaranth's simulator; the testbench wakes per beat and per
    result, as the cocotb one does. Returns (cycles, run s, elaboration s, preds)."""
    from amaranth import Elaboratable, Module, Signal
    from amaranth.sim import Simulator

    from lela.rtl.top import Network

    class Counted(Elaboratable):
        def __init__(self):
            self.dut = Network(cfg, trace=True)
            self.cycles = Signal(40)

        def elaborate(self, platform):
            m = Module()
            m.submodules.dut = self.dut
            m.d.sync += self.cycles.eq(self.cycles + 1)
            return m

    t0 = time.perf_counter()
    top = Counted()
    dut = top.dut
    sim = Simulator(top)
    sim.add_clock(1e-8)
    n0, count = cfg.sizes[0], len(label)
    out = {"preds": []}

    async def wait_high(ctx, signal):
        while True:
            *_, value = await ctx.tick().sample(signal)
            if value:
                return
            if not ctx.get(signal):
                await ctx.posedge(signal)

    async def producer(ctx):
        for xs, t in zip(x, label):
            for k in range(n0):
                last = k == n0 - 1
                ctx.set(dut.i_sample.payload, {"x": int(xs[k]), "label": int(t) if last else 0,
                                               "train": 1 if last else 0})
                ctx.set(dut.i_sample.valid, 1)
                await wait_high(ctx, dut.i_sample.ready)
            ctx.set(dut.i_sample.valid, 0)

    async def consumer(ctx):
        ctx.set(dut.o_result.ready, 1)
        while len(out["preds"]) < count:
            await wait_high(ctx, dut.o_result.valid)
            payload = ctx.get(dut.o_result.payload)
            out["preds"].append([int(payload.pred[i]) for i in range(cfg.layers)])
        out["cycles"] = ctx.get(top.cycles)

    sim.add_testbench(producer, background=True)
    sim.add_testbench(consumer)
    elab = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run()
    return out["cycles"], time.perf_counter() - t0, elab, out["preds"]


def same_predictions(sim, preds, pysim_preds):
    """Whether simulator ``sim``'s per-layer predictions of the first samples
    (samples x layers) equal Amaranth pysim's ``pysim_preds``; a difference raises
    :class:`~.checks.BenchMismatch`."""
    got = np.asarray(preds)[:len(pysim_preds)]
    return check_equal("simulators", "per-layer predictions", got, pysim_preds,
                       got_name=sim, want_name="amaranth pysim", index="(sample, layer)")


def measure(ctx):
    """Cycles per second of pysim, Icarus and Verilator on the same design and samples.

    Each cocotb simulator also runs a one-sample job whose time (simulator start-up,
    cocotb, reset) is subtracted, with the golden model's time; Verilator runs more
    of the same samples (``verilator_samples``) so that its run outlasts the noise of
    its start-up. ``same_predictions`` is None when no cocotb simulator ran."""
    from lela.sim.runner import simulator_available

    cfg, plan = ctx.sim_cfg, ctx.plan
    d = load_digits()
    count = max(plan.sim_samples, plan.verilator_samples)
    idx = np.arange(count) % len(d.y_train)
    x, y = FixedNetwork(cfg).quantize(d.x_train[idx]), d.y_train[idx]
    n = plan.sim_samples
    rows = []
    ctx.log(f"simulators: {n} training samples of network {sizes_text(cfg.sizes)}, lanes "
            f"{cfg.lanes[0]}: Amaranth pysim")
    cycles, run_s, elab_s, preds = pysim_speed(cfg, x[:n], y[:n])
    check_equal("simulators", "results from amaranth pysim", len(preds), n,
                got_name="results", want_name="samples sent")
    rows.append({"simulator": "amaranth pysim", "samples": n, "cycles": int(cycles),
                 "run_seconds": run_s, "setup_seconds": elab_s,
                 "cycles_per_second": cycles / run_s, "end_to_end_cycles_per_second":
                 cycles / (run_s + elab_s), "testbench": "amaranth async testbench"})
    pysim_preds = np.array(preds)
    compared = []
    for sim, m in (("icarus", n), ("verilator", plan.verilator_samples)):
        if not simulator_available(sim):
            ctx.skip("simulators", f"{sim} (not installed)")
            continue
        ctx.log(f"simulators: {sim} (cocotb), {m} samples")
        one, one_wall, _ = run_samples(ctx, cfg, "bench-sim-1", x[:1], y[:1], np.ones(1),
                                       sim=sim)
        full, wall, build_s = run_samples(ctx, cfg, f"bench-sim-{m}", x[:m], y[:m],
                                          np.ones(m), sim=sim)
        compared.append(same_predictions(sim, full["pred"], pysim_preds))
        startup = one_wall - one["python_seconds"]
        net = (wall - full["python_seconds"]) - startup
        rows.append({"simulator": f"{sim} (cocotb)", "samples": m, "cycles": full["cycles"],
                     "run_seconds": wall, "setup_seconds": build_s,
                     "model_seconds": full["python_seconds"], "startup_seconds": startup,
                     "cycles_per_second": (full["cycles"] - one["cycles"]) / net
                     if net > 0 else None,
                     "end_to_end_cycles_per_second": full["cycles"] / wall,
                     "testbench": "cocotb 2.1 (lela.sim.tb_network)"})
        if net <= 0:
            ctx.skip("simulators", f"{sim}: net cycles/s (the run was no longer than the "
                                   "start-up; only end to end reported)")
    larger = None
    acc = ctx.report.get("accuracy")
    if acc:
        larger = {"sizes": acc["sizes"], "lanes": acc["lanes"],
                  "cycles": acc["rtl"]["simulated_cycles"],
                  "cycles_per_second": acc["rtl"]["cycles_per_second"]}
    return {"sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "samples": n, "rows": rows,
            "same_predictions": all(compared) if compared else None, "larger_design": larger}
