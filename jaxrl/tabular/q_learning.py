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

This file holds the update rule; everything else (behaviour, environment steps, step sizes,
ground truth, metrics) is the scaffold of :mod:`jaxrl.tabular.control`, which
``make_experiment(config)`` calls. Fields: ``SCHEMA``, the scaffold's (``control.SCHEMA``:
the grid, the step-size schedule and ``behaviour`` static; ``learning_rate`` > 0, ``epsilon`` in
[0, 1] and ``gamma`` in [0, 0.999] swept).

Metrics per chunk (per seed): ``value_error`` = ``max_s |v_pi(s) - v*(s)|`` for the greedy policy
``pi`` of ``q`` (0 means ``pi`` is optimal), both evaluated to within 1e-5 by
``dp.evaluate_policy_bounded``; ``q_error`` = ``max |q - q*|``; ``optimal`` = 1 if
``value_error < 1e-4``; ``reward`` = mean reward over the chunk; ``path_length`` (episodic) = steps
of the greedy policy from the start to the target.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import targets
from jaxrl.run import Experiment
from jaxrl.tabular import control
from jaxrl.tabular.common import OPTIMAL_TOL, epsilon_greedy_action  # noqa: F401 (re-exported)

SCHEMA = control.SCHEMA.extend("jaxrl.tabular.q_learning")
Hparams = SCHEMA.hparams_type
Carry = control.Carry
Transition = control.Transition


def q_learning_update(
    q: jax.Array, transition: Transition, *, alpha: jax.Array, u: jax.Array | None = None
) -> jax.Array:
    """One Q-learning update of the table ``q [S, A]``, the TD error from ``jaxrl.targets``."""
    del u  # Q-learning draws nothing
    s, a = transition.s, transition.a
    error = targets.q_learning(q[s], a, transition.r, transition.discount, q[transition.s_next])
    return q.at[s, a].add(alpha * error)


def make_experiment(config) -> Experiment:
    """The runner's view of Q-learning for ``config`` (see ``jaxrl/configs/q_learning.py``)."""
    return control.make_control_experiment(
        config,
        SCHEMA,
        init_tables=lambda num_states, num_actions: jnp.zeros((num_states, num_actions)),
        q_values=lambda q: q,
        update=q_learning_update,
    )
