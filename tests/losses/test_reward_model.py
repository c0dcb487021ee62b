"""The Bradley-Terry reward-model loss against float64 by hand and by central differences."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import losses


def _loss64(chosen, rejected, margin):
    return np.mean(np.logaddexp(0.0, -(chosen - rejected - margin)))  # -log sigmoid


def test_the_loss_and_its_gradient_against_float64_central_differences():
    rng = np.random.default_rng(0)
    chosen, rejected = rng.normal(size=8), rng.normal(size=8)
    margin = 0.3
    mean_loss = jax.jit(lambda c, r: losses.bradley_terry_loss(c, r, margin=margin).metrics["loss"])
    c32, r32 = jnp.float32(chosen), jnp.float32(rejected)
    np.testing.assert_allclose(mean_loss(c32, r32), _loss64(chosen, rejected, margin), rtol=1e-6)
    grads = jax.grad(mean_loss, argnums=(0, 1))(c32, r32)
    h = 1e-6
    for which, grad in enumerate(grads):
        numeric = np.zeros(8)
        for i in range(8):
            step = np.zeros(8)
            step[i] = h
            args = [chosen, rejected]
            plus, minus = list(args), list(args)
            plus[which], minus[which] = args[which] + step, args[which] - step
            numeric[i] = (_loss64(*plus, margin) - _loss64(*minus, margin)) / (2 * h)
        # float32 gradients: rounding near 1e-8 of terms of size 1/8
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_the_report_by_hand():
    """Rewards (2, 0), (0, 1), (1, 1): differences 2, -1, 0 (a tie counts one half)."""
    out = losses.bradley_terry_loss(jnp.array([2.0, 0.0, 1.0]), jnp.array([0.0, 1.0, 1.0]))
    expected = np.logaddexp(0.0, -np.array([2.0, -1.0, 0.0]))
    np.testing.assert_allclose(out.loss, expected, rtol=1e-6)
    np.testing.assert_allclose(out.metrics["accuracy"], 0.5, rtol=1e-6)  # (1 + 0 + 1/2) / 3
    np.testing.assert_allclose(out.metrics["margin"], 1.0 / 3.0, rtol=1e-6)
    weighted = losses.bradley_terry_loss(
        jnp.array([2.0, 0.0]), jnp.array([0.0, 1.0]), weight=jnp.array([0.75, 0.25])
    )
    np.testing.assert_allclose(weighted.metrics["accuracy"], 0.75, rtol=1e-6)


def test_large_differences_stay_finite_and_bad_input_is_one_line():
    big = losses.bradley_terry_loss(jnp.array([1e4, -1e4]), jnp.array([-1e4, 1e4]))
    assert np.all(np.isfinite(big.loss)) and big.loss[0] == 0.0 and big.loss[1] == 2e4
    grad = jax.grad(lambda c: losses.bradley_terry_loss(c, -c).metrics["loss"])
    assert np.all(np.isfinite(grad(jnp.array([1e4, -1e4]))))
    with pytest.raises(ValueError, match=r"must both be \[B\]"):
        losses.bradley_terry_loss(jnp.zeros(3), jnp.zeros(2))
    with pytest.raises(ValueError, match="margin must be >= 0"):
        losses.bradley_terry_loss(jnp.zeros(3), jnp.zeros(3), margin=-1.0)
