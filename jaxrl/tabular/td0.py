"""TD(0) learning of the state values of a fixed policy on the grid world (Zhao, ch. 7.1).

Following a fixed policy ``pi`` (an ``[S, A]`` matrix; the uniform random policy by default), after
each step ``(s_t, r_{t+1}, s_{t+1})``:

    v(s_t) <- v(s_t) + alpha_t(s_t) [r_{t+1} + gamma v(s_{t+1}) - v(s_t)]

with ``alpha_t`` constant, ``learning_rate / n_t(s_t)`` (``"harmonic"``) or
``learning_rate / n_t(s_t)^step_power`` (``"polynomial"``), ``n_t`` counting the visits of the
state. The ground truth is ``v_pi`` to within 1e-5 (``jaxrl.dp.evaluate_policy_bounded``). The
task is the book's continuing one (one long trajectory). Fields: ``SCHEMA`` (``policy``, the
grid and the step-size schedule static; ``learning_rate`` and ``gamma`` swept).

Metrics per chunk: ``value_error`` = ``max_s |v(s) - v_pi(s)|``, ``mean_error`` =
``mean_s |v(s) - v_pi(s)|``, ``reward`` = mean reward over the chunk.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import targets
from jaxrl.envs import gridworld, rng
from jaxrl.run import POSITIVE, Experiment, fields
from jaxrl.tabular import common
from jaxrl.tabular.common import GAMMA, env_key, policy_values, task_from_config

POLICIES = ("uniform",)
SCHEMA = common.CONTINUING_SCHEMA.extend(
    "jaxrl.tabular.td0",
    policy=fields.static(fields.one_of(*POLICIES), "the policy evaluated"),
    learning_rate=fields.swept(POSITIVE, "the step size, or its scale for a decaying schedule"),
    gamma=fields.swept(GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    v: jax.Array  # [S]
    visits: jax.Array  # [S]
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    step: jax.Array  # []
    key_data: jax.Array  # [2] uint32
    v_pi: jax.Array  # [S] exact values of the policy


def td_update(v, s, r, s_next, *, alpha, gamma):
    """One TD(0) update of the table ``v [S]`` from ``(s, r, s')``; the error from
    ``jaxrl.targets.td_learning``."""
    return v.at[s].add(alpha * targets.td_learning(v[s], r, gamma, v[s_next]))


def make_experiment(config) -> Experiment:
    """The runner's view of TD(0) evaluation (see ``jaxrl/configs/td0.py``)."""
    SCHEMA.check(config)
    power = common.step_size_power(config)
    grid, params = task_from_config(config)
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
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            v_pi=policy_values(params.mdp, policy, hparams.gamma),
        )

    def train_step(carry: Carry, hparams: Hparams):
        s, t = gridworld.observe(carry.env_state.position, params), carry.step
        u, _ = rng.counter_uniforms(carry.key_data, t)
        a = jnp.minimum(jnp.sum(u >= cdf[s]), num_actions - 1).astype(jnp.int32)
        s_next, env_state, reward, _, _, _ = gridworld.step(
            env_key(carry.key_data, t), carry.env_state, a, params
        )
        visits, alpha = common.step_size(carry.visits, s, hparams.learning_rate, power)
        v = td_update(carry.v, s, reward, s_next, alpha=alpha, gamma=hparams.gamma)
        carry = carry._replace(v=v, visits=visits, env_state=env_state, step=t + 1)
        return carry, reward

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
        domains=SCHEMA.domains,
        metrics=("value_error", "mean_error", "reward"),
        main_metric="value_error",
    )
