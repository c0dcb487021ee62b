"""Returns of one trajectory: discounted (Monte Carlo), n-step, lambda-returns and GAE.

Every function takes a single stream of ``T`` transitions and returns ``[T]`` targets; batch with
``jax.vmap``. Backward recursions run as ``jax.lax.scan(..., reverse=True)``.

Time indices follow rlax and Sutton and Barto (2018). Entry ``i`` of a stream is one transition
``s -> s'``:

* ``r_t[i]``: the reward received on that transition (``r_t`` follows the action at ``t - 1``);
* ``discount_t[i]``: the discount applied to what comes after it, ``gamma`` inside an episode and
  ``0`` where ``s'`` is terminal (so returns never leak across episode boundaries);
* ``v_t[i]``: an estimate of ``v(s')``, the value of the state the transition lands in.

The return in entry ``i`` is the target for the value of ``s``, the state the transition leaves
(``v_tm1[i]`` in a TD error ``target - v_tm1``). The stream is truncated at its end: the value
after the last entry is bootstrapped from ``v_t[-1]`` (set ``discount_t[-1] = 0`` if the episode
ended there).

Targets are constants for learning: by default every function wraps its output in
``jax.lax.stop_gradient``. Pass ``stop_target_gradients=False`` to differentiate through a
return (meta-gradients, residual-gradient methods).

Arguments may be arrays, scalars or Python lists. An empty stream (``T = 0``) raises
``ValueError`` always; ``lambda_`` outside [0, 1] raises only where it is concrete (called
outside ``jit``/``vmap``); under tracing values are not checked.
"""

from __future__ import annotations

import operator

import chex
import jax
import jax.numpy as jnp

from jaxrl.targets import _checks


def _maybe_stop_gradient(x: jax.Array, stop: bool) -> jax.Array:
    return jax.lax.stop_gradient(x) if stop else x


def _as_float(*xs) -> tuple[jax.Array, ...]:
    """Casts the arguments to one floating dtype, so scan carries keep a fixed type."""
    dtype = jnp.result_type(*xs)
    return tuple(jnp.asarray(x, dtype) for x in xs)


def _per_step(x, like: jax.Array) -> jax.Array:
    """A scalar or ``[T]`` per-step parameter (``lambda_``) as ``[T]`` in ``like``'s dtype."""
    chex.assert_rank(x, {0, 1})
    if jnp.ndim(x) == 1:
        chex.assert_equal_shape([x, like])
    return jnp.broadcast_to(jnp.asarray(x, like.dtype), like.shape)


def _check_n(n) -> int:
    """Returns ``n`` as a Python int; raises ``ValueError`` unless it is a static int ``>= 1``."""
    if isinstance(n, bool):
        raise ValueError(f"n must be a static positive integer, got {n!r}")
    try:
        n_int = operator.index(n)
    except TypeError:
        raise ValueError(f"n must be a static positive integer, got {n!r}") from None
    if n_int < 1:
        raise ValueError(f"n must be a static positive integer, got {n!r}")
    return n_int


def discounted_returns(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Discounted (Monte Carlo) returns of a stream, bootstrapped after its last step.

    With ``G[T] = v_t[-1]`` (or ``v_t`` when it is a scalar), for ``i = T - 1, ..., 0``::

        G[i] = r_t[i] + discount_t[i] * G[i + 1]

    so ``G[i] = sum_{k >= i} (prod_{i <= j < k} discount_t[j]) r_t[k]
    + (prod_{j >= i} discount_t[j]) v_t[-1]``. With ``discount_t[-1] = 0`` it is the plain
    Monte Carlo return of an episode.

    Reference: Sutton and Barto (2018), "Reinforcement Learning: An Introduction", 2nd ed.,
    sec. 3.3 (returns) and ch. 5 (Monte Carlo methods); Zhao, ch. 5 (Monte Carlo learning).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        v_t: the bootstrap value: a scalar, or ``[T]`` values of the states reached, of which
            only the last, ``v_t[-1]``, is used (the rlax convention).
        stop_target_gradients: wrap the returns in ``jax.lax.stop_gradient`` (keyword-only).

    Returns:
        ``[T]`` returns ``G``; ``G[i]`` is the target for the value of the state entry ``i``
        leaves.
    """
    r_t, discount_t, v_t = _checks.arrays(r_t, discount_t, v_t)
    chex.assert_rank([r_t, discount_t, v_t], [1, 1, {0, 1}])
    chex.assert_type([r_t, discount_t, v_t], float)
    chex.assert_equal_shape([r_t, discount_t])
    if jnp.ndim(v_t) == 1:
        chex.assert_equal_shape([r_t, v_t])
    _checks.nonempty("r_t", r_t)
    r_t, discount_t, v_t = _as_float(r_t, discount_t, v_t)
    bootstrap = v_t if v_t.ndim == 0 else v_t[-1]

    def backward(g_next, transition):
        r, discount = transition
        g = r + discount * g_next
        return g, g

    _, returns = jax.lax.scan(backward, bootstrap, (r_t, discount_t), reverse=True)
    return _maybe_stop_gradient(returns, stop_target_gradients)


def n_step_bootstrapped_returns(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    n: int,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """n-step bootstrapped returns of a stream, truncated at its end.

    For each entry ``i``, with ``m = min(n, T - i)`` steps available::

        G[i] = sum_{k=0}^{m-1} (prod_{j<k} discount_t[i+j]) r_t[i+k]
               + (prod_{j<m} discount_t[i+j]) v_t[i+m-1]

    i.e. ``n`` rewards then the value of the state reached after them; near the end of the
    stream fewer rewards are available and the bootstrap is ``v_t[-1]``. ``n = 1`` gives the
    one-step targets ``r_t + discount_t * v_t``; ``n >= T`` gives :func:`discounted_returns`.
    Computed as ``n`` backward sweeps over the whole stream (``O(n T)`` work, ``min(n, T)``
    sweeps in a ``lax.scan``).

    Reference: Sutton and Barto (2018), sec. 7.1, eq. (7.1) (n-step TD prediction).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        v_t: ``[T]`` values of the states reached, ``v_t[i] ~ v(s')`` for entry ``i``.
        n: the number of steps, a static Python int ``>= 1`` (``ValueError`` otherwise).
        stop_target_gradients: wrap the returns in ``jax.lax.stop_gradient`` (keyword-only).

    Returns:
        ``[T]`` n-step returns.
    """
    n = _check_n(n)
    r_t, discount_t, v_t = _checks.arrays(r_t, discount_t, v_t)
    chex.assert_rank([r_t, discount_t, v_t], 1)
    chex.assert_type([r_t, discount_t, v_t], float)
    chex.assert_equal_shape([r_t, discount_t, v_t])
    _checks.nonempty("r_t", r_t)
    r_t, discount_t, v_t = _as_float(r_t, discount_t, v_t)
    num_steps = r_t.shape[0]
    n = min(n, num_steps)  # beyond the stream every step is truncated: same result, less work
    # Pad past the end with the identity step (no reward, no discount) and bootstrap from the
    # value n - 1 entries ahead, clamped to the last one.
    r_pad = jnp.concatenate([r_t, jnp.zeros((n - 1,), r_t.dtype)])
    discount_pad = jnp.concatenate([discount_t, jnp.ones((n - 1,), discount_t.dtype)])
    bootstrap = v_t[jnp.minimum(jnp.arange(num_steps) + n - 1, num_steps - 1)]

    def backward(g, k):
        r = jax.lax.dynamic_slice_in_dim(r_pad, k, num_steps)
        discount = jax.lax.dynamic_slice_in_dim(discount_pad, k, num_steps)
        return r + discount * g, None

    returns, _ = jax.lax.scan(backward, bootstrap, jnp.arange(n), reverse=True)
    return _maybe_stop_gradient(returns, stop_target_gradients)


def lambda_returns(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    v_t: jax.typing.ArrayLike,
    lambda_: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Lambda-returns of a stream, in their recursive form.

    With ``G[T] = v_t[-1]``, for ``i = T - 1, ..., 0``::

        G[i] = r_t[i] + discount_t[i] * ((1 - lambda_[i]) * v_t[i] + lambda_[i] * G[i + 1])

    so the last entry is the one-step target ``r_t[-1] + discount_t[-1] * v_t[-1]``. For a
    constant ``lambda_`` this is the truncated lambda-return, the ``(1 - lambda)``-weighted
    average of n-step returns with the remaining weight on the longest one. ``lambda_ = 1``
    gives :func:`discounted_returns`; ``lambda_ = 0`` gives ``r_t + discount_t * v_t``.

    Reference: Sutton and Barto (2018), sec. 12.1, eqs. (12.2)-(12.3), and sec. 12.3
    (truncated lambda-return, eq. 12.9).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        v_t: ``[T]`` values of the states reached.
        lambda_: the trace parameter, a scalar or ``[T]`` (``lambda_[i]`` mixes at entry ``i``).
        stop_target_gradients: wrap the returns in ``jax.lax.stop_gradient`` (keyword-only).

    Returns:
        ``[T]`` lambda-returns.
    """
    r_t, discount_t, v_t, lambda_ = _checks.arrays(r_t, discount_t, v_t, lambda_)
    chex.assert_rank([r_t, discount_t, v_t, lambda_], [1, 1, 1, {0, 1}])
    chex.assert_type([r_t, discount_t, v_t], float)
    chex.assert_equal_shape([r_t, discount_t, v_t])
    _checks.nonempty("r_t", r_t)
    _checks.unit_interval("lambda_", lambda_)
    r_t, discount_t, v_t = _as_float(r_t, discount_t, v_t)
    lambda_ = _per_step(lambda_, r_t)

    def backward(g_next, transition):
        r, discount, v, lam = transition
        g = r + discount * ((1.0 - lam) * v + lam * g_next)
        return g, g

    _, returns = jax.lax.scan(backward, v_t[-1], (r_t, discount_t, v_t, lambda_), reverse=True)
    return _maybe_stop_gradient(returns, stop_target_gradients)


def generalized_advantage_estimation(
    r_t: jax.typing.ArrayLike,
    discount_t: jax.typing.ArrayLike,
    lambda_: jax.typing.ArrayLike,
    values: jax.typing.ArrayLike,
    *,
    stop_target_gradients: bool = True,
) -> jax.Array:
    """Truncated generalized advantage estimates (GAE) of a stream.

    ``values`` holds ``T + 1`` state values, ``values[i]`` for the state entry ``i`` leaves and
    ``values[i + 1]`` for the one it reaches. With ``A[T] = 0``, for ``i = T - 1, ..., 0``::

        delta[i] = r_t[i] + discount_t[i] * values[i + 1] - values[i]
        A[i]     = delta[i] + discount_t[i] * lambda_[i] * A[i + 1]

    ``A + values[:-1]`` equals ``lambda_returns(r_t, discount_t, values[1:], lambda_)``.
    ``lambda_ = 1`` gives the Monte Carlo advantage, ``lambda_ = 0`` the one-step TD error.

    Reference: Schulman, Moritz, Levine, Jordan and Abbeel (2016), "High-Dimensional Continuous
    Control Using Generalized Advantage Estimation", ICLR, https://arxiv.org/abs/1506.02438,
    sec. 3, eq. (16).

    Args:
        r_t: ``[T]`` rewards.
        discount_t: ``[T]`` discounts (``0`` at terminal transitions).
        lambda_: the GAE parameter, a scalar or ``[T]``.
        values: ``[T + 1]`` state values, ``values[0]`` for the first state and ``values[T]``
            for the state after the last transition (the bootstrap).
        stop_target_gradients: wrap the advantages in ``jax.lax.stop_gradient`` (keyword-only;
            the default suits policy-gradient losses, where advantages are constants).

    Returns:
        ``[T]`` advantages.
    """
    r_t, discount_t, lambda_, values = _checks.arrays(r_t, discount_t, lambda_, values)
    chex.assert_rank([r_t, discount_t, lambda_, values], [1, 1, {0, 1}, 1])
    chex.assert_type([r_t, discount_t, values], float)
    chex.assert_equal_shape([r_t, discount_t])
    chex.assert_shape(values, (r_t.shape[0] + 1,))
    _checks.nonempty("r_t", r_t)
    _checks.unit_interval("lambda_", lambda_)
    r_t, discount_t, values = _as_float(r_t, discount_t, values)
    lambda_ = _per_step(lambda_, r_t)
    delta = r_t + discount_t * values[1:] - values[:-1]

    def backward(a_next, transition):
        d, discount, lam = transition
        a = d + discount * lam * a_next
        return a, a

    zero = jnp.zeros((), r_t.dtype)
    _, advantages = jax.lax.scan(backward, zero, (delta, discount_t, lambda_), reverse=True)
    return _maybe_stop_gradient(advantages, stop_target_gradients)
