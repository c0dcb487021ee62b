"""The scaffold of off-policy TD control on the grid world: what Q-learning and its relatives share.

An algorithm built on it gives its value tables and its update rule; the scaffold does the rest,
once for all of them: the task (the book's continuing grid, or the episodic path-finding task),
the behaviour policy (epsilon-greedy in the algorithm's action values, or uniform:
``config.behaviour``), the environment steps, step sizes by visit counts, the ground truth for
the setting's gamma, the ``lax.scan`` over a chunk and the metrics of the greedy policy.

For each step ``t``: in ``s_t`` the behaviour draws ``a_t`` from the uniform
``counter_uniforms(key, t)[0]``; the environment returns ``r_{t+1}``, ``s_{t+1}`` (the cell the
move reached: ``info["final_observation"]``) and whether the episode terminated; then

    tables <- update(tables, Transition(s_t, a_t, r_{t+1}, discount, s_{t+1}), alpha=..., u=...)

with ``discount = gamma`` (0 after a termination), ``alpha`` the step size of the pair (see
:func:`jaxrl.tabular.common.step_size`) and ``u = counter_uniforms(key, t)[1]``, a uniform the
rule may use (Double Q-learning's coin). Metrics per chunk: ``value_error``, ``q_error`` and
``optimal`` of the greedy policy of ``q_values(tables)`` against the optimal one (see
:func:`jaxrl.tabular.common.policy_metrics`), ``reward`` (the mean over the chunk) and, in the
episodic task, ``path_length``.

Fields: ``SCHEMA`` (the tabular ones, ``jaxrl.tabular.common.SCHEMA``, ``behaviour`` and the swept
``learning_rate``, ``epsilon`` and ``gamma``); an algorithm extends it under its own name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl.envs import gridworld, rng
from jaxrl.run import POSITIVE, PROBABILITY, Experiment, fields
from jaxrl.tabular import common

BEHAVIOURS = ("epsilon_greedy", "uniform")
SCHEMA = common.SCHEMA.extend(
    "jaxrl.tabular.control",
    behaviour=fields.static(
        fields.one_of(*BEHAVIOURS), "epsilon-greedy in the estimates (on-policy) or uniform"
    ),
    learning_rate=fields.swept(POSITIVE, "the step size, or its scale for a decaying schedule"),
    epsilon=fields.swept(PROBABILITY, "exploration of the epsilon-greedy behaviour"),
    gamma=fields.swept(common.GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type


class Transition(NamedTuple):
    """One step: ``s_t, a_t, r_{t+1}``, the discount of what follows, and ``s_{t+1}``."""

    s: jax.Array
    a: jax.Array
    r: jax.Array
    discount: jax.Array
    s_next: jax.Array


class Carry(NamedTuple):
    """Training state of one seed and setting."""

    tables: Any  # the algorithm's value tables
    visits: jax.Array  # [S, A] float32 visit counts (decaying step sizes only)
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    step: jax.Array  # [] int32 steps taken (the counter of the random streams)
    key_data: jax.Array  # [2] uint32 raw key of this seed
    q_star: jax.Array  # [S, A] optimal action values for this gamma
    v_star: jax.Array  # [S] values of the optimal policy


def make_control_experiment(
    config,
    schema: fields.Schema,
    *,
    init_tables: Callable[[int, int], Any],
    q_values: Callable[[Any], jax.Array],
    update: Callable[..., Any],
) -> Experiment:
    """An off-policy TD control algorithm as a runner experiment.

    Args:
        config: the algorithm's config (its fields are checked to be exactly ``schema``'s).
        schema: :data:`SCHEMA`, extended under the algorithm's module name (for messages).
        init_tables: ``(num_states, num_actions) -> tables``, the initial value tables.
        q_values: ``tables -> [S, A]``, the action values the behaviour and the greedy policy use.
        update: ``(tables, transition, *, alpha, u) -> tables``, the update rule.
    """
    schema.check(config)
    episodic = common.is_episodic(config)
    power = common.step_size_power(config)
    uniform = config.behaviour == "uniform"
    grid, params = common.task_from_config(config)
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    chunk_steps = int(config.chunk_steps)
    path_length = common.path_length_fn(grid, params, config) if episodic else None

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        _, env_state = gridworld.reset(start_key, params)
        q_star, v_star = common.ground_truth(mdp, hparams.gamma)
        return Carry(
            tables=init_tables(num_states, num_actions),
            visits=jnp.zeros((num_states, num_actions), jnp.float32),
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            q_star=q_star,
            v_star=v_star,
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        u_action, u_update = rng.counter_uniforms(carry.key_data, carry.step)
        s = gridworld.observe(carry.env_state.position, params)  # a state index
        # Off-policy from a uniform behaviour policy is epsilon-greedy with epsilon = 1.
        epsilon = 1.0 if uniform else hparams.epsilon
        a = common.epsilon_greedy_action(q_values(carry.tables)[s], u_action, epsilon)
        _, env_state, reward, terminated, _, info = gridworld.step(
            common.env_key(carry.key_data, carry.step), carry.env_state, a, params
        )
        # Bootstrap from where the move landed (not from a new episode's start), unless the
        # episode terminated there.
        discount = hparams.gamma * (1.0 - terminated.astype(jnp.float32))
        transition = Transition(s, a, reward, discount, info["final_observation"])
        visits, alpha = common.step_size(carry.visits, (s, a), hparams.learning_rate, power)
        tables = update(carry.tables, transition, alpha=alpha, u=u_update)
        carry = carry._replace(
            tables=tables, visits=visits, env_state=env_state, step=carry.step + 1
        )
        return carry, reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        q = q_values(carry.tables)
        truth = common.policy_metrics(q, carry.q_star, carry.v_star, mdp, hparams.gamma)
        metrics = {name: truth[name] for name in ("value_error", "q_error", "optimal")}
        metrics["reward"] = jnp.mean(rewards)
        if episodic:
            metrics["path_length"] = path_length(q)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=schema.hparams_type,
        domains=schema.domains,
        metrics=("value_error", "q_error", "optimal", "reward")
        + (("path_length",) if episodic else ()),
        main_metric="value_error",
    )
