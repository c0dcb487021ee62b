"""Tests for the environment wrappers (``jaxrl.envs.wrappers``) on the grid world.

The references are plain-Python simulations built on the brute-force move of
``tests/envs/test_gridworld.py`` (written from the book's conventions) and hand-worked episodes.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import gridworld as gw
from jaxrl.envs import wrappers
from tests.envs.test_gridworld import Spec, next_state_and_reward, to_world

UP, RIGHT, DOWN, LEFT, STAY = range(5)
NUM_ACTIONS = 5

# 1x4 corridor: (0,1) forbidden, absorbing target at (0,3), step reward -0.5.
CORRIDOR = Spec(
    shape=(1, 4),
    target=(0, 3),
    forbidden=((0, 1),),
    reward_step=-0.5,
    absorbing=True,
)


def test_auto_reset_after_termination():
    params = gw.make_params(to_world(CORRIDOR), start=(0, 0), max_steps=10, observation="onehot")
    reset_fn, step_fn = wrappers.auto_reset(gw.reset, gw.step)
    key = jax.random.key(0)
    obs, state = reset_fn(key, params)
    np.testing.assert_array_equal(obs, np.eye(4)[0])
    # right into the forbidden cell (-1), right to a plain cell (-0.5): the episode goes on and
    # the inner step's observation and state come through.
    for expected_pos, expected_reward in [(1, -1.0), (2, -0.5)]:
        key, step_key = jax.random.split(key)
        obs, state, reward, terminated, truncated, info = step_fn(
            step_key, state, jnp.int32(RIGHT), params
        )
        assert float(reward) == expected_reward
        assert not bool(terminated) and not bool(truncated)
        assert int(state.position) == expected_pos
        np.testing.assert_array_equal(obs, np.eye(4)[expected_pos])
        np.testing.assert_array_equal(info["final_observation"], obs)  # no reset: the same
    # right into the target: reward and flags of the ending step, obs/state of the new episode.
    key, step_key = jax.random.split(key)
    obs, state, reward, terminated, truncated, info = step_fn(
        step_key, state, jnp.int32(RIGHT), params
    )
    assert float(reward) == 1.0 and bool(terminated) and not bool(truncated)
    assert int(state.position) == 0 and int(state.time) == 0
    np.testing.assert_array_equal(obs, np.eye(4)[0])
    # The finished episode's true last observation (the target) is kept for bootstrapping.
    np.testing.assert_array_equal(info["final_observation"], np.eye(4)[3])


def test_auto_reset_after_truncation():
    params = gw.make_params(to_world(CORRIDOR), start=(0, 2), max_steps=2)
    reset_fn, step_fn = wrappers.auto_reset(gw.reset, gw.step)
    key = jax.random.key(1)
    _, state = reset_fn(key, params)
    assert int(state.position) == 2
    obs, state, reward, terminated, truncated, info = step_fn(key, state, jnp.int32(LEFT), params)
    assert (int(obs), int(state.position), int(state.time)) == (1, 1, 1)
    assert float(reward) == -1.0 and not bool(terminated) and not bool(truncated)
    obs, state, reward, terminated, truncated, info = step_fn(key, state, jnp.int32(LEFT), params)
    # The step to (0,0) pays -0.5 and hits the time limit; the state is the new start (0,2).
    assert float(reward) == -0.5 and not bool(terminated) and bool(truncated)
    assert (int(obs), int(state.position), int(state.time)) == (2, 2, 0)
    assert int(info["final_observation"]) == 0  # where the truncated episode really ended


def test_auto_reset_draws_new_start_from_start_distribution():
    start = np.array([0.0, 0.5, 0.5, 0.0])  # the new episode starts in (0,1) or (0,2)
    grid = to_world(CORRIDOR)
    params = gw.make_params(grid, start=start, max_steps=1, observation="coords")
    _, step_fn = wrappers.auto_reset(gw.reset, gw.step)
    keys = jax.random.split(jax.random.key(2), 400)
    state = gw.EnvState(position=jnp.int32(0), time=jnp.int32(0))
    obs, new_state, _, terminated, truncated, info = jax.vmap(step_fn, (0, None, None, None))(
        keys, state, jnp.int32(STAY), params
    )
    assert np.all(np.asarray(truncated)) and not np.any(np.asarray(terminated))
    positions = np.asarray(new_state.position)
    assert set(positions.tolist()) == {1, 2}  # both start cells occur among 400 draws
    np.testing.assert_array_equal(new_state.time, 0)
    np.testing.assert_allclose(obs, np.stack([np.zeros(400), positions / 3], axis=1), atol=1e-7)


def simulate_episode_statistics(spec: Spec, start: int, max_steps: int, actions):
    """Plain-Python reference: the wrapped env's per-step statistics for a deterministic grid."""
    cols = spec.shape[1]
    target = spec.target[0] * cols + spec.target[1]
    position, time = start, 0
    episode_return, episode_length = 0.0, 0
    last_return, last_length, finished = 0.0, 0, 0
    rows = []
    for action in actions:
        if spec.absorbing and position == target:
            position2, reward = position, 0.0
        else:
            position2, reward = next_state_and_reward(spec, position, int(action))
        terminated = spec.absorbing and position2 == target
        time += 1
        truncated = time >= max_steps and not terminated
        episode_return += reward
        episode_length += 1
        landed = position2
        if terminated or truncated:
            last_return, last_length = episode_return, episode_length
            finished += 1
            episode_return, episode_length = 0.0, 0
            position2, time = start, 0
        position = position2
        rows.append(
            (
                reward,
                terminated,
                truncated,
                position,
                episode_return,
                episode_length,
                last_return,
                last_length,
                finished,
                landed,
            )
        )
    return [np.array(column) for column in zip(*rows, strict=True)]


@pytest.mark.parametrize("absorbing", [True, False])
def test_episode_statistics_matches_python_simulation(absorbing):
    spec = Spec(
        shape=(3, 3),
        target=(2, 2),
        forbidden=((1, 1),),
        reward_step=-0.25,
        reward_boundary=-2.0,
        absorbing=absorbing,
    )
    start, max_steps, num_steps, num_envs = (0, 0), 7, 150, 4
    params = gw.make_params(to_world(spec), start=start, max_steps=max_steps)
    reset_fn, step_fn = wrappers.episode_statistics(*wrappers.auto_reset(gw.reset, gw.step))
    # Random actions leaning towards the target, so that some episodes terminate.
    actions = np.random.default_rng(0).choice(
        NUM_ACTIONS, size=(num_envs, num_steps), p=[0.1, 0.35, 0.35, 0.1, 0.1]
    )

    def run(key, actions):
        reset_key, key = jax.random.split(key)
        _, state = reset_fn(reset_key, params)

        def body(state, inputs):
            step_key, action = inputs
            _, state, reward, terminated, truncated, info = step_fn(step_key, state, action, params)
            return state, (reward, terminated, truncated, state, info)

        step_keys = jax.random.split(key, actions.shape[0])
        return jax.lax.scan(body, state, (step_keys, actions))[1]

    keys = jax.random.split(jax.random.key(3), num_envs)
    reward, terminated, truncated, stats, info = jax.jit(jax.vmap(run))(keys, jnp.asarray(actions))
    for i in range(num_envs):
        expected = simulate_episode_statistics(spec, 0, max_steps, actions[i])
        (
            e_reward,
            e_term,
            e_trunc,
            e_pos,
            e_ret,
            e_len,
            e_last_ret,
            e_last_len,
            e_done,
            e_landed,
        ) = expected
        np.testing.assert_array_equal(info["final_observation"][i], e_landed)
        np.testing.assert_array_equal(info["episode_done"][i], e_term | e_trunc)
        assert e_done[-1] > 3  # several episodes ended, so the bookkeeping is exercised
        if absorbing:
            assert np.any(e_term)
        np.testing.assert_allclose(reward[i], e_reward, atol=1e-6)
        np.testing.assert_array_equal(terminated[i], e_term)
        np.testing.assert_array_equal(truncated[i], e_trunc)
        np.testing.assert_array_equal(stats.env_state.position[i], e_pos)
        np.testing.assert_allclose(stats.episode_return[i], e_ret, atol=1e-5)
        np.testing.assert_array_equal(stats.episode_length[i], e_len)
        np.testing.assert_allclose(stats.returned_episode_return[i], e_last_ret, atol=1e-5)
        np.testing.assert_array_equal(stats.returned_episode_length[i], e_last_len)
        np.testing.assert_array_equal(stats.episodes_finished[i], e_done)


def test_episode_statistics_bookkeeping_with_slip():
    # Stochastic moves: the reference reads the rewards and flags the env emitted and checks the
    # statistics are their running sums, restarted at every episode end.
    grid = gw.GridWorld(
        shape=(3, 3), target=(1, 2), forbidden=((0, 1),), slip=0.5, absorbing_target=True
    )
    params = gw.make_params(grid, max_steps=5)
    reset_fn, step_fn = wrappers.episode_statistics(*wrappers.auto_reset(gw.reset, gw.step))
    step_fn = jax.jit(step_fn)
    key = jax.random.key(4)
    key, reset_key = jax.random.split(key)
    _, state = reset_fn(reset_key, params)
    ret, length, last_ret, last_len, finished = 0.0, 0, 0.0, 0, 0
    for t in range(60):
        key, step_key = jax.random.split(key)
        action = jnp.int32(t % NUM_ACTIONS)
        _, state, reward, terminated, truncated, info = step_fn(step_key, state, action, params)
        ret += float(reward)
        length += 1
        if bool(terminated) or bool(truncated):
            last_ret, last_len, finished = ret, length, finished + 1
            ret, length = 0.0, 0
            assert int(state.env_state.time) == 0
        assert abs(float(state.episode_return) - ret) < 1e-5
        assert int(state.episode_length) == length
        assert abs(float(state.returned_episode_return) - last_ret) < 1e-5
        assert int(state.returned_episode_length) == last_len
        assert int(state.episodes_finished) == finished
    assert finished >= 10  # at most 5 steps per episode


def test_episode_statistics_reset_and_jit_agreement():
    params = gw.make_params(to_world(CORRIDOR), start=(0, 0), max_steps=3)
    reset_fn, step_fn = wrappers.episode_statistics(*wrappers.auto_reset(gw.reset, gw.step))
    key = jax.random.key(5)
    obs, state = reset_fn(key, params)
    assert int(obs) == 0
    assert isinstance(state, wrappers.EpisodeStatsState)
    chex.assert_trees_all_equal(
        state[1:], (jnp.float32(0), jnp.int32(0), jnp.float32(0), jnp.int32(0), jnp.int32(0))
    )
    jit_step = jax.jit(step_fn)
    for t in range(7):
        step_key = jax.random.fold_in(key, t)
        out = step_fn(step_key, state, jnp.int32(RIGHT), params)
        chex.assert_trees_all_equal(out, jit_step(step_key, state, jnp.int32(RIGHT), params))
        state = out[1]
