"""Running statistics over a stream: observation normalisation and reward scaling.

Pure functions on small NamedTuples, so an agent carries them in its state: they vmap over
seeds, scan over steps and are checkpointed with the rest of the carry.

* :class:`Moments` holds the mean and (population) variance of everything seen so far and how
  many values that was; :func:`update` folds in a batch with the parallel formula of Chan,
  Golub and LeVeque (1979), "Updating formulae and a pairwise algorithm for computing sample
  variances", exact for any split of the stream into batches.
* :func:`normalize` is ``clip((x - mean) / sqrt(var + eps), -clip, clip)``.
* :class:`RewardScale` divides each reward by the running standard deviation of the discounted
  return ``R_t = gamma R_{t-1} + r_t`` (restarted where an episode ends), as Stable-Baselines3's
  ``VecNormalize`` and the PPO implementation details of Engstrom et al. (2020), "Implementation
  matters in deep policy gradients", https://arxiv.org/abs/2005.12729, do; the rewards are
  scaled, not shifted, so the sign of every reward and the optimal policy are kept.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

EPSILON = 1e-8  # added to the variance before the square root
CLIP = 10.0  # normalised values are clipped to [-CLIP, CLIP]


class Moments(NamedTuple):
    """The mean and population variance ``[*shape]`` of ``count`` values seen so far."""

    mean: jax.Array
    var: jax.Array
    count: jax.Array  # float32 scalar


def moments(shape: tuple[int, ...] = ()) -> Moments:
    """Nothing seen yet: mean 0, variance 1 (so normalising before any update is the identity),
    count 0."""
    return Moments(jnp.zeros(shape, jnp.float32), jnp.ones(shape, jnp.float32), jnp.float32(0))


def update(stats: Moments, batch: jax.Array) -> Moments:
    """``stats`` with the batch ``[B, *shape]`` folded in (Chan et al.'s parallel update).

    With ``n`` values seen and ``m`` new ones of mean ``mu_b`` and variance ``var_b``:
    ``delta = mu_b - mu``, ``mu' = mu + delta m / (n + m)`` and
    ``var' = (n var + m var_b + delta^2 n m / (n + m)) / (n + m)``; with ``n = 0`` this is the
    batch's own mean and variance.
    """
    batch = jnp.asarray(batch, jnp.float32)
    m = jnp.float32(batch.shape[0])
    batch_mean, batch_var = jnp.mean(batch, axis=0), jnp.var(batch, axis=0)
    n = stats.count
    total = n + m
    delta = batch_mean - stats.mean
    mean = stats.mean + delta * (m / total)
    m2 = stats.var * n + batch_var * m + jnp.square(delta) * (n * m / total)
    return Moments(mean, m2 / total, total)


def normalize(stats: Moments, x: jax.Array, clip: float = CLIP) -> jax.Array:
    """``clip((x - mean) / sqrt(var + EPSILON), -clip, clip)``, broadcast over ``x``'s leading
    axes."""
    mean, var = (jnp.broadcast_to(m, jnp.shape(x)) for m in (stats.mean, stats.var))
    return jnp.clip((x - mean) / jnp.sqrt(var + EPSILON), -clip, clip)


class RewardScale(NamedTuple):
    """Per-environment discounted returns ``[N]`` and the running moments of all of them."""

    returns: jax.Array
    moments: Moments


def reward_scale(num_envs: int) -> RewardScale:
    return RewardScale(jnp.zeros((num_envs,), jnp.float32), moments())


def scale_rewards(
    scale: RewardScale, reward: jax.Array, done: jax.Array, gamma
) -> tuple[jax.Array, RewardScale]:
    """One step of ``N`` environments: ``R <- gamma R + r``, the moments updated with the ``N``
    new ``R``, the rewards divided by ``sqrt(var + EPSILON)``, clipped to ``[-CLIP, CLIP]``;
    ``R`` restarts at 0 after a step that ended its episode (``done``)."""
    returns = gamma * scale.returns + reward
    stats = update(scale.moments, returns)
    scaled = jnp.clip(reward / jnp.sqrt(stats.var + EPSILON), -CLIP, CLIP)
    returns = jnp.where(done, 0.0, returns)
    return scaled, RewardScale(returns, stats)
