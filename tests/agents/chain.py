"""A fork's own environments, defined here and nowhere in the library: two short chains with a
known optimal return, one with discrete actions and one with a box of actions.

They reach the agents only through the environment protocol (``jaxrl.envs.Environment``), named
by import path in a config (``"tests.agents.chain:discrete"``): no registration, no edit of
``jaxrl``. They have no auto-reset of their own (``wrappers.auto_reset`` restarts them) and no
``Finite`` hook, so the agents score them by their evaluation return alone. They draw
themselves (``Environment.draw``), so ``experiments.evaluate --video`` renders their episodes.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import envs
from jaxrl.envs import spaces


class State(NamedTuple):
    position: jax.Array  # int32 cell (discrete) or float32 in [0, 1] (continuous)
    time: jax.Array  # int32 steps taken


def discrete(*, length: int = 6, max_steps: int = 20) -> envs.Environment:
    """Cells ``0 .. length - 1`` from cell 0; action 1 moves right, 0 left (walls at both ends);
    every step pays -1; entering the last cell ends the episode. The optimal return is
    ``-(length - 1)``; the observation is the one-hot cell."""
    if length < 2 or max_steps < length:
        raise ValueError(f"length must be >= 2 and max_steps >= length, got {length}, {max_steps}")

    def observe(position):
        return jax.nn.one_hot(position, length, dtype=jnp.float32)

    def reset(key, params):
        state = State(jnp.int32(0), jnp.int32(0))
        return observe(state.position), state

    def step(key, state, action, params):
        move = jnp.where(action == 1, 1, -1)
        position = jnp.clip(state.position + move, 0, length - 1).astype(jnp.int32)
        time = state.time + 1
        terminated = position == length - 1
        truncated = jnp.logical_and(time >= max_steps, ~terminated)
        obs = observe(position)
        info = {"final_observation": obs}
        return obs, State(position, time), jnp.float32(-1.0), terminated, truncated, info

    return envs.Environment(
        name="discrete chain",
        reset=reset,
        step=step,
        params=(),
        observation_space=spaces.box(0.0, 1.0, (length,)),
        action_space=spaces.Discrete(2),
        max_steps=max_steps,
        draw=lambda ax, state, obs: _draw(ax, int(state.position), length - 1),
    )


def continuous(*, speed: float = 0.4, max_steps: int = 20) -> envs.Environment:
    """A position on the line from 0; the action ``a`` in ``[-1, 1]`` moves it by ``speed * a``
    (no wall: pushing left always costs steps, so the action always matters); reaching 1 ends
    the episode. A step pays ``-1 + x' - x``: -1 shaped by the potential ``x`` (Ng, Harada and
    Russell 1999, which keeps the optimal policies), so an episode of ``T`` steps that reaches 1
    returns ``1 - T``. With ``speed = 0.4`` the optimal return is -2 (three pushes of at least
    0.84 on average: 1.2 >= 1; two reach at most 0.8); the observation is the position."""

    def reset(key, params):
        state = State(jnp.float32(0.0), jnp.int32(0))
        return state.position[None], state

    def step(key, state, action, params):
        push = jnp.clip(action[0], -1.0, 1.0)
        position = jnp.minimum(state.position + speed * push, 1.0)
        time = state.time + 1
        terminated = position >= 1.0
        truncated = jnp.logical_and(time >= max_steps, ~terminated)
        obs = position[None]
        info = {"final_observation": obs}
        reward = position - state.position - 1.0  # -1 a step, shaped by the potential x
        return obs, State(position, time), reward, terminated, truncated, info

    return envs.Environment(
        name="continuous chain",
        reset=reset,
        step=step,
        params=(),
        observation_space=spaces.box(-np.inf, 1.0, (1,)),
        action_space=spaces.box(-1.0, 1.0, (1,)),
        max_steps=max_steps,
        draw=lambda ax, state, obs: _draw(ax, float(state.position), 1.0),
    )


def _draw(ax, position, goal) -> None:
    """The chain's picture: the line from 0 to the goal, and the agent on it."""
    ax.plot([0, goal], [0, 0], color="0.5")
    ax.plot([goal], [0], "s", color="tab:green", markersize=12)
    ax.plot([position], [0], "o", color="tab:blue", markersize=10)
    ax.set_xlim(-0.5, goal + 0.5)
    ax.set_yticks([])
