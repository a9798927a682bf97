"""The AXI wrapper ``lela_axi`` in simulation, checked against the fixed-point model.

:func:`run_axi` builds ``lela_axi`` (:mod:`lela.rtl.axi`) for a simulator,
runs the cocotbext-axi testbench :mod:`lela.sim.tb_axi` on it (samples in
through an ``AxiStreamSource``, results out through an ``AxiStreamSink``,
registers and weights through an ``AxiLiteMaster``, each with the job's
seeded pauses), then compares every result with the model's
(:func:`lela.sim.stream.check_results`: each result's words joined, low word
first, are the core's result payload) and every weight and bias read back
with the model's after the same samples (:func:`check_weights`). A mismatch
names the seed, the sample or the layer, and the index.
"""

from __future__ import annotations

import time

import numpy as np

from lela.golden_model.network import FixedNetwork
from lela.rtl.generate import AXI_TOP_NAME

from .runner import build, run_job
from .stream import Mismatch, check_results, decode_results, expected_results

__all__ = ["AXI_TOP", "check_weights", "result_manifest", "run_axi"]

#: The simulated top: the generated ``lela_axi`` itself (cocotb drives its clock).
AXI_TOP = AXI_TOP_NAME


def result_manifest(manifest):
    """What :func:`lela.sim.stream.decode_results` needs of a manifest, for
    ``lela_axi``'s results: the result payload's layout (``streams.m_axis``)
    as the ``o_result__payload`` port of the core."""
    out = manifest["streams"]["m_axis"]
    return {"ports": [{"name": "o_result__payload", "width": out["payload_width"],
                       "layout": out["payload"]}]}


def check_weights(cfg, weights, biases, model, *, seed=0):
    """Raise :class:`~lela.sim.stream.Mismatch` at the first weight or bias
    read back (raw 32-bit words, per layer, in access-port index order) that
    differs from ``model``'s, naming the seed, the layer and the index."""
    ww = cfg.weight_width
    sign = 1 << (ww - 1)
    for i in range(cfg.layers):
        for name, got, want in (("W", weights[i], model.w[i]), ("b", biases[i], model.b[i])):
            got = ((np.asarray(got, dtype=np.int64) & ((1 << ww) - 1)) ^ sign) - sign
            want = np.asarray(want).reshape(-1)
            if got.shape != want.shape:
                raise Mismatch(f"seed {seed}, layer {i}: {len(got)} {name} words read back, "
                               f"the model has {len(want)}")
            bad = np.flatnonzero(got != want)
            if len(bad):
                k = int(bad[0])
                raise Mismatch(f"seed {seed}, after the last sample, layer {i}: {name} index "
                               f"{k} is {got[k]}, model says {want[k]}")


def run_axi(cfg, x, label, train, *, sim="verilator", seed=0, input_pause=0.0,
            output_pause=0.0, early_exit=(0, 0), malformed=(), probes=(), readback=True,
            trace=True, build_root="build/sim", name="axi", waves=False):
    """Run the samples ``x`` (quantized, ``(n, N_0)``) with ``label`` and
    ``train`` through ``lela_axi`` on ``sim`` and compare with the model.

    ``input_pause`` and ``output_pause`` are the probabilities that the
    sources (``s_axis``, AW, W, AR) pause and the sinks (``m_axis``, B, R)
    hold ``ready`` low on a cycle. ``malformed`` lists ``(n, beats)``: a
    frame of ``beats`` beats sent before sample ``n``, which must be dropped.
    ``probes`` are AXI4-Lite accesses made before the samples (see
    :mod:`lela.sim.tb_axi`). Returns a dict: ``results`` (decoded),
    ``result`` (the testbench's), ``manifest``, ``model`` (after the
    samples), ``build_seconds``, ``run_seconds``.
    """
    for what, p in (("input_pause", input_pause), ("output_pause", output_pause)):
        if not 0 <= p < 1:
            raise ValueError(f"{what} must be in [0, 1), not {p!r}")
    runner, bdir, manifest, build_s = build(cfg, sim, trace=trace, root=build_root,
                                            waves=waves, top=AXI_TOP)
    jobdir = bdir / "jobs" / name
    jobdir.mkdir(parents=True, exist_ok=True)
    np.savez(jobdir / "samples.npz", x=np.asarray(x, dtype=np.int64),
             label=np.asarray(label, dtype=np.int64), train=np.asarray(train, dtype=np.int64))
    job = {"config": cfg.to_dict(), "data": str(jobdir / "samples.npz"), "seed": seed,
           "input_pause": input_pause, "output_pause": output_pause,
           "early_exit": [int(early_exit[0]), int(early_exit[1])],
           "malformed": [[int(n), int(b)] for n, b in malformed],
           "probes": list(probes), "readback": bool(readback)}
    t0 = time.perf_counter()
    result = run_job(runner, bdir, job, waves=waves, name=name)
    run_s = time.perf_counter() - t0
    model = FixedNetwork(cfg)
    expected, _ = expected_results(cfg, x, label, train, early_exit=early_exit, trace=trace,
                                   model=model)
    got = decode_results(result_manifest(manifest), result["results"], seed=seed)
    check_results(cfg, got, expected, seed=seed)
    if readback:
        check_weights(cfg, result["weights"], result["biases"], model, seed=seed)
    return {"results": got, "result": result, "manifest": manifest, "model": model,
            "build_seconds": build_s, "run_seconds": run_s}
