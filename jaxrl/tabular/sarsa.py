"""Sarsa, expected Sarsa and n-step Sarsa on the grid world (Zhao, ch. 7.2, 7.3).

On-policy TD control with an epsilon-greedy policy w.r.t. the current estimates ``q``. After each
step ``(s_t, a_t, r_{t+1}, s_{t+1})`` and the next action ``a_{t+1}`` drawn from the same policy:

* Sarsa: ``q(s_t, a_t) += alpha [r_{t+1} + gamma q(s_{t+1}, a_{t+1}) - q(s_t, a_t)]``;
* expected Sarsa: the target is ``r_{t+1} + gamma sum_a pi(a | s_{t+1}) q(s_{t+1}, a)``;
* n-step Sarsa: ``q(s_{t-n+1}, a_{t-n+1})`` moves towards
  ``sum_{k<n} gamma^k r_{t-n+2+k} + gamma^n q(s_{t+1}, a_{t+1})`` (n = 1 is Sarsa).

The TD errors and the n-step return come from ``jaxrl.targets`` (``sarsa``, ``expected_sarsa``,
``discounted_returns`` of the n-step window with its bootstrap).

With a fixed ``epsilon`` these converge towards the best epsilon-greedy policy, not the optimal
policy; the ground truth is ``jaxrl.dp.epsilon_greedy_value_iteration`` (Zhao, ch. 5.4: the
optimal epsilon-greedy policy). The task is the book's continuing one (one long trajectory);
``config.restart_every = K > 0`` resets the environment every K steps (after the update), which
starts the agent in a uniformly random state, so that rarely reached states are visited: with a
small epsilon the agent otherwise stays at the target, and the values of far states are never
learned. A restart ends a trajectory: n-step Sarsa updates a pair only with a window of n steps
inside one trajectory, so the n - 1 pairs before a restart, whose windows would run into the
next trajectory, are not updated. ``config.episodic`` gives the book's path-finding task
instead (see ``jaxrl.tabular.q_learning``; Sarsa and expected Sarsa only).

``make_experiment(config)`` returns the :class:`jaxrl.run.Experiment` the runner sweeps.
Fields: ``SCHEMA`` (``variant``, ``n`` of n-step Sarsa, ``restart_every`` of the continuing task
and the tabular ones static; ``learning_rate``, ``epsilon`` and ``gamma`` swept).

Metrics per chunk: ``value_gap`` = ``max_s v_eps*(s) - v_pi(s)``, where ``pi`` is the
epsilon-greedy policy of ``q`` and ``v_eps*`` the values of the best epsilon-greedy policy, both
evaluated to within 1e-5 (``dp.evaluate_policy_bounded``; 0 when ``pi`` is that policy);
``optimal`` = 1 if ``value_gap < 1e-4``; ``reward`` = mean reward over the chunk;
``path_length`` (episodic) = steps of the greedy policy from the start to the target.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import targets
from jaxrl.envs import gridworld, rng
from jaxrl.run import POSITIVE, PROBABILITY, Experiment, fields
from jaxrl.tabular import common
from jaxrl.tabular.common import OPTIMAL_TOL, epsilon_greedy_action  # noqa: F401 (re-exported)

VARIANTS = ("sarsa", "expected_sarsa", "n_step_sarsa")
SCHEMA = common.SCHEMA.extend(
    "jaxrl.tabular.sarsa",
    variant=fields.static(fields.one_of(*VARIANTS), "Sarsa, expected Sarsa or n-step Sarsa"),
    n=fields.static(
        fields.POSITIVE_INT,
        "steps of the n-step return",
        when=lambda config: config.get("variant") == "n_step_sarsa",
    ),
    restart_every=fields.static(
        fields.COUNT,
        "reset the environment every K steps (coverage; 0: never)",
        when=lambda config: not common.is_episodic(config),
    ),
    learning_rate=fields.swept(POSITIVE, "the step size, or its scale for a decaying schedule"),
    epsilon=fields.swept(PROBABILITY, "exploration of the epsilon-greedy policy"),
    gamma=fields.swept(common.GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type
# Counter streams: the behaviour policy's uniforms, and the restarts' resets.
ACTION_STREAM = 2
RESTART_STREAM = 4


class Carry(NamedTuple):
    q: jax.Array  # [S, A]
    visits: jax.Array  # [S, A] (decaying step sizes only)
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    action: jax.Array  # [] a_t, already drawn from the policy
    step: jax.Array  # [] t, the counter of the random stream
    since_restart: jax.Array  # [] steps taken in the current trajectory before this one
    key_data: jax.Array  # [2] uint32
    states: jax.Array  # [n] the last n states (a circular buffer; n-step Sarsa)
    actions: jax.Array  # [n] the last n actions
    rewards: jax.Array  # [n] the rewards that followed them
    q_eps_star: jax.Array  # [S, A] action values of the best epsilon-greedy policy
    v_eps_star: jax.Array  # [S] its values


def make_experiment(config) -> Experiment:
    """The runner's view of the Sarsa family for ``config`` (see ``jaxrl/configs/sarsa.py``)."""
    episodic = common.is_episodic(config)
    if episodic and config.get("variant") == "n_step_sarsa":
        raise ValueError(
            "config.episodic supports variant 'sarsa' or 'expected_sarsa' (n-step returns "
            "would cross episode ends)"
        )
    SCHEMA.check(config)
    power = common.step_size_power(config)
    variant = config.variant
    n = int(config.n) if variant == "n_step_sarsa" else 1
    restart_every = 0 if episodic else int(config.restart_every)
    grid, params = common.task_from_config(config)
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    chunk_steps = int(config.chunk_steps)
    path_length = common.path_length_fn(grid, params, config) if episodic else None

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        obs, env_state = gridworld.reset(start_key, params)
        key_data = jax.random.key_data(key)
        q = jnp.zeros((num_states, num_actions), jnp.float32)
        u, _ = rng.counter_uniforms(key_data, jnp.int32(0), stream=ACTION_STREAM)
        q_eps_star, v_eps_star = common.ground_truth(mdp, hparams.gamma, hparams.epsilon)
        return Carry(
            q=q,
            visits=jnp.zeros_like(q),
            env_state=env_state,
            action=epsilon_greedy_action(q[obs], u, hparams.epsilon),
            step=jnp.int32(0),
            since_restart=jnp.int32(0),
            key_data=key_data,
            states=jnp.zeros((n,), jnp.int32),
            actions=jnp.zeros((n,), jnp.int32),
            rewards=jnp.zeros((n,), jnp.float32),
            q_eps_star=q_eps_star,
            v_eps_star=v_eps_star,
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        s, a, t = gridworld.observe(carry.env_state.position, params), carry.action, carry.step
        obs, env_state, reward, terminated, truncated, info = gridworld.step(
            common.env_key(carry.key_data, t), carry.env_state, a, params
        )
        # Bootstrap from where the move landed, unless the episode terminated there.
        s_next = info["final_observation"]
        discount = hparams.gamma * (1.0 - terminated.astype(jnp.float32))
        u, _ = rng.counter_uniforms(carry.key_data, t + 1, stream=ACTION_STREAM)
        a_next = epsilon_greedy_action(carry.q[s_next], u, hparams.epsilon)
        q, eps = carry.q, hparams.epsilon
        states, actions, rewards = carry.states, carry.actions, carry.rewards
        in_trajectory = carry.since_restart + 1  # steps of this trajectory, this one included
        if variant == "n_step_sarsa":
            slot = t % n
            states, actions = states.at[slot].set(s), actions.at[slot].set(a)
            rewards = rewards.at[slot].set(reward)
            chronological = (t + 1 + jnp.arange(n)) % n  # oldest first, after this push
            window = targets.discounted_returns(
                rewards[chronological], jnp.full((n,), hparams.gamma), q[s_next, a_next]
            )
            s_upd, a_upd = states[chronological[0]], actions[chronological[0]]
            counted, alpha = common.step_size(
                carry.visits, (s_upd, a_upd), hparams.learning_rate, power
            )
            # Only a window of n steps inside the current trajectory gives an n-step return.
            ready = in_trajectory >= n
            visits = jnp.where(ready, counted, carry.visits)
            error = window[0] - q[s_upd, a_upd]
            q = q.at[s_upd, a_upd].add(jnp.where(ready, alpha * error, 0.0))
        else:
            if variant == "sarsa":
                error = targets.sarsa(q[s], a, reward, discount, q[s_next], a_next)
            else:
                probs = common.epsilon_greedy_probs(q[s_next], eps)
                error = targets.expected_sarsa(q[s], a, reward, discount, q[s_next], probs)
            visits, alpha = common.step_size(carry.visits, (s, a), hparams.learning_rate, power)
            q = q.at[s, a].add(alpha * error)
        if episodic:  # after an episode ends, the next one's first action, from its start cell
            done = jnp.logical_or(terminated, truncated)
            a_next = jnp.where(done, epsilon_greedy_action(q[obs], u, eps), a_next)
        since_restart = in_trajectory
        if restart_every:
            # Coverage: every restart_every steps the environment is reset (a uniformly random
            # start), which ends the trajectory. The update above used the real (s', a').
            restart = (t + 1) % restart_every == 0
            restart_obs, restart_state = gridworld.reset(
                rng.counter_key(carry.key_data, t + 1, stream=RESTART_STREAM), params
            )
            env_state = jax.tree.map(
                lambda x, y: jnp.where(restart, x, y), restart_state, env_state
            )
            a_next = jnp.where(restart, epsilon_greedy_action(q[restart_obs], u, eps), a_next)
            since_restart = jnp.where(restart, 0, in_trajectory)
        carry = carry._replace(
            q=q,
            visits=visits,
            env_state=env_state,
            action=a_next,
            step=t + 1,
            since_restart=since_restart,
            states=states,
            actions=actions,
            rewards=rewards,
        )
        return carry, reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        truth = common.policy_metrics(
            carry.q, carry.q_eps_star, carry.v_eps_star, mdp, hparams.gamma, epsilon=hparams.epsilon
        )
        metrics = {"value_gap": truth["value_gap"], "optimal": truth["optimal"]}
        metrics["reward"] = jnp.mean(rewards)
        if episodic:
            metrics["path_length"] = path_length(carry.q)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=SCHEMA.domains,
        metrics=("value_gap", "optimal", "reward") + (("path_length",) if episodic else ()),
        main_metric="value_gap",
    )
