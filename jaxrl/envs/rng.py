"""Cheap per-step randomness for vectorized environments.

``jax.random`` on the CPU lowers each Threefry hash to a small rolled loop, several kernels per
call. An environment stepped for thousands of agents per scan iteration spends most of its time
there. :func:`uniform_pair` draws the two numbers a step needs from ONE Threefry-2x32 block of the
key, written out round by round so that XLA fuses it with the rest of the step. It is the same
hash (Salmon et al., 2011, "Parallel random numbers: as easy as 1, 2, 3"; 20 rounds, the
constants of ``jax.random``), so its quality is Threefry's; the test suite checks it bit for bit
against ``jax.extend.random.threefry_2x32``.

Keys of other implementations (``rbg``, ...) fall back to ``jax.random.uniform``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)
# A counter no other use of the key is likely to hash: the first 32 fractional bits of sqrt(2)
# and sqrt(3) (domain separation from split and fold_in, which count from zero).
_COUNTER = (np.uint32(0x6A09E667), np.uint32(0xBB67AE85))


def threefry2x32(k1, k2, x1, x2):
    """The Threefry-2x32 block function, 20 rounds, unrolled. All arguments uint32."""

    def rotl(v, r):
        return (v << np.uint32(r)) | (v >> np.uint32(32 - r))

    ks = (k1, k2, k1 ^ k2 ^ _PARITY)
    x1 = x1 + ks[0]
    x2 = x2 + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x1 = x1 + x2
            x2 = rotl(x2, r) ^ x1
        x1 = x1 + ks[(i + 1) % 3]
        x2 = x2 + ks[(i + 2) % 3] + np.uint32(i + 1)
    return x1, x2


def _to_unit_float(bits: jax.Array) -> jax.Array:
    """uint32 -> float32 uniform on [0, 1), from the top 23 bits (as ``jax.random.uniform``)."""
    mantissa = (bits >> np.uint32(9)) | np.uint32(0x3F800000)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


def _is_threefry(key: jax.Array) -> bool:
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return str(jax.random.key_impl(key)) == "threefry2x32"
    return key.dtype == jnp.uint32 and key.shape[-1:] == (2,)  # a legacy raw threefry key


def uniform_pair(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Two independent float32 uniforms on [0, 1) from one key (one Threefry block)."""
    if not _is_threefry(key):
        u = jax.random.uniform(key, (2,))
        return u[0], u[1]
    data = jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key
    b1, b2 = threefry2x32(data[0], data[1], jnp.uint32(_COUNTER[0]), jnp.uint32(_COUNTER[1]))
    return _to_unit_float(b1), _to_unit_float(b2)


def counter_uniforms(key_data: jax.Array, step: jax.Array, stream: int = 0):
    """Two float32 uniforms on [0, 1) for ``step`` of a counter-based stream of raw key data.

    Threefry is a counter-based generator: hashing the counter ``(step, stream)`` under a fixed
    key gives independent draws for every step, with no key to split and carry. Long training
    loops keep ``key_data`` (uint32 ``[2]``, e.g. ``jax.random.key_data(key)``) in their state
    and call this once per step; ``stream`` separates independent uses within a step.
    """
    b1, b2 = threefry2x32(
        key_data[0],
        key_data[1],
        jnp.asarray(step).astype(jnp.uint32),
        jnp.uint32(stream) ^ _COUNTER[1],
    )
    return _to_unit_float(b1), _to_unit_float(b2)


def counter_key(key_data: jax.Array, step: jax.Array, stream: int = 0) -> jax.Array:
    """A typed Threefry key for ``step`` of a counter-based stream (to hand to an env's step)."""
    b1, b2 = threefry2x32(
        key_data[0],
        key_data[1],
        jnp.asarray(step).astype(jnp.uint32),
        jnp.uint32(stream) ^ _COUNTER[0],
    )
    return jax.random.wrap_key_data(jnp.stack([b1, b2]), impl="threefry2x32")


# The counter stream of an environment's own randomness (slip, auto-reset start cells) in the
# tabular and linear learners.
ENV_STREAM = 1


def env_key(key_data: jax.Array, step: jax.Array) -> jax.Array:
    """The environment's key for training step ``step`` of the seed with raw key ``key_data``."""
    return counter_key(key_data, step, stream=ENV_STREAM)
