"""Environment wrappers: auto-reset and episode statistics, as functions of functions.

The environment API, shared by every environment of ``jaxrl.envs``, is a pair of pure functions:

* ``reset(key, params) -> (obs, state)``;
* ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``, with
  ``terminated`` (the episode reached a terminal state: nothing to bootstrap from) and
  ``truncated`` (it was cut, e.g. by a time limit: bootstrap from the last observation) kept
  apart, and ``info["final_observation"]`` the observation the step really reached. Without an
  auto-reset it equals ``obs``; with one, a step that ends an episode returns the next episode's
  first observation as ``obs`` and keeps the finished episode's last one there.

A wrapper takes such a pair and returns a new pair with the same signatures, so wrappers compose:

    reset_fn, step_fn = episode_statistics(*auto_reset(gridworld.reset, gridworld.step))

Put ``episode_statistics`` outside ``auto_reset`` so that it sees the episode ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

ResetFn = Callable[[jax.Array, Any], tuple[Any, Any]]
StepOut = tuple[Any, Any, jax.Array, jax.Array, jax.Array, dict]
StepFn = Callable[[jax.Array, Any, jax.Array, Any], StepOut]


def auto_reset(reset_fn: ResetFn, step_fn: StepFn) -> tuple[ResetFn, StepFn]:
    """Starts a new episode inside ``step`` whenever one ends (terminated or truncated).

    The returned ``step`` reports the reward and flags of the step that ended the episode, the
    observation and state of the new episode's start, and the observation the step reached as
    ``info["final_observation"]`` (the usual vectorized-env convention).
    """

    def step(key, state, action, params):
        step_key, reset_key = jax.random.split(key)
        obs, next_state, reward, terminated, truncated, info = step_fn(
            step_key, state, action, params
        )
        reset_obs, reset_state = reset_fn(reset_key, params)
        done = jnp.logical_or(terminated, truncated)
        pick = lambda a, b: jax.tree.map(lambda x, y: jnp.where(done, x, y), a, b)  # noqa: E731
        info = {**info, "final_observation": obs}
        return (
            pick(reset_obs, obs),
            pick(reset_state, next_state),
            reward,
            terminated,
            truncated,
            info,
        )

    return reset_fn, step


class EpisodeStatsState(NamedTuple):
    """The wrapped state plus running and last-finished episode return and length."""

    env_state: Any
    episode_return: jax.Array
    episode_length: jax.Array
    returned_episode_return: jax.Array
    returned_episode_length: jax.Array
    episodes_finished: jax.Array


def episode_statistics(reset_fn: ResetFn, step_fn: StepFn) -> tuple[ResetFn, StepFn]:
    """Tracks the undiscounted return and length of the current and last finished episode.

    ``info`` passes through, with ``"episode_done"`` added (the step ended an episode).
    """

    def reset(key, params):
        obs, env_state = reset_fn(key, params)
        zero_f, zero_i = jnp.float32(0), jnp.int32(0)
        return obs, EpisodeStatsState(env_state, zero_f, zero_i, zero_f, zero_i, zero_i)

    def step(key, state, action, params):
        obs, env_state, reward, terminated, truncated, info = step_fn(
            key, state.env_state, action, params
        )
        done = jnp.logical_or(terminated, truncated)
        ret = state.episode_return + reward
        length = state.episode_length + 1
        new_state = EpisodeStatsState(
            env_state=env_state,
            episode_return=jnp.where(done, 0.0, ret),
            episode_length=jnp.where(done, 0, length),
            returned_episode_return=jnp.where(done, ret, state.returned_episode_return),
            returned_episode_length=jnp.where(done, length, state.returned_episode_length),
            episodes_finished=state.episodes_finished + done.astype(jnp.int32),
        )
        return obs, new_state, reward, terminated, truncated, {**info, "episode_done": done}

    return reset, step
