"""Tabular Q-learning on the grid world, with an epsilon-greedy behaviour policy.

Zhao, ch. 7.4 (Q-learning); Watkins and Dayan (1992), "Q-learning", Machine Learning 8.

For each step ``t``, in state ``s_t`` the agent takes ``a_t`` epsilon-greedy w.r.t. ``q``,
receives ``r_{t+1}`` and lands in ``s_{t+1}``; then

    q(s_t, a_t) <- q(s_t, a_t) + alpha_t(s_t, a_t) [r_{t+1} + gamma max_a q(s_{t+1}, a)
                                                    - q(s_t, a_t)]

with ``alpha_t = learning_rate`` (constant), ``learning_rate / n_t(s_t, a_t)`` (``"harmonic"``:
``n_t`` counts the visits of the pair, so the Robbins-Monro conditions hold) or
``learning_rate / n_t^step_power`` (``"polynomial"``); see ``jaxrl.tabular.common``. The task is the
book's continuing one: one long trajectory, no episodes, the target not absorbing.

``config.behaviour`` (static): ``"epsilon_greedy"`` (on-policy, w.r.t. the current ``q``, with
``hparams.epsilon``) or ``"uniform"`` (off-policy from the uniform behaviour policy, Zhao ch.
7.4.2: the behaviour never looks at ``q``, and ``hparams.epsilon`` is ignored).

``config.episodic`` (static): the book's path-finding task instead (ch. 7): episodes from
``config.env.start`` to the absorbing target, cut after ``config.max_episode_steps``. A terminal
transition bootstraps nothing; a truncated one bootstraps from the cell the move reached
(``info["final_observation"]`` of the environment's step), as any other.

``make_experiment(config)`` returns the :class:`jaxrl.run.Experiment` the runner sweeps. Swept
values (``learning_rate`` > 0, ``epsilon`` in [0, 1], ``gamma`` in [0, 0.999]) are fields of
:class:`Hparams`; the grid, the step-size schedule and the chunk length are static and come from
the config.

Metrics per chunk (per seed): ``value_error`` = ``max_s |v_pi(s) - v*(s)|`` for the greedy policy
``pi`` of ``q`` (0 means ``pi`` is optimal), both evaluated to within 1e-5 by
``dp.evaluate_policy_bounded``; ``q_error`` = ``max |q - q*|``; ``optimal`` = 1 if
``value_error < 1e-4``; ``reward`` = mean reward over the chunk; ``path_length`` (episodic) = steps
of the greedy policy from the start to the target.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import dp
from jaxrl.envs import gridworld, rng
from jaxrl.run import POSITIVE, PROBABILITY, Experiment
from jaxrl.tabular.common import (
    GAMMA,
    check_step_size,
    env_key,
    epsilon_greedy_action,
    greedy_path_length,
    policy_values,
    step_size,
    task_from_config,
)

BEHAVIOURS = ("epsilon_greedy", "uniform")
OPTIMAL_TOL = 1e-4
DOMAINS = {"learning_rate": POSITIVE, "epsilon": PROBABILITY, "gamma": GAMMA}


class Hparams(NamedTuple):
    """Swept values (scalars for one run; the runner batches them)."""

    learning_rate: jax.Array
    epsilon: jax.Array
    gamma: jax.Array


class Carry(NamedTuple):
    """Training state of one seed and setting."""

    q: jax.Array  # [S, A]
    visits: jax.Array  # [S, A] float32 visit counts (kept for the "harmonic" step size only)
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    step: jax.Array  # [] int32 steps taken (the counter of the random stream)
    key_data: jax.Array  # [2] uint32 raw key of this seed
    q_star: jax.Array  # [S, A] optimal action values for this gamma
    v_star: jax.Array  # [S]


def q_learning_update(
    q: jax.Array,
    s: jax.Array,
    a: jax.Array,
    r: jax.Array,
    s_next: jax.Array,
    *,
    alpha: jax.Array,
    gamma: jax.Array,
) -> jax.Array:
    """One Q-learning update of the table ``q [S, A]`` from ``(s, a, r, s')``."""
    target = r + gamma * jnp.max(q[s_next])
    return q.at[s, a].add(alpha * (target - q[s, a]))


def make_experiment(config) -> Experiment:
    """The runner's view of Q-learning for ``config`` (see ``jaxrl/configs/q_learning.py``)."""
    power = check_step_size(config)
    behaviour = config.get("behaviour", "epsilon_greedy")
    if behaviour not in BEHAVIOURS:
        raise ValueError(f"config.behaviour must be one of {BEHAVIOURS}, got {behaviour!r}")
    episodic = bool(config.get("episodic", False))
    grid, params = task_from_config(config)
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    chunk_steps = int(config.chunk_steps)

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        _, env_state = gridworld.reset(start_key, params)
        # v* and q* for this setting's gamma (traced under vmap, so no recompilation).
        solution = dp.value_iteration(mdp, gamma=hparams.gamma, tol=1e-6)
        return Carry(
            q=jnp.zeros((num_states, num_actions), jnp.float32),
            visits=jnp.zeros((num_states, num_actions), jnp.float32),
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            q_star=solution.q_values,
            # The values of the optimal policy, evaluated as the learned policies are.
            v_star=policy_values(mdp, solution.policy, hparams.gamma),
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        u_action, _ = rng.counter_uniforms(carry.key_data, carry.step)
        s = gridworld.observe(carry.env_state.position, params)  # a state index
        # Off-policy from a uniform behaviour policy is epsilon-greedy with epsilon = 1.
        epsilon = 1.0 if behaviour == "uniform" else hparams.epsilon
        a = epsilon_greedy_action(carry.q[s], u_action, epsilon)
        _, env_state, reward, terminated, _, info = gridworld.step(
            env_key(carry.key_data, carry.step), carry.env_state, a, params
        )
        # Bootstrap from where the move landed (not from a new episode's start), unless the
        # episode terminated there.
        s_next = info["final_observation"]
        discount = 1.0 - terminated.astype(jnp.float32)
        visits, alpha = step_size(carry.visits, s, a, hparams.learning_rate, power)
        q = q_learning_update(
            carry.q, s, a, reward, s_next, alpha=alpha, gamma=discount * hparams.gamma
        )
        carry = carry._replace(q=q, visits=visits, env_state=env_state, step=carry.step + 1)
        return carry, reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        v_pi = policy_values(mdp, dp.greedy_policy(carry.q), hparams.gamma)
        value_error = jnp.max(jnp.abs(v_pi - carry.v_star))
        metrics = {
            "value_error": value_error,
            "q_error": jnp.max(jnp.abs(carry.q - carry.q_star)),
            "optimal": (value_error < OPTIMAL_TOL).astype(jnp.float32),
            "reward": jnp.mean(rewards),
        }
        if episodic:
            metrics["path_length"] = path(carry.q)
        return carry, metrics

    next_state_table, _ = mdp.deterministic_tables()
    path = functools.partial(
        greedy_path_length,
        next_state_table=next_state_table,
        start=grid.state_index(tuple(config.env.start)) if episodic else 0,
        target=grid.state_index(grid.target),
        max_steps=int(config.get("max_episode_steps", 1)),
    )

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=DOMAINS,
        metrics=("value_error", "q_error", "optimal", "reward")
        + (("path_length",) if episodic else ()),
        main_metric="value_error",
    )
