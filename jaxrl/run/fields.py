"""Checks of an experiment's static config fields: each refuses a bad field in one line naming
it, before anything is compiled.

:func:`check_fields` holds a config to exactly the runner's fields plus the experiment's own (a
field the experiment does not read is an error, not silently ignored; so is a missing one); the
value checks (:func:`positive_int`, :func:`boolean`, :func:`hidden_widths`, :func:`choice`) are
what experiments compose their own checks from.
"""

from __future__ import annotations

import numpy as np

from jaxrl.run.experiment import ConfigError

# Fields every runner config has (see ``jaxrl.run``).
SHARED_FIELDS = ("seed", "num_seeds", "total_steps", "chunk_steps", "checkpoint_every")
RUNNER_FIELDS = frozenset({"experiment", *SHARED_FIELDS, "hparams", "sweep", "sweep_mode"})


def check_fields(config, module: str, fields) -> None:
    """Refuses a config whose fields are not exactly the runner's plus ``fields``."""
    allowed = RUNNER_FIELDS | set(fields)
    present = set(config.keys())
    extra, missing = sorted(present - allowed), sorted(allowed - present)
    if extra:
        raise ConfigError(
            f"config.{extra[0]} is not a field of {module}, which reads: "
            f"{', '.join(sorted(allowed - RUNNER_FIELDS))}"
        )
    if missing:
        raise ConfigError(f"config lacks the field {missing[0]!r} that {module} reads")


def positive_int(config, name: str) -> int:
    """``config[name]``, which must be a Python int >= 1 (not a bool)."""
    value = config[name]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"config.{name} must be a positive integer, got {value!r}")
    return int(value)


def boolean(config, name: str) -> bool:
    """``config[name]``, which must be True or False."""
    value = config[name]
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"config.{name} must be True or False, got {value!r}")
    return bool(value)


def choice(config, name: str, allowed) -> str:
    """``config[name]``, which must be one of ``allowed``."""
    value = config[name]
    if value not in tuple(allowed):
        raise ConfigError(f"config.{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def hidden_widths(config, name: str = "hidden") -> tuple[int, ...]:
    """``config[name]`` as a tuple of hidden-layer widths, each a positive int (may be empty)."""
    widths = tuple(config[name])
    if any(isinstance(w, bool) or not isinstance(w, (int, np.integer)) or w < 1 for w in widths):
        raise ConfigError(f"config.{name} must be a tuple of positive integers, got {widths!r}")
    return widths
