"""The value losses against hand computations and their gradients against the clipped error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import losses
from jaxrl.targets import q_learning


def test_squared_loss_by_hand():
    np.testing.assert_allclose(losses.squared_loss(jnp.array([-2.0, 0.0, 0.5])), [2.0, 0, 0.125])


def test_huber_loss_by_hand():
    delta = jnp.array([-3.0, -1.0, -0.5, 0.0, 0.25, 1.0, 2.5])
    # kappa = 1: 0.5 d^2 inside, |d| - 0.5 outside.
    np.testing.assert_allclose(
        losses.huber_loss(delta), [2.5, 0.5, 0.125, 0.0, 0.03125, 0.5, 2.0], rtol=1e-6
    )
    # kappa = 2: 0.5 d^2 inside, 2 |d| - 2 outside.
    np.testing.assert_allclose(
        losses.huber_loss(delta, kappa=2.0), [4.0, 0.5, 0.125, 0.0, 0.03125, 0.5, 3.0], rtol=1e-6
    )


@pytest.mark.parametrize("kappa", [0.5, 1.0, 3.0])
def test_the_huber_gradient_is_the_clipped_error(kappa):
    delta = jnp.linspace(-5.0, 5.0, 41)
    grad = jax.vmap(jax.grad(lambda d: losses.huber_loss(d, kappa=kappa)))(delta)
    np.testing.assert_allclose(grad, jnp.clip(delta, -kappa, kappa), atol=1e-6)


def test_the_semi_gradient_of_a_td_loss():
    """Through a Q-learning error (target stopped), the squared loss's gradient in q_tm1 is
    -delta on the taken action and zero elsewhere; the Huber one clips delta."""
    q_tm1 = jnp.array([1.0, 4.0, -2.0])
    q_t = jnp.array([0.0, 10.0, 3.0])

    def loss(q, kind):
        return losses.td_loss(q_learning(q, 1, 1.0, 0.9, q_t), kind=kind)

    delta = 1.0 + 0.9 * 10.0 - 4.0  # 6
    np.testing.assert_allclose(jax.grad(loss)(q_tm1, "squared"), [0.0, -delta, 0.0])
    np.testing.assert_allclose(jax.grad(loss)(q_tm1, "huber"), [0.0, -1.0, 0.0])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match=r"kind must be one of \('squared', 'huber'\), got 'l1'"):
        losses.td_loss(jnp.zeros(3), kind="l1")
    with pytest.raises(ValueError, match="kappa must be > 0, got 0"):
        losses.huber_loss(jnp.zeros(3), kappa=0)
