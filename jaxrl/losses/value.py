"""Value losses: what a network regressing on TD targets minimises.

Each loss is a function of TD errors ``delta = target - prediction`` (from ``jaxrl.targets``,
where the target carries ``stop_gradient``), elementwise; the caller averages over a batch. So
``grad loss(delta)`` is ``-loss'(delta) grad prediction``: for the squared loss the semi-gradient
TD update ``delta grad q`` of Zhao, ch. 8.4 (eq. 8.38), for the Huber loss the same with
``delta`` clipped to ``[-kappa, kappa]`` (Mnih et al. 2015, "Human-level control through deep
reinforcement learning", Nature 518, clip the error term to ``[-1, 1]``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

TD_LOSSES = ("squared", "huber")


def squared_loss(td_error: jax.typing.ArrayLike) -> jax.Array:
    """``0.5 delta^2``, elementwise: its gradient in the prediction is ``-delta``.

    Args:
        td_error: TD errors of any shape (float).

    Returns:
        Losses of the same shape.
    """
    td_error = jnp.asarray(td_error)
    chex.assert_type(td_error, float)
    return 0.5 * jnp.square(td_error)


def huber_loss(td_error: jax.typing.ArrayLike, *, kappa: float = 1.0) -> jax.Array:
    """The Huber loss: ``0.5 delta^2`` for ``|delta| <= kappa``, else ``kappa (|delta| - kappa/2)``.

    Quadratic near zero and linear beyond ``kappa``, so its gradient is the TD error clipped to
    ``[-kappa, kappa]``: one outlying target cannot make a huge step (Huber 1964, "Robust
    Estimation of a Location Parameter"; DQN's error clipping).

    Args:
        td_error: TD errors of any shape (float).
        kappa: where the loss turns linear (> 0).

    Returns:
        Losses of the same shape.
    """
    if not kappa > 0:
        raise ValueError(f"kappa must be > 0, got {kappa!r}")
    td_error = jnp.asarray(td_error)
    chex.assert_type(td_error, float)
    magnitude = jnp.abs(td_error)
    quadratic = jnp.minimum(magnitude, kappa)
    # 0.5 q^2 + kappa (|d| - q): the two pieces meet with equal slope at |d| = kappa.
    return 0.5 * jnp.square(quadratic) + kappa * (magnitude - quadratic)


def td_loss(td_error: jax.typing.ArrayLike, *, kind: str, kappa: float = 1.0) -> jax.Array:
    """The loss named by ``kind`` (``"squared"`` or ``"huber"``), elementwise."""
    if kind == "squared":
        return squared_loss(td_error)
    if kind == "huber":
        return huber_loss(td_error, kappa=kappa)
    raise ValueError(f"kind must be one of {TD_LOSSES}, got {kind!r}")
