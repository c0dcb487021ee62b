"""Mean estimation: the incremental sample mean and Robbins-Monro with a step-size schedule.

Zhao, ch. 5.1 (mean estimation, the idea behind Monte Carlo) and ch. 6.1-6.2 (the incremental
form and the Robbins-Monro algorithm). From samples ``x_1, x_2, ...`` of a random variable ``X``:

* the incremental mean ``w_{k+1} = w_k - (1 / k) (w_k - x_k)``, so that
  ``w_{k+1} = (x_1 + ... + x_k) / k`` exactly (whatever ``w_1`` is: the first step replaces it);
* Robbins-Monro for the root of ``g(w) = w - E[X]``, observed with noise as ``w_k - x_k``:
  ``w_{k+1} = w_k - a_k (w_k - x_k)``. With ``a_k = 1 / k`` it is the incremental mean. It
  converges to ``E[X]`` with probability 1 when ``sum_k a_k = inf`` and ``sum_k a_k^2 < inf``,
  e.g. ``a_k = 1 / k^p`` with ``1/2 < p <= 1``; a constant ``a`` does not converge but tracks a
  weighted mean of recent samples (useful when ``E[X]`` drifts, as in GPI).

Indices follow the book: sample ``x_k`` (``k = 1 .. T``, stored at array index ``k - 1``) is used
with step size ``a_k`` to produce ``w_{k+1}``. Each function takes one stream ``[T]``; vmap for
many streams. As a runner experiment (:func:`make_experiment`), fields: ``SCHEMA``.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs import rng
from jaxrl.run import POSITIVE, Experiment, fields, real

SCHEDULES = ("constant", "harmonic", "power")


def robbins_monro_mean(x: jax.Array, a: jax.Array, *, w_1: jax.typing.ArrayLike = 0.0) -> jax.Array:
    """Robbins-Monro mean estimation: ``w_{k+1} = w_k - a_k (w_k - x_k)``, one ``lax.scan``.

    Zhao, ch. 6.2 (Robbins-Monro), ch. 6.1 (mean estimation as its special case).

    Args:
        x: ``[T]`` float samples ``x_1 .. x_T``.
        a: ``[T]`` float step sizes ``a_1 .. a_T`` (see :func:`step_sizes`).
        w_1: the initial estimate ``w_1``.

    Returns:
        ``[T]`` the estimates ``w_2 .. w_{T+1}``: entry ``k - 1`` has seen ``x_1 .. x_k``.
    """
    chex.assert_rank([x, a], 1)
    chex.assert_equal_shape([x, a])
    chex.assert_type([x, a], float)

    def update(w, inputs):
        x_k, a_k = inputs
        w = w - a_k * (w - x_k)
        return w, w

    _, w = jax.lax.scan(update, jnp.asarray(w_1, x.dtype), (x, a.astype(x.dtype)))
    return w


def incremental_mean(x: jax.Array) -> jax.Array:
    """The running sample means, incrementally: ``w_{k+1} = w_k - (1 / k) (w_k - x_k)``.

    Zhao, ch. 6.1, eq. (6.2). This is :func:`robbins_monro_mean` with ``a_k = 1 / k``; the first
    step has ``a_1 = 1``, so ``w_1`` does not matter.

    Args:
        x: ``[T]`` float samples.

    Returns:
        ``[T]``: entry ``k - 1`` is ``(x_1 + ... + x_k) / k`` (up to rounding).
    """
    chex.assert_rank(x, 1)
    chex.assert_type(x, float)
    return robbins_monro_mean(x, step_sizes(x.shape[0], schedule="harmonic", dtype=x.dtype))


def step_sizes(
    num_steps: int,
    *,
    schedule: str,
    scale: float = 1.0,
    power: float = 1.0,
    dtype=jnp.float32,
) -> jax.Array:
    """The step sizes ``a_1 .. a_T`` of a schedule.

    * ``"constant"``: ``a_k = scale`` (no convergence: the estimate keeps a variance of about
      ``scale Var[X] / (2 - scale)``);
    * ``"harmonic"``: ``a_k = scale / k`` (``scale = 1`` gives the sample mean);
    * ``"power"``: ``a_k = scale / k^power``; the Robbins-Monro conditions hold for
      ``1/2 < power <= 1``.

    Args:
        num_steps: ``T``, a positive integer.
        schedule: one of ``SCHEDULES``.
        scale: positive factor (for ``"constant"``, the step size itself, at most 2 for the
            iteration to be stable).
        power: positive exponent of ``"power"``.
        dtype: float dtype of the result.

    Returns:
        ``[T]`` step sizes.

    Raises:
        ValueError: naming the argument, for an unknown schedule or a non-positive value.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    if isinstance(num_steps, bool) or not isinstance(num_steps, (int, np.integer)) or num_steps < 1:
        raise ValueError(f"num_steps must be a positive integer, got {num_steps!r}")
    for name, value in (("scale", scale), ("power", power)):
        if not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number, got {value!r}")
    k = jnp.arange(1, num_steps + 1, dtype=dtype)
    if schedule == "constant":
        return jnp.full((num_steps,), scale, dtype)
    if schedule == "harmonic":
        return scale / k
    return scale / k**power


# ---------------------------------------------------------------------------------------------
# As a runner experiment: many seeds and step-size schedules in one program.


def _finite(value) -> bool:
    real_number = isinstance(value, (int, float, np.integer, np.floating))
    return real_number and not isinstance(value, (bool, np.bool_)) and bool(np.isfinite(value))


# true_mean and noise_std are static numbers (kinds); scale and power are swept.
SCHEMA = fields.Schema(
    "jaxrl.tabular.mean_estimation",
    true_mean=fields.static(fields.kind(_finite, "a finite number"), "E[X], the mean estimated"),
    noise_std=fields.static(
        fields.kind(lambda v: _finite(v) and v >= 0, "a finite number >= 0"),
        "X ~ N(true_mean, noise_std^2)",
    ),
    # a_k = scale / k^power (power 0: constant; 1: harmonic). Power in (1/2, 1] satisfies the
    # Robbins-Monro conditions; above 1 the steps would sum to a finite total and the estimate
    # would stop short of the mean.
    scale=fields.swept(POSITIVE, "the step size a_k = scale / k^power's scale"),
    power=fields.swept(real(0.0, 1.0), "its power (0: a constant step; 1: harmonic)"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    w: jax.Array  # [] the estimate w_k
    k: jax.Array  # [] samples used so far
    key_data: jax.Array  # [2] uint32


def normal_sample(key_data: jax.Array, k: jax.Array, *, mean, std) -> jax.Array:
    """Sample ``x_k ~ N(mean, std^2)`` by Box-Muller from one counter-based Threefry block."""
    u1, u2 = rng.counter_uniforms(key_data, k)
    radius = jnp.sqrt(-2.0 * jnp.log1p(-u1))  # 1 - u1 is in (0, 1]: the log is finite
    return mean + std * radius * jnp.cos(2.0 * jnp.pi * u2)


def make_experiment(config):
    """Robbins-Monro mean estimation of ``E[X]``, ``X ~ N(config.true_mean, config.noise_std^2)``,
    for the runner (see ``jaxrl/configs/mean_estimation.py``). Metrics per chunk: ``abs_error``
    ``|w - E[X]|`` and the ``estimate`` itself."""
    SCHEMA.check(config)
    mean, std = float(config.true_mean), float(config.noise_std)
    chunk_steps = int(config.chunk_steps)

    def init(key, hparams):
        del hparams
        return Carry(w=jnp.float32(0), k=jnp.int32(0), key_data=jax.random.key_data(key))

    def train_chunk(carry: Carry, hparams: Hparams):
        def update(c: Carry, _):
            k = c.k + 1
            x = normal_sample(c.key_data, k, mean=mean, std=std)
            a = hparams.scale / k.astype(jnp.float32) ** hparams.power
            return c._replace(w=c.w - a * (c.w - x), k=k), None

        carry, _ = jax.lax.scan(update, carry, None, length=chunk_steps)
        return carry, {"abs_error": jnp.abs(carry.w - mean), "estimate": carry.w}

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=SCHEMA.domains,
        metrics=("abs_error", "estimate"),
        main_metric="abs_error",
    )
