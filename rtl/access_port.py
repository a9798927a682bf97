"""A layer's access port: one read or write of its weights, biases, counters
or information at a time.

The request (``write``, ``space``, ``index``, ``wdata``) is held by the
requester from ``req`` until ``done`` (the network top holds its request
register). With ``register_request`` the port also takes it with ``req`` into
registers of its own, so that its decoding and the memories' write enables
come from registers of the layer (the top's one request register feeds every
layer's port: decoding from it directly was a path across the ECP5 die in the
96-multiplier build, docs/boards.md); without, it keeps no copy (``25 +
weight_width`` flip-flops per layer that the iCE40 UP5K build does not have). It is served only while
the layer is idle (the top guarantees it); while it is served, the layer
takes ``word`` and ``group`` into its own address registers (``active``),
which address its weight and bias memories: no multiplexer between those
registers and block RAMs that spread over the die.

Address map of one layer (``lela.contract``): space ``SPACE_W`` index
``j*N_in + k`` is ``W[j, k]``; ``SPACE_B`` index ``j`` is ``b_j`` (both
read/write, sign-extended on reads, the low ``weight_width`` bits written);
``SPACE_COUNTERS`` index ``n`` is bits 31..0 of counter ``n``, ``n +
COUNTER_HIGH`` the bits above (read-only; none when the layer has no
counters); ``SPACE_INFO`` index ``n`` is ``INFO[n]`` (read-only);
``SPACE_CONTROL`` index ``n`` is the one-bit control word ``CONTROL[n]``
(read/write, bit 0 written, reset to ``CONTROL_RESET``; the port holds it,
``learn``). Anything else, and a write to a read-only space, is an error:
``done`` with ``error`` set and ``rdata`` 0, nothing written.

Schedule (``done`` exactly seven cycles after ``req`` when every divisor is a
power of two; :attr:`AccessPort.cycles`)::

    IDLE     req (with ``register_request``: the request registered)
    DECODE   W index -> word g*N_in + k, lane p (j = g*P + p); b index ->
             word g, lane p; range and permission check (registered)
    ADDRESS  ``word`` and ``group`` final; a write's strobes registered
    LOAD     the layer's address registers hold them: the memories' read; a
             write enables its one lane
    DATA     the memories' read data, registered once by the layer (its read
             register, or its update unit's S2 registers without one: the
             memories feed no logic in their cycle)
    SELECT   the lane's word registered (more than ``GATHER_LANES`` lanes:
             each group's choice)
    GATHER   (more than ``GATHER_LANES`` lanes) the group's choice registered
    DONE     done (rdata: that word sign-extended, error)
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from lela.contract import (
    ACCESS_DATA_BITS,
    ACCESS_INDEX_BITS,
    ACCESS_SPACE_BITS,
    CONTROL,
    CONTROL_RESET,
    COUNTER_HIGH,
    COUNTERS,
    INFO,
    SPACE_B,
    SPACE_CONTROL,
    SPACE_COUNTERS,
    SPACE_INFO,
    SPACE_W,
    bits,
)

from .counters import COUNTER_INDEX_BITS
from .numerics import divmod_const
from .params import check_int, invalid

__all__ = ["ACCESS_CYCLES", "GATHER_LANES", "AccessPort", "AccessSignature"]

#: Cycles from ``req`` to ``done`` when every divisor of the decode is a power
#: of two (``AccessPort.cycles``: more otherwise, :meth:`AccessPort.cycles`).
ACCESS_CYCLES = 7
#: Lanes among which the read data's first multiplexer stage chooses (SELECT);
#: a layer of more lanes chooses among the groups' choices in GATHER.
GATHER_LANES = 4

#: One access of the layer's memories, counters or information (requester's
#: view). ``write``, ``space``, ``index`` and ``wdata`` are held from ``req``
#: until ``done`` (the top holds its request register).
AccessSignature = wiring.Signature({
    "req": Out(1), "write": Out(1), "space": Out(ACCESS_SPACE_BITS),
    "index": Out(ACCESS_INDEX_BITS), "wdata": Out(ACCESS_DATA_BITS),
    "done": In(1), "rdata": In(ACCESS_DATA_BITS), "error": In(1),
})


class AccessPort(wiring.Component):
    """Decodes one access of a layer and drives the layer's memory ports for it.

    Parameters
    ----------
    n_in, n_out : int
        Inputs and neurons of the layer.
    lanes : int
        ``P``: weights per memory word.
    weight_width : int
        Bits of a weight or bias.
    info : tuple of int
        The layer-information words, in ``lela.contract.INFO`` order.
    counters : bool
        The layer has its counters (else counter reads are errors).
    control : bool
        The layer has its control word ``learn`` (else it always learns, and
        a control access is an error).
    register_request : bool
        Take the request into the port's own registers with ``req``
        (``Config.read_register`` of the layer's configuration).

    Attributes
    ----------
    acc : In(AccessSignature)
        The request (held until ``done``) and its response.
    active : Out(1)
        DECODE to DONE: the layer loads ``word`` and ``group`` into the
        address registers of its weight and bias memories (in LOAD they hold
        the accessed words).
    word : Out(unsigned(bits(N_out/P * N_in)))
        Weight word to read or write (final in ADDRESS, held until the next
        access's decode).
    group : Out(unsigned(bits(N_out/P)))
        Bias word to read or write (as ``word``).
    we_w, we_b : Out(1)
        LOAD: write ``word_data`` to the lane ``lane_en`` of weight word
        ``word`` / bias word ``group`` (registered).
    lane_en : Out(unsigned(P))
        One-hot lane of the accessed value (registered in ADDRESS).
    word_data : Out(ArrayLayout(signed(weight_width), P))
        The request's ``wdata`` in every lane.
    w_rdata, b_rdata : In(ArrayLayout(signed(weight_width), P))
        SELECT: the weight and bias words read (the memories' read data of
        the words addressed in LOAD, registered).
    counter_index : Out(unsigned(COUNTER_INDEX_BITS))
        The counter word to read (``Counters.r_index``).
    counter_data : In(unsigned(32))
        SELECT: that word (``Counters.r_data``).
    learn : Out(1)
        The control word ``learn``: the layer updates on training samples.
    """

    def __init__(self, *, n_in, n_out, lanes, weight_width, info, counters, control=True,
                 register_request=False):
        check_int(self, "lanes", lanes, 1)
        check_int(self, "n_in", n_in, 1)
        check_int(self, "n_out", n_out, lanes)
        check_int(self, "weight_width", weight_width, 2, ACCESS_DATA_BITS)
        if n_out % lanes:
            invalid(self, ValueError(f"n_out must be a multiple of lanes ({lanes}), "
                                     f"not {n_out!r}"))
        if len(info) != len(INFO) or not all(isinstance(v, int) for v in info):
            invalid(self, ValueError(f"info must be {len(INFO)} integers ({', '.join(INFO)}), "
                                     f"not {info!r}"))
        self._n_in, self._n_out, self._lanes = n_in, n_out, lanes
        self._weight_width = weight_width
        self._info = tuple(info)
        self._counters = bool(counters)
        self._control = bool(control)
        self._register_request = bool(register_request)
        groups = n_out // lanes
        self._serial = any(d & (d - 1) for d in (lanes * n_in, n_in, lanes))
        wgt = data.ArrayLayout(signed(weight_width), lanes)
        super().__init__({
            "acc": In(AccessSignature),
            "active": Out(1),
            "word": Out(bits(groups * n_in)), "group": Out(bits(groups)),
            "we_w": Out(1), "we_b": Out(1), "lane_en": Out(lanes), "word_data": Out(wgt),
            "w_rdata": In(wgt), "b_rdata": In(wgt),
            "counter_index": Out(COUNTER_INDEX_BITS), "counter_data": In(ACCESS_DATA_BITS),
            "learn": Out(1, init=CONTROL_RESET["learn"]),
        })

    @property
    def cycles(self):
        """Cycles from ``req`` to ``done``: :data:`ACCESS_CYCLES`; when a divisor
        of the decode is not a power of two, one more per quotient bit of the
        group and of the lane, and one to add the input (the serial decode)."""
        return ACCESS_CYCLES + (self._serial_steps() + 1 if self._serial else 0)

    def _serial_steps(self):
        """Quotient bits of the serial decode: the group's, then the lane's."""
        return bits(self._n_out // self._lanes) + bits(self._lanes)

    def elaborate(self, platform):
        """The request decoder (:attr:`cycles` states after the request) and the
        read-data registers."""
        m = Module()
        P, N_in, N = self._lanes, self._n_in, self._n_out
        acc = self.acc
        ww = self._weight_width
        write, space, index, wdata = acc.write, acc.space, acc.index, acc.wdata[:ww]
        if self._register_request:   # read in DECODE .. DONE only
            held = (write, space, index, wdata)
            write = Signal(reset_less=True, name="req_write")
            space = Signal.like(acc.space, name="req_space", reset_less=True)
            index = Signal.like(acc.index, name="req_index", reset_less=True)
            wdata = Signal(ww, name="req_wdata", reset_less=True)
            with m.If(acc.req):
                m.d.sync += [r.eq(v) for r, v in zip((write, space, index, wdata), held)]
        error = Signal()
        mem_word = Signal(signed(self._weight_width))    # a weight or bias, read
        other = Signal(ACCESS_DATA_BITS)                  # a counter or information word
        lane = Signal(bits(P))
        info = self._info

        counter_number = index[:COUNTER_INDEX_BITS - 1]
        n_counters = len(COUNTERS) if self._counters else 0
        in_range = Mux(space == SPACE_W, index < N_in * N,
                   Mux(space == SPACE_B, index < N,
                   Mux(space == SPACE_COUNTERS,
                       (index < 2 * COUNTER_HIGH) & (counter_number < n_counters),
                   Mux(space == SPACE_INFO, index < len(info),
                   Mux(space == SPACE_CONTROL, (index < len(CONTROL)) & self._control, 0)))))
        read_only = (space == SPACE_COUNTERS) | (space == SPACE_INFO)
        # a write's strobes, registered in ADDRESS: the layer writes in LOAD
        # with no logic between the port's state and the memories' enables
        we_w, we_b, lane_en = Signal(), Signal(), Signal(P, reset_less=True)
        m.d.sync += [we_w.eq(0), we_b.eq(0)]
        m.d.comb += [self.counter_index.eq(index[:COUNTER_INDEX_BITS]),
                     self.we_w.eq(we_w), self.we_b.eq(we_b), self.lane_en.eq(lane_en),
                     self.word_data.eq(Cat(*([wdata] * P)))]

        # j*N_in + k -> word g*N_in + k, lane p (j = g*P + p); j -> word g, lane p
        w_word, w_lane = Signal.like(self.word), Signal.like(lane)
        b_word, b_lane = Signal.like(self.group), Signal.like(lane)
        m.d.comb += [self.word.eq(w_word), self.group.eq(b_word)]

        if self._serial:
            serial = _SerialDecode(m, self, index, w_word, w_lane, b_word, b_lane)
        self._choose_lanes(m, space, w_lane, b_lane)
        with m.FSM(name="access"):
            with m.State("IDLE"), m.If(acc.req):
                m.next = "DECODE"
            with m.State("DECODE"):
                m.d.comb += self.active.eq(1)
                m.d.sync += error.eq(~in_range | (write & read_only))
                if not self._serial:   # shifts and masks: all in one cycle
                    wg, wr = divmod_const(index, P * N_in, N_in * N)
                    wp, wk = divmod_const(wr, N_in, P * N_in)
                    bg, bp = divmod_const(index, P, N)
                    m.d.sync += [w_word.eq(wg * N_in + wk), w_lane.eq(wp),
                                 b_word.eq(bg), b_lane.eq(bp)]
                    m.next = "ADDRESS"
                else:
                    m.d.sync += serial.start
                    m.next = "DIVIDE"
            if self._serial:
                serial.states()
            with m.State("ADDRESS"):
                m.d.comb += self.active.eq(1)
                is_w = space == SPACE_W
                m.d.comb += lane.eq(Mux(is_w, w_lane, b_lane))
                m.d.sync += lane_en.eq(Const(1, P) << lane)
                with m.If(~error & write):
                    m.d.sync += [we_w.eq(is_w), we_b.eq(space == SPACE_B)]
                    if self._control:
                        with m.If(space == SPACE_CONTROL):   # CONTROL = ("learn",)
                            m.d.sync += self.learn.eq(wdata[0])
                m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.active.eq(1)
                m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += self.active.eq(1)
                m.next = "SELECT"
            with m.State("SELECT"):
                m.d.comb += self.active.eq(1)
                self._select_word(m, space, w_lane, b_lane, mem_word)
                info_word = Const(0, ACCESS_DATA_BITS)
                for n, value in enumerate(info):
                    info_word = Mux(index == n, value, info_word)
                if self._control:
                    info_word = Mux(space == SPACE_CONTROL, self.learn, info_word)
                m.d.sync += other.eq(Mux(space == SPACE_COUNTERS, self.counter_data, info_word))
                m.next = "GATHER"
            with m.State("GATHER"):
                m.d.comb += self.active.eq(1)
                self._gather_word(m, space, w_lane, b_lane, mem_word)
                m.next = "DONE"
            with m.State("DONE"):
                m.d.comb += self.active.eq(1)
                rdata = Mux((space == SPACE_W) | (space == SPACE_B), mem_word, other)
                m.d.comb += [acc.done.eq(1), acc.error.eq(error),
                             acc.rdata.eq(Mux(error | write, 0, rdata))]
                m.next = "IDLE"
        return m

    def _choose_lanes(self, m, space, w_lane, b_lane):
        """With more than :data:`GATHER_LANES` lanes: each group's own
        registered copy (``keep``) of SELECT's choice, taken on every cycle
        (outside the port's FSM): the request's fields hold it from ADDRESS on,
        and one choice for all groups was a path across the die (69.39 MHz in
        the 96-multiplier build, docs/boards.md)."""
        P, S = self._lanes, GATHER_LANES
        lo = (S - 1).bit_length()
        self._choices = []
        for q in range(-(-P // S) if P > S else 0):
            is_w = Signal(name=f"read_is_w{q}", reset_less=True, attrs={"keep": 1})
            sel = Signal(lo, name=f"read_sel{q}", reset_less=True, attrs={"keep": 1})
            m.d.sync += [is_w.eq(space == SPACE_W),
                         sel.eq(Mux(space == SPACE_W, w_lane[:lo], b_lane[:lo]))]
            self._choices.append((is_w, sel))

    def _select_word(self, m, space, w_lane, b_lane, mem_word):
        """SELECT: the accessed lane's word, in one step up to
        :data:`GATHER_LANES` lanes; else each group of that many lanes's
        choice, registered (a wide layer's lanes spread over the die: one
        multiplexer of all of them set the MNIST board build's critical path,
        73.83 MHz)."""
        P, S = self._lanes, GATHER_LANES
        if P <= S:
            m.d.sync += mem_word.eq(Mux(space == SPACE_W, self.w_rdata[w_lane],
                                        self.b_rdata[b_lane]))
            return
        self._parts = []
        for q, (is_w, sel) in enumerate(self._choices):
            lanes = range(q * S, min(P, q * S + S))
            part = Signal.like(mem_word, name=f"read_part{q}", reset_less=True)
            m.d.sync += part.eq(Mux(is_w, Array(self.w_rdata[p] for p in lanes)[sel],
                                    Array(self.b_rdata[p] for p in lanes)[sel]))
            self._parts.append(part)

    def _gather_word(self, m, space, w_lane, b_lane, mem_word):
        """GATHER: the group's registered choice (nothing to do up to
        :data:`GATHER_LANES` lanes: the cycle keeps the schedule the same)."""
        if self._lanes <= GATHER_LANES:
            return
        lo = (GATHER_LANES - 1).bit_length()
        parts = Array(self._parts)
        m.d.sync += mem_word.eq(Mux(space == SPACE_W, parts[w_lane[lo:]], parts[b_lane[lo:]]))


class _SerialDecode:
    """The decode of :class:`AccessPort` when its divisors are not all powers
    of two: long division by the constants, one quotient bit a cycle (a
    subtractor and shift registers, no multiplier: the host's accesses are
    rare, and multiplier blocks placed far from the port limited the clock,
    docs/boards.md). ``j*N_in + k`` takes the group ``g`` from ``P*N_in <<
    i`` (adding ``N_in << i`` to the word), then the lane from ``N_in << i``;
    ``j`` takes ``g`` from ``P << i``; the remainders are ``k`` (added to the
    word in FINISH) and the bias lane. ``start`` (the statements of DECODE),
    then :meth:`states` DIVIDE (one cycle per quotient bit) and FINISH."""

    def __init__(self, m, port, index, w_word, w_lane, b_word, b_lane):
        P, N_in, N = port._lanes, port._n_in, port._n_out
        self.m, self.port, self.P, self.N_in = m, port, P, N_in
        self.qg, self.qp = qg, qp = bits(N // P), bits(P)
        self.out = (w_word, w_lane, b_word, b_lane)
        self.w_rem = Signal(bits(N_in * N) + 1, name="dec_w_rem")
        self.b_rem = Signal(bits(N) + 1, name="dec_b_rem")
        # P*N_in << i, then N_in << i; N_in << i; P << i
        self.w_div = Signal(bits((P * N_in) << qg) + 1, name="dec_w_div")
        self.w_add = Signal(bits(N_in << qg) + 1, name="dec_w_add")
        self.b_div = Signal(bits(P << qg) + 1, name="dec_b_div")
        self.step = Signal(range(qg + qp + 1), name="dec_step")
        self.start = [self.w_rem.eq(index), self.b_rem.eq(index), self.step.eq(0),
                      self.w_div.eq((P * N_in) << (qg - 1)), self.w_add.eq(N_in << (qg - 1)),
                      self.b_div.eq(P << (qg - 1)), w_word.eq(0), w_lane.eq(0), b_word.eq(0)]

    def states(self):
        """DIVIDE and FINISH (inside the port's FSM)."""
        m, qg, qp = self.m, self.qg, self.qp
        w_word, w_lane, b_word, b_lane = self.out
        w_rem, b_rem, w_div, w_add, b_div, step = (self.w_rem, self.b_rem, self.w_div,
                                                   self.w_add, self.b_div, self.step)
        w_take, b_take = w_rem >= w_div, b_rem >= b_div
        with m.State("DIVIDE"):
            m.d.comb += self.port.active.eq(1)
            m.d.sync += [step.eq(step + 1), w_div.eq(w_div >> 1), w_add.eq(w_add >> 1),
                         b_div.eq(b_div >> 1)]
            with m.If(w_take):
                m.d.sync += w_rem.eq(w_rem - w_div)
            with m.If(step < qg):      # the group
                with m.If(w_take):
                    m.d.sync += w_word.eq(w_word + w_add)
                with m.If(b_take):
                    m.d.sync += b_rem.eq(b_rem - b_div)
                m.d.sync += b_word.eq(Cat(b_take, b_word))
                with m.If(step == qg - 1):
                    m.d.sync += w_div.eq(self.N_in << (qp - 1))
            with m.Else():             # the lane
                m.d.sync += w_lane.eq(Cat(w_take, w_lane))
            with m.If(step == qg + qp - 1):
                m.next = "FINISH"
        with m.State("FINISH"):
            m.d.comb += self.port.active.eq(1)
            m.d.sync += [w_word.eq(w_word + w_rem), b_lane.eq(b_rem)]
            m.next = "ADDRESS"
