"""Pendulum-v1 in JAX against gymnasium's ``Pendulum-v1`` (1.3.0), side by side.

Our environment computes in float32 and gymnasium in float64, so a single step from the same
state agrees to float32 rounding (measured: at most 3.6e-6 in the observation, a relative 2.4e-6
in the reward, over 6,000 steps), while whole episodes drift apart once the pendulum passes near
upright, which amplifies rounding (measured: 2.4e-6 after 25 steps, 1e-4 after 50, up to 0.05
after 200). So every step is compared from gymnasium's own state, and free-running episodes over
their first 25 steps.
"""

from __future__ import annotations

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import pendulum as pd
from jaxrl.envs import wrappers

EPISODES = 30


def test_params_are_gymnasium_pendulum_v1():
    env = gym.make("Pendulum-v1")
    raw = env.unwrapped
    params = pd.make_params()
    assert env.spec.max_episode_steps == int(params.max_steps) == 200
    for ours, theirs in (
        (params.max_speed, raw.max_speed),
        (params.max_torque, raw.max_torque),
        (params.dt, raw.dt),
        (params.gravity, raw.g),
        (params.mass, raw.m),
        (params.length, raw.l),
    ):
        assert float(ours) == pytest.approx(theirs)
    np.testing.assert_array_equal(env.action_space.low, [-2.0])
    np.testing.assert_array_equal(env.action_space.high, [2.0])


def _actions(rng):
    """Torques in [-3, 3]: a third of them outside the bounds [-2, 2]."""
    return rng.uniform(-3.0, 3.0, (200, 1)).astype(np.float32)


def test_every_step_matches_gymnasium_from_its_state():
    """6,000 steps of 30 episodes with random torques, each from gymnasium's own state:
    observations to 1e-5 (float32 against float64), rewards to a relative 1e-5, ``terminated``
    never, ``truncated`` exactly at step 200, as gymnasium's ``TimeLimit``."""
    params = pd.make_params()
    step = jax.jit(pd.step)
    rng = np.random.default_rng(0)
    key = jax.random.key(0)
    clipped = 0
    for episode in range(EPISODES):
        env = gym.make("Pendulum-v1")
        env.reset(seed=episode)
        for t, action in enumerate(_actions(rng)):
            theta, theta_dot = env.unwrapped.state
            state = pd.EnvState(jnp.float32(theta), jnp.float32(theta_dot), jnp.int32(t))
            obs, _, reward, terminated, truncated, info = step(key, state, action, params)
            g_obs, g_reward, g_terminated, g_truncated, _ = env.step(action)
            np.testing.assert_allclose(obs, g_obs, atol=1e-5)
            np.testing.assert_allclose(info["final_observation"], g_obs, atol=1e-5)
            assert float(reward) == pytest.approx(g_reward, rel=1e-5, abs=1e-6)
            assert not bool(terminated) and not g_terminated
            assert bool(truncated) == g_truncated == (t == 199)
            clipped += abs(float(action[0])) > 2.0
    assert clipped > 1000  # the bounds were exercised


def test_free_running_episodes_match_gymnasium_from_the_same_start():
    """Each episode starts from gymnasium's start (rounded to float32) and runs on its own
    with the same torques: observations within 1e-4 over the first 25 steps, rewards within a
    relative 1e-3, and the episode is truncated at step 200 in both."""
    params = pd.make_params()
    step = jax.jit(pd.step)
    rng = np.random.default_rng(1)
    key = jax.random.key(0)
    for episode in range(EPISODES):
        env = gym.make("Pendulum-v1")
        env.reset(seed=100 + episode)
        theta, theta_dot = env.unwrapped.state
        state = pd.EnvState(jnp.float32(theta), jnp.float32(theta_dot), jnp.int32(0))
        for t, action in enumerate(_actions(rng)):
            obs, state, reward, _, truncated, _ = step(key, state, action, params)
            g_obs, g_reward, _, g_truncated, _ = env.step(action)
            if t < 25:
                np.testing.assert_allclose(obs, g_obs, atol=1e-4)
                assert float(reward) == pytest.approx(g_reward, rel=1e-3, abs=1e-4)
            assert bool(truncated) == g_truncated
        assert g_truncated and bool(truncated)


def test_the_start_distribution_is_gymnasiums():
    """theta uniform on [-pi, pi] and theta_dot on [-1, 1]: 20,000 starts fill the box, with
    means within 4.5 standard errors of 0 (a uniform on [-b, b] has std b / sqrt(3))."""
    keys = jax.random.split(jax.random.key(3), 20_000)
    obs, state = jax.vmap(pd.reset, in_axes=(0, None))(keys, pd.make_params())
    theta, theta_dot = np.asarray(state.theta), np.asarray(state.theta_dot)
    assert theta.min() >= -np.pi and theta.max() <= np.pi
    assert theta_dot.min() >= -1.0 and theta_dot.max() <= 1.0
    assert theta.min() < -3.1 and theta.max() > 3.1 and abs(theta_dot).max() > 0.999
    se = np.pi / np.sqrt(3) / np.sqrt(len(theta))
    assert abs(theta.mean()) < 4.5 * se
    np.testing.assert_allclose(obs[:, 0], np.cos(theta), atol=1e-6)
    np.testing.assert_array_equal(obs[:, 2], theta_dot)


def test_a_hand_checked_step_and_the_clipped_torque():
    """From theta = 0.5, theta_dot = 1 with torque 5 (acts and is charged as 2): theta_dot' =
    1 + (15 sin 0.5 + 3 * 2) 0.05, theta' = 0.5 + 0.05 theta_dot', reward = -(0.25 + 0.1 + 0.004);
    a torque of -9 at speed -7.9 is clipped to -2 and the speed to -8."""
    params = pd.make_params()
    state = pd.EnvState(jnp.float32(0.5), jnp.float32(1.0), jnp.int32(0))
    reached, reward = pd.dynamics(state, jnp.array([5.0]), params)
    theta_dot = 1.0 + (15.0 * np.sin(0.5) + 6.0) * 0.05
    assert float(reached.theta_dot) == pytest.approx(theta_dot, rel=1e-6)
    assert float(reached.theta) == pytest.approx(0.5 + 0.05 * theta_dot, rel=1e-6)
    assert float(reward) == pytest.approx(-(0.25 + 0.1 + 0.004), rel=1e-6)
    fast = pd.EnvState(jnp.float32(0.0), jnp.float32(-7.9), jnp.int32(0))
    reached, reward = pd.dynamics(fast, jnp.array([-9.0]), params)
    assert float(reached.theta_dot) == -8.0
    assert float(reward) == pytest.approx(-(0.1 * 7.9**2 + 0.004), rel=1e-6)


def test_auto_reset_keeps_the_final_observation_and_composes_with_wrappers():
    """With ``auto_reset`` the 200th step returns the new start's observation, the reached one
    in ``info``, ``truncated`` set; the episode-statistics wrapper sums its 200 rewards."""
    params = pd.make_params(max_steps=200, auto_reset=True)
    reset, step = wrappers.episode_statistics(pd.reset, pd.step)
    obs, state = reset(jax.random.key(0), params)

    def body(carry, t):
        state = carry
        action = jnp.array([jnp.sin(t * 0.1)])
        obs, state, reward, _, truncated, info = step(jax.random.key(t), state, action, params)
        return state, (obs, reward, truncated, info["final_observation"], state)

    _, (obs, reward, truncated, final, states) = jax.lax.scan(
        body, state, jnp.arange(201, dtype=jnp.uint32)
    )
    assert np.flatnonzero(np.asarray(truncated)).tolist() == [199]
    assert int(states.env_state.time[199]) == 0 and int(states.env_state.time[200]) == 1
    assert not np.allclose(obs[199], final[199])
    np.testing.assert_array_equal(obs[198], final[198])
    assert float(states.returned_episode_return[199]) == pytest.approx(
        float(np.sum(reward[:200])), rel=1e-5
    )


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="max_steps must be an integer in"):
        pd.make_params(max_steps=0)
    with pytest.raises(ValueError, match="auto_reset must be a bool"):
        pd.make_params(auto_reset="yes")
