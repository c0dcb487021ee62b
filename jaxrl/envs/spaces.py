"""Observation and action spaces: what an agent reads an environment's shapes from.

Two kinds, as in gymnax and gymnasium: :class:`Discrete` (integers ``0 .. n - 1``, shape ``()``)
and :class:`Box` (real arrays of a fixed shape between elementwise bounds). Agents build their
networks from them: a discrete observation space can index a table, a box one feeds an MLP; a
discrete action space gets a Q-network or a categorical policy, a box one a bounded actor.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Discrete(NamedTuple):
    """The integers ``0 .. n - 1`` (int32 scalars)."""

    n: int

    @property
    def shape(self) -> tuple[int, ...]:
        return ()

    @property
    def dtype(self):
        return jnp.int32

    def sample(self, key: jax.Array) -> jax.Array:
        return jax.random.randint(key, (), 0, self.n, jnp.int32)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        return x.shape == () and np.issubdtype(x.dtype, np.integer) and 0 <= int(x) < self.n


class Box(NamedTuple):
    """Real arrays of ``shape`` with ``low <= x <= high`` elementwise (float32).

    ``low`` and ``high`` are tuples of floats, one per element (flattened), and may be
    infinite: an unbounded observation.
    """

    low: tuple[float, ...]
    high: tuple[float, ...]
    shape: tuple[int, ...]

    @property
    def dtype(self):
        return jnp.float32

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` as float32 arrays of ``shape``."""
        low = np.asarray(self.low, np.float32).reshape(self.shape)
        return low, np.asarray(self.high, np.float32).reshape(self.shape)

    def sample(self, key: jax.Array) -> jax.Array:
        """Uniform on the box (which must be bounded)."""
        low, high = self.bounds()
        return jax.random.uniform(key, self.shape, jnp.float32, minval=low, maxval=high)

    def contains(self, x) -> bool:
        x = np.asarray(x)
        low, high = self.bounds()
        return x.shape == self.shape and bool(np.all((x >= low) & (x <= high)))


def box(low, high, shape: tuple[int, ...]) -> Box:
    """A :class:`Box` with scalar or per-element bounds."""
    shape = tuple(int(s) for s in shape)
    size = int(np.prod(shape, dtype=np.int64))
    lo = np.broadcast_to(np.asarray(low, np.float64), shape).reshape(size)
    hi = np.broadcast_to(np.asarray(high, np.float64), shape).reshape(size)
    return Box(tuple(float(v) for v in lo), tuple(float(v) for v in hi), shape)


Space = Discrete | Box


def observation_axes(space: Space) -> int:
    """How many trailing axes one observation of ``space`` has, at least 1 (what
    ``networks.MLP(input_dims=...)`` flattens: 3 for an image ``[H, W, C]``)."""
    return max(1, len(space.shape))
