"""Linear Sarsa and linear Q-learning on the grid world (Zhao, ch. 8.3; Sutton and Barto,
10.1, episodic semi-gradient Sarsa).

Action values are linear in state-action features, ``q(s, a) = phi(s, a)^T w``, stacked as
``q(s, .) = Phi_sa[s] @ w`` with ``Phi_sa [S, A, A d]``; the features are ``phi(s, a) = e_a (x)
phi(s)`` (:func:`jaxrl.approx.features.state_action`) of the state features
``config.features``, one weight block per action. In ``s_t`` the agent takes ``a_t``
epsilon-greedy w.r.t. ``q(s_t, .)``, receives ``r_{t+1}`` and lands in ``s_{t+1}``; then

* Sarsa (``config.variant = "sarsa"``), with ``a_{t+1}`` drawn from the same policy:
  ``w <- w + alpha_t [r_{t+1} + gamma q(s_{t+1}, a_{t+1}) - q(s_t, a_t)] phi(s_t, a_t)``;
* Q-learning (``"q_learning"``):
  ``w <- w + alpha_t [r_{t+1} + gamma max_a q(s_{t+1}, a) - q(s_t, a_t)] phi(s_t, a_t)``;

the TD errors from ``jaxrl.targets.sarsa`` and ``jaxrl.targets.q_learning`` applied to the
vectors ``q(s_t, .)`` and ``q(s_{t+1}, .)``, ``phi(s_t, a_t)`` being the gradient of
``q(s_t, a_t)``. ``alpha_t = learning_rate / (1 + t / decay_steps)^step_power / max_s
||phi(s)||^2`` (:func:`jaxrl.approx.linear.step_size`).

The task is the book's continuing one (one long trajectory), or with ``config.episodic`` its
path-finding task (ch. 7-8: episodes from ``config.env.start`` to the absorbing target, cut after
``config.max_episode_steps``; see ``jaxrl.envs.grid_tasks.task_from_config``): a terminal
transition bootstraps nothing (``discount = 0``), a truncated one bootstraps from the cell the
move reached, and after an episode ends Sarsa draws the next episode's first action at its start.

With one-hot features these are the tabular family's Sarsa (``restart_every = 0``) and
Q-learning (epsilon-greedy behaviour), step for step:
the random streams are theirs (Sarsa draws ``a_{t+1}`` from ``counter_uniforms(key, t + 1,
stream=2)`` before the update, Q-learning draws ``a_t`` from ``counter_uniforms(key, t)`` with
the current weights). With coarser features neither is guaranteed to converge (Q-learning with
linear features can diverge off-policy: Sutton and Barto, 11.2); the runner stops a run whose
metrics become non-finite.

Ground truth (``jaxrl.exact.ground_truth``, matrix-vector products only): for Sarsa the
best epsilon-greedy policy (``dp.epsilon_greedy_value_iteration``: with a fixed epsilon Sarsa
learns an epsilon-greedy policy), for Q-learning the optimal policy. Fields: ``SCHEMA`` (the
variant, the features and the grid task static; ``learning_rate``, ``step_power``,
``decay_steps``, ``epsilon`` and ``gamma`` swept).

Metrics per chunk: Sarsa: ``value_gap`` = ``max_s v_eps*(s) - v_pi(s)`` for the epsilon-greedy
policy ``pi`` of ``q``; Q-learning: ``value_error`` = ``max_s |v_pi(s) - v*(s)|`` for the greedy
policy of ``q`` (both evaluated within 1e-5; 0 when the policy is the target); both: ``q_error``
= ``max |q - q_target|`` (it keeps the approximation's bias), ``optimal`` = 1 when the policy
matches the target within 1e-4, ``reward`` = mean reward over the chunk, ``path_length``
(episodic) = steps of the greedy policy from the start to the target.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import exact, policies, targets
from jaxrl.approx import features, linear
from jaxrl.envs import grid_tasks, gridworld, rng
from jaxrl.run import POSITIVE, PROBABILITY, Experiment, fields, real

VARIANTS = ("sarsa", "q_learning")
SCHEMA = grid_tasks.SCHEMA.extend(
    "jaxrl.approx.linear_control",
    variant=fields.static(fields.one_of(*VARIANTS), "linear Sarsa or linear Q-learning"),
    features=fields.static(
        fields.one_of(*features.FEATURE_SETS), "the state features phi(s) (jaxrl.approx.features)"
    ),
    learning_rate=fields.swept(POSITIVE, "the normalized step size's scale"),
    step_power=fields.swept(
        real(0.0, 1.0), "the step size decays as (1 + t / decay_steps)^-step_power"
    ),
    decay_steps=fields.swept(POSITIVE, "steps before the step size starts to decay"),
    epsilon=fields.swept(PROBABILITY, "exploration of the epsilon-greedy policy"),
    gamma=fields.swept(exact.GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type
# Sarsa's counter stream for its actions (that of the tabular Sarsa).
ACTION_STREAM = 2


class Carry(NamedTuple):
    """Training state of one seed and setting."""

    w: jax.Array  # [A d] the weights
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    action: jax.Array  # [] int32 a_t, already drawn (Sarsa; 0 and unused for Q-learning)
    step: jax.Array  # [] int32 t, the counter of the random streams
    key_data: jax.Array  # [2] uint32 raw key of this seed
    q_target: jax.Array  # [S, A] action values of the target policy for this gamma
    v_target: jax.Array  # [S] its values


def linear_sarsa_update(
    w: jax.Array,
    phi_sa_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    phi_sa_t: jax.Array,
    a_t: jax.Array,
    *,
    alpha: jax.Array,
) -> jax.Array:
    """One linear Sarsa update of ``w [D]``: ``w + alpha delta phi_sa_tm1[a_tm1]``.

    ``delta`` from ``jaxrl.targets.sarsa`` on ``q_tm1 = phi_sa_tm1 @ w`` and ``q_t = phi_sa_t @
    w``, the ``[A]`` action values at ``s_{t-1}`` and ``s_t`` (``phi_sa_* [A, D]``: the features
    of every action in that state).
    """
    chex.assert_rank([w, phi_sa_tm1, phi_sa_t], [1, 2, 2])
    chex.assert_equal_shape([phi_sa_tm1, phi_sa_t])
    delta = targets.sarsa(phi_sa_tm1 @ w, a_tm1, r_t, discount_t, phi_sa_t @ w, a_t)
    return w + alpha * delta * phi_sa_tm1[a_tm1]


def linear_q_learning_update(
    w: jax.Array,
    phi_sa_tm1: jax.Array,
    a_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    phi_sa_t: jax.Array,
    *,
    alpha: jax.Array,
) -> jax.Array:
    """One linear Q-learning update of ``w [D]``: ``w + alpha delta phi_sa_tm1[a_tm1]``.

    ``delta`` from ``jaxrl.targets.q_learning`` on ``q_tm1 = phi_sa_tm1 @ w`` and ``q_t =
    phi_sa_t @ w`` (``phi_sa_* [A, D]``).
    """
    chex.assert_rank([w, phi_sa_tm1, phi_sa_t], [1, 2, 2])
    chex.assert_equal_shape([phi_sa_tm1, phi_sa_t])
    delta = targets.q_learning(phi_sa_tm1 @ w, a_tm1, r_t, discount_t, phi_sa_t @ w)
    return w + alpha * delta * phi_sa_tm1[a_tm1]


def make_experiment(config) -> Experiment:
    """The runner's view of linear Sarsa or Q-learning (see ``jaxrl/configs/linear_sarsa.py`` and
    ``jaxrl/configs/linear_q_learning.py``)."""
    SCHEMA.check(config)
    episodic = grid_tasks.is_episodic(config)
    sarsa = config.variant == "sarsa"
    main = "value_gap" if sarsa else "value_error"  # against the epsilon-greedy or optimal target
    grid, params = grid_tasks.task_from_config(config)
    phi64 = features.check_features(config.features, grid.shape, field="config.features")
    mdp = params.mdp
    num_actions = gridworld.NUM_ACTIONS
    phi_sa = features.state_action_matrix(jnp.asarray(phi64, jnp.float32), num_actions)
    feature_norm = float(np.max(np.sum(np.asarray(phi_sa, np.float64) ** 2, axis=-1)))
    chunk_steps = int(config.chunk_steps)
    path_length = grid_tasks.path_length_fn(grid, params, config) if episodic else None

    def q_values(w: jax.Array) -> jax.Array:
        return phi_sa @ w  # [S, A]

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        obs, env_state = gridworld.reset(start_key, params)
        key_data = jax.random.key_data(key)
        w = jnp.zeros((phi_sa.shape[-1],), jnp.float32)
        if sarsa:
            u, _ = rng.counter_uniforms(key_data, jnp.int32(0), stream=ACTION_STREAM)
            action = policies.epsilon_greedy_action(phi_sa[obs] @ w, u, hparams.epsilon)
            q_target, v_target = exact.ground_truth(mdp, hparams.gamma, hparams.epsilon)
        else:
            action = jnp.int32(0)
            q_target, v_target = exact.ground_truth(mdp, hparams.gamma)
        return Carry(
            w=w,
            env_state=env_state,
            action=action,
            step=jnp.int32(0),
            key_data=key_data,
            q_target=q_target,
            v_target=v_target,
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        s, t, w = gridworld.observe(carry.env_state.position, params), carry.step, carry.w
        if sarsa:
            a = carry.action
        else:
            u, _ = rng.counter_uniforms(carry.key_data, t)
            a = policies.epsilon_greedy_action(phi_sa[s] @ w, u, hparams.epsilon)
        obs, env_state, reward, terminated, truncated, info = gridworld.step(
            rng.env_key(carry.key_data, t), carry.env_state, a, params
        )
        # Bootstrap from where the move landed (not a new episode's start), unless the episode
        # terminated there.
        s_next = info["final_observation"]
        discount = hparams.gamma * (1.0 - terminated.astype(jnp.float32))
        alpha = linear.step_size(
            t,
            learning_rate=hparams.learning_rate,
            step_power=hparams.step_power,
            decay_steps=hparams.decay_steps,
            feature_norm=feature_norm,
        )
        if sarsa:
            u, _ = rng.counter_uniforms(carry.key_data, t + 1, stream=ACTION_STREAM)
            a_next = policies.epsilon_greedy_action(phi_sa[s_next] @ w, u, hparams.epsilon)
            w = linear_sarsa_update(
                w, phi_sa[s], a, reward, discount, phi_sa[s_next], a_next, alpha=alpha
            )
            if episodic:  # after an episode ends, the next one's first action, at its start
                restart = jnp.logical_or(terminated, truncated)
                first = policies.epsilon_greedy_action(phi_sa[obs] @ w, u, hparams.epsilon)
                a_next = jnp.where(restart, first, a_next)
        else:
            a_next = carry.action
            w = linear_q_learning_update(
                w, phi_sa[s], a, reward, discount, phi_sa[s_next], alpha=alpha
            )
        carry = carry._replace(w=w, env_state=env_state, action=a_next, step=t + 1)
        return carry, reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        q = q_values(carry.w)
        epsilon = hparams.epsilon if sarsa else None
        truth = exact.policy_metrics(
            q, carry.q_target, carry.v_target, mdp, hparams.gamma, epsilon=epsilon
        )
        metrics = {
            main: truth[main],
            "q_error": truth["q_error"],
            "optimal": truth["optimal"],
            "reward": jnp.mean(rewards),
        }
        if episodic:
            metrics["path_length"] = path_length(q)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=SCHEMA.domains,
        metrics=(main, "q_error", "optimal", "reward") + (("path_length",) if episodic else ()),
        main_metric=main,
    )
