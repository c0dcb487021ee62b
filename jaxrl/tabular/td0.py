"""TD(0) learning of the state values of a fixed policy on the grid world (Zhao, ch. 7.1).

Following a fixed policy ``pi`` (an ``[S, A]`` matrix; the uniform random policy by default), after
each step ``(s_t, r_{t+1}, s_{t+1})``:

    v(s_t) <- v(s_t) + alpha_t(s_t) [r_{t+1} + gamma v(s_{t+1}) - v(s_t)]

with ``alpha_t`` constant, ``learning_rate / n_t(s_t)`` (``"harmonic"``) or
``learning_rate / n_t(s_t)^step_power`` (``"polynomial"``), ``n_t`` counting the visits of the
state. The ground truth is ``v_pi`` by exact policy evaluation (``jaxrl.dp.evaluate_policy``). The
task is the book's continuing one (one long trajectory).

Metrics per chunk: ``value_error`` = ``max_s |v(s) - v_pi(s)|``, ``mean_error`` =
``mean_s |v(s) - v_pi(s)|``, ``reward`` = mean reward over the chunk.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import dp
from jaxrl.envs import gridworld, rng
from jaxrl.run.experiment import Experiment
from jaxrl.tabular.common import check_step_size, grid_from_config, move

POLICIES = ("uniform",)


class Hparams(NamedTuple):
    learning_rate: jax.Array
    gamma: jax.Array


class Carry(NamedTuple):
    v: jax.Array  # [S]
    visits: jax.Array  # [S]
    position: jax.Array  # []
    step: jax.Array  # []
    key_data: jax.Array  # [2] uint32
    v_pi: jax.Array  # [S] exact values of the policy


def td_update(v, s, r, s_next, *, alpha, gamma):
    """One TD(0) update of the table ``v [S]`` from ``(s, r, s')``."""
    return v.at[s].add(alpha * (r + gamma * v[s_next] - v[s]))


def make_experiment(config) -> Experiment:
    """The runner's view of TD(0) evaluation (see ``jaxrl/configs/td0.py``)."""
    power = check_step_size(config)
    if config.policy not in POLICIES:
        raise ValueError(f"config.policy must be one of {POLICIES}, got {config.policy!r}")
    grid = grid_from_config(config.env)
    params = gridworld.make_params(grid)
    dense = gridworld.to_mdp(grid)
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    policy = jnp.full((num_states, num_actions), 1.0 / num_actions, jnp.float32)
    cdf = jnp.cumsum(policy, axis=-1)
    chunk_steps = int(config.chunk_steps)

    def init(key, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        _, env_state = gridworld.reset(start_key, params)
        return Carry(
            v=jnp.zeros((num_states,), jnp.float32),
            visits=jnp.zeros((num_states,), jnp.float32),
            position=env_state.position,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            v_pi=dp.evaluate_policy(dense, policy, gamma=hparams.gamma),
        )

    def train_step(carry: Carry, hparams: Hparams):
        s, t = carry.position, carry.step
        u, _ = rng.counter_uniforms(carry.key_data, t)
        a = jnp.minimum(jnp.sum(u >= cdf[s]), num_actions - 1).astype(jnp.int32)
        s_next, reward = move(params, carry.key_data, t, s, a)
        if power is None:
            visits, alpha = carry.visits, hparams.learning_rate
        else:
            visits = carry.visits.at[s].add(1.0)
            alpha = hparams.learning_rate / visits[s] ** power
        v = td_update(carry.v, s, reward, s_next, alpha=alpha, gamma=hparams.gamma)
        return carry._replace(v=v, visits=visits, position=s_next, step=t + 1), reward

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        error = jnp.abs(carry.v - carry.v_pi)
        metrics = {
            "value_error": jnp.max(error),
            "mean_error": jnp.mean(error),
            "reward": jnp.mean(rewards),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        metrics=("value_error", "mean_error", "reward"),
        main_metric="value_error",
        env_steps_per_chunk=chunk_steps,
    )
