"""Control by dynamic programming on the finite MDPs of :mod:`jaxrl.dp`: value iteration, policy
iteration, truncated policy iteration (Zhao, ch. 4) and value iteration over epsilon-greedy
policies (ch. 5.4), each a jitted ``lax.while_loop`` behind a checking wrapper, as in
:mod:`jaxrl.dp` (whose names these are too: ``dp.value_iteration``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.dp import (
    DPResult,
    _check_policy,
    _check_positive,
    _evaluate_policy,
    _initial_values,
    _is_concrete,
    _sup_change,
    bellman_expectation_backup,
    check_gamma,
    check_mdp,
    epsilon_greedy_policy,
    greedy_policy,
)


@jax.jit
def _optimality_sweeps(mdp, v0, gamma, num_sweeps):
    sweeps = mdp.optimality_sweeps_fn(gamma)
    return sweeps(v0.reshape(mdp.value_shape), num_sweeps).reshape(-1)


def optimality_sweeps(
    mdp, values: jax.Array, *, gamma: jax.typing.ArrayLike, num_sweeps: int
) -> jax.Array:
    """``num_sweeps`` Bellman optimality backups of ``values``: ``v_k = T^k v_0``, no stopping test.

    Zhao, ch. 4.1: the iterates of value iteration. This is value iteration's inner loop alone,
    for a fixed budget of sweeps (convergence curves, benchmarks); ``num_sweeps`` is traced, so
    different budgets share one compilation.

    Args:
        mdp: an MDP (see the module docstring).
        values: ``[S]`` starting values ``v_0``.
        gamma: discount in [0, 1).
        num_sweeps: positive number of sweeps.

    Returns:
        ``[S]`` values ``v_k`` after ``k = num_sweeps`` sweeps.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("num_sweeps", num_sweeps, integer=True)
    v0 = _initial_values(mdp, values)
    return _optimality_sweeps(
        mdp, v0, jnp.asarray(gamma, jnp.float32), jnp.asarray(num_sweeps, jnp.int32)
    )


def _result(mdp, v, gamma, it, converged, residual):
    q = mdp.q_values(v, gamma)
    return DPResult(v, q, greedy_policy(q), it, converged, residual)


# Value iteration tests convergence once every this many sweeps. The test (the sup-norm change,
# which keeps the previous values and takes a reduction) costs about 3.6 bare sweeps on the CPU
# (1000 x 1000 grid: 0.64 ms for a tested sweep, 0.14 ms for a bare one), so testing every 8th
# sweep keeps the cost per sweep within 1.5 bare sweeps; it may run up to 7 sweeps past the
# first one whose change is below tol, which only tightens the result.
CHECK_EVERY = 8
# The float32 resolution of the values, relative to their largest magnitude: a change of at most
# this size is rounding (1 ulp of max |v| is at most eps * max |v|), which no further sweep removes.
ROUNDING = float(np.finfo(np.float32).eps)


@jax.jit
def _value_iteration(mdp, gamma, tol, max_iterations, v0):
    sweeps = mdp.optimality_sweeps_fn(gamma)

    def cond(carry):
        _, it, _, done = carry
        return jnp.logical_and(it < max_iterations, jnp.logical_not(done))

    def body(carry):
        v, it, _, _ = carry
        # A block of sweeps: the untested ones, then one tested sweep (never past the budget).
        block = jnp.minimum(CHECK_EVERY, max_iterations - it)
        v = jax.lax.cond(block > 1, lambda u: sweeps(u, block - 1), lambda u: u, v)
        new_v = sweeps(v, 1)
        # Converged when the change is below tol, or at the values' float32 resolution when tol
        # is below it: the sweeps are compiled in different contexts (inside the block's loop,
        # alone), which may round differently, so near the fixed point the change can stay at an
        # ulp of the largest value forever.
        change = _sup_change(new_v, v)
        floor = ROUNDING * jnp.max(jnp.abs(new_v))
        return new_v, it + block, change, (change < tol) | (change <= floor)

    init = (v0.reshape(mdp.value_shape), jnp.int32(0), jnp.float32(jnp.inf), jnp.bool_(False))
    v, it, residual, done = jax.lax.while_loop(cond, body, init)
    return _result(mdp, v.reshape(-1), gamma, it, done, residual)


def value_iteration(
    mdp,
    *,
    gamma: jax.typing.ArrayLike,
    tol: jax.typing.ArrayLike = 1e-6,
    max_iterations: int = 10_000,
    initial_values: jax.Array | None = None,
) -> DPResult:
    """Value iteration: ``v_{k+1}(s) = max_a [r(s, a) + gamma E[v_k(s') | s, a]]``.

    Zhao, ch. 4.1. Stops when the sup-norm change of one sweep is below ``tol`` (then
    ``||v - v*|| <= tol * gamma / (1 - gamma)``) or after ``max_iterations`` sweeps, which the
    result reports as ``converged = False``. The change is tested on every ``CHECK_EVERY``-th
    sweep (and the last one allowed), the other sweeps run without the test: ``iterations``
    counts every sweep, and may pass the first sweep whose change was small by up to
    ``CHECK_EVERY - 1`` sweeps (the values only get closer to ``v*``). A ``tol`` finer than the
    float32 resolution of the values cannot be met by rounding arithmetic: a change of at most
    ``ROUNDING * max |v|`` (one float32 epsilon of the largest value, at least its last bit) also
    counts as converged, and ``residual`` says which.

    Args:
        mdp: an MDP (see the module docstring).
        gamma: discount in [0, 1).
        tol: positive stopping tolerance on ``max_s |v_{k+1}(s) - v_k(s)|``.
        max_iterations: positive cap on the number of sweeps.
        initial_values: ``[S]`` starting values ``v_0`` (zeros by default).

    Returns:
        :class:`DPResult` with ``values``, ``q_values``, the greedy ``policy``, ``iterations``.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("tol", tol)
    _check_positive("max_iterations", max_iterations, integer=True)
    v0 = _initial_values(mdp, initial_values)
    return _value_iteration(
        mdp,
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(tol, jnp.float32),
        jnp.asarray(max_iterations, jnp.int32),
        v0,
    )


@jax.jit
def _policy_iteration(mdp, gamma, max_iterations, policy0):
    def cond(carry):
        _, _, it, stable = carry
        return jnp.logical_and(it < max_iterations, jnp.logical_not(stable))

    def body(carry):
        policy, _, it, _ = carry
        v = _evaluate_policy(mdp, policy, gamma)
        new_policy = greedy_policy(mdp.q_values(v, gamma))
        # Stable when the greedy policy does not improve on the current one (ties keep it).
        q = mdp.q_values(v, gamma)
        current = jnp.sum(policy * q, axis=-1)
        improvable = jnp.max(q, axis=-1) > current + 1e-6 * (1.0 + jnp.abs(current))
        stable = jnp.logical_not(jnp.any(improvable))
        new_policy = jnp.where(stable, policy, new_policy)
        return new_policy, v, it + 1, stable

    num_states = policy0.shape[0]
    init = (policy0, jnp.zeros((num_states,), jnp.float32), jnp.int32(0), jnp.bool_(False))
    policy, v, it, stable = jax.lax.while_loop(cond, body, init)
    q = mdp.q_values(v, gamma)
    residual = jnp.where(stable, 0.0, jnp.inf).astype(jnp.float32)
    return DPResult(v, q, policy, it, stable, residual)


def policy_iteration(
    mdp,
    *,
    gamma: jax.typing.ArrayLike,
    max_iterations: int = 1_000,
    initial_policy: jax.Array | None = None,
) -> DPResult:
    """Policy iteration: exact evaluation ``v_pi_k``, then greedy improvement, until stable.

    Zhao, ch. 4.2. Evaluation is the dense linear solve of :func:`evaluate_policy`. The loop
    stops when no state's value can be improved by switching action (so ties never cycle);
    ``iterations`` counts evaluations, and the last one confirms stability.

    Args:
        mdp: an MDP (see the module docstring); its dense form must fit in memory.
        gamma: discount in [0, 1).
        max_iterations: positive cap on the number of evaluate-improve steps.
        initial_policy: ``[S, A]`` starting policy (default: always action 0).
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("max_iterations", max_iterations, integer=True)
    if initial_policy is None:
        initial_policy = jnp.zeros((mdp.num_states, mdp.num_actions), jnp.float32).at[:, 0].set(1)
    _check_policy(mdp, initial_policy)
    return _policy_iteration(
        mdp,
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(max_iterations, jnp.int32),
        jnp.asarray(initial_policy, jnp.float32),
    )


@jax.jit
def _truncated_policy_iteration(mdp, gamma, truncation, tol, max_iterations, v0):
    def evaluate(v, policy):
        return jax.lax.fori_loop(
            0, truncation, lambda _, u: bellman_expectation_backup(mdp, u, policy, gamma=gamma), v
        )

    def cond(carry):
        _, it, residual = carry
        return jnp.logical_and(it < max_iterations, residual >= tol)

    def body(carry):
        v, it, _ = carry
        policy = greedy_policy(mdp.q_values(v, gamma))
        new_v = evaluate(v, policy)
        return new_v, it + 1, _sup_change(new_v, v)

    v, it, residual = jax.lax.while_loop(cond, body, (v0, jnp.int32(0), jnp.float32(jnp.inf)))
    return _result(mdp, v, gamma, it, residual < tol, residual)


def truncated_policy_iteration(
    mdp,
    *,
    gamma: jax.typing.ArrayLike,
    truncation: int,
    tol: jax.typing.ArrayLike = 1e-6,
    max_iterations: int = 10_000,
    initial_values: jax.Array | None = None,
) -> DPResult:
    """Truncated policy iteration: greedy improvement, then ``truncation`` evaluation sweeps.

    Zhao, ch. 4.3. With ``truncation = 1`` this is value iteration; as ``truncation`` grows it
    approaches policy iteration. Each outer iteration: ``pi_k = greedy(q(v_k))``, then
    ``v_{k+1} = T_{pi_k}^j v_k`` with ``j = truncation``. Stops like :func:`value_iteration`.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("truncation", truncation, integer=True)
    _check_positive("tol", tol)
    _check_positive("max_iterations", max_iterations, integer=True)
    v0 = _initial_values(mdp, initial_values)
    return _truncated_policy_iteration(
        mdp,
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(truncation, jnp.int32),
        jnp.asarray(tol, jnp.float32),
        jnp.asarray(max_iterations, jnp.int32),
        v0,
    )


@jax.jit
def _epsilon_greedy_value_iteration(mdp, epsilon, gamma, tol, max_iterations, v0):
    def backup(v):
        q = mdp.q_values(v, gamma)
        return (1.0 - epsilon) * jnp.max(q, axis=-1) + epsilon * jnp.mean(q, axis=-1)

    def cond(carry):
        _, it, residual = carry
        return jnp.logical_and(it < max_iterations, residual >= tol)

    def body(carry):
        v, it, _ = carry
        new_v = backup(v)
        return new_v, it + 1, _sup_change(new_v, v)

    v, it, residual = jax.lax.while_loop(cond, body, (v0, jnp.int32(0), jnp.float32(jnp.inf)))
    q = mdp.q_values(v, gamma)
    policy = epsilon_greedy_policy(q, epsilon=epsilon)
    return DPResult(v, q, policy, it, residual < tol, residual)


def epsilon_greedy_value_iteration(
    mdp,
    *,
    epsilon: jax.typing.ArrayLike,
    gamma: jax.typing.ArrayLike,
    tol: jax.typing.ArrayLike = 1e-6,
    max_iterations: int = 10_000,
    initial_values: jax.Array | None = None,
) -> DPResult:
    """The optimal policy among epsilon-greedy policies, and its values (Zhao, ch. 5.4).

    An epsilon-greedy policy takes its greedy action with probability ``1 - epsilon`` and a
    uniformly random one otherwise, so choosing the greedy action ``a`` is choosing ``a`` in an
    MDP whose action ``a`` does ``a`` with probability ``1 - epsilon`` and a uniform action
    otherwise. Value iteration on that MDP,
    ``v(s) <- (1 - epsilon) max_a q(s, a) + epsilon mean_a q(s, a)``, converges to the values of
    the best epsilon-greedy policy, which is at least as good in every state as any other
    epsilon-greedy policy. This is the target of Sarsa and MC epsilon-greedy with a fixed
    epsilon. ``epsilon = 0`` is plain value iteration.

    Returns:
        :class:`DPResult`; ``q_values`` are the action values ``q(s, a)`` of taking ``a`` once
        and following the policy after, and ``policy`` is the epsilon-greedy policy of them.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    if _is_concrete(epsilon) and not 0.0 <= float(np.asarray(epsilon)) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    _check_positive("tol", tol)
    _check_positive("max_iterations", max_iterations, integer=True)
    v0 = _initial_values(mdp, initial_values)
    return _epsilon_greedy_value_iteration(
        mdp,
        jnp.asarray(epsilon, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(tol, jnp.float32),
        jnp.asarray(max_iterations, jnp.int32),
        v0,
    )
