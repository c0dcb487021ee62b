"""Sarsa, expected Sarsa and n-step Sarsa on the grid world (Zhao, ch. 7.2, 7.3).

On-policy TD control with an epsilon-greedy policy w.r.t. the current estimates ``q``. After each
step ``(s_t, a_t, r_{t+1}, s_{t+1})`` and the next action ``a_{t+1}`` drawn from the same policy:

* Sarsa: ``q(s_t, a_t) += alpha [r_{t+1} + gamma q(s_{t+1}, a_{t+1}) - q(s_t, a_t)]``;
* expected Sarsa: the target is ``r_{t+1} + gamma sum_a pi(a | s_{t+1}) q(s_{t+1}, a)``;
* n-step Sarsa: ``q(s_{t-n+1}, a_{t-n+1})`` moves towards
  ``sum_{k<n} gamma^k r_{t-n+2+k} + gamma^n q(s_{t+1}, a_{t+1})`` (n = 1 is Sarsa).

With a fixed ``epsilon`` these converge towards the best epsilon-greedy policy, not the optimal
policy; the ground truth is ``jaxrl.dp.epsilon_greedy_value_iteration`` (Zhao, ch. 5.4: the
optimal epsilon-greedy policy). The task is the book's continuing one (one long trajectory);
``config.restart_every = K > 0`` resets the environment every K steps (after the update), which
starts the agent in a uniformly random state, so that rarely reached states are visited: with a
small epsilon the agent otherwise stays at the target, and the values of far states are never
learned. ``config.episodic`` gives the book's path-finding task instead (see
``jaxrl.tabular.q_learning``; Sarsa and expected Sarsa only).

``make_experiment(config)`` returns the :class:`jaxrl.run.Experiment` the runner sweeps;
``config.variant`` (``"sarsa"``, ``"expected_sarsa"``, ``"n_step_sarsa"``), ``config.n`` and
``config.step_size`` are static; ``learning_rate`` (> 0), ``epsilon`` (in [0, 1]) and ``gamma``
(in [0, 0.999], see ``common.GAMMA``) are swept.

Metrics per chunk: ``value_gap`` = ``max_s v_eps*(s) - v_pi(s)``, where ``pi`` is the
epsilon-greedy policy of ``q`` and ``v_eps*`` the values of the best epsilon-greedy policy, both
evaluated to within 1e-5 (``dp.evaluate_policy_bounded``; 0 when ``pi`` is that policy);
``optimal`` = 1 if ``value_gap < 1e-4``; ``reward`` = mean reward over the chunk;
``path_length`` (episodic) = steps of the greedy policy from the start to the target.
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
    epsilon_greedy_probs,
    greedy_path_length,
    policy_values,
    step_size,
    task_from_config,
)

VARIANTS = ("sarsa", "expected_sarsa", "n_step_sarsa")
OPTIMAL_TOL = 1e-4
DOMAINS = {"learning_rate": POSITIVE, "epsilon": PROBABILITY, "gamma": GAMMA}
# Counter streams: the behaviour policy's uniforms, and the restarts' resets.
ACTION_STREAM = 2
RESTART_STREAM = 4


class Hparams(NamedTuple):
    learning_rate: jax.Array
    epsilon: jax.Array
    gamma: jax.Array


class Carry(NamedTuple):
    q: jax.Array  # [S, A]
    visits: jax.Array  # [S, A] (harmonic step size only)
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    action: jax.Array  # [] a_t, already drawn from the policy
    step: jax.Array  # [] t, the counter of the random stream
    key_data: jax.Array  # [2] uint32
    states: jax.Array  # [n] the last n states (a circular buffer; n-step Sarsa)
    actions: jax.Array  # [n] the last n actions
    rewards: jax.Array  # [n] the rewards that followed them
    v_eps_star: jax.Array  # [S] values of the best epsilon-greedy policy


def make_experiment(config) -> Experiment:
    """The runner's view of the Sarsa family for ``config`` (see ``jaxrl/configs/sarsa.py``)."""
    power = check_step_size(config)
    variant = config.variant
    if variant not in VARIANTS:
        raise ValueError(f"config.variant must be one of {VARIANTS}, got {variant!r}")
    n = int(config.n) if variant == "n_step_sarsa" else 1
    if n < 1:
        raise ValueError(f"config.n must be a positive integer, got {config.n!r}")
    episodic = bool(config.get("episodic", False))
    if episodic and (variant == "n_step_sarsa" or int(config.get("restart_every", 0))):
        raise ValueError(
            "config.episodic supports variant 'sarsa' or 'expected_sarsa' with "
            "restart_every = 0 (n-step returns would cross episode ends)"
        )
    grid, params = task_from_config(config)
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    chunk_steps = int(config.chunk_steps)
    restart_every = int(config.get("restart_every", 0))
    if restart_every < 0:
        raise ValueError(f"config.restart_every must be >= 0, got {restart_every}")

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        obs, env_state = gridworld.reset(start_key, params)
        key_data = jax.random.key_data(key)
        q = jnp.zeros((num_states, num_actions), jnp.float32)
        u, _ = rng.counter_uniforms(key_data, jnp.int32(0), stream=ACTION_STREAM)
        best = dp.epsilon_greedy_value_iteration(
            mdp=mdp, epsilon=hparams.epsilon, gamma=hparams.gamma, tol=1e-6
        )
        return Carry(
            q=q,
            visits=jnp.zeros_like(q),
            env_state=env_state,
            action=epsilon_greedy_action(q[obs], u, hparams.epsilon),
            step=jnp.int32(0),
            key_data=key_data,
            states=jnp.zeros((n,), jnp.int32),
            actions=jnp.zeros((n,), jnp.int32),
            rewards=jnp.zeros((n,), jnp.float32),
            # The values of the best epsilon-greedy policy, evaluated as the learned ones are.
            v_eps_star=policy_values(mdp, best.policy, hparams.gamma),
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        s, a, t = gridworld.observe(carry.env_state.position, params), carry.action, carry.step
        obs, env_state, reward, terminated, truncated, info = gridworld.step(
            env_key(carry.key_data, t), carry.env_state, a, params
        )
        # Bootstrap from where the move landed, unless the episode terminated there.
        s_next = info["final_observation"]
        discount = 1.0 - terminated.astype(jnp.float32)
        u, _ = rng.counter_uniforms(carry.key_data, t + 1, stream=ACTION_STREAM)
        a_next = epsilon_greedy_action(carry.q[s_next], u, hparams.epsilon)
        q = carry.q
        states, actions, rewards = carry.states, carry.actions, carry.rewards
        if variant == "n_step_sarsa":
            slot = t % n
            states, actions = states.at[slot].set(s), actions.at[slot].set(a)
            rewards = rewards.at[slot].set(reward)
            chronological = (t + 1 + jnp.arange(n)) % n  # oldest first, after this push
            discounts = hparams.gamma ** jnp.arange(n, dtype=jnp.float32)
            target = (
                jnp.sum(discounts * rewards[chronological]) + hparams.gamma**n * q[s_next, a_next]
            )
            s_upd, a_upd = states[chronological[0]], actions[chronological[0]]
            counted, alpha = step_size(carry.visits, s_upd, a_upd, hparams.learning_rate, power)
            ready = t + 1 >= n  # the first n - 1 steps have no complete n-step return yet
            visits = jnp.where(ready, counted, carry.visits)
            q = q.at[s_upd, a_upd].add(jnp.where(ready, alpha * (target - q[s_upd, a_upd]), 0.0))
        else:
            if variant == "sarsa":
                bootstrap = q[s_next, a_next]
            else:
                bootstrap = jnp.sum(epsilon_greedy_probs(q[s_next], hparams.epsilon) * q[s_next])
            target = reward + discount * hparams.gamma * bootstrap
            visits, alpha = step_size(carry.visits, s, a, hparams.learning_rate, power)
            q = q.at[s, a].add(alpha * (target - q[s, a]))
        if episodic:  # after an episode ends, the next one's first action, from its start cell
            done = jnp.logical_or(terminated, truncated)
            a_next = jnp.where(done, epsilon_greedy_action(q[obs], u, hparams.epsilon), a_next)
        if restart_every:
            # Coverage: every restart_every steps the environment is reset (a uniformly random
            # start). The update above used the real (s', a'), so only where the agent is changes.
            restart = (t + 1) % restart_every == 0
            restart_obs, restart_state = gridworld.reset(
                rng.counter_key(carry.key_data, t + 1, stream=RESTART_STREAM), params
            )
            a_restart = epsilon_greedy_action(q[restart_obs], u, hparams.epsilon)
            env_state = jax.tree.map(
                lambda x, y: jnp.where(restart, x, y), restart_state, env_state
            )
            a_next = jnp.where(restart, a_restart, a_next)
        carry = carry._replace(
            q=q,
            visits=visits,
            env_state=env_state,
            action=a_next,
            step=t + 1,
            states=states,
            actions=actions,
            rewards=rewards,
        )
        return carry, reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        policy = dp.epsilon_greedy_policy(carry.q, epsilon=hparams.epsilon)
        gap = jnp.max(carry.v_eps_star - policy_values(mdp, policy, hparams.gamma))
        metrics = {
            "value_gap": gap,
            "optimal": (gap < OPTIMAL_TOL).astype(jnp.float32),
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
        metrics=("value_gap", "optimal", "reward") + (("path_length",) if episodic else ()),
        main_metric="value_gap",
    )
