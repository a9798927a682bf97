"""The AXI wrapper's packet FIFO: only whole, well-formed frames come out."""

from amaranth.hdl import Assert, Cover, Fragment, Mux, Signal, Value

from lela.rtl.axi import DROPPED_BITS, PacketFIFO

from .base import Harness, implies, probe


class PacketFifoHarness(Harness):
    """:class:`~lela.rtl.axi.PacketFIFO` against a model of its contract,
    with the property groups named in ``groups``:

    ``stream``
        ``o_stream`` follows the stream rules (``valid`` held and the payload
        stable until taken), and has no bubbles: whenever a committed beat
        was waiting and was not taken, a beat is offered the next cycle.
    ``frames``
        Only beats of well-formed frames come out, all of them, unchanged
        and in order: a beat is offered only while a committed beat is
        waiting (so beats out never exceed ``length`` x frames committed),
        and the ``j``-th beat out is the ``j``-th beat of the well-formed
        frames in. The second half is shown for one tracked beat, chosen by
        the solver (a free ``pick`` as it is taken): if its frame commits,
        it comes out with its data exactly when all the committed beats
        before it have; if its frame is dropped, it is never checked. Every
        beat can be the tracked one, so the output is a prefix of the
        committed beats: frames of exactly ``length`` beats, none of a
        dropped frame, none before its frame's ``last`` came in.
    ``dropped``
        ``dropped`` equals the model's count of malformed frames, which
        saturates at ``2**DROPPED_BITS - 1`` as the contract says (the
        induction starts from any count, the saturated one included).
    ``ready``
        ``i_stream.ready`` is high exactly when the frame is being discarded
        or the storage has room (fewer than ``depth`` entries hold beats not
        yet read out of it: committed ones and those of the frame being
        received): a beat never overwrites one, and there is no back-pressure
        otherwise.

    The model (from the contract, not from the RTL): the beats taken of the
    frame being received and whether it is being discarded; a frame commits
    if its ``last`` comes on beat ``length``, is dropped at an earlier
    ``last`` (short) or at beat ``length`` without ``last`` (long, its
    remaining beats up to its ``last`` discarded); ``pending`` counts the
    committed beats not yet taken from ``o_stream``.

    With ``invariants`` (for ``prove``), auxiliary invariants tie the model
    to the FIFO's pointers and storage so that the induction closes; they
    are asserted, never assumed. The storage is observed through an extra
    asynchronous read port at the tracked beat's address (it drives nothing
    in the FIFO). Without them (``bmc``), only the groups' properties are
    checked, so a counterexample shows one of those failing.

    Environment: none. Every input is free every cycle, including inputs
    that break the stream rules on ``i_stream`` (a beat withdrawn or changed
    before it is taken); ``o_stream.ready`` is free, and so is reset.
    """

    GROUPS = ("stream", "frames", "dropped", "ready")
    #: States of the tracked beat (``t_state``): none tracked, in the frame
    #: being received, committed (``t_ahead`` committed beats to go before it).
    IDLE, IN_FRAME, COMMITTED = range(3)

    def __init__(self, *, shape=4, length=3, depth=8, groups=GROUPS, invariants=True,
                 fifo_cls=PacketFIFO):
        super().__init__()
        unknown = set(groups) - set(self.GROUPS)
        if unknown:
            raise ValueError(f"groups must be among {', '.join(self.GROUPS)}, not {groups!r}")
        self.groups, self.invariants = tuple(groups), invariants
        self.dut = fifo_cls(shape=shape, length=length, depth=depth)
        self.free_inputs(self.dut)
        # observation only: the tracked beat's storage entry
        self.peek = self.dut.storage.read_port(domain="comb")

    def check(self, m):
        dut = self.dut
        n, depth = dut.length, dut.depth
        m.submodules.dut = frag = Fragment.get(dut, None)
        beat, out = dut.i_stream, dut.o_stream
        last = beat.payload.last
        take = beat.valid & beat.ready
        self.fire = out.valid & out.ready
        wide = range(4 * depth)      # model counters: a wrong FIFO fails an assert before they wrap

        # the model of the contract
        self.fk = fk = Signal(range(n), name="frame_beats")   # beats taken of the frame
        self.discarding = discarding = Signal(name="discarding")
        at_end = fk == n - 1
        self.stored = stored = take & ~discarding
        self.commit = stored & last & at_end
        too_short = stored & last & ~at_end
        too_long = stored & ~last & at_end
        self.drop = too_short | too_long
        with m.If(take & discarding):
            m.d.sync += discarding.eq(~last)
        with m.Elif(stored):
            m.d.sync += fk.eq(Mux(last | at_end, 0, fk + 1))
            with m.If(too_long):
                m.d.sync += discarding.eq(1)
        self.pending = Signal(wide, name="pending")           # committed beats not yet out
        m.d.sync += self.pending.eq(self.pending + Mux(self.commit, n, 0) - self.fire)
        self.used = Signal(wide, name="used")                 # storage entries of unread beats
        m.d.comb += self.used.eq(self.pending + fk - out.valid)
        self.malformed = Signal(DROPPED_BITS, name="malformed")
        with m.If(self.drop & ~self.malformed.all()):
            m.d.sync += self.malformed.eq(self.malformed + 1)
        out_k = Signal(range(n), name="out_beats")            # beats out of the current frame
        with m.If(self.fire):
            m.d.sync += out_k.eq(Mux(out_k == n - 1, 0, out_k + 1))

        for group in self.groups:
            getattr(self, f"_check_{group}")(m)
        if self.invariants:
            self._invariants(m, frag)

        if n > 1:                                    # a frame of one beat cannot be short
            m.d.comb += Cover(too_short)
        m.d.comb += [Cover(too_long),
                     Cover(take & discarding & last),            # a long frame's tail, to last
                     Cover(self.fire & (out_k == n - 1) & (self.malformed != 0)),  # after a drop
                     Cover(stored & self.fire),      # a frame written while one is read
                     Cover(beat.valid & ~beat.ready & out.valid & ~out.ready)]   # full, stalled

    def _check_stream(self, m):
        out = self.dut.o_stream
        self.stream_rules(out.valid, out.ready, out.payload, check=Assert, name="o_stream")
        waiting = self.ok_past & self.past(self.pending > self.fire, name="waiting")
        m.d.comb += [Assert(implies(waiting, out.valid)), Cover(waiting & self.fire)]

    def _check_frames(self, m):
        dut = self.dut
        m.d.comb += Assert(implies(dut.o_stream.valid, self.pending != 0))
        # one tracked beat: its data, its state, and the committed beats out before it
        pick = self.free(1, "pick")
        data = Value.cast(dut.i_stream.payload.data)     # the payload's bits, any shape
        self.t_state = state = Signal(range(3), name="t_state")
        self.t_data = Signal(len(data), name="t_data")
        self.t_ahead = ahead = Signal(range(4 * dut.depth), name="t_ahead")
        with m.If((state == self.IDLE) & self.stored & pick):
            m.d.sync += [self.t_data.eq(data),
                         ahead.eq(self.pending + self.fk - self.fire),
                         state.eq(Mux(self.commit, self.COMMITTED,
                                      Mux(self.drop, self.IDLE, self.IN_FRAME)))]
        with m.Elif(state == self.IN_FRAME):
            m.d.sync += ahead.eq(ahead - self.fire)
            with m.If(self.commit):
                m.d.sync += state.eq(self.COMMITTED)
            with m.Elif(self.drop):
                m.d.sync += state.eq(self.IDLE)
        with m.Elif((state == self.COMMITTED) & self.fire):
            m.d.sync += ahead.eq(ahead - 1)
            with m.If(ahead == 0):
                m.d.sync += state.eq(self.IDLE)
        head = self.fire & (state == self.COMMITTED) & (ahead == 0)
        m.d.comb += [Assert(state != 3),
                     Assert(implies(head, Value.cast(dut.o_stream.payload) == self.t_data)),
                     Cover(head & (self.malformed != 0))]

    def _check_dropped(self, m):
        m.d.comb += [Assert(self.dut.dropped == self.malformed), Cover(self.dut.dropped == 2)]

    def _check_ready(self, m):
        room = self.used < self.dut.depth
        m.d.comb += Assert(self.dut.i_stream.ready == (self.discarding | room))

    def _invariants(self, m, frag):
        """Auxiliary invariants: the FIFO's pointers and storage agree with the
        model (true by design; the induction needs them)."""
        dut, out = self.dut, self.dut.o_stream
        abits = (dut.depth - 1).bit_length()
        ptr = abits + 1                                # the pointers' wrap bit included
        wr, start, rd = (probe(frag, name) for name in ("wr", "start", "rd"))
        fk, pending = self.fk, self.pending
        m.d.comb += [
            Assert(fk < dut.length),                   # the model's state in range
            Assert(probe(frag, "k") == fk),
            Assert(probe(frag, "discard") == self.discarding),
            Assert(implies(self.discarding, fk == 0)),
            Assert((wr - start)[:ptr] == fk),
            Assert((start - rd)[:ptr] + out.valid == pending),
            Assert(pending + fk <= dut.depth + out.valid),
        ]
        if "frames" not in self.groups:
            return
        ahead = self.t_ahead
        in_frame, committed = self.t_state == self.IN_FRAME, self.t_state == self.COMMITTED
        in_output = out.valid & (ahead == 0)          # in the read port's register
        m.d.comb += [
            self.peek.addr.eq((rd + ahead - out.valid)[:abits]),
            Assert(implies(in_frame, ~self.discarding & (ahead >= pending)
                           & (ahead < pending + fk))),
            Assert(implies(committed, ahead < pending)),
            Assert(implies(committed & in_output, Value.cast(out.payload) == self.t_data)),
            Assert(implies((in_frame | committed) & ~in_output,
                           Value.cast(self.peek.data) == self.t_data)),
        ]
