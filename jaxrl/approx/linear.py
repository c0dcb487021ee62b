"""Linear value functions: the step-size schedule, the projected Bellman fixed point TD converges
to, and the expected TD update (Zhao, ch. 8.2, its theoretical analysis; Sutton and Barto, 9.4;
Tsitsiklis and Van Roy, 1997, "An analysis of temporal-difference learning with function
approximation", IEEE TAC 42(5)).

Notation (Zhao, ch. 8): ``Phi [S, d]`` stacks the feature vectors ``phi(s)^T``; ``P_pi [S, S]``
and ``r_pi [S]`` are the transition matrix and expected reward of the policy (``dp.
policy_transitions``); ``d_pi`` its stationary distribution (``dp.stationary_distribution``) and
``D = diag(d_pi)``. TD-linear on one long trajectory of ``pi``,

    w <- w + alpha_t [r_{t+1} + gamma phi(s_{t+1})^T w - phi(s_t)^T w] phi(s_t),

has the mean (expected) update ``w <- w + alpha (b - A w)`` with ``A = Phi^T D (I - gamma P_pi)
Phi`` and ``b = Phi^T D r_pi``, and with Robbins-Monro step sizes it converges to the unique
``w*`` with ``A w* = b`` (when ``Phi`` has full column rank): the fixed point of the projected
Bellman operator, ``Phi w* = Pi_D (r_pi + gamma P_pi Phi w*)``, where ``Pi_D = Phi (Phi^T D
Phi)^{-1} Phi^T D`` projects onto the span of the features in the norm ``||v||_D^2 = sum_s
d_pi(s) v(s)^2``. It is not the best approximation ``Pi_D v_pi`` of ``v_pi`` in that norm, but
its error is within a factor ``1 / sqrt(1 - gamma^2)`` of the best one's (Pythagoras, as
``Pi_D`` is orthogonal in ``||.||_D`` and ``Pi_D T_pi`` a ``gamma``-contraction; Tsitsiklis and
Van Roy's Theorem 1 states the factor ``1 / (1 - gamma)``).

Two ways to get ``w*``: :func:`projected_fixed_point`, a float64 NumPy solve of ``A w = b``, for
tests and analysis (outside anything compiled); and :func:`projected_fixed_point_bounded`,
matrix-vector products only, for inside a compiled run, where ``gamma`` is a traced, swept value
and a LAPACK solve is not allowed (it can deadlock when sharded over CPU devices; see
``dp.evaluate_policy_bounded``).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import dp


def step_size(
    t: jax.typing.ArrayLike,
    *,
    learning_rate: jax.typing.ArrayLike,
    step_power: jax.typing.ArrayLike,
    decay_steps: jax.typing.ArrayLike,
    feature_norm: float,
) -> jax.Array:
    """``alpha_t = learning_rate / (1 + t / decay_steps)^step_power / feature_norm``.

    ``step_power = 0`` is a constant step; ``step_power`` in (0.5, 1] satisfies the Robbins-Monro
    conditions (``sum alpha_t = inf``, ``sum alpha_t^2 < inf``) that the convergence of TD-linear
    to ``w*`` needs (Zhao, ch. 8.2). ``decay_steps`` is how long the step stays near its
    initial value. ``feature_norm`` is ``max_s ||phi(s)||^2``, so one update moves
    ``phi(s)^T w`` by at most ``learning_rate`` times the TD error (the normalized LMS step;
    Sutton and Barto, 9.5, suggest ``alpha = 1 / (tau E[||phi||^2])``): ``learning_rate`` means
    the same for every feature set, and with one-hot features this is the tabular step.
    """
    t = jnp.asarray(t, jnp.float32)
    return learning_rate / (1.0 + t / decay_steps) ** step_power / feature_norm


def projection_matrix(phi: np.ndarray, distribution: np.ndarray) -> np.ndarray:
    """``M = (Phi^T D Phi)^{-1} Phi^T D`` (float64 NumPy ``[d, S]``), so ``Pi_D = Phi M``.

    ``M u`` are the weights of the best approximation of ``u [S]`` in the norm ``||.||_D``.
    A NumPy solve: compute it outside anything compiled and pass it in as a constant.
    """
    phi = np.asarray(phi, np.float64)
    distribution = np.asarray(distribution, np.float64)
    if phi.ndim != 2 or distribution.shape != (phi.shape[0],):
        raise ValueError(
            f"phi must be [S, d] and distribution [S], got {list(phi.shape)} and "
            f"{list(distribution.shape)}"
        )
    weighted = phi.T * distribution[None, :]  # Phi^T D
    return np.linalg.solve(weighted @ phi, weighted)


def _dense_policy_model(mdp, policy) -> tuple[np.ndarray, np.ndarray]:
    """``(P_pi, r_pi)`` in float64 from the dense MDP (as ``dp.policy_transitions``)."""
    dense = mdp.to_dense()
    transitions = np.asarray(dense.transitions, np.float64)
    rewards = np.asarray(dense.rewards, np.float64)
    policy = np.asarray(policy, np.float64)
    return np.einsum("sa,sat->st", policy, transitions), np.sum(policy * rewards, axis=-1)


def stationary_distribution(mdp, policy) -> np.ndarray:
    """``d_pi`` from ``dp.stationary_distribution``, as float64 NumPy summing to one."""
    d = np.asarray(dp.stationary_distribution(mdp, jnp.asarray(policy, jnp.float32)), np.float64)
    return d / d.sum()


def projected_fixed_point(mdp, policy, phi, *, gamma: float) -> np.ndarray:
    """``w*`` solving ``Phi^T D (I - gamma P_pi) Phi w = Phi^T D r_pi``: TD-linear's limit.

    Zhao, ch. 8.2 (the projected Bellman equation); Sutton and Barto, eq. (9.12) (the TD fixed
    point). ``D = diag(d_pi)`` with ``d_pi`` from ``dp.stationary_distribution``; ``P_pi`` and
    ``r_pi`` from the dense MDP. Float64 NumPy, a LAPACK solve: for tests and analysis, outside
    anything compiled (a compiled run uses :func:`projected_fixed_point_bounded`).

    Args:
        mdp: a ``jaxrl.dp`` MDP (its dense form is used).
        policy: ``[S, A]`` action probabilities.
        phi: ``[S, d]`` features, full column rank.
        gamma: discount in [0, 1).

    Returns:
        ``[d]`` float64 weights ``w*``.
    """
    dp.check_gamma(gamma)
    phi = np.asarray(phi, np.float64)
    if phi.ndim != 2 or phi.shape[0] != mdp.num_states:
        raise ValueError(f"phi must be [S, d] with S = {mdp.num_states}, got {list(phi.shape)}")
    p_pi, r_pi = _dense_policy_model(mdp, policy)
    d = stationary_distribution(mdp, policy)
    weighted = phi.T * d[None, :]  # Phi^T D
    a = weighted @ (phi - gamma * (p_pi @ phi))
    b = weighted @ r_pi
    return np.linalg.solve(a, b)


class BoundedFixedPoint(NamedTuple):
    """Result of :func:`projected_fixed_point_bounded`.

    Attributes:
        weights: ``[d]`` the weights ``w_k`` after ``k`` sweeps.
        sweeps: ``k``, the number of projected Bellman backups applied.
        error_bound: a bound on ``max_s |phi(s)^T (w_k - w*)|`` in exact arithmetic (float32
            rounding comes on top).
    """

    weights: jax.Array
    sweeps: jax.Array
    error_bound: jax.Array


@jax.jit
def _fixed_point_bounded(mdp, policy, phi, projection, distribution, gamma, bound, max_sweeps):
    def sweep(w):  # w <- M (r_pi + gamma P_pi Phi w): one projected Bellman backup
        return projection @ dp.bellman_expectation_backup(mdp, phi @ w, policy, gamma=gamma)

    w1 = sweep(jnp.zeros((phi.shape[1],), jnp.float32))  # the weights of Pi_D r_pi
    v1 = phi @ w1
    # ||v* - v_k||_D <= gamma^k ||v*||_D <= gamma^k ||v_1||_D / (1 - gamma), and
    # max_s |u(s)| <= ||u||_D / sqrt(min_s d(s)).
    scale = jnp.sqrt(jnp.sum(distribution * v1 * v1) / jnp.min(distribution)) / (1.0 - gamma)
    sweeps = dp.contraction_sweeps(scale, bound, gamma, max_sweeps)
    w = jax.lax.fori_loop(1, sweeps, lambda _, u: sweep(u), w1)
    return BoundedFixedPoint(w, sweeps, gamma ** sweeps.astype(jnp.float32) * scale)


def projected_fixed_point_bounded(
    mdp,
    policy: jax.Array,
    phi: jax.Array,
    projection: jax.Array,
    distribution: jax.Array,
    *,
    gamma: jax.typing.ArrayLike,
    error_bound: jax.typing.ArrayLike = 1e-5,
    max_sweeps: int = 100_000,
) -> BoundedFixedPoint:
    """``w*`` by iterating the projected Bellman operator, matrix-vector products only.

    ``w_{k+1} = M (r_pi + gamma P_pi Phi w_k)`` from ``w_0 = 0``, with ``M = (Phi^T D Phi)^{-1}
    Phi^T D`` (:func:`projection_matrix`, computed once outside), so ``Phi w_{k+1} = Pi_D T_pi
    (Phi w_k)``. With ``D`` the stationary distribution of ``P_pi``, ``Pi_D T_pi`` is a
    ``gamma``-contraction in ``||.||_D`` (Tsitsiklis and Van Roy, 1997, Lemma 1), so
    ``||Phi (w_k - w*)||_D <= gamma^k ||Phi w*||_D <= gamma^k ||Phi w_1||_D / (1 - gamma)``,
    and the sup norm is at most ``||.||_D / sqrt(min_s d(s))``. The number of sweeps is the
    smallest ``k`` that brings this bound below ``error_bound`` (capped at ``max_sweeps``),
    decided before the loop, as in ``dp.evaluate_policy_bounded``. The Bellman backup is the
    MDP's own (``dp.bellman_expectation_backup``: a stencil for a grid). ``gamma`` may be traced.

    Args:
        mdp: a ``jaxrl.dp`` MDP.
        policy: ``[S, A]`` action probabilities.
        phi: ``[S, d]`` features.
        projection: ``[d, S]`` the matrix ``M`` for ``phi`` and ``distribution``.
        distribution: ``[S]`` the stationary distribution ``d_pi`` of ``policy``.
        gamma: discount in [0, 1).
        error_bound: positive bound on ``max_s |phi(s)^T (w_k - w*)|``.
        max_sweeps: positive cap on the number of sweeps.

    Returns:
        :class:`BoundedFixedPoint`.
    """
    chex.assert_rank([policy, phi, projection, distribution], [2, 2, 2, 1])
    chex.assert_equal_shape([phi.T, projection])
    dp.check_gamma(gamma)
    return _fixed_point_bounded(
        mdp,
        jnp.asarray(policy, jnp.float32),
        jnp.asarray(phi, jnp.float32),
        jnp.asarray(projection, jnp.float32),
        jnp.asarray(distribution, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(error_bound, jnp.float32),
        jnp.asarray(max_sweeps, jnp.float32),
    )


def expected_td_update(
    w: jax.Array,
    phi: jax.Array,
    distribution: jax.Array,
    p_pi: jax.Array,
    r_pi: jax.Array,
    *,
    gamma: jax.typing.ArrayLike,
    alpha: jax.typing.ArrayLike,
) -> jax.Array:
    """The mean TD-linear update: ``w + alpha Phi^T D (r_pi + gamma P_pi Phi w - Phi w)``.

    The expectation of one TD-linear step over ``s ~ d_pi``, ``a ~ pi(.|s)``, ``s' ~ p(.|s, a)``
    (Zhao, ch. 8.2: the deterministic algorithm whose solution TD-linear approximates). Its
    fixed point is :func:`projected_fixed_point`'s ``w*``; iterated with a small enough
    ``alpha`` it converges there, since ``A`` is positive definite (not symmetric).

    Args:
        w: ``[d]`` weights.
        phi: ``[S, d]`` features.
        distribution: ``[S]`` ``d_pi``.
        p_pi: ``[S, S]`` the policy's transition matrix.
        r_pi: ``[S]`` its expected rewards.
        gamma: discount.
        alpha: step size.

    Returns:
        ``[d]`` the updated weights.
    """
    chex.assert_rank([w, phi, distribution, p_pi, r_pi], [1, 2, 1, 2, 1])
    v = phi @ w
    errors = r_pi + gamma * (p_pi @ v) - v  # the expected TD error in each state
    return w + alpha * (phi.T @ (distribution * errors))
