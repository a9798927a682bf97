"""Training at the simulator's own speed: samples streamed in from a file, results out to one.

The per-beat testbench (:mod:`lela.sim.tb_network`) wakes Python on every
input beat and every result, which bounds it well below what the Verilated
model can do. Here the simulated top level is ``lela_stream``: the generated
``lela_top`` with its clock and reset made in Verilog, a source that reads the
input beats from a binary file, and a sink that writes every result beat, with
the cycle it came out in, to a text file. Python does nothing while the
samples run; the results are compared with the fixed-point model afterwards,
every sample and field exactly (:func:`check_results`), while the model's own
run overlaps the simulation.

Random idle cycles on the input and backpressure on the results are made in
Verilog too (a xorshift generator seeded from ``+stall_seed``), so the four
stall combinations stay available at full speed; mid-sample resets stay on the
per-beat path. ``lela_stream`` has no ports: the testbench reaches a few of its
signals by name (``done``, ``paused``/``resume``, and ``acc_*``, one
access-port request at a time, which the top hands to the design's access
port), and reads them only at clock edges. The stream can stop after
``+pause_at`` samples until ``resume`` rises, so that the counters can be read
between the training and the test samples.

Plusargs of ``lela_stream`` (all but the first three optional):

``+samples=FILE``   the input beats, :func:`write_samples`'s format
``+results=FILE``   one line per result: the payload in hex, the cycle
``+count=N``        samples in the file
``+idle=K``         a beat is offered on a cycle with probability 1 - K/256
``+backpressure=K`` ``ready`` is low on a cycle with probability K/256
``+stall_seed=S``   seed of the idle and backpressure generator (not 0)
``+pause_at=N``     stop feeding after N samples until every result of them
                    is out (``paused`` = 1) and ``resume`` is 1; the next pause
                    is then after ``pause_next`` samples (-1: none), which the
                    testbench may write while paused
``+early_exit=E``, ``+threshold=T``  the early-exit inputs
``+load=FILE``, ``+load_count=N``  before the first sample, write the N
                    access-port requests of FILE (:func:`write_loads`'s format)
                    and stop with an error if one is refused: the initial
                    weights of a memory without initial contents
                    (``weights_loaded_at_start`` in the manifest), as the host
                    writes them on a board
``+finish``         ``$finish`` after the last result (the free-running binary)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lela.contract import SPACE_B, SPACE_W, access_address
from lela.golden_model.network import FixedNetwork

__all__ = ["CLOCK_NS", "STREAM_TOP", "Mismatch", "check_results", "decode_results",
           "expected_results", "read_results", "write_loads", "write_samples",
           "write_stream_top"]

#: Name of the streaming top level.
STREAM_TOP = "lela_stream"
#: Period of the clock that the simulated tops make (ns).
CLOCK_NS = 10
#: Cycles ``lela_stream`` holds reset after time 0.
RESET_CYCLES = 4


class Mismatch(AssertionError):
    """The design and the model disagree (the message names where)."""


def _ports(manifest):
    return {p["name"]: p for p in manifest["ports"]}


def write_stream_top(manifest, n0, path):
    """Write ``lela_stream`` (see the module docstring) for the generated top
    whose ports ``manifest`` lists; ``n0`` is the number of input beats per sample."""
    ports = _ports(manifest)
    w_in = ports["i_sample__payload"]["width"]
    w_out = ports["o_result__payload"]["width"]
    w_thr = ports["threshold"]["width"]
    req = ports["i_acc__payload"]["layout"]["fields"]
    resp = ports["o_acc__payload"]["layout"]["fields"]
    w_req, w_resp = ports["i_acc__payload"]["width"], ports["o_acc__payload"]["width"]
    w_addr, w_data = req["addr"]["width"], req["data"]["width"]
    raw_bits = 8 * ((w_in + 7) // 8)
    load_bits = 8 * ((w_req + 7) // 8)
    # No ports, and the testbench's signals (public for Verilator's VPI) are
    # read only at clock edges: logic that depends on a signal the VPI may
    # write is evaluated on every step, which costs a fifth of the speed.
    rw = "/*verilator public_flat_rw*/"
    v = f"""`timescale 1ns/1ps
// {manifest['top']} fed from a file and drained into one (written by lela.sim.stream)
module {STREAM_TOP};
  reg clk {rw} = 1'b0;
  always #{CLOCK_NS // 2} clk = ~clk;
  // the testbench's signals: the end, the pause, and one access-port request
  reg done {rw} = 1'b0;
  reg paused {rw} = 1'b0;
  reg resume {rw} = 1'b0;
  reg [31:0] pause_next {rw} = 32'hFFFFFFFF;
  reg acc_go {rw} = 1'b0;
  reg acc_write {rw} = 1'b0;
  reg [{w_addr - 1}:0] acc_addr {rw} = {w_addr}'d0;
  reg [{w_data - 1}:0] acc_wdata {rw} = {w_data}'d0;
  reg acc_done {rw} = 1'b0;
  reg acc_error {rw} = 1'b0;
  reg [{resp["data"]["width"] - 1}:0] acc_rdata {rw} = {resp["data"]["width"]}'d0;

  reg rst = 1'b1;
  reg [63:0] cycle = 64'd0;
  reg [31:0] rng = 32'd1;
  reg [{raw_bits - 1}:0] raw;
  reg [{w_in - 1}:0] beat = {w_in}'d0;
  reg valid = 1'b0;
  reg rready = 1'b1;
  wire ready, rvalid;
  wire [{w_out - 1}:0] result;
  reg req_valid = 1'b0;
  reg [{w_req - 1}:0] req = {w_req}'d0;
  wire req_ready, resp_valid;
  reg resp_ready = 1'b0;
  wire [{w_resp - 1}:0] resp;
  reg [8*4096-1:0] path;
  integer fin, fout, fload, code, arg;
  // the loader: access-port writes before the first sample
  reg [{load_bits - 1}:0] load_raw;
  integer load_count = 0, loads = 0;
  reg loading = 1'b0;
  integer samples = 0, beats = 0, got = 0, pause_at = -1;
  integer idle = 0, backpressure = 0, finish = 0;
  reg early_exit = 1'b0;
  reg [{w_thr - 1}:0] threshold = {w_thr}'d0;
  initial begin
    if (!$value$plusargs("samples=%s", path)) $fatal(1, "{STREAM_TOP}: +samples=FILE missing");
    fin = $fopen(path, "rb");
    if (fin == 0) $fatal(1, "{STREAM_TOP}: cannot open the samples file");
    if (!$value$plusargs("results=%s", path)) $fatal(1, "{STREAM_TOP}: +results=FILE missing");
    fout = $fopen(path, "w");
    if (fout == 0) $fatal(1, "{STREAM_TOP}: cannot open the results file");
    if (!$value$plusargs("count=%d", samples)) $fatal(1, "{STREAM_TOP}: +count=N missing");
    if ($value$plusargs("idle=%d", arg)) idle = arg;
    if ($value$plusargs("backpressure=%d", arg)) backpressure = arg;
    if ($value$plusargs("stall_seed=%d", arg)) rng = arg;
    if ($value$plusargs("pause_at=%d", arg)) pause_at = arg;
    if ($value$plusargs("early_exit=%d", arg)) early_exit = arg[0];
    if ($value$plusargs("threshold=%d", arg)) threshold = arg[{w_thr - 1}:0];
    if ($test$plusargs("finish")) finish = 1;
    if ($value$plusargs("load_count=%d", arg)) load_count = arg;
    if (load_count > 0) begin
      if (!$value$plusargs("load=%s", path)) $fatal(1, "{STREAM_TOP}: +load=FILE missing");
      fload = $fopen(path, "rb");
      if (fload == 0) $fatal(1, "{STREAM_TOP}: cannot open the load file");
      loading = 1'b1;
    end
    if (samples == 0) done = 1'b1;
  end
  always @(posedge clk) begin
    cycle <= cycle + 64'd1;
    rng = rng ^ (rng << 13);
    rng = rng ^ (rng >> 17);
    rng = rng ^ (rng << 5);
    if (cycle == 64'd{RESET_CYCLES - 1}) rst <= 1'b0;
    if (!rst) begin
      // the source: a beat offered unless idle, held until taken
      if (!valid || ready) begin
        if (!loading && beats < samples * {n0} && beats != pause_at * {n0}
            && rng[7:0] >= idle) begin
          code = $fread(raw, fin);
          beat <= raw[{w_in - 1}:0];
          valid <= 1'b1;
          beats = beats + 1;
        end else
          valid <= 1'b0;
      end
      if (!loading && beats == pause_at * {n0} && got == pause_at)
        paused <= 1'b1;
      if (paused && resume) begin
        paused <= 1'b0;
        pause_at = pause_next;
      end
      // the sink: every result with the cycle it came out in
      if (rvalid && rready) begin
        $fwrite(fout, "%h %0d\\n", result, cycle - 64'd{RESET_CYCLES});
        got = got + 1;
        if (got == samples) begin
          $fclose(fout);
          done <= 1'b1;
          if (finish) $finish;
        end
      end
      rready <= rng[15:8] >= backpressure;
      // the loader's requests, one at a time, until the last is answered
      if (loading && loads < load_count && !req_valid && !resp_ready) begin
        code = $fread(load_raw, fload);
        req <= load_raw[{w_req - 1}:0];
        req_valid <= 1'b1;
        loads = loads + 1;
      end
      if (loading && resp_valid && resp_ready) begin
        if (resp[{resp["error"]["offset"]}])
          $fatal(1, "{STREAM_TOP}: the access port refused load request %0d", loads - 1);
        if (loads == load_count)
          loading <= 1'b0;
      end
      // one access-port request per rise of acc_go; acc_done until it falls
      if (!loading && acc_go && !acc_done && !req_valid && !resp_ready) begin
        req <= acc_addr << {req["addr"]["offset"]}
               | acc_wdata << {req["data"]["offset"]}
               | acc_write << {req["write"]["offset"]};
        req_valid <= 1'b1;
      end
      if (req_valid && req_ready) begin
        req_valid <= 1'b0;
        resp_ready <= 1'b1;
      end
      if (resp_valid && resp_ready) begin
        resp_ready <= 1'b0;
      end
      if (!loading && resp_valid && resp_ready) begin
        acc_rdata <= resp[{resp["data"]["offset"] + resp["data"]["width"] - 1}:{resp["data"]["offset"]}];
        acc_error <= resp[{resp["error"]["offset"]}];
        acc_done <= 1'b1;
      end
      if (acc_done && !acc_go)
        acc_done <= 1'b0;
    end
  end
  {manifest['top']} dut(.clk(clk), .rst(rst),
    .i_sample__valid(valid), .i_sample__payload(beat), .i_sample__ready(ready),
    .o_result__valid(rvalid), .o_result__ready(rready), .o_result__payload(result),
    .early_exit(early_exit), .threshold(threshold),
    .i_acc__valid(req_valid), .i_acc__payload(req), .i_acc__ready(req_ready),
    .o_acc__valid(resp_valid), .o_acc__ready(resp_ready), .o_acc__payload(resp));
endmodule
"""
    Path(path).write_text(v)


def write_samples(manifest, x, label, train, path):
    """Write the input beats of samples ``x`` (quantized, ``(n, N_0)``) with
    their ``label`` and ``train`` flags as ``lela_stream`` reads them: one
    beat per input, the label and the flag on the last, each beat big-endian
    in the payload's width rounded up to bytes."""
    fields = _ports(manifest)["i_sample__payload"]["layout"]["fields"]
    width = _ports(manifest)["i_sample__payload"]["width"]
    x = np.asarray(x, dtype=np.int64)
    beats = x & ((1 << fields["x"]["width"]) - 1)
    last = np.zeros_like(beats)
    last[:, -1] = 1
    beats = (beats << fields["x"]["offset"]
             | (last * np.asarray(label, np.int64)[:, None]) << fields["label"]["offset"]
             | (last * np.asarray(train, np.int64)[:, None]) << fields["train"]["offset"])
    nbytes = (width + 7) // 8
    raw = beats.reshape(-1).astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nbytes:]
    Path(path).write_bytes(raw.tobytes())


def write_loads(manifest, weights, path):
    """Write the access-port requests that put ``weights`` (``[(W_i, b_i)]``,
    integers) into the design, as ``lela_stream``'s ``+load`` reads them: one
    write request per weight and bias, each big-endian in the request's width
    rounded up to bytes. Returns the number of requests."""
    fields = _ports(manifest)["i_acc__payload"]["layout"]["fields"]
    nbytes = (_ports(manifest)["i_acc__payload"]["width"] + 7) // 8
    mask = (1 << fields["data"]["width"]) - 1
    out = bytearray()
    for i, (w, b) in enumerate(weights):
        for space, values in ((SPACE_W, np.asarray(w).reshape(-1)), (SPACE_B, np.asarray(b))):
            for idx, v in enumerate(values.tolist()):
                # wider than 64 bits: Python ints, not numpy's
                req = (access_address(i, space, idx) << fields["addr"]["offset"]
                       | (v & mask) << fields["data"]["offset"]
                       | 1 << fields["write"]["offset"])
                out += req.to_bytes(nbytes, "big")
    Path(path).write_bytes(bytes(out))
    return len(out) // nbytes


def read_results(path):
    """The result lines of ``lela_stream``: ``(payloads, cycles)`` in order, each
    payload a hex string (X/Z digits kept, :func:`decode_results` reports them),
    each cycle an int."""
    payloads, cycles = [], []
    for line in Path(path).read_text().splitlines():
        value, cycle = line.split()
        payloads.append(value)
        cycles.append(int(cycle))
    return payloads, cycles


def _value(bits, field):
    """The field ``field`` (a manifest layout entry) of the int ``bits``, as
    an int or (for arrays) a list."""
    v = bits >> field["offset"] & ((1 << field["width"]) - 1)
    if "length" in field:
        el = field["element"]
        step = el["width"]
        return [_value(v, dict(el, offset=i * step)) for i in range(field["length"])]
    if field.get("signed") and v >> (field["width"] - 1):
        v -= 1 << field["width"]
    return v


def decode_results(manifest, payloads, *, seed=0):
    """The hex result payloads as dicts (``pred``, ``exit``, ``label``,
    ``train`` and, when traced, ``scores`` and ``digest``); an X or Z digit is
    a :class:`Mismatch` naming the seed and the sample."""
    fields = _ports(manifest)["o_result__payload"]["layout"]["fields"]
    out = []
    for n, text in enumerate(payloads):
        try:
            bits = int(text, 16)
        except ValueError:
            raise Mismatch(f"seed {seed}, sample {n}: the result has X/Z bits "
                           f"({text})") from None
        out.append({name: _value(bits, f) for name, f in fields.items()})
    return out


def expected_results(cfg, x, label, train, *, check_every=1, early_exit=(0, 0), trace=True,
                     model=None, learn=()):
    """Step ``model`` (default: a new :class:`FixedNetwork`) through the
    samples; returns the model's result beat (``trace``: with the scores and
    digests) for every ``check_every``-th sample, None for the others, and
    every sample's per-layer predictions (an ``(n, L)`` array). ``learn``
    lists ``(n, flags)``: from sample ``n`` on, the layers' control words
    ``learn`` are ``flags`` (as the host writes them while the stream is
    paused there)."""
    model = FixedNetwork(cfg) if model is None else model
    out, preds = [], np.zeros((len(label), cfg.layers), dtype=np.int64)
    enable, threshold = early_exit
    changes = dict(learn)
    for n in range(len(label)):
        if n in changes:
            model.learn = [bool(v) for v in changes[n]]
        step = model.step(x[n], int(label[n]), train=bool(train[n]), early_exit=bool(enable),
                          threshold=int(threshold))
        out.append(step.result(trace=trace) if n % check_every == 0 else None)
        preds[n] = step.pred
    return out, preds


def check_results(cfg, got, expected, *, seed=0):
    """Raise :class:`Mismatch` at the first sample whose result ``got[n]``
    differs from ``expected[n]`` (skipped where that is None), naming the
    seed, sample, layer, field and index."""
    if len(got) != len(expected):
        raise Mismatch(f"seed {seed}: {len(got)} results for {len(expected)} samples")
    for n, (g, e) in enumerate(zip(got, expected)):
        if e is not None:
            compare(cfg, g, e, f"seed {seed}, sample {n}")


def compare(cfg, got, exp, where):
    """Raise :class:`Mismatch` unless the decoded result ``got`` equals the
    model's ``exp`` (``NetworkStep.result``); ``where`` starts the message."""
    for key in ("label", "train", "exit"):
        if got[key] != exp[key]:
            raise Mismatch(f"{where}: {key} is {got[key]}, model says {exp[key]}")
    for i in range(cfg.layers):
        if got["pred"][i] != exp["pred"][i]:
            raise Mismatch(f"{where}, layer {i}: prediction {got['pred'][i]}, "
                           f"model says {exp['pred'][i]}")
        if "scores" not in got:
            continue
        s_got, s_exp = np.asarray(got["scores"][i]), np.asarray(exp["scores"][i])
        if not np.array_equal(s_got, s_exp):
            idx = int(np.flatnonzero(s_got != s_exp)[0])
            raise Mismatch(f"{where}, layer {i}: score index {idx} is {s_got[idx]}, "
                           f"model says {s_exp[idx]}")
        if got["digest"][i] != exp["digest"][i]:
            raise Mismatch(f"{where}, layer {i}: weight digest {got['digest'][i]:#x}, "
                           f"model says {exp['digest'][i]:#x} (a weight or bias differs; "
                           f"run with readback to locate it)")
