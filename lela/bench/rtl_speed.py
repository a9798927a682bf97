"""Section ``rtl_speed``: how fast the RTL trains in simulation, on the plan's network
(the default one; ``--quick``: the small one).

Three runs of the same training samples, in the same run of the bench:

- the per-beat cocotb testbench (:mod:`lela.sim.tb_network`, the path
  ``lela train`` took before the streaming top), the baseline;
- the streaming path of ``lela train`` (:func:`lela.sim.train.run_stream`:
  ``lela_stream`` under cocotb, the model beside it, every result compared);
- the same ``lela_stream`` as a Verilator executable of its own
  (``verilator --binary``: no cocotb, no Python), the model's free-running speed.
"""

from __future__ import annotations

import numpy as np

from lela.data import load_digits
from lela.golden_model.network import FixedNetwork

from .checks import check_equal
from .common import run_samples

__all__ = ["measure"]


def measure(ctx):
    """Samples/s and cycles/s of the three paths (see the module docstring)."""
    from lela.sim.runner import build_freerun, run_freerun
    from lela.sim.stream import read_results
    from lela.sim.train import run_stream

    cfg = ctx.cfg
    n = ctx.plan.rtl_speed_samples
    d = load_digits()
    idx = np.arange(n) % len(d.y_train)
    x, y, train = FixedNetwork(cfg).quantize(d.x_train[idx]), d.y_train[idx], np.ones(n)
    ctx.log(f"rtl_speed: {n} training samples, per-beat testbench")
    one, one_wall, _ = run_samples(ctx, cfg, "rtl-speed-1", x[:1], y[:1], np.ones(1))
    beat, beat_wall, _ = run_samples(ctx, cfg, f"rtl-speed-{n}", x, y, train)
    ctx.log("rtl_speed: the streaming path (lela train's)")
    stream = run_stream(cfg, x, y, train, build_root=ctx.sim_root, name="rtl-speed-stream",
                        measure_startup=True, log=lambda *_: None)
    cycles = stream["cycles"][-1]
    ctx.log("rtl_speed: the free-running executable")
    exe, _, free_build = build_freerun(cfg, root=ctx.sim_root)
    out = stream["results_file"].with_name("freerun.txt")
    free_s = min(run_freerun(exe, [f"+samples={stream['samples_file']}", f"+results={out}",
                                   f"+count={n}"]) for _ in range(2))
    check_equal("rtl_speed", "result lines of the free-running executable",
                read_results(out)[0], read_results(stream["results_file"])[0],
                got_name="free-running", want_name="cocotb streaming", index="sample")
    free = cycles / free_s
    stream_net = stream["run_seconds"] - stream["startup_seconds"]
    beat_net = beat_wall - one_wall
    rows = [
        {"path": "per-beat cocotb testbench (baseline)", "seconds": beat_wall,
         "samples_per_second": n / beat_wall, "cycles_per_second": beat["cycles"] / beat_wall,
         "net_cycles_per_second": (beat["cycles"] - one["cycles"]) / beat_net},
        {"path": "lela train: lela_stream under cocotb, the model beside it",
         "seconds": stream["run_seconds"], "samples_per_second": n / stream["run_seconds"],
         "cycles_per_second": cycles / stream["run_seconds"],
         "net_cycles_per_second": cycles / stream_net},
        {"path": "lela_stream, Verilator executable (free-running, no Python)",
         "seconds": free_s, "samples_per_second": n / free_s, "cycles_per_second": free,
         "net_cycles_per_second": free},
    ]
    return {"sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "samples": n,
            "cycles": int(cycles), "cycles_per_sample": cycles / n, "rows": rows,
            "startup_seconds": stream["startup_seconds"], "freerun_build_seconds": free_build,
            "stream_over_per_beat": rows[1]["samples_per_second"] / rows[0]["samples_per_second"],
            "cocotb_over_freerun": rows[1]["net_cycles_per_second"] / free}
