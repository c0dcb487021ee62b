"""Finite MDPs and dynamic programming: Bellman operators, policy evaluation and control.

Everything here follows S. Zhao, "Mathematical Foundations of Reinforcement Learning", chapters
2-4 (state values and the Bellman equation; the Bellman optimality equation; value iteration,
policy iteration and truncated policy iteration).

An MDP is any pytree with this small protocol (duck-typed, resolved at trace time):

* ``num_states`` and ``num_actions`` (Python ints);
* ``q_values(v, gamma) -> [S, A]``: ``q(s, a) = E[r | s, a] + gamma * E[v(s') | s, a]``;
* ``value_shape``: the shape solvers carry values in (``(S,)``; ``(rows, cols)`` for a grid,
  flattened row-major to ``[S]`` at the API);
* ``optimality_backup_fn(gamma)``: a function ``v -> max_a q(s, a)`` on values of
  ``value_shape``, with its loop invariants computed once when it is built (the hot loop of value
  iteration: a structured MDP makes it fast);
* ``optimality_sweeps_fn(gamma)``: a function ``(v, n) -> T^n v``, ``n >= 1`` backups without a
  convergence test, on values of ``value_shape``;
* ``to_dense() -> FiniteMDP``: the explicit ``[S, A, S]`` transition tensor (small MDPs only).

:class:`FiniteMDP` is the dense, general representation. ``jaxrl.envs.gridworld.GridMDP`` is a
structured one whose backup is a 5-point stencil and scales to million-cell grids.

A policy is an ``[S, A]`` matrix of probabilities, ``policy[s, a] = pi(a | s)``.

The module holds the MDP protocol, its checks, the Bellman operators, policy evaluation (exact,
iterative and to an error bound) and stationary distributions; the control solvers are in
:mod:`jaxrl.dp_control` and are re-exported here, so ``dp.value_iteration`` is the one name.

Every public solver validates its plain-Python arguments (``gamma`` in [0, 1), ``tol`` > 0,
``max_iterations`` >= 1) with a ``ValueError`` before anything is compiled, then runs a jitted
``lax.while_loop``. Swept values (``gamma``, ``tol``) are traced, so ``jax.vmap`` over gamma or
over a batch of MDPs of one shape compiles once; under ``vmap`` the checks are skipped because the
values are not known yet, so validate a sweep's values first with :func:`check_gamma`.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class FiniteMDP(NamedTuple):
    """A dense finite MDP.

    Attributes:
        transitions: ``[S, A, S]``, ``transitions[s, a, s'] = p(s' | s, a)``; rows sum to one.
        rewards: ``[S, A]``, the expected immediate reward ``E[r | s, a]``.
    """

    transitions: jax.Array
    rewards: jax.Array

    @property
    def num_states(self) -> int:
        return self.rewards.shape[-2]

    @property
    def num_actions(self) -> int:
        return self.rewards.shape[-1]

    def q_values(self, v: jax.Array, gamma: jax.typing.ArrayLike) -> jax.Array:
        """``q(s, a) = r(s, a) + gamma * sum_s' p(s' | s, a) v(s')``, shape ``[S, A]``."""
        return self.rewards + gamma * jnp.einsum("sat,t->sa", self.transitions, v)

    @property
    def value_shape(self) -> tuple[int]:
        return (self.num_states,)

    def optimality_backup_fn(self, gamma: jax.typing.ArrayLike):
        """``v -> max_a q(s, a)``, ``[S] -> [S]``."""
        return lambda v: jnp.max(self.q_values(v, gamma), axis=-1)

    def optimality_sweeps_fn(self, gamma: jax.typing.ArrayLike):
        """``(v, n) -> T^n v``: ``n`` optimality backups."""
        backup = self.optimality_backup_fn(gamma)
        return lambda v, n: jax.lax.fori_loop(0, n, lambda _, u: backup(u), v)

    def to_dense(self) -> FiniteMDP:
        return self


class DPResult(NamedTuple):
    """What a dynamic-programming solver returns.

    Attributes:
        values: ``[S]`` state values at the end.
        q_values: ``[S, A]`` action values computed from ``values``.
        policy: ``[S, A]`` the greedy (deterministic) policy w.r.t. ``q_values``.
        iterations: number of outer iterations (sweeps) performed.
        converged: whether the stopping tolerance was met before ``max_iterations``.
        residual: sup-norm change of the values in the last iteration.
    """

    values: jax.Array
    q_values: jax.Array
    policy: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array


class EvaluationResult(NamedTuple):
    """Result of iterative policy evaluation (see :class:`DPResult` for the fields)."""

    values: jax.Array
    iterations: jax.Array
    converged: jax.Array
    residual: jax.Array


# ---------------------------------------------------------------------------------------------
# Argument checks (plain Python, before compilation).


def _is_concrete(x) -> bool:
    return not isinstance(x, jax.core.Tracer)


def check_gamma(gamma: jax.typing.ArrayLike) -> None:
    """Raises ``ValueError`` unless every entry of ``gamma`` lies in [0, 1).

    Tracers (``gamma`` under ``vmap`` or ``jit``) are not checked: call this on the concrete
    sweep values before vmapping.
    """
    if not _is_concrete(gamma):
        return
    g = np.asarray(gamma, dtype=np.float64)
    # Checked as the solvers will see it too: 1 - 1e-8 is below 1, but its float32 is 1.
    g32 = np.asarray(gamma, dtype=np.float64).astype(np.float32)
    if not np.all(np.isfinite(g)) or np.any(g < 0.0) or np.any(g >= 1.0) or np.any(g32 >= 1.0):
        raise ValueError(f"gamma must be in [0, 1) (in float32), got {gamma!r}")


def _check_positive(name: str, value, *, integer: bool = False) -> None:
    if not _is_concrete(value):
        return
    arr = np.asarray(value)
    if integer and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not np.all(np.isfinite(arr)) or np.any(arr.astype(np.float32) <= 0):
        kind = "a positive integer" if integer else "a positive number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")


def check_mdp(mdp, *, values: bool = True) -> None:
    """Raises ``ValueError`` naming the field unless a dense :class:`FiniteMDP` is an MDP.

    Shapes always: ``transitions [S, A, S]`` and ``rewards [S, A]``. Values where they are
    concrete (``values=True``, outside ``jit``/``vmap``): finite rewards, non-negative finite
    transitions whose rows sum to one (within 1e-4). Other MDPs (``GridMDP``) are valid by
    construction: ``GridWorld`` checks the layout.
    """
    if not isinstance(mdp, FiniteMDP):
        return
    t_shape, r_shape = tuple(np.shape(mdp.transitions)), tuple(np.shape(mdp.rewards))
    if len(t_shape) != 3 or t_shape[0] != t_shape[2]:
        raise ValueError(f"FiniteMDP.transitions must have shape [S, A, S], got {list(t_shape)}")
    if r_shape != t_shape[:2]:
        raise ValueError(
            f"FiniteMDP.rewards must have shape [S, A] = {list(t_shape[:2])} (from the "
            f"transitions), got {list(r_shape)}"
        )
    if not values or not (_is_concrete(mdp.transitions) and _is_concrete(mdp.rewards)):
        return
    rewards = np.asarray(mdp.rewards, np.float64)
    if not np.all(np.isfinite(rewards)):
        s, a = (int(i) for i in np.argwhere(~np.isfinite(rewards))[0])
        raise ValueError(f"FiniteMDP.rewards must be finite; rewards[{s}, {a}] = {rewards[s, a]}")
    p = np.asarray(mdp.transitions, np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < -1e-6):
        raise ValueError("FiniteMDP.transitions must be finite and non-negative probabilities")
    sums = p.sum(axis=-1)
    bad = np.abs(sums - 1.0) > 1e-4
    if bad.any():
        s, a = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"FiniteMDP.transitions rows must sum to 1; transitions[{s}, {a}, :] sums to "
            f"{sums[s, a]:g}"
        )


def _check_policy(mdp, policy) -> None:
    shape = (mdp.num_states, mdp.num_actions)
    if tuple(np.shape(policy)) != shape:
        raise ValueError(
            f"policy must have shape [S, A] = {list(shape)}, got {list(np.shape(policy))}"
        )
    if _is_concrete(policy):
        p = np.asarray(policy, dtype=np.float64)
        if np.any(p < -1e-6) or not np.allclose(p.sum(-1), 1.0, atol=1e-4):
            raise ValueError("policy rows must be probability vectors (non-negative, summing to 1)")


def _initial_values(mdp, initial_values):
    if initial_values is None:
        return jnp.zeros((mdp.num_states,), jnp.float32)
    if tuple(np.shape(initial_values)) != (mdp.num_states,):
        raise ValueError(
            f"initial_values must have shape [S] = [{mdp.num_states}], "
            f"got {list(np.shape(initial_values))}"
        )
    return jnp.asarray(initial_values, jnp.float32)


# ---------------------------------------------------------------------------------------------
# Bellman operators and policies.


def q_values(mdp, v: jax.Array, *, gamma: jax.typing.ArrayLike) -> jax.Array:
    """Action values from state values: ``q(s, a) = r(s, a) + gamma * E[v(s') | s, a]``.

    Zhao, ch. 2.8 (action values). Args: ``v`` ``[S]``. Returns ``[S, A]``.
    """
    check_mdp(mdp, values=False)
    chex.assert_rank(v, 1)
    return mdp.q_values(v, gamma)


def bellman_expectation_backup(
    mdp, v: jax.Array, policy: jax.Array, *, gamma: jax.typing.ArrayLike
) -> jax.Array:
    """One application of the Bellman operator of ``policy``: ``v <- r_pi + gamma P_pi v``.

    Zhao, ch. 2.7 (matrix-vector form). Args: ``v`` ``[S]``, ``policy`` ``[S, A]``.
    Returns ``[S]``.
    """
    check_mdp(mdp, values=False)
    chex.assert_rank([v, policy], [1, 2])
    return jnp.sum(policy * mdp.q_values(v, gamma), axis=-1)


def bellman_optimality_backup(mdp, v: jax.Array, *, gamma: jax.typing.ArrayLike) -> jax.Array:
    """One application of the Bellman optimality operator: ``v <- max_a q(s, a)``.

    Zhao, ch. 3.3 (the right-hand side of the Bellman optimality equation is a contraction).
    """
    check_mdp(mdp, values=False)
    chex.assert_rank(v, 1)
    return mdp.optimality_backup_fn(gamma)(v.reshape(mdp.value_shape)).reshape(-1)


def greedy_policy(q: jax.Array) -> jax.Array:
    """The deterministic greedy policy ``pi(a | s) = 1[a = argmax_a' q(s, a')]``.

    Ties go to the lowest action index, so the result is deterministic. Zhao, ch. 3.4.
    Args: ``q`` ``[S, A]``. Returns ``[S, A]`` one-hot rows.
    """
    chex.assert_rank(q, 2)
    return jax.nn.one_hot(jnp.argmax(q, axis=-1), q.shape[-1], dtype=q.dtype)


def epsilon_greedy_policy(q: jax.Array, *, epsilon: jax.typing.ArrayLike) -> jax.Array:
    """The book's epsilon-greedy policy (Zhao, ch. 5.4).

    ``pi(a* | s) = 1 - epsilon (|A| - 1) / |A|`` for the greedy action ``a*`` (lowest index on
    ties) and ``epsilon / |A|`` for every other action; epsilon = 0 is greedy, 1 is uniform.
    """
    chex.assert_rank(q, 2)
    if _is_concrete(epsilon) and not 0.0 <= float(np.asarray(epsilon)) <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon!r}")
    num_actions = q.shape[-1]
    greedy = greedy_policy(q)
    return greedy * (1.0 - epsilon) + epsilon / num_actions


def policy_transitions(mdp, policy: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(P_pi, r_pi)``: the ``[S, S]`` state transition matrix and ``[S]`` reward of a policy.

    Zhao, ch. 2.7: ``P_pi[s, s'] = sum_a pi(a|s) p(s'|s, a)``, ``r_pi[s] = sum_a pi(a|s) r(s, a)``.
    Uses the dense form of ``mdp``.
    """
    check_mdp(mdp, values=False)
    dense = mdp.to_dense()
    chex.assert_rank(policy, 2)
    p_pi = jnp.einsum("sa,sat->st", policy, dense.transitions)
    r_pi = jnp.sum(policy * dense.rewards, axis=-1)
    return p_pi, r_pi


# ---------------------------------------------------------------------------------------------
# Policy evaluation.


@jax.jit
def _evaluate_policy(mdp, policy, gamma):
    p_pi, r_pi = policy_transitions(mdp, policy)
    eye = jnp.eye(p_pi.shape[0], dtype=p_pi.dtype)
    return jnp.linalg.solve(eye - gamma * p_pi, r_pi)


def evaluate_policy(mdp, policy: jax.Array, *, gamma: jax.typing.ArrayLike) -> jax.Array:
    """Exact policy evaluation: the closed form ``v_pi = (I - gamma P_pi)^-1 r_pi``.

    Zhao, ch. 2.7.1. A dense linear solve, ``O(S^3)``: for large grids use
    :func:`iterative_policy_evaluation`.

    Args:
        mdp: an MDP (see the module docstring).
        policy: ``[S, A]`` action probabilities.
        gamma: discount in [0, 1).

    Returns:
        ``[S]`` state values.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_policy(mdp, policy)
    return _evaluate_policy(mdp, jnp.asarray(policy, jnp.float32), jnp.asarray(gamma, jnp.float32))


def _sup_change(new, old):
    return jnp.max(jnp.abs(new - old))


@jax.jit
def _iterative_policy_evaluation(mdp, policy, gamma, tol, max_iterations, v0):
    def cond(carry):
        _, it, residual = carry
        return jnp.logical_and(it < max_iterations, residual >= tol)

    def body(carry):
        v, it, _ = carry
        new_v = bellman_expectation_backup(mdp, v, policy, gamma=gamma)
        return new_v, it + 1, _sup_change(new_v, v)

    v, it, residual = jax.lax.while_loop(cond, body, (v0, jnp.int32(0), jnp.float32(jnp.inf)))
    return EvaluationResult(v, it, residual < tol, residual)


def iterative_policy_evaluation(
    mdp,
    policy: jax.Array,
    *,
    gamma: jax.typing.ArrayLike,
    tol: jax.typing.ArrayLike = 1e-6,
    max_iterations: int = 10_000,
    initial_values: jax.Array | None = None,
) -> EvaluationResult:
    """Iterative policy evaluation: ``v_{k+1} = r_pi + gamma P_pi v_k`` until the change is small.

    Zhao, ch. 2.7.2 and 4.2. Stops when ``max_s |v_{k+1}(s) - v_k(s)| < tol`` or after
    ``max_iterations`` sweeps (reported by ``converged``; it never hangs). Iteration ``k`` of the
    result is the book's ``v_k`` starting from ``initial_values`` (zeros by default).
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("tol", tol)
    _check_positive("max_iterations", max_iterations, integer=True)
    _check_policy(mdp, policy)
    v0 = _initial_values(mdp, initial_values)
    return _iterative_policy_evaluation(
        mdp,
        jnp.asarray(policy, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(tol, jnp.float32),
        jnp.asarray(max_iterations, jnp.int32),
        v0,
    )


class BoundedEvaluation(NamedTuple):
    """Result of :func:`evaluate_policy_bounded`.

    Attributes:
        values: ``[S]`` the values ``v_k`` after ``k`` sweeps from zero.
        sweeps: ``k``, the number of Bellman expectation backups applied.
        error_bound: ``gamma^k max_s |r_pi(s)| / (1 - gamma)``, a bound on
            ``max_s |v_k(s) - v_pi(s)|`` in exact arithmetic (float32 rounding comes on top).
    """

    values: jax.Array
    sweeps: jax.Array
    error_bound: jax.Array


def _policy_backup_fn(mdp, policy, gamma):
    """``v -> r_pi + gamma P_pi v``; for a dense MDP through ``[S, S]`` once, not ``[S, A, S]``."""
    if isinstance(mdp, FiniteMDP):
        p_pi, r_pi = policy_transitions(mdp, policy)
        return lambda v: r_pi + gamma * (p_pi @ v)
    return lambda v: jnp.sum(policy * mdp.q_values(v, gamma), axis=-1)


@jax.jit
def contraction_sweeps(scale, error_bound, gamma, max_sweeps) -> jax.Array:
    """The sweeps ``k`` of a ``gamma``-contraction after which ``gamma^k scale <= error_bound``.

    ``scale`` bounds the distance to the fixed point after the first sweep. At least 1 (also
    when ``gamma = 0`` or ``scale`` is already within the bound), at most ``max_sweeps`` (also
    for a NaN, e.g. a traced ``gamma`` that was not checked). int32, traceable.
    """
    needed = jnp.ceil(jnp.log(error_bound / scale) / jnp.log(gamma))
    needed = jnp.where((scale <= error_bound) | (gamma == 0.0), 1.0, needed)
    needed = jnp.where(jnp.isnan(needed), max_sweeps, needed)
    return jnp.clip(needed, 1.0, max_sweeps).astype(jnp.int32)


def _evaluate_policy_bounded(mdp, policy, gamma, error_bound, max_sweeps):
    backup = _policy_backup_fn(mdp, policy, gamma)
    v1 = backup(jnp.zeros((mdp.num_states,), jnp.float32))  # v_1 = r_pi
    scale = jnp.max(jnp.abs(v1)) / (1.0 - gamma)  # ||v_pi|| <= ||r_pi|| / (1 - gamma)
    # ||v_k - v_pi|| <= gamma^k ||v_pi - v_0|| <= gamma^k scale: solve gamma^k scale <= bound.
    sweeps = contraction_sweeps(scale, error_bound, gamma, max_sweeps)
    values = jax.lax.fori_loop(1, sweeps, lambda _, v: backup(v), v1)
    return BoundedEvaluation(values, sweeps, gamma ** sweeps.astype(jnp.float32) * scale)


def evaluate_policy_bounded(
    mdp,
    policy: jax.Array,
    *,
    gamma: jax.typing.ArrayLike,
    error_bound: jax.typing.ArrayLike = 1e-5,
    max_sweeps: int = 100_000,
) -> BoundedEvaluation:
    """Policy evaluation to a stated error bound, with matrix-vector products only (no solve).

    Zhao, ch. 2.7.2: ``v_{k+1} = r_pi + gamma P_pi v_k`` from ``v_0 = 0``. The Bellman operator
    of ``pi`` is a ``gamma``-contraction and ``||v_pi|| <= ||r_pi|| / (1 - gamma)``, so after
    ``k`` sweeps ``max_s |v_k(s) - v_pi(s)| <= gamma^k ||r_pi|| / (1 - gamma)``. The number of
    sweeps is the smallest ``k`` that brings this below ``error_bound`` (at most
    ``max_sweeps``; the bound reached is returned, larger than asked only when gamma is so close
    to 1 that ``max_sweeps`` do not suffice). Unlike a stopping rule on the change
    between sweeps, this cannot stall on float32 rounding, and it is decided before the loop.

    This is the evaluation to use inside anything ``jaxrl.run`` compiles: the closed form of
    :func:`evaluate_policy` is a LAPACK solve, and jitted LAPACK calls sharded over several CPU
    host devices can deadlock (jax 0.10.2). ``gamma`` and ``error_bound`` may be traced (a sweep
    over gamma under ``vmap`` compiles once; each element runs its own number of sweeps).

    Args:
        mdp: an MDP (see the module docstring).
        policy: ``[S, A]`` action probabilities.
        gamma: discount in [0, 1).
        error_bound: positive bound on the sup-norm error (before float32 rounding).
        max_sweeps: positive cap on the number of sweeps.

    Returns:
        :class:`BoundedEvaluation`.
    """
    check_mdp(mdp)
    check_gamma(gamma)
    _check_positive("error_bound", error_bound)
    _check_positive("max_sweeps", max_sweeps, integer=True)
    _check_policy(mdp, policy)
    return _evaluate_policy_bounded(
        mdp,
        jnp.asarray(policy, jnp.float32),
        jnp.asarray(gamma, jnp.float32),
        jnp.asarray(error_bound, jnp.float32),
        jnp.asarray(max_sweeps, jnp.float32),
    )


# ---------------------------------------------------------------------------------------------
# The state distribution of a policy.


@jax.jit
def _stationary_distribution(mdp, policy):
    p_pi, _ = policy_transitions(mdp, policy)
    num_states = p_pi.shape[0]
    # d^T P = d^T and sum(d) = 1, as one least-squares system (exact when d is unique).
    a = jnp.concatenate([p_pi.T - jnp.eye(num_states, dtype=p_pi.dtype), jnp.ones((1, num_states))])
    b = jnp.zeros((num_states + 1,), p_pi.dtype).at[-1].set(1.0)
    d, *_ = jnp.linalg.lstsq(a, b)
    return d


def stationary_distribution(mdp, policy: jax.Array) -> jax.Array:
    """The stationary state distribution ``d_pi`` with ``d_pi^T P_pi = d_pi^T``, ``sum d_pi = 1``.

    Zhao, ch. 8.2 (used to weight value-approximation errors). Unique when the chain of
    ``policy`` is irreducible; otherwise this returns the least-squares solution, one of the
    stationary distributions. Dense, small MDPs only.
    """
    check_mdp(mdp)
    _check_policy(mdp, policy)
    return _stationary_distribution(mdp, jnp.asarray(policy, jnp.float32))


# The control solvers (value iteration, policy iteration, truncated policy iteration, value
# iteration over epsilon-greedy policies) live in jaxrl/dp_control.py, which builds on the
# operators and policy evaluation above; they are this module's too (``dp.value_iteration``).
_CONTROL = (
    "CHECK_EVERY",
    "ROUNDING",
    "_epsilon_greedy_value_iteration",
    "_optimality_sweeps",
    "_policy_iteration",
    "_truncated_policy_iteration",
    "_value_iteration",
    "epsilon_greedy_value_iteration",
    "optimality_sweeps",
    "policy_iteration",
    "truncated_policy_iteration",
    "value_iteration",
)


def __getattr__(name: str):
    """``dp.value_iteration`` and the other control solvers, from :mod:`jaxrl.dp_control` on
    first use (imported then, not here: that module imports this one)."""
    if name in _CONTROL:
        from jaxrl import dp_control

        return getattr(dp_control, name)
    raise AttributeError(f"module 'jaxrl.dp' has no attribute {name!r}")
