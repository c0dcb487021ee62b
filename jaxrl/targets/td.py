"""Temporal-difference errors: TD(0), Sarsa, expected Sarsa, Q-learning, double Q, n-step Sarsa.

Each function except the n-step ones takes a single transition and returns a scalar TD error;
batch with ``jax.vmap``. Names carry the time index (rlax, Sutton and Barto 2018): the agent is
in ``s_{t-1}``, takes ``a_tm1``, receives ``r_t`` and ``discount_t`` (``gamma`` inside an episode,
``0`` if ``s_t`` is terminal) and lands in ``s_t``, where it takes (or would take) ``a_t``.
``v_tm1``/``q_tm1`` are estimates at ``s_{t-1}``, ``v_t``/``q_t`` at ``s_t``; ``q`` values are
``[A]`` vectors over actions.

A TD error is ``target - prediction``. The target is a constant for learning: it is wrapped in
``jax.lax.stop_gradient`` unless ``stop_target_gradients=False`` (keyword-only), so
``0.5 * error**2`` gives the semi-gradient update ``error * grad(prediction)``.

Arguments may be arrays, scalars or Python lists. Where values are concrete (called outside
``jit``/``vmap``), action indices outside ``[0, A)``, policy probabilities that are negative or
do not sum to one, and empty streams raise ``ValueError``; under tracing the values are not
checked (an out-of-range index is clamped by JAX).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from jaxrl.targets import _checks
from jaxrl.targets.returns import _maybe_stop_gradient, n_step_bootstrapped_returns


def td_learning(
    v_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """The TD(0) error of state values.

    ``delta = r_t + discount_t * v_t - v_tm1``.

    Reference: Sutton and Barto (2018), sec. 6.1, eq. (6.2); Zhao, ch. 7.1 (TD learning of
    state values).

    Args:
        v_tm1: ``[]`` value of the state left, ``v(s_{t-1})`` (the prediction).
        r_t: ``[]`` reward.
        discount_t: ``[]`` discount (``0`` if ``s_t`` is terminal).
        v_t: ``[]`` value of the state reached, ``v(s_t)`` (the bootstrap).
        stop_target_gradients: stop gradients through the target.

    Returns:
        ``[]`` TD error.
    """
    v_tm1, r_t, discount_t, v_t = _checks.arrays(v_tm1, r_t, discount_t, v_t)
    chex.assert_rank([v_tm1, r_t, discount_t, v_t], 0)
    chex.assert_type([v_tm1, r_t, discount_t, v_t], float)
    target = r_t + discount_t * v_t
    return _maybe_stop_gradient(target, stop_target_gradients) - v_tm1


def sarsa(
    q_tm1: jax.typing.ArrayLike,
    a_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t: jax.typing.ArrayLike,
    a_t: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """The Sarsa error: bootstrap from the action actually taken next.

    ``delta = r_t + discount_t * q_t[a_t] - q_tm1[a_tm1]``.

    Reference: Rummery and Niranjan (1994), "On-line Q-learning using connectionist systems";
    Sutton and Barto (2018), sec. 6.4, eq. (6.7); Zhao, ch. 7.2 (Sarsa).

    Args:
        q_tm1: ``[A]`` action values at ``s_{t-1}``.
        a_tm1: ``[]`` int, the action taken at ``s_{t-1}``.
        r_t: ``[]`` reward.
        discount_t: ``[]`` discount.
        q_t: ``[A]`` action values at ``s_t``.
        a_t: ``[]`` int, the action taken at ``s_t``.
        stop_target_gradients: stop gradients through the target.

    Returns:
        ``[]`` TD error.
    """
    q_tm1, a_tm1, r_t, discount_t, q_t, a_t = _checks.arrays(
        q_tm1, a_tm1, r_t, discount_t, q_t, a_t
    )
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t, a_t], [1, 0, 0, 0, 1, 0])
    chex.assert_type(
        [q_tm1, a_tm1, r_t, discount_t, q_t, a_t], [float, int, float, float, float, int]
    )
    chex.assert_equal_shape([q_tm1, q_t])
    _checks.actions("a_tm1", a_tm1, q_tm1.shape[-1])
    _checks.actions("a_t", a_t, q_t.shape[-1])
    target = r_t + discount_t * jnp.asarray(q_t)[a_t]
    return _maybe_stop_gradient(target, stop_target_gradients) - jnp.asarray(q_tm1)[a_tm1]


def expected_sarsa(
    q_tm1: jax.typing.ArrayLike,
    a_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t: jax.typing.ArrayLike,
    probs_a_t: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """The expected Sarsa error: bootstrap from the expected action value under a policy.

    ``delta = r_t + discount_t * sum_a probs_a_t[a] q_t[a] - q_tm1[a_tm1]``.

    With a one-hot ``probs_a_t`` on ``a_t`` this is :func:`sarsa`; with the greedy policy of
    ``q_t`` it is :func:`q_learning`. The stop-gradient covers ``probs_a_t`` too.

    Reference: van Seijen, van Hasselt, Whiteson and Wiering (2009), "A theoretical and
    empirical analysis of Expected Sarsa", IEEE ADPRL; Sutton and Barto (2018), sec. 6.6.

    Args:
        q_tm1: ``[A]`` action values at ``s_{t-1}``.
        a_tm1: ``[]`` int, the action taken at ``s_{t-1}``.
        r_t: ``[]`` reward.
        discount_t: ``[]`` discount.
        q_t: ``[A]`` action values at ``s_t``.
        probs_a_t: ``[A]`` the target policy's action probabilities at ``s_t``.
        stop_target_gradients: stop gradients through the target.

    Returns:
        ``[]`` TD error.
    """
    q_tm1, a_tm1, r_t, discount_t, q_t, probs_a_t = _checks.arrays(
        q_tm1, a_tm1, r_t, discount_t, q_t, probs_a_t
    )
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t, probs_a_t], [1, 0, 0, 0, 1, 1])
    chex.assert_type(
        [q_tm1, a_tm1, r_t, discount_t, q_t, probs_a_t], [float, int, float, float, float, float]
    )
    chex.assert_equal_shape([q_tm1, q_t, probs_a_t])
    _checks.actions("a_tm1", a_tm1, q_tm1.shape[-1])
    _checks.probabilities("probs_a_t", probs_a_t)
    target = r_t + discount_t * jnp.dot(probs_a_t, q_t)
    return _maybe_stop_gradient(target, stop_target_gradients) - jnp.asarray(q_tm1)[a_tm1]


def q_learning(
    q_tm1: jax.typing.ArrayLike,
    a_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """The Q-learning error: bootstrap from the greedy action value.

    ``delta = r_t + discount_t * max_a q_t[a] - q_tm1[a_tm1]``.

    Reference: Watkins and Dayan (1992), "Q-learning", Machine Learning 8; Sutton and Barto
    (2018), sec. 6.5, eq. (6.8); Zhao, ch. 7.4 (Q-learning).

    Args:
        q_tm1: ``[A]`` action values at ``s_{t-1}``.
        a_tm1: ``[]`` int, the action taken at ``s_{t-1}``.
        r_t: ``[]`` reward.
        discount_t: ``[]`` discount.
        q_t: ``[A]`` action values at ``s_t``.
        stop_target_gradients: stop gradients through the target.

    Returns:
        ``[]`` TD error.
    """
    q_tm1, a_tm1, r_t, discount_t, q_t = _checks.arrays(q_tm1, a_tm1, r_t, discount_t, q_t)
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t], [1, 0, 0, 0, 1])
    chex.assert_type([q_tm1, a_tm1, r_t, discount_t, q_t], [float, int, float, float, float])
    chex.assert_equal_shape([q_tm1, q_t])
    _checks.actions("a_tm1", a_tm1, q_tm1.shape[-1])
    target = r_t + discount_t * jnp.max(q_t)
    return _maybe_stop_gradient(target, stop_target_gradients) - jnp.asarray(q_tm1)[a_tm1]


def double_q_learning(
    q_tm1: jax.typing.ArrayLike,
    a_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t_value: jax.typing.ArrayLike,
    q_t_selector: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """The double Q-learning error: one estimate picks the action, the other values it.

    ``a* = argmax_a q_t_selector[a]`` (lowest index on ties) and
    ``delta = r_t + discount_t * q_t_value[a*] - q_tm1[a_tm1]``.

    Decoupling selection from evaluation removes the maximisation bias of :func:`q_learning`,
    which is the case ``q_t_selector = q_t_value``. In double DQN the selector is the online
    network and the value comes from the target network.

    Reference: van Hasselt (2010), "Double Q-learning", NeurIPS; van Hasselt, Guez and Silver
    (2016), "Deep Reinforcement Learning with Double Q-learning", AAAI,
    https://arxiv.org/abs/1509.06461, eq. (4); Sutton and Barto (2018), sec. 6.7.

    Args:
        q_tm1: ``[A]`` action values at ``s_{t-1}``.
        a_tm1: ``[]`` int, the action taken at ``s_{t-1}``.
        r_t: ``[]`` reward.
        discount_t: ``[]`` discount.
        q_t_value: ``[A]`` action values at ``s_t`` used to value the chosen action.
        q_t_selector: ``[A]`` action values at ``s_t`` used to choose it.
        stop_target_gradients: stop gradients through the target.

    Returns:
        ``[]`` TD error.
    """
    q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector = _checks.arrays(
        q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector
    )
    chex.assert_rank([q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector], [1, 0, 0, 0, 1, 1])
    chex.assert_type(
        [q_tm1, a_tm1, r_t, discount_t, q_t_value, q_t_selector],
        [float, int, float, float, float, float],
    )
    chex.assert_equal_shape([q_tm1, q_t_value, q_t_selector])
    _checks.actions("a_tm1", a_tm1, q_tm1.shape[-1])
    best_action = jnp.argmax(q_t_selector)
    target = r_t + discount_t * jnp.asarray(q_t_value)[best_action]
    return _maybe_stop_gradient(target, stop_target_gradients) - jnp.asarray(q_tm1)[a_tm1]


def _take(q: jax.Array, a: jax.Array) -> jax.Array:
    """``q[i, a[i]]`` for each ``i``: ``[T, A], [T] -> [T]``."""
    return jnp.take_along_axis(q, a[:, None], axis=-1)[:, 0]


def n_step_sarsa_target(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t: jax.typing.ArrayLike,
    a_t: jax.typing.ArrayLike,
    n: int,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """n-step Sarsa targets of a stream, truncated at its end.

    Entry ``i`` of the stream is a transition ``(s, a) -> r_t[i], discount_t[i], s'``, with
    ``q_t[i]`` the action values at ``s'`` and ``a_t[i]`` the action taken there. The target for
    ``q(s, a)`` of entry ``i``, with ``m = min(n, T - i)``, is::

        G[i] = sum_{k=0}^{m-1} (prod_{j<k} discount_t[i+j]) r_t[i+k]
               + (prod_{j<m} discount_t[i+j]) q_t[i+m-1, a_t[i+m-1]]

    that is :func:`~jaxrl.targets.returns.n_step_bootstrapped_returns` with the values
    ``q_t[i, a_t[i]]``. Near the end of the stream it bootstraps from the last available
    state-action, ``q_t[-1, a_t[-1]]``. ``n = 1`` gives the Sarsa target
    ``r_t + discount_t * q_t[a_t]`` of every entry.

    Reference: Sutton and Barto (2018), sec. 7.2, eq. (7.4); Zhao, ch. 7.3 (n-step Sarsa).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        q_t: ``[T, A]`` action values of the states reached.
        a_t: ``[T]`` int, the actions taken in those states.
        n: the number of steps, a static Python int ``>= 1`` (``ValueError`` otherwise).
        stop_target_gradients: wrap the targets in ``jax.lax.stop_gradient``.

    Returns:
        ``[T]`` n-step Sarsa targets.
    """
    r_t, discount_t, q_t, a_t = _checks.arrays(r_t, discount_t, q_t, a_t)
    chex.assert_rank([r_t, discount_t, q_t, a_t], [1, 1, 2, 1])
    chex.assert_type([r_t, discount_t, q_t, a_t], [float, float, float, int])
    chex.assert_equal_shape([r_t, discount_t, a_t])
    chex.assert_equal_shape_prefix([q_t, a_t], 1)
    _checks.nonempty("r_t", r_t)
    _checks.actions("a_t", a_t, q_t.shape[-1])
    v_t = _take(jnp.asarray(q_t), jnp.asarray(a_t))
    return n_step_bootstrapped_returns(
        r_t, discount_t, v_t, n, stop_target_gradients=stop_target_gradients
    )


def n_step_sarsa_error(
    q_tm1: jax.typing.ArrayLike,
    a_tm1: jax.typing.ArrayLike,
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    q_t: jax.typing.ArrayLike,
    a_t: jax.typing.ArrayLike,
    n: int,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """n-step Sarsa errors of a stream: ``n_step_sarsa_target(...)[i] - q_tm1[i, a_tm1[i]]``.

    ``q_tm1[i]`` and ``a_tm1[i]`` are the action values and action at the state entry ``i``
    leaves (in a contiguous stream ``q_tm1[i + 1] = q_t[i]``); see :func:`n_step_sarsa_target`
    for the target. ``n = 1`` gives :func:`sarsa` at every entry.

    Reference: Sutton and Barto (2018), sec. 7.2, eq. (7.5).

    Args:
        q_tm1: ``[T, A]`` action values of the states left.
        a_tm1: ``[T]`` int, the actions taken there.
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts.
        q_t: ``[T, A]`` action values of the states reached.
        a_t: ``[T]`` int, the actions taken there.
        n: the number of steps, a static Python int ``>= 1``.
        stop_target_gradients: stop gradients through the targets.

    Returns:
        ``[T]`` TD errors.
    """
    q_tm1, a_tm1, q_t, a_t = _checks.arrays(q_tm1, a_tm1, q_t, a_t)
    chex.assert_rank([q_tm1, a_tm1], [2, 1])
    chex.assert_type([q_tm1, a_tm1], [float, int])
    chex.assert_equal_shape([q_tm1, q_t])
    chex.assert_equal_shape([a_tm1, a_t])
    _checks.actions("a_tm1", a_tm1, q_tm1.shape[-1])
    target = n_step_sarsa_target(
        r_t, discount_t, q_t, a_t, n, stop_target_gradients=stop_target_gradients
    )
    return target - _take(jnp.asarray(q_tm1), jnp.asarray(a_tm1))


def soft_value(
    q_t: jax.typing.ArrayLike, log_prob_t: jax.typing.ArrayLike, alpha: jax.typing.ArrayLike
) -> jax.Array:
    """The soft (entropy-regularised) state value at one sampled action: ``q_t - alpha
    log pi(a_t|s_t)``, an unbiased estimate of ``V(s_t) = E_pi[Q(s_t, a) - alpha log pi(a|s_t)]``
    when ``a_t ~ pi(.|s_t)``: SAC's bootstrap (Haarnoja et al. 2018,
    https://arxiv.org/abs/1801.01290, eq. (3)). Use it as the ``v_t`` of :func:`td_learning`.

    Args:
        q_t: ``[]`` the (target) critic's value of the sampled action.
        log_prob_t: ``[]`` its log-density under the policy.
        alpha: ``[]`` the temperature.

    Returns:
        ``[]`` the soft value.
    """
    q_t, log_prob_t, alpha = _checks.arrays(q_t, log_prob_t, alpha)
    chex.assert_rank([q_t, log_prob_t, alpha], 0)
    chex.assert_type([q_t, log_prob_t, alpha], float)
    return q_t - alpha * log_prob_t
