"""The harness base class and the helpers every harness uses (see the package
docstring for the conventions)."""

from amaranth.hdl import (
    Assume,
    Const,
    Cover,
    Elaboratable,
    Module,
    Mux,
    ResetSignal,
    Shape,
    Signal,
    Value,
    signed,
)
from amaranth.lib import wiring

from lela.golden_model.numerics import signed_range


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
