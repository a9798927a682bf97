"""Property harnesses: each wraps one block of ``lela.rtl`` with ``Assert``,
``Assume`` and ``Cover`` statements for :func:`lela.sim.formal.run_check`.

Conventions
-----------
* Every input port of the block under test is a top-level port of the
  harness (:meth:`Harness.free_inputs`), so the solver picks a new value for
  it every cycle; ``Assume`` statements narrow that to the block's documented
  input contract. Nothing is tied to a constant behind the check's back.
* Amaranth 0.5 has no ``Past``: :meth:`Harness.past` keeps explicit,
  reset-less previous-cycle registers. A property about "the previous cycle"
  holds only when there was one and it was not a reset cycle
  (:attr:`Harness.ok_past`).
* The reset is free (asserted whenever the solver likes) unless a harness
  says otherwise (``free_reset = False``, an ``Assume(~rst)``); the docs list
  which ones.
* Reference values are written from the numeric contract
  (``docs/numerics.md``), not from ``lela.rtl.numerics``: a clamp is
  ``min(max(x, lo), hi)`` on an exact value, and an exact round-half-up is a
  free value pinned by its defining inequality (:meth:`Harness.rounded`).
* Internal signals are reached by name (:func:`probe`); a renamed signal
  makes the harness fail to build, loudly, never pass silently.
"""

from amaranth.hdl import (
    Assert,
    Assume,
    Cat,
    Const,
    Cover,
    Elaboratable,
    Fragment,
    Module,
    Mux,
    ResetSignal,
    Shape,
    Signal,
    Value,
    signed,
    unsigned,
)
from amaranth.lib import data, wiring

from lela.config import FEEDBACK_MODES, Config
from lela.contract import COUNTER_BITS, COUNTERS
from lela.golden_model.numerics import signed_range
from lela.rtl.error_unit import ErrorUnit
from lela.rtl.layer import Layer, token_layout
from lela.rtl.lfsr import ClassifierLfsr
from lela.rtl.mac_array import OP_FORWARD, OP_UPDATE, MacArray
from lela.rtl.numerics import round_shift, saturate
from lela.rtl.update_unit import UpdateUnit

__all__ = [
    "EDGE_STAGES",
    "ErrorHandshakeHarness",
    "ErrorStagesHarness",
    "Harness",
    "InputBufferHarness",
    "LayerHarness",
    "LfsrHarness",
    "LfsrReplayHarness",
    "MacArrayHarness",
    "NetworkHarness",
    "SatStage",
    "StageHarness",
    "UpdateUnitHarness",
    "clamp",
    "contract_stages",
    "free_inputs",
    "implies",
    "probe",
    "state_value",
]


# -- helpers ------------------------------------------------------------------

def free_inputs(component):
    """Every signal of ``component`` that flows in (stream payloads and
    valids of its inputs, readies of its outputs, plain inputs)."""
    return [Value.cast(value) for _, member, value in component.signature.flatten(component)
            if member.flow == wiring.In]


def probe(fragment, path, shape=None):
    """The signal ``path`` (``"sub.sub.name"``) driven inside an elaborated
    ``fragment``: the only way to state an invariant on a block's internal
    state without changing the block.

    Amaranth names a signal after the variable it is assigned to, except in
    a tuple assignment (``a, b = Signal(), Signal()``) where only the last
    one is named. Such a signal is found by its variable name in the source
    line of the assignment, among the unnamed signals created there, and
    ``shape`` must tell it apart from its unnamed neighbours.
    """
    *subs, name = path.split(".")
    for sub in subs:
        found = [f for f, n, _ in fragment.subfragments if n == sub]
        if len(found) != 1:
            raise LookupError(f"no submodule {sub!r} on the way to {path!r}")
        fragment = found[0]
    driven = {}
    for stmts in fragment.statements.values():
        for stmt in stmts:
            for sig in stmt._lhs_signals():
                driven[id(sig)] = sig
    matches = [sig for sig in driven.values() if sig.name == name]
    if not matches:
        matches = [sig for sig in driven.values()
                   if sig.name == "$signal" and _assigned_in_tuple(sig.src_loc, name)
                   and (shape is None or sig.shape() == Shape.cast(shape))]
    if len(matches) != 1:
        raise LookupError(f"{len(matches)} signals named {path!r} (need exactly one); "
                          "was it renamed in the RTL?")
    return matches[0]


def _assigned_in_tuple(src_loc, name):
    try:
        with open(src_loc[0]) as f:
            line = f.readlines()[src_loc[1] - 1]
    except (OSError, IndexError):
        return False
    targets, sep, _ = line.partition("=")
    return bool(sep) and name in [t.strip() for t in targets.split(",")]


def state_value(state, name):
    """Encoding of FSM state ``name`` in the FSM's state signal ``state``."""
    for value in range(1 << len(state)):
        if state.decoder(value).split("/")[0] == name:
            return value
    raise LookupError(f"FSM {state.name!r} has no state {name!r}")


def clamp(value, width):
    """``min(max(value, lo), hi)`` of a signed ``width``-bit range, on the
    exact value: the contract's ``saturate``."""
    lo, hi = signed_range(width)
    return Mux(value > hi, Const(hi, signed(width)),
               Mux(value < lo, Const(lo, signed(width)), value))


def _shape_range(shape):
    shape = Shape.cast(shape)
    if shape.signed:
        return signed_range(shape.width)
    return 0, (1 << shape.width) - 1


def _round_int(x, shift):
    return (x + (1 << (shift - 1))) >> shift if shift > 0 else x << -shift


def implies(a, b):
    return ~a | b


# -- base ---------------------------------------------------------------------

class Harness(Elaboratable):
    """A block under test plus its properties.

    Subclasses implement :meth:`check` (``m`` is the harness module) and list
    their free inputs with :meth:`free` / :meth:`free_inputs`.
    """

    #: Whether the synchronous reset is a free input (else assumed low).
    free_reset = True

    def __init__(self):
        self._ports = []
        self._n = 0
        self._elaborated = False

    @property
    def ports(self):
        """Top-level ports of the harness: every free input, including those
        :meth:`rounded` adds while elaborating; so read only after
        elaboration (:func:`lela.sim.formal.run_check` elaborates first)."""
        if not self._elaborated:
            raise RuntimeError("Harness.ports is complete only after elaboration")
        return list(self._ports)

    def free(self, shape, name):
        if self._elaborated:
            raise RuntimeError(f"free input {name!r} added after the ports were listed")
        sig = Signal(shape, name=name)
        self._ports.append(sig)
        return sig

    def free_inputs(self, component):
        self._ports.extend(free_inputs(component))

    def elaborate(self, platform):
        m = Module()
        self.m = m
        #: A previous cycle exists (reset-less: not cleared by a reset).
        self.started = Signal(reset_less=True, name="started")
        m.d.sync += self.started.eq(1)
        self.rst = ResetSignal()
        self.past_rst = self.past(self.rst, name="past_rst")
        #: The previous cycle exists and was not a reset cycle.
        self.ok_past = Signal(name="ok_past")
        m.d.comb += self.ok_past.eq(self.started & ~self.past_rst)
        if not self.free_reset:
            m.d.comb += Assume(~self.rst)
        self.check(m)
        self._elaborated = True
        return m

    def check(self, m):
        raise NotImplementedError

    def past(self, value, cycles=1, name=None):
        """``value`` ``cycles`` cycles ago (reset-less registers)."""
        value = Value.cast(value)
        for i in range(cycles):
            self._n += 1
            reg = Signal(value.shape(), reset_less=True,
                         name=f"past{i + 1}_{name or self._n}")
            self.m.d.sync += reg.eq(value)
            value = reg
        return value

    def rounded(self, value, shift, name):
        """The contract's ``round_shift(value, shift)`` as an exact value.

        For ``shift > 0`` it is a free value ``r`` with
        ``r * 2**shift <= value + 2**(shift-1) < (r + 1) * 2**shift``: exactly
        one ``r`` satisfies it for every ``value``, so the assumption removes
        no input and the solver must find the right quotient.
        """
        value = Value.cast(value)
        if shift <= 0:
            return value * (1 << -shift)
        r = self.free(signed(len(value) + 1), name)
        biased = value + (1 << (shift - 1))
        self.m.d.comb += [Assume((r << shift) <= biased), Assume(biased < ((r + 1) << shift))]
        return r

    def stream_rules(self, valid, ready, payload, *, check, name):
        """Stream rules on one port: once ``valid`` is high and ``ready`` low,
        ``valid`` stays high and ``payload`` stays stable next cycle.
        ``check`` is ``Assert`` (the block drives ``valid``) or ``Assume``."""
        m = self.m
        valid, ready, payload = Value.cast(valid), Value.cast(ready), Value.cast(payload)
        stall = Signal(name=f"{name}_stall")
        m.d.comb += stall.eq(self.ok_past & self.past(valid, name=f"{name}_valid")
                             & ~self.past(ready, name=f"{name}_ready"))
        m.d.comb += [check(implies(stall, valid)),
                     check(implies(stall, payload == self.past(payload, name=f"{name}_payload"))),
                     Cover(stall)]
        return stall

    def beats(self, fire, width, name):
        """A counter of the cycles where ``fire`` is high (cleared by reset)."""
        count = Signal(width, name=name)
        self.m.d.sync += count.eq(count + fire)
        return count


# -- arithmetic: the saturating stages in isolation -----------------------------

class SatStage(wiring.Component):
    """One saturating stage of the numeric contract, built from
    ``lela.rtl.numerics``: ``y = saturate(round_shift(x, shift), width)``, or
    with ``subtract``: ``y = saturate(base - round_shift(x, shift), width)``
    (the weight and bias updates)."""

    def __init__(self, *, x_shape, shift, width, subtract=False):
        self.x_shape, self.shift, self.width, self.subtract = x_shape, shift, width, subtract
        members = {"x": wiring.In(x_shape), "y": wiring.Out(signed(width))}
        if subtract:
            members["base"] = wiring.In(signed(width))
        super().__init__(members)

    def stage(self, exact):
        return saturate(exact, self.width)

    def elaborate(self, platform):
        m = Module()
        r = round_shift(self.x, self.shift)
        m.d.comb += self.y.eq(self.stage(self.base - r if self.subtract else r))
        return m


def contract_stages(cfg):
    """Every saturating stage of ``cfg``'s datapath: ``(name, x_shape, shift,
    width, subtract)`` with the widths the RTL blocks use."""
    stages = []
    for i in range(cfg.layers):
        mac = MacArray.from_config(cfg, i)
        eu = ErrorUnit.from_config(cfg, i)
        uu = UpdateUnit.from_config(cfg, i, product_width=mac.product_width, digest=False)
        for unit in (mac, eu, uu):
            unit._MustUse__silence = True   # built for their widths only
        aw, ww = cfg.act_width, cfg.weight_width
        stages += [
            (f"forward{i}", signed(mac.acc_width), cfg.weight_frac, aw, False),
            (f"score{i}", signed(eu.acc_width), cfg.score_shift(i), aw, False),
            (f"error{i}", signed(eu.acc_width), cfg.score_shift(i), aw, False),
            (f"weight{i}", signed(mac.product_width), uu.weight_shift, ww, True),
            (f"bias{i}", signed(aw), uu.bias_shift, ww, True),
        ]
    return stages


#: Shapes around the edges of ``saturate``'s cases (narrower, equal, wider,
#: unsigned), with and without rounding.
EDGE_STAGES = [
    ("narrow_signed", signed(3), 0, 5, False),
    ("equal_signed", signed(5), 0, 5, False),
    ("wide_signed", signed(9), 0, 5, False),
    ("narrow_unsigned", unsigned(4), 0, 5, False),
    ("equal_unsigned", unsigned(5), 0, 5, False),
    ("wide_unsigned", unsigned(9), 0, 5, False),
    ("one_bit", signed(6), 2, 1, False),
    ("shift_left", signed(6), -3, 7, False),
    ("round_wide", signed(12), 5, 4, False),
    ("round_unsigned", unsigned(10), 3, 5, False),
    ("sub_left", signed(5), -2, 6, True),
]


class StageHarness(Harness):
    """Each stage's output equals the contract's saturation of the exact
    result, for every input (combinational: one step proves it)."""

    free_reset = False

    def __init__(self, stages, *, stage_cls=SatStage):
        super().__init__()
        self.units = [(name, stage_cls(x_shape=x, shift=s, width=w, subtract=sub))
                      for name, x, s, w, sub in stages]
        for _, unit in self.units:
            self.free_inputs(unit)

    def check(self, m):
        for name, unit in self.units:
            m.submodules[name] = unit
            exact = self.rounded(unit.x, unit.shift, f"{name}_r")
            if unit.subtract:
                exact = unit.base - exact
            lo, hi = signed_range(unit.width)
            m.d.comb += Assert(unit.y == clamp(exact, unit.width))
            # cover each side of the clamp that the stage's input range can reach
            x_lo, x_hi = _shape_range(unit.x_shape)
            r_lo, r_hi = _round_int(x_lo, unit.shift), _round_int(x_hi, unit.shift)
            if unit.subtract:
                b_lo, b_hi = signed_range(unit.width)
                r_lo, r_hi = b_lo - r_hi, b_hi - r_lo
            m.d.comb += Cover((exact >= lo) & (exact <= hi))
            if r_hi > hi:
                m.d.comb += Cover(exact > hi)
            if r_lo < lo:
                m.d.comb += Cover(exact < lo)


# -- LFSR ---------------------------------------------------------------------

class LfsrHarness(Harness):
    """One generator per feedback mode (``modes``), driven by free ``en`` /
    ``rewind``: states never zero; a rewind reloads both seeds; entries are
    odd and in ``[-(2**m_bits - 1), 2**m_bits - 1]``. Inductive in one step,
    so unbounded."""

    def __init__(self, *, m_bits, m_seed, k_seed, modes=FEEDBACK_MODES,
                 lfsr_cls=ClassifierLfsr):
        super().__init__()
        self.m_seed, self.k_seed = m_seed, k_seed
        self.duts = {mode: lfsr_cls(m_bits=m_bits, m_seed=m_seed, k_seed=k_seed, feedback=mode)
                     for mode in modes}
        for dut in self.duts.values():
            self.free_inputs(dut)

    def check(self, m):
        for mode, dut in self.duts.items():
            m.submodules[mode] = frag = Fragment.get(dut, None)
            states = [(probe(frag, "m_state"), self.m_seed)]
            if mode != "symmetric":
                states.append((probe(frag, "k_state"), self.k_seed))
            rewound = self.ok_past & self.past(dut.rewind, name=f"{mode}_rewind")
            stepped = self.ok_past & self.past(dut.en & ~dut.rewind, name=f"{mode}_en")
            top = (1 << dut.m_bits) - 1
            for state, seed in states:
                m.d.comb += [Assert(state != 0), Assert(implies(rewound, state == seed)),
                             Cover(stepped & (state != seed))]
            for entry in (dut.m, dut.k):
                m.d.comb += [Assert(entry[0]), Assert((entry >= -top) & (entry <= top)),
                             Cover(entry == top), Cover(entry == -top)]
            m.d.comb += Cover(rewound)


class LfsrReplayHarness(Harness):
    """After a rewind every generator (one per mode) replays the entries it
    gave after reset: the first ``count`` entries of the first epoch are
    recorded, every later epoch (begun by a rewind) is compared with them.
    Bounded: the depth must hold an epoch, a rewind and a replay."""

    def __init__(self, *, m_bits, m_seed, k_seed, modes=FEEDBACK_MODES, count=4,
                 lfsr_cls=ClassifierLfsr):
        super().__init__()
        self.duts = {mode: lfsr_cls(m_bits=m_bits, m_seed=m_seed, k_seed=k_seed, feedback=mode)
                     for mode in modes}
        self.count = count
        for dut in self.duts.values():
            self.free_inputs(dut)

    def check(self, m):
        n = self.count
        for mode, dut in self.duts.items():
            m.submodules[mode] = dut
            entry = (Value.cast(dut.m).as_unsigned()
                     | (Value.cast(dut.k).as_unsigned() << len(dut.m)))
            idx = Signal(range(n + 1), name=f"{mode}_idx")   # entries consumed this epoch
            epoch = Signal(2, name=f"{mode}_epoch")            # 0: since reset; 1+: rewound
            rec = [Signal(len(entry), name=f"{mode}_rec{i}") for i in range(n)]
            seen = Signal(n, name=f"{mode}_seen")              # rec[i] holds entry i
            with m.If(dut.rewind):
                m.d.sync += [idx.eq(0), epoch.eq(Mux(epoch == 3, 3, epoch + 1))]
            with m.Elif(dut.en & (idx < n)):
                m.d.sync += idx.eq(idx + 1)
            for i in range(n):
                here = idx == i
                with m.If(here & (epoch == 0)):
                    m.d.sync += [rec[i].eq(entry), seen[i].eq(1)]
                m.d.comb += Assert(implies(here & (epoch != 0) & seen[i], entry == rec[i]))
            m.d.comb += Cover((epoch == 2) & (idx == n - 1) & seen[n - 1])


# -- MAC array ----------------------------------------------------------------

class MacArrayHarness(Harness):
    """Forward groups: every group (``first`` .. ``last`` beats) produces
    exactly one ``h_valid`` two cycles after its last beat, and ``h_out`` is
    ``relu(sat(round_shift(b << act_frac + sum h*w, weight_frac)))`` of the
    exact sum; products of both passes are the exact ``h*w`` / ``h*d``."""

    free_reset = False

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        self.dut = MacArray.from_config(cfg, layer)
        self.n_in = cfg.sizes[layer]
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut, n_in = self.cfg, self.dut, self.n_in
        m.submodules.dut = frag = Fragment.get(dut, None)
        P = dut.lanes
        fwd = dut.valid & (dut.op == OP_FORWARD)
        upd = dut.valid & (dut.op == OP_UPDATE)
        # input contract: forward beats come in groups of n_in, first..last
        k = Signal(range(n_in), name="k")
        with m.If(fwd):
            m.d.sync += k.eq(Mux(k == n_in - 1, 0, k + 1))
        m.d.comb += Assert(k < n_in)    # harness state in range (for the induction)
        m.d.comb += [Assume(implies(fwd, dut.first == (k == 0))),
                     Assume(implies(fwd, dut.last == (k == n_in - 1)))]
        # reference: the exact sum of the group so far, updated at S1
        ref = [Signal(signed(dut.acc_width + 2), name=f"ref{p}") for p in range(P)]
        for p in range(P):
            start = Mux(dut.first, dut.bias[p] * (1 << cfg.act_frac), ref[p])
            with m.If(fwd):
                m.d.sync += ref[p].eq(start + dut.h * dut.w[p])
        # the sum of j beats is bounded (makes the induction close: the
        # accumulator cannot hold a value no group reaches)
        product_max = 1 << (cfg.act_width + cfg.weight_width - 2)
        bias_max = 1 << (cfg.weight_width - 1 + cfg.act_frac)
        bound = Const(n_in * product_max + bias_max)    # k == 0: a whole group (or none)
        for j in range(1, n_in):
            bound = Mux(k == j, j * product_max + bias_max, bound)
        for p in range(P):
            m.d.comb += Assert((ref[p] <= bound) & (ref[p] >= -bound))
        two_ago = self.started & self.past(self.started, name="started")
        done = self.past(fwd & dut.last, 2, name="done")
        m.d.comb += Assert(implies(two_ago, dut.h_valid == done))
        for p in range(P):
            acc = probe(frag, f"acc{p}")
            ref_s2 = self.past(ref[p], name=f"ref{p}")
            m.d.comb += Assert(implies(self.started, acc == ref_s2))
            a = clamp(self.rounded(ref_s2, cfg.weight_frac, f"round{p}"), cfg.act_width)
            relu = Mux(a < 0, 0, a)
            m.d.comb += Assert(implies(dut.h_valid, dut.h_out[p] == relu))
            h1 = self.past(dut.h, name="h")
            m.d.comb += [
                Assert(implies(self.started & self.past(fwd, name="fwd"),
                               dut.product[p] == h1 * self.past(dut.w[p], name=f"w{p}"))),
                Assert(implies(self.started & self.past(upd, name="upd"),
                               dut.product[p] == h1 * self.past(dut.d[p], name=f"d{p}"))),
            ]
            m.d.comb += [Cover(dut.h_valid & (dut.h_out[p] == (1 << (cfg.act_width - 1)) - 1)),
                         Cover(dut.h_valid & (dut.h_out[p] == 0) & (ref_s2 < 0))]
        m.d.comb += Cover(dut.h_valid & self.past(upd, name="upd_before"))


# -- update unit --------------------------------------------------------------

class UpdateUnitHarness(Harness):
    """Every beat writes exactly one weight word (and the group's first beat
    one bias word) one cycle later, with
    ``sat_W(W - round_shift(d*h, weight_shift))`` and
    ``sat_W(b - round_shift(d, bias_shift))`` of the exact values; a reset
    cancels a pending write."""

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        mac = MacArray.from_config(cfg, layer)
        mac._MustUse__silence = True
        self.dut = UpdateUnit.from_config(cfg, layer, product_width=mac.product_width)
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut = self.cfg, self.dut
        m.submodules.dut = dut
        ww = cfg.weight_width
        ok = self.ok_past
        m.d.comb += [
            Assert(implies(ok, dut.w_valid == self.past(dut.valid, name="valid"))),
            Assert(implies(ok, dut.b_valid == self.past(dut.valid & dut.first, name="first"))),
            Assert(implies(self.started & self.past_rst, ~dut.w_valid & ~dut.b_valid)),
        ]
        for p in range(len(dut.w_new)):
            w = self.past(dut.w[p], name=f"w{p}")
            b = self.past(dut.bias[p], name=f"b{p}")
            d = self.past(dut.d[p], name=f"d{p}")
            w_new = clamp(w - self.rounded(dut.product[p], dut.weight_shift, f"wr{p}"), ww)
            b_new = clamp(b - self.rounded(d, dut.bias_shift, f"br{p}"), ww)
            m.d.comb += [Assert(implies(dut.w_valid, dut.w_new[p] == w_new)),
                         Assert(implies(dut.b_valid, dut.b_new[p] == b_new))]
            lo, hi = signed_range(ww)
            m.d.comb += [Cover(dut.w_valid & (dut.w_new[p] == hi) & (w != hi)),
                         Cover(dut.w_valid & (dut.w_new[p] == lo) & (w != lo)),
                         Cover(dut.b_valid & (dut.b_new[p] != b))]


# -- error unit: the finishing stages in place ----------------------------------

class ErrorStagesHarness(Harness):
    """In the error unit, the score stage, the loss gradient and the error
    stage compute exactly the contract from the accumulator they are fed:
    ``s = sat_A(rs(sum, score_shift))``,
    ``g = sat_A(-t max(0, ONE - t s))`` (``t = +1`` for the label, else -1),
    ``d = h > 0 ? sat_A(rs(e, score_shift)) : 0``. The accumulator is free
    in the inductive step, so this holds for every accumulator value."""

    free_reset = False

    def __init__(self, cfg, layer=0):
        super().__init__()
        self.cfg = cfg
        self.dut = ErrorUnit.from_config(cfg, layer)
        self.shift = cfg.score_shift(layer)
        self.free_inputs(self.dut)

    def check(self, m):
        cfg, dut = self.cfg, self.dut
        m.submodules.dut = frag = Fragment.get(dut, None)
        aw, C, P = cfg.act_width, cfg.classes, dut.signature.members["d"].shape.length
        ok = self.ok_past
        acc = signed(dut.acc_width)
        fin_valid = self.past(probe(frag, "c_fin_valid", 1) & ~dut.start, name="fin_valid")
        fin = self.past(probe(frag, "c_fin", acc), name="fin")
        is_label = self.past(probe(frag, "c_cls") == dut.label, name="is_label")
        s = clamp(self.rounded(fin, self.shift, "s_round"), aw)
        t = Mux(is_label, 1, -1)
        one = 1 << cfg.act_frac
        inner = one - t * s
        g = clamp(-t * Mux(inner > 0, inner, 0), aw)
        # auxiliary invariant: the passes share the rounding stage, never in one cycle
        m.d.comb += Assert(~(probe(frag, "c_fin_valid") & probe(frag, "c_dfin_valid")))
        g_written = self.past(probe(frag, "g_new"), name="g_written")  # to g_mem
        m.d.comb += [Assert(implies(ok & fin_valid, dut.scores[C - 1] == s)),
                     Assert(implies(ok & fin_valid, g_written == g))]
        dfin_valid = self.past(probe(frag, "c_dfin_valid", 1) & ~dut.start_d,
                               name="dfin_valid")
        dfin = self.past(probe(frag, "dacc", acc), name="dfin")   # the error sum
        mask = self.past(probe(frag, "c_mask"), name="mask")
        d = Mux(mask, clamp(self.rounded(dfin, self.shift, "d_round"), aw), 0)
        m.d.comb += Assert(implies(ok & dfin_valid, dut.d[P - 1] == d))
        lo, hi = signed_range(aw)
        m.d.comb += [Cover(ok & fin_valid & (dut.scores[C - 1] == hi)),
                     Cover(ok & fin_valid & (dut.scores[C - 1] == lo)),
                     Cover(ok & fin_valid & is_label & (g_written < 0)),
                     Cover(ok & dfin_valid & mask & (dut.d[P - 1] == lo))]


class ErrorHandshakeHarness(Harness):
    """The error unit's ``d`` port on its own, with a free consumer: the
    stream rules (``d_valid`` held and ``d`` stable until ``d_take``, which
    the consumer gives only when valid), and ``N/P`` groups per error pass,
    never more.

    Environment (how the layer drives it): ``start`` when no pass is in
    flight (first, or after the scores of an inference sample, or after all
    groups of ``d`` were taken); ``start_d`` once per sample, after
    ``scores_done``. A restart in the middle of a pass is outside the
    contract: the products still in the pipeline would land in the new pass.
    """

    def __init__(self, cfg, layer=0, *, restarts=False):
        super().__init__()
        self.dut = ErrorUnit.from_config(cfg, layer)
        #: Let the environment restart a pass at any time (outside the contract).
        self.restarts = restarts
        self.free_inputs(self.dut)

    def check(self, m):
        dut = self.dut
        m.submodules.dut = dut
        G = dut.groups
        # the environment's phase: 0 no sample, 1 scores pass, 2 error pass
        phase = Signal(2, name="phase")
        taken = Signal(range(G + 2), name="taken")    # groups taken this error pass
        with m.If(dut.start):
            m.d.sync += [phase.eq(1), taken.eq(0)]
        with m.Elif(dut.start_d):
            m.d.sync += [phase.eq(2), taken.eq(0)]
        with m.Elif(dut.d_take & (taken <= G)):
            m.d.sync += taken.eq(taken + 1)
            with m.If(taken == G - 1):
                m.d.sync += phase.eq(0)
        m.d.comb += [Assume(implies(dut.d_take, dut.d_valid)), Assert(phase != 3)]
        if not self.restarts:
            m.d.comb += [
                Assume(~(dut.start & dut.start_d)),
                Assume(implies(dut.start, (phase == 0) | ((phase == 1) & dut.scores_done))),
                Assume(implies(dut.start_d, (phase == 1) & dut.scores_done)),
            ]
        held = self.ok_past & self.past(dut.d_valid & ~dut.d_take & ~dut.start_d & ~dut.start,
                                        name="held")
        m.d.comb += [Assert(implies(held, dut.d_valid)),
                     Assert(implies(held, Value.cast(dut.d) == self.past(dut.d, name="d"))),
                     Assert(implies(dut.d_valid, phase == 2)),
                     Assert(taken <= G),
                     Cover(held & dut.d_take), Cover((taken == G) & (phase == 0))]


# -- layer: memory-write discipline, counters, result and slot protocol ---------

class LayerHarness(Harness):
    """One layer engine, with the property groups named in ``groups``:

    ``memory``
        The weight and bias memories are written only through their one
        write port, by the update unit during the update phase of a training
        sample (all lanes of a word), or by the access port (one lane) while
        the layer is idle; always at an in-range word. No update phase in
        inference. Every beat reads input ``k`` at an in-range word and lane
        of the input slot.
    ``counters``
        Every counter never decreases and grows by at most its per-cycle
        maximum, so it stays below ``max_increment * cycles``: it cannot wrap
        within ``2**(COUNTER_BITS - 3)`` cycles of reset (the documented limit
        is ``2**COUNTER_BITS`` cycles for the cycle counter).
    ``results``
        One result beat per sample (``SKIP`` included), never offered while
        ``ready`` is low, together with the release of the input slot.
    ``slots``
        The output slot handshake follows the stream rules (``o_full`` held
        and ``o_token`` stable until ``i_release``); a sample never
        publishes into a slot that is still full.
    ``pipeline``
        A sample never writes its activations into a slot that is still
        full; the error unit's ``d`` handshake inside the layer follows the
        stream rules (``d_valid`` held and ``d`` stable until ``d_take``),
        and ``d`` is taken only when valid. (Bounded: its induction needs
        invariants tying the error unit's pipeline to the layer's state.)

    Environment (assumed here; the top guarantees it and its check asserts
    it): the input slot follows the same rules; access requests come only
    while the layer is idle and no sample is offered, and no sample is
    offered during an access; ``o_result.ready`` does not fall while a
    sample is in flight.
    """

    GROUPS = ("memory", "counters", "results", "slots", "pipeline")

    def __init__(self, cfg, layer=0, *, groups=GROUPS, trace=True):
        super().__init__()
        if not isinstance(cfg, Config):
            raise TypeError(f"cfg must be a Config, not {cfg!r}")
        unknown = set(groups) - set(self.GROUPS)
        if unknown:
            raise ValueError(f"groups must be among {', '.join(self.GROUPS)}, not {groups!r}")
        self.cfg, self.index, self.groups = cfg, layer, tuple(groups)
        self.dut = Layer(cfg, index=layer, trace=trace)
        self.free_inputs(self.dut)

    def check(self, m):
        dut = self.dut
        m.submodules.dut = frag = Fragment.get(dut, None)
        seq = probe(frag, "seq_state")
        access = probe(frag, "access.access_state")
        self.in_state = {name: seq == state_value(seq, name)
                         for name in ("IDLE", "SKIP", "FWD", "SCORES", "UPD", "DRAIN")}
        access_idle = access == state_value(access, "IDLE")
        self.train = data.View(token_layout(self.cfg), probe(frag, "tok")).train

        # environment
        self.stream_rules(dut.i_full, dut.o_release, dut.i_token, check=Assume, name="i_slot")
        held = Cat(dut.acc.write, dut.acc.space, dut.acc.index, dut.acc.wdata)
        m.d.comb += [
            Assume(implies(dut.acc.req, ~dut.busy & ~dut.i_full & access_idle)),
            Assume(implies(~access_idle, ~dut.i_full)),
            # the request's fields are held from req until done (the top's register)
            Assume(implies(self.ok_past & ~access_idle, held == self.past(held, name="held"))),
            Assume(implies(dut.busy, dut.o_result.ready)),
        ]
        for group in self.groups:
            getattr(self, f"_check_{group}")(m, frag)

    def _check_memory(self, m, frag):
        dut, in_state, train = self.dut, self.in_state, self.train
        upd_phase = in_state["UPD"] | in_state["DRAIN"]
        m.d.comb += Assert(implies(upd_phase, train))      # no update phase in inference
        for memory, tag in ((dut.weights, "w"), (dut.biases, "b")):
            assert len(memory.write_ports) == 1, f"{tag}: more than one write port"
            port = memory.write_ports[0]
            uu_valid = probe(frag, f"uu.{tag}_valid")
            acc_we = probe(frag, f"access.we_{tag}")
            en = Value.cast(port.en)
            by_uu = uu_valid & ~acc_we
            m.d.comb += [
                Assert(implies(en != 0, port.addr < memory.depth)),
                Assert(implies(en != 0, by_uu | acc_we)),
                Assert(implies(by_uu, upd_phase & train & (en == (1 << len(en)) - 1))),
                Assert(implies(by_uu, Value.cast(port.data) == Value.cast(
                    probe(frag, f"uu.{tag}_new")))),
                Assert(implies(acc_we, in_state["IDLE"] & ~uu_valid)),
                Assert(implies(acc_we, (en != 0) & ((en & (en - 1)) == 0))),   # one lane
                Cover(by_uu), Cover(acc_we),
            ]
        # auxiliary invariant of the beat counters (true by design; the
        # induction needs it to know the write address is g*N_in + k)
        g, k, waddr = probe(frag, "g"), probe(frag, "k"), probe(frag, "waddr")
        beats = in_state["FWD"] | in_state["UPD"]
        m.d.comb += [Assert(implies(beats, (g < dut.groups) & (k < dut.n_in))),
                     Assert(implies(beats, waddr == g * dut.n_in + k))]
        # reads of the input slot: word kw, lane kl of input k, in range
        kw, kl = probe(frag, "kw"), probe(frag, "kl")
        m.d.comb += [Assert(implies(beats, (kw < dut.in_words) & (kl < dut.lanes_in))),
                     Assert(implies(beats, kw * dut.lanes_in + kl == k)),
                     Assert(implies(beats, dut.o_in_addr == kw))]

    def _check_counters(self, m, frag):
        P = self.dut.lanes
        most = {"busy_cycles": 1, "mac_multiplies": P, "classifier_multiplies": 1,
                "weight_reads": P, "weight_writes": P, "act_reads": 1 + P, "act_writes": P}
        assert set(most) == set(COUNTERS), "a counter without a stated maximum increment"
        # runs shorter than 2**(COUNTER_BITS - 3) cycles (the documented limit is
        # 2**COUNTER_BITS cycles of the busy counter; P + 1 <= 8 increments fit)
        limit = (1 << (COUNTER_BITS - 3)) - 1
        assert max(most.values()) <= 8
        for name in COUNTERS:
            c = probe(frag, f"counters.count_{name}")
            prev = self.past(c, name=name)
            # budget = most * cycles since reset, kept by additions (cheap to solve)
            budget = Signal(COUNTER_BITS, name=f"budget_{name}")
            m.d.sync += budget.eq(budget + most[name])
            m.d.comb += [Assume(budget <= most[name] * limit),
                         Assert(implies(self.ok_past, (c >= prev) & (c - prev <= most[name]))),
                         Assert(c <= budget),
                         Cover(self.ok_past & (c > prev))]

    def _check_results(self, m, frag):
        dut, in_state = self.dut, self.in_state
        res = dut.o_result
        m.d.comb += [Assert(implies(res.valid, res.ready)),
                     Assert(res.valid == dut.o_release)]
        # a sample starts when the layer leaves IDLE (SKIP included: it reports too)
        starting = self.ok_past & self.past(in_state["IDLE"], name="idle") & ~in_state["IDLE"]
        samples = self.beats(starting, 4, "samples")
        results = self.beats(res.valid & res.ready, 4, "results")
        m.d.comb += Assert((samples + starting - results)[:4] == dut.busy)
        m.d.comb += [Cover(res.valid & self.train), Cover(res.valid & ~self.train)]

    def _check_slots(self, m, frag):
        dut, in_state = self.dut, self.in_state
        self.stream_rules(dut.o_full, dut.i_release, dut.o_token, check=Assert, name="o_slot")
        full, slot = probe(frag, "activations.full"), probe(frag, "slot")
        m.d.comb += [Assert(implies(in_state["SKIP"] | in_state["FWD"] | in_state["SCORES"],
                                    ~full.bit_select(slot, 1))),
                     Cover(dut.o_full & ~dut.i_release & self.past(dut.o_full, name="o_full"))]

    def _check_pipeline(self, m, frag):
        dut = self.dut
        full = probe(frag, "activations.full")
        a_wr = dut.activations.memory.write_ports[0]
        a_slot = a_wr.addr >= dut.groups
        m.d.comb += [Assert(implies(a_wr.en, ~full.bit_select(a_slot, 1))),
                     Assert(implies(a_wr.en, a_wr.addr < 2 * dut.groups)),
                     # the case that matters: one slot written while the other is read
                     Cover(a_wr.en & full.bit_select(~a_slot, 1))]
        # the error unit's d (one group of local errors) to the update beats
        # (the error unit's inputs are driven by the layer, its outputs inside it)
        d_valid, d_take = probe(frag, "eu.d_valid"), probe(frag, "d_take")
        restart = probe(frag, "start_d") | probe(frag, "start")
        held = self.ok_past & self.past(d_valid & ~d_take & ~restart, name="d_held")
        m.d.comb += [Assert(implies(held, d_valid)),
                     Assert(implies(held, Value.cast(probe(frag, "eu.d")) == self.past(
                         probe(frag, "eu.d"), name="d"))),
                     Assert(implies(d_take, d_valid)),
                     Cover(d_take)]


# -- network top and its input buffer -------------------------------------------

class InputBufferHarness(Harness):
    """The input buffer: ``i_sample`` follows the stream rules (assumed);
    the slot it hands to layer 0 follows them too (asserted); no beat is
    lost or duplicated: the accepted beats are always ``N_0`` per sample
    handed over or waiting, plus the beats of the sample being received."""

    def __init__(self, cfg, *, buffer_cls=None):
        super().__init__()
        from lela.rtl.input_buffer import InputBuffer
        self.cfg = cfg
        self.dut = (buffer_cls or InputBuffer)(cfg)
        self.free_inputs(self.dut)

    def check(self, m):
        dut, n0 = self.dut, self.cfg.sizes[0]
        m.submodules.dut = frag = Fragment.get(dut, None)
        beat = dut.i_sample
        self.stream_rules(beat.valid, beat.ready, beat.payload, check=Assume, name="i_sample")
        self.stream_rules(dut.o_full, dut.i_release, dut.o_token, check=Assert, name="o_slot")
        width = 8
        accepted = self.beats(beat.valid & beat.ready, width, "accepted")
        released = self.beats(dut.i_release & dut.o_full, width, "released")
        full, k = probe(frag, "slots.full"), probe(frag, "k")
        waiting = full[0] + full[1]
        m.d.comb += [Assert(k < n0),
                     Assert(accepted == ((released + waiting) * n0 + k)[:width]),
                     Assert(implies(dut.busy == 0, (k == 0) & (full == 0))),
                     Cover(full == 0b11), Cover((released == 2) & (k != 0))]


class NetworkHarness(Harness):
    """The network top, bounded from reset: every stream port follows the
    stream rules (``i_sample`` and ``i_acc`` assumed, ``o_result`` and
    ``o_acc`` asserted); exactly one access response per request; never
    more results than samples; and the environment every layer's own proof
    assumes is guaranteed here: no layer result is offered while its FIFO
    is full, access requests reach a layer only while it is idle with no
    sample offered, and no sample is offered during an access."""

    def __init__(self, cfg, *, trace=True, cover_training=True):
        super().__init__()
        from lela.rtl.top import Network
        self.cfg = cfg
        self.cover_training = cover_training
        self.dut = Network(cfg, trace=trace)
        self.free_inputs(self.dut)

    def check(self, m):
        dut, cfg = self.dut, self.cfg
        m.submodules.dut = frag = Fragment.get(dut, None)
        n0 = cfg.sizes[0]
        self.stream_rules(dut.i_sample.valid, dut.i_sample.ready, dut.i_sample.payload,
                          check=Assume, name="i_sample")
        self.stream_rules(dut.i_acc.valid, dut.i_acc.ready, dut.i_acc.payload,
                          check=Assume, name="i_acc")
        self.stream_rules(dut.o_result.valid, dut.o_result.ready, dut.o_result.payload,
                          check=Assert, name="o_result")
        self.stream_rules(dut.o_acc.valid, dut.o_acc.ready, dut.o_acc.payload,
                          check=Assert, name="o_acc")
        width = 8
        # access port: one response per request, in order
        access = probe(frag, "access_state")
        serving = access != state_value(access, "IDLE")
        requests = self.beats(dut.i_acc.valid & dut.i_acc.ready, width, "requests")
        responses = self.beats(dut.o_acc.valid & dut.o_acc.ready, width, "responses")
        m.d.comb += Assert((requests - responses)[:width] == serving)
        # samples: never more results than complete samples in
        beat_k = Signal(range(n0), name="beat_k")
        take = dut.i_sample.valid & dut.i_sample.ready
        with m.If(take):
            m.d.sync += beat_k.eq(Mux(beat_k == n0 - 1, 0, beat_k + 1))
        samples = self.beats(take & (beat_k == n0 - 1), width, "samples")
        results = self.beats(dut.o_result.valid & dut.o_result.ready, width, "results")
        m.d.comb += Assert(results <= samples)
        # the layers' environment
        for i, layer in enumerate(dut.layers):
            l_access = probe(frag, f"layer{i}.access.access_state")
            l_idle = l_access == state_value(l_access, "IDLE")
            m.d.comb += [
                Assert(implies(layer.acc.req, ~layer.busy & ~layer.i_full & l_idle)),
                Assert(implies(~l_idle, ~layer.i_full)),
                Assert(implies(layer.busy, layer.o_result.ready)),
                Assert(implies(layer.o_result.valid, layer.o_result.ready)),
            ]
        out = dut.o_result.valid & dut.o_result.ready
        m.d.comb += [Cover(out & ~dut.o_result.payload.train),
                     Cover(dut.o_acc.valid & dut.o_acc.ready & ~dut.o_acc.payload.error)]
        if self.cover_training:   # a trained sample takes the longest to come out
            m.d.comb += Cover(out & dut.o_result.payload.train)
