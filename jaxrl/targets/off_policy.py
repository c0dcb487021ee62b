"""Off-policy corrections: importance-sampling ratios and importance-sampled returns.

Data come from a behaviour policy ``mu``; we want the returns of a target policy ``pi``. The
importance-sampling ratio of an action is ``rho = pi(a | s) / mu(a | s)``; weighting what
followed an action by its ratio turns an expectation under ``mu`` into one under ``pi``.

Streams follow :mod:`jaxrl.targets.returns`: entry ``i`` is a transition ``s -> s'`` with reward
``r_t[i]``, discount ``discount_t[i]`` and bootstrap value ``v_t[i] ~ v_pi(s')``. The action that
produced entry ``i`` was taken in ``s``, one step before ``r_t``, so its ratio is named
``rho_tm1[i]``; compute it with :func:`importance_sampling_ratios` from the policies'
probabilities at the states left (``pi_probs_tm1``, ``mu_probs_tm1``, ``a_tm1``). The bootstrap
value is taken as ``pi``'s, so it carries no ratio.

Arguments may be arrays or Python lists. Where values are concrete (called outside
``jit``/``vmap``), action indices outside ``[0, A)``, probabilities that are negative or do not
sum to one, a behaviour probability of zero for an action taken, and empty streams raise
``ValueError``; under tracing the values are not checked.

Reference: Sutton and Barto (2018), "Reinforcement Learning: An Introduction", 2nd ed., sec. 5.5
(importance sampling), 5.9 (per-decision importance sampling) and 7.3 (n-step off-policy
learning); Precup, Sutton and Singh (2000), "Eligibility Traces for Off-Policy Policy
Evaluation", ICML.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.targets import _checks
from jaxrl.targets.returns import _as_float, _maybe_stop_gradient, discounted_returns


def importance_sampling_ratios(
    pi_probs_t: jax.typing.ArrayLike,
    mu_probs_t: jax.typing.ArrayLike,
    a_t: jax.typing.ArrayLike,
) -> jax.Array:
    """Per-step importance-sampling ratios of the actions taken.

    ``rho[i] = pi_probs_t[i, a_t[i]] / mu_probs_t[i, a_t[i]]``.

    ``mu`` must give the actions taken positive probability (it picked them). Gradients flow
    into ``pi_probs_t`` (off-policy policy gradients use them); wrap the result in
    ``jax.lax.stop_gradient`` to use the ratios as fixed weights.

    Reference: Sutton and Barto (2018), sec. 5.5, eq. (5.3).

    Args:
        pi_probs_t: ``[T, A]`` target-policy probabilities at each step's state.
        mu_probs_t: ``[T, A]`` behaviour-policy probabilities at the same states.
        a_t: ``[T]`` int, the actions taken.

    Returns:
        ``[T]`` ratios ``rho``.
    """
    pi_probs_t, mu_probs_t, a_t = _checks.arrays(pi_probs_t, mu_probs_t, a_t)
    chex.assert_rank([pi_probs_t, mu_probs_t, a_t], [2, 2, 1])
    chex.assert_type([pi_probs_t, mu_probs_t, a_t], [float, float, int])
    chex.assert_equal_shape([pi_probs_t, mu_probs_t])
    chex.assert_equal_shape_prefix([pi_probs_t, a_t], 1)
    _checks.actions("a_t", a_t, pi_probs_t.shape[-1])
    _checks.probabilities("pi_probs_t", pi_probs_t)
    _checks.probabilities("mu_probs_t", mu_probs_t)
    a_t = jnp.asarray(a_t)[:, None]
    pi_a = jnp.take_along_axis(jnp.asarray(pi_probs_t), a_t, axis=-1)[:, 0]
    mu_a = jnp.take_along_axis(jnp.asarray(mu_probs_t), a_t, axis=-1)[:, 0]
    if not isinstance(mu_a, jax.core.Tracer) and bool(jnp.any(mu_a <= 0)):
        raise ValueError("mu_probs_t must give every action taken (a_t) a positive probability")
    return pi_a / mu_a


def clipped_importance_sampling_ratios(
    pi_probs_t: jax.typing.ArrayLike,
    mu_probs_t: jax.typing.ArrayLike,
    a_t: jax.typing.ArrayLike,
    *,
    clip_rho_threshold: float = 1.0,
) -> jax.Array:
    """Importance-sampling ratios truncated from above: ``min(rho, clip_rho_threshold)``.

    Truncation bounds the variance of products of ratios at the price of a bias towards ``mu``;
    ``clip_rho_threshold = 1`` is the choice of Retrace's traces and V-trace's ``rho_bar``.

    Reference: Munos, Stepleton, Harutyunyan and Bellemare (2016), "Safe and Efficient
    Off-Policy Reinforcement Learning", NeurIPS, https://arxiv.org/abs/1606.02647; Espeholt et
    al. (2018), "IMPALA", ICML, https://arxiv.org/abs/1802.01561, sec. 4.1.

    Args:
        pi_probs_t: ``[T, A]`` target-policy probabilities.
        mu_probs_t: ``[T, A]`` behaviour-policy probabilities.
        a_t: ``[T]`` int, the actions taken.
        clip_rho_threshold: the upper bound, ``> 0`` (``ValueError`` otherwise when concrete).

    Returns:
        ``[T]`` clipped ratios.
    """
    if not isinstance(clip_rho_threshold, jax.core.Tracer):
        threshold = np.asarray(clip_rho_threshold, dtype=np.float64)
        if threshold.ndim != 0 or not threshold > 0:
            raise ValueError(
                f"clip_rho_threshold must be a positive scalar, got {clip_rho_threshold!r}"
            )
    rho = importance_sampling_ratios(pi_probs_t, mu_probs_t, a_t)
    return jnp.minimum(rho, jnp.asarray(clip_rho_threshold, rho.dtype))


def _check_stream(r_t, discount_t, v_t, rho_tm1) -> tuple:
    r_t, discount_t, v_t, rho_tm1 = _checks.arrays(r_t, discount_t, v_t, rho_tm1)
    chex.assert_rank([r_t, discount_t, v_t, rho_tm1], [1, 1, {0, 1}, 1])
    chex.assert_type([r_t, discount_t, v_t, rho_tm1], float)
    chex.assert_equal_shape([r_t, discount_t, rho_tm1])
    if jnp.ndim(v_t) == 1:
        chex.assert_equal_shape([r_t, v_t])
    _checks.nonempty("r_t", r_t)
    return r_t, discount_t, v_t, rho_tm1


def ordinary_is_returns(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    rho_tm1: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Ordinary importance-sampled returns: the whole return weighted by one product of ratios.

    With ``G`` the :func:`~jaxrl.targets.returns.discounted_returns` of the stream and ``e(i)``
    the end of the episode that entry ``i`` belongs to (the first ``k >= i`` with
    ``discount_t[k] = 0``, else ``T - 1``)::

        G_is[i] = (prod_{k=i}^{e(i)} rho_tm1[k]) * G[i]

    Its mean under ``mu`` is ``pi``'s expected return (given a bootstrap value of ``pi``). The
    product stops at a terminal transition, because actions after it cannot change ``G[i]``.

    Reference: Sutton and Barto (2018), sec. 5.5, eqs. (5.4)-(5.5) (ordinary importance
    sampling) and sec. 7.3, eq. (7.9) (with a bootstrap value).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        v_t: the bootstrap value: a scalar, or ``[T]`` of which only ``v_t[-1]`` is used.
        rho_tm1: ``[T]`` ratios of the actions that produced each entry.
        stop_target_gradients: wrap the returns in ``jax.lax.stop_gradient`` (keyword-only).

    Returns:
        ``[T]`` importance-sampled returns.
    """
    r_t, discount_t, v_t, rho_tm1 = _as_float(*_check_stream(r_t, discount_t, v_t, rho_tm1))
    returns = discounted_returns(r_t, discount_t, v_t, stop_target_gradients=False)

    def backward(weight_next, step):
        rho, discount = step
        weight = rho * jnp.where(discount == 0, 1.0, weight_next)
        return weight, weight

    one = jnp.ones((), rho_tm1.dtype)
    _, weights = jax.lax.scan(backward, one, (rho_tm1, discount_t), reverse=True)
    return _maybe_stop_gradient(weights * returns, stop_target_gradients)


def per_decision_is_returns(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    rho_tm1: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Per-decision importance-sampled returns: each reward weighted by the ratios before it.

    With ``G[T] = v_t[-1]`` (or the scalar ``v_t``), for ``i = T - 1, ..., 0``::

        G[i] = rho_tm1[i] * (r_t[i] + discount_t[i] * G[i + 1])

    so ``r_t[k]`` is weighted by ``prod_{j=i}^{k} rho_tm1[j]`` only: later actions do not weight
    earlier rewards. Same mean under ``mu`` as :func:`ordinary_is_returns`, lower variance; the
    two are equal when all rewards but the bootstrap are zero and no discount is zero. With
    ``rho = 1`` both are :func:`~jaxrl.targets.returns.discounted_returns`.

    Reference: Precup, Sutton and Singh (2000), "Eligibility Traces for Off-Policy Policy
    Evaluation", ICML; Sutton and Barto (2018), sec. 5.9, and sec. 7.4
    (eq. 7.13 without the control variate).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        v_t: the bootstrap value: a scalar, or ``[T]`` of which only ``v_t[-1]`` is used.
        rho_tm1: ``[T]`` ratios of the actions that produced each entry.
        stop_target_gradients: wrap the returns in ``jax.lax.stop_gradient`` (keyword-only).

    Returns:
        ``[T]`` importance-sampled returns.
    """
    r_t, discount_t, v_t, rho_tm1 = _as_float(*_check_stream(r_t, discount_t, v_t, rho_tm1))
    bootstrap = v_t if v_t.ndim == 0 else v_t[-1]

    def backward(g_next, step):
        r, discount, rho = step
        g = rho * (r + discount * g_next)
        return g, g

    _, returns = jax.lax.scan(backward, bootstrap, (r_t, discount_t, rho_tm1), reverse=True)
    return _maybe_stop_gradient(returns, stop_target_gradients)
