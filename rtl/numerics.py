"""Rounding and saturation on Amaranth values: twin of ``lela.golden_model.numerics``.

Both helpers build combinational logic and return a new :class:`~amaranth.hdl.Value`;
their widths follow Amaranth's arithmetic rules, so no intermediate wraps.
The golden model's :func:`~lela.golden_model.numerics.round_shift` (round half
up: add half an LSB of the result, shift right arithmetically) and
:func:`~lela.golden_model.numerics.saturate` (clamp to a signed width) are
mirrored operation for operation.
"""

from amaranth.hdl import Const, Mux, Shape, Signal, Value, signed

from lela.golden_model.numerics import signed_range

__all__ = ["div_const", "divmod_const", "round_shift", "saturate", "saturate_registered",
           "signed_range", "sub_round_shift"]


def _check_shift(shift):
    if not isinstance(shift, int) or isinstance(shift, bool):
        raise TypeError(f"shift must be an integer, not {shift!r}")


def round_shift(value, shift):
    """``value / 2**shift`` rounded half up for ``shift > 0``; ``value << -shift`` otherwise.

    Parameters
    ----------
    value : Value
        Signed or unsigned operand.
    shift : int
        Constant shift (elaboration time).

    Returns
    -------
    Value
        Exact result; a right shift keeps ``value``'s signedness and is
        arithmetic for signed values.
    """
    _check_shift(shift)
    value = Value.cast(value)
    if shift > 0:
        half = Const(1 << (shift - 1), shift)
        return (value + half) >> shift
    return value << -shift


def sub_round_shift(minuend, value, shift):
    """``minuend - round_shift(value, shift)`` with one adder: for a signed
    ``value`` and ``shift > 0`` the rounding's carry, bit ``shift - 1`` of
    ``value``, becomes the adder's carry-in: ``minuend + ~(value >> shift) +
    ~value[shift - 1]`` (exact: the same value as the two-step form for every
    operand). Otherwise the two-step form.
    """
    _check_shift(shift)
    minuend, value = Value.cast(minuend), Value.cast(value)
    if shift <= 0 or not value.shape().signed:
        return minuend - round_shift(value, shift)
    carry = value[min(shift, len(value)) - 1]   # past the top: the sign bit
    return minuend + ~(value >> shift) + ~carry


def _clamp_parts(value, width):
    """``(low, too_big, too_small)`` of clamping ``value`` to a signed
    ``width``-bit number, or None when every value of its shape is in range."""
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ValueError(f"width must be a positive integer, not {width!r}")
    value = Value.cast(value)
    shape = Shape.cast(value.shape())
    if shape.width < width or (shape.signed and shape.width == width):
        return None
    # in range exactly when the bits from the result's sign bit up are all
    # equal (all zero for an unsigned value): a test of those bits, no comparator
    low = value[:width].as_signed()
    top = value[width - 1:]
    if shape.signed:
        negative = value[-1]
        return low, ~negative & top.any(), negative & ~top.all()
    return low, top.any(), Const(0)


def _clamp(width, low, too_big, too_small):
    lo, hi = signed_range(width)
    return Mux(too_small, Const(lo, signed(width)), Mux(too_big, Const(hi, signed(width)), low))


def saturate(value, width):
    """Clamp ``value`` to a signed ``width``-bit number (never wrap).

    Parameters
    ----------
    value : Value
        Signed or unsigned operand of any width.
    width : int
        Result width.

    Returns
    -------
    Value
        A value in the range of ``signed(width)`` (of that shape whenever
        clamping is needed; narrower operands are returned unchanged).
    """
    parts = _clamp_parts(value, width)
    return Value.cast(value) if parts is None else _clamp(width, *parts)


def saturate_registered(m, value, width, *, name):
    """``saturate(value, width)`` one cycle later, decided in the cycle of
    ``value``: its low ``width`` bits and the two clamp decisions are
    registered (reset-less), so the cycle after holds only a multiplexer.
    (Registering ``value`` whole and clamping after the register left the
    clamp's wide tests after the register, which synthesis for the ECP5 then
    spread over several LUT levels per bit.)"""
    parts = _clamp_parts(value, width)
    if parts is None:
        held = Signal(Value.cast(value).shape(), name=name, reset_less=True)
        m.d.sync += held.eq(value)
        return held
    regs = (Signal(signed(width), name=f"{name}_low", reset_less=True),
            Signal(name=f"{name}_big", reset_less=True),
            Signal(name=f"{name}_small", reset_less=True))
    m.d.sync += [r.eq(v) for r, v in zip(regs, parts)]
    return _clamp(width, *regs)


def divmod_const(value, divisor, limit):
    """``(value // divisor, value % divisor)`` of an unsigned ``value < limit``
    by a constant, without a divider: ``q = (value * ceil(2**s / divisor)) >> s``
    with ``s = bits(limit) + ceil(log2(divisor))``, exact for every
    ``value < 2**bits(limit)`` (Granlund and Montgomery, 1994). Used on the
    access port's address path, not in the numeric contract.
    """
    q = div_const(value, divisor, limit)
    value = Value.cast(value).as_unsigned()
    if divisor & (divisor - 1) == 0:
        return q, value & (divisor - 1)
    return q, (value - q * divisor)[:(divisor - 1).bit_length()]


def div_const(value, divisor, limit):
    """``value // divisor`` of an unsigned ``value < limit`` by a constant: the
    quotient of :func:`divmod_const` alone (one multiplication, or a shift
    for a power of two), for a pipeline that takes the remainder a cycle
    later."""
    if not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 1:
        raise ValueError(f"divisor must be a positive integer, not {divisor!r}")
    value = Value.cast(value).as_unsigned()
    if divisor & (divisor - 1) == 0:
        return value >> (divisor.bit_length() - 1)
    n = max(int(limit - 1).bit_length(), 1)
    s = n + (divisor - 1).bit_length()
    coef = -(-(1 << s) // divisor)
    return ((value[:n] * coef) >> s)[:n]
