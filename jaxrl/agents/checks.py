"""Config checks shared by the deep agents: each refuses a bad field in one line naming it, before
anything is compiled."""

from __future__ import annotations


def positive_int(config, name: str) -> int:
    """``config[name]``, which must be a Python int >= 1 (not a bool)."""
    value = config[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
    return value


def hidden_widths(config, name: str = "hidden") -> tuple[int, ...]:
    """``config[name]`` as a tuple of hidden-layer widths, each a positive int (may be empty)."""
    widths = tuple(config[name])
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in widths):
        raise ValueError(f"config.{name} must be a tuple of positive integers, got {widths!r}")
    return widths
