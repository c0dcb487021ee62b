"""Argument checks shared by the target functions.

Shapes and dtypes are checked always (chex, at trace time). Values are checked only where they
are concrete, i.e. when a function is called outside ``jit`` / ``vmap``: under tracing they are
not known yet, and the functions compute with whatever they are given (JAX clamps an
out-of-range index, for one). Python lists and tuples are turned into arrays first, so that
``[1.0, 2.0]`` is a stream of two rewards and not a pytree of two scalars.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def arrays(*xs):
    """Lists and tuples as arrays; anything else (arrays, tracers, scalars) as it is."""
    return tuple(jnp.asarray(x) if isinstance(x, (list, tuple)) else x for x in xs)


def _concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def nonempty(name: str, x) -> None:
    """``x`` must hold at least one step (a static shape: always checked)."""
    if np.shape(x)[0] == 0:
        raise ValueError(
            f"{name} must hold at least one step (T >= 1), got shape {list(np.shape(x))}"
        )


def actions(name: str, a, num_actions: int) -> None:
    """Concrete action indices must lie in ``[0, num_actions)``."""
    if not _concrete(a):
        return
    values = np.asarray(a)
    bad = (values < 0) | (values >= num_actions)
    if bad.any():
        raise ValueError(
            f"{name} must hold action indices in [0, {num_actions}), got {values[bad].flat[0]}"
        )


def unit_interval(name: str, x) -> None:
    """A concrete parameter (scalar or per step) must lie in [0, 1]."""
    if not _concrete(x):
        return
    values = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values > 1):
        raise ValueError(f"{name} must be in [0, 1], got {x!r}")


def probabilities(name: str, p, *, atol: float = 1e-4) -> None:
    """Concrete rows (last axis) must be non-negative and sum to one (within ``atol``)."""
    if not _concrete(p):
        return
    values = np.asarray(p, dtype=np.float64)
    sums = values.sum(axis=-1)
    if not np.all(np.isfinite(values)) or np.any(values < -atol):
        raise ValueError(f"{name} must hold non-negative probabilities, got {p!r}")
    bad = np.abs(sums - 1.0) > atol
    if bad.any():
        raise ValueError(
            f"{name} must hold probabilities summing to 1 over actions; a row sums to "
            f"{sums[bad].flat[0]:g}"
        )
