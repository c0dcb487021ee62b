"""Exact ground truth of finite MDPs for learning metrics: what a learned policy is measured
against.

Beside ``jaxrl.dp``, which solves MDPs, this module turns a solution into the metrics every
learner on a finite MDP reports: the optimal (or best epsilon-greedy) values for a swept gamma,
a policy's exact values, and the gap between them. Agents reach it through an environment's
``Finite`` hook (``jaxrl.envs.registry``), so they never need to know which MDP it is.

Policy evaluations inside a compiled run use ``dp.evaluate_policy_bounded`` (sweeps of the
Bellman operator to an error bound), not a linear solve: a jitted LAPACK call can deadlock when
sharded over several CPU host devices.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import dp
from jaxrl.run import real

# Policy evaluations inside a compiled run are accurate to this bound.
EVALUATION_ERROR = 1e-5
# A learned policy whose values are within this of the target's counts as optimal.
OPTIMAL_TOL = 1e-4
# The discounts an experiment with exact metrics accepts. The evaluation needs about
# log(EVALUATION_ERROR (1 - gamma) / max|r|) / log(gamma) sweeps: 21k at gamma = 0.999 with
# rewards of -10, but 230k at 0.9999, beyond its 100k cap (and value iteration's float32
# convergence test stalls there too).
GAMMA = real(0.0, 0.999)


def policy_values(mdp, policy: jax.Array, gamma: jax.Array) -> jax.Array:
    """``v_pi`` of ``policy [S, A]`` within ``EVALUATION_ERROR`` (no LAPACK: see above)."""
    return dp.evaluate_policy_bounded(mdp, policy, gamma=gamma, error_bound=EVALUATION_ERROR).values


def ground_truth(mdp, gamma: jax.Array, epsilon: jax.Array | None = None):
    """``(q_target, v_target)`` for this setting's gamma (traced under vmap: no recompiling).

    The optimal action values and the values of the optimal policy; or, with ``epsilon``, those
    of the best epsilon-greedy policy (``dp.epsilon_greedy_value_iteration``), the target of
    Sarsa and MC epsilon-greedy. The values are evaluated as the learned policies are
    (:func:`policy_values`), so a learned policy equal to the target scores exactly 0.
    """
    if epsilon is None:
        solution = dp.value_iteration(mdp, gamma=gamma, tol=1e-6)
    else:
        solution = dp.epsilon_greedy_value_iteration(mdp, epsilon=epsilon, gamma=gamma, tol=1e-6)
    return solution.q_values, policy_values(mdp, solution.policy, gamma)


def policy_metrics(q, q_target, v_target, mdp, gamma, *, epsilon=None) -> dict:
    """The metrics of a Q table's policy against a target from :func:`ground_truth`.

    The policy is greedy in ``q`` (or epsilon-greedy, with ``epsilon``), evaluated with
    :func:`policy_values`: ``value_error = max_s |v_pi(s) - v_target(s)|``, ``value_gap =
    max_s v_target(s) - v_pi(s)`` (how far it falls short), ``q_error = max |q - q_target|``, and
    ``optimal`` = 1 if ``value_error < OPTIMAL_TOL``. Each algorithm reports the ones it names.
    """
    policy = (
        dp.greedy_policy(q) if epsilon is None else dp.epsilon_greedy_policy(q, epsilon=epsilon)
    )
    difference = v_target - policy_values(mdp, policy, gamma)
    error = jnp.max(jnp.abs(difference))
    return {
        "value_error": error,
        "value_gap": jnp.max(difference),
        "q_error": jnp.max(jnp.abs(q - q_target)),
        "optimal": (error < OPTIMAL_TOL).astype(jnp.float32),
    }


def greedy_path_length(q, next_state_table, *, start: int, target: int, max_steps: int):
    """Steps the greedy policy of ``q`` takes from ``start`` to ``target`` (``max_steps`` if it
    does not get there), following the deterministic moves ``next_state_table [S, A]``."""

    def follow(carry, _):
        s, steps = carry
        arrived = s == target
        s_next = next_state_table[s, jnp.argmax(q[s])]
        return (jnp.where(arrived, s, s_next), steps + jnp.where(arrived, 0, 1)), None

    (_, steps), _ = jax.lax.scan(follow, (jnp.int32(start), jnp.int32(0)), None, length=max_steps)
    return steps.astype(jnp.float32)
