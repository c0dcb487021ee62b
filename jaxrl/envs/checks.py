"""Argument checks shared by the environments' ``make_params``: one clear line naming the
argument, before any array is built."""

from __future__ import annotations

import numpy as np

INT32_MAX = int(np.iinfo(np.int32).max)


def time_limit(max_steps) -> int:
    """``max_steps`` as a Python int in ``[1, 2^31 - 1]`` (it is stored as an int32)."""
    if (
        isinstance(max_steps, (bool, np.bool_))
        or not isinstance(max_steps, (int, np.integer))
        or not 1 <= max_steps <= INT32_MAX
    ):
        raise ValueError(f"max_steps must be an integer in [1, {INT32_MAX}], got {max_steps!r}")
    return int(max_steps)


def flag(name: str, value) -> bool:
    """``value`` as a bool; anything but a bool is refused."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool, got {value!r}")
    return bool(value)
