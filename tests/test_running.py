"""Running statistics (``jaxrl.running``) against NumPy over a stream."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxrl import running


def test_the_running_moments_equal_numpys_over_the_whole_stream():
    """Batches of uneven sizes (one of a single value), folded in one at a time: after each, the
    mean and population variance equal NumPy's (float64) over everything seen so far, per
    element of a 2x3 observation; normalising is (x - mean) / sqrt(var + 1e-8), clipped."""
    rng = np.random.default_rng(0)
    stats = running.moments((2, 3))
    np.testing.assert_array_equal(running.normalize(stats, jnp.ones((2, 3))), np.ones((2, 3)))
    seen = []
    for size in (1, 7, 64, 3, 250):
        batch = rng.normal(loc=[[1.0, -2.0, 30.0]], scale=[[0.5, 4.0, 10.0]], size=(size, 2, 3))
        stats = running.update(stats, jnp.asarray(batch, jnp.float32))
        seen.append(batch)
        stream = np.concatenate(seen)
        assert float(stats.count) == len(stream)
        np.testing.assert_allclose(stats.mean, stream.mean(0), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(stats.var, stream.var(0), rtol=1e-4)
    x = np.asarray(rng.normal(scale=50.0, size=(4, 2, 3)), np.float32)
    expected = np.clip((x - stream.mean(0)) / np.sqrt(stream.var(0) + 1e-8), -10, 10)
    np.testing.assert_allclose(running.normalize(stats, jnp.asarray(x)), expected, rtol=1e-4)


def test_reward_scaling_equals_a_python_loop():
    """R <- gamma R + r per environment, the variance of every R so far, r / sqrt(var + 1e-8)
    (clipped to [-10, 10]), R restarted after a step that ends an episode: a plain loop in
    float64 over 40 steps of 3 environments."""
    rng = np.random.default_rng(1)
    gamma, steps, n = 0.9, 40, 3
    rewards = rng.normal(loc=2.0, scale=3.0, size=(steps, n))
    dones = rng.random((steps, n)) < 0.1
    scale = running.reward_scale(n)
    returns, history = np.zeros(n), []
    for t in range(steps):
        scaled, scale = running.scale_rewards(
            scale, jnp.asarray(rewards[t], jnp.float32), jnp.asarray(dones[t]), gamma
        )
        returns = gamma * returns + rewards[t]
        history.append(returns.copy())
        expected = np.clip(rewards[t] / np.sqrt(np.var(np.concatenate(history)) + 1e-8), -10, 10)
        np.testing.assert_allclose(scaled, expected, rtol=1e-4)
        returns = np.where(dones[t], 0.0, returns)
        np.testing.assert_allclose(scale.returns, returns, rtol=1e-5, atol=1e-5)
