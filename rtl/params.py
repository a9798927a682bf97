"""Validation of keyword-only component parameters (shared by the rtl blocks)."""

__all__ = ["check_choice", "check_int", "invalid"]


def invalid(owner, exc):
    """Raise ``exc`` from a component's ``__init__`` without Amaranth's
    "created but never used" warning for the half-built object."""
    owner._MustUse__silence = True
    raise exc


def check_int(owner, name, value, lo, hi=None):
    """``value`` must be an int (not bool) in ``[lo, hi]``; else ValueError quoting it."""
    if (not isinstance(value, int) or isinstance(value, bool) or value < lo
            or (hi is not None and value > hi)):
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        invalid(owner, ValueError(f"{name} must be an integer {rng}, not {value!r}"))
    return value


def check_choice(owner, name, value, choices):
    """``value`` must be one of ``choices``; else ValueError quoting it."""
    if value not in choices:
        invalid(owner, ValueError(f"{name} must be one of {', '.join(choices)}, not {value!r}"))
    return value
