"""SAC: its policy's tanh-squashed Gaussian log-density against the change of variables in
float64 NumPy, and the gradients of its actor and temperature losses against float64 central
differences of NumPy re-implementations (no distrax, no JAX) of the same objectives.

The Pendulum result (8 seeds x 20k steps) lives in ``jaxrl/configs/sac_pendulum.py`` and
BUILD-notes.md; the chains of ``test_open_agents.py`` run SAC end to end.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import losses, networks
from jaxrl.agents import sac
from jaxrl.configs import sac_pendulum
from tests.losses.test_policy import _finite_difference

B, A = 5, 2
LOW, HIGH = np.array([-2.0, -0.5]), np.array([2.0, 1.5])  # an asymmetric box: a shift and a scale


def _normal_log_density(u, mean, log_std):
    return np.sum(
        -0.5 * ((u - mean) / np.exp(log_std)) ** 2 - log_std - 0.5 * np.log(2 * np.pi), -1
    )


def _log_prob_by_hand(action, mean, log_std):
    """Change of variables: ``a = c + s tanh(u)``, so ``log p(a) = log N(u) - sum_i log(s_i (1 -
    tanh(u_i)^2))`` with ``u = atanh((a - c) / s)``."""
    scale, center = (HIGH - LOW) / 2, (HIGH + LOW) / 2
    y = (action - center) / scale
    u = np.arctanh(y)
    return _normal_log_density(u, mean, log_std) - np.sum(np.log(scale * (1 - y**2)), -1)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(B, A)), 0.3 * rng.normal(size=(B, A)), rng.normal(size=(B, A))


def test_the_squashed_gaussian_log_density_is_the_change_of_variables():
    mean, log_std, _ = _data()
    with jax.enable_x64(True):
        dist = networks.squashed_gaussian(
            jnp.asarray(mean), jnp.asarray(log_std), low=jnp.asarray(LOW), high=jnp.asarray(HIGH)
        )
        with jax.numpy_rank_promotion("allow"):
            actions, log_prob = dist.sample_and_log_prob(seed=jax.random.key(0))
            again = dist.log_prob(actions)
        actions, log_prob, again = map(np.asarray, (actions, log_prob, again))
    assert actions.dtype == np.float64 and np.all((actions > LOW) & (actions < HIGH))
    # The hand formula inverts the squash (atanh), which loses float64 digits as 1 / (1 - y^2)
    # near the bounds: 1e-7 relative; a wrong or missing Jacobian term is off by O(1).
    np.testing.assert_allclose(log_prob, _log_prob_by_hand(actions, mean, log_std), rtol=1e-7)
    np.testing.assert_allclose(again, log_prob, rtol=1e-7)


def test_the_actor_loss_gradient_matches_float64_central_differences():
    """``alpha log pi(a|s) - Q(s, a)`` at ``a = c + s tanh(mean + exp(log_std) eps)``, its
    gradient in the policy's (mean, log_std) through the reparameterised draw: JAX's (distrax's
    draw, ``losses.soft_actor_loss``) against central differences of a NumPy version, with a
    quadratic critic ``Q(a) = -|a - a*|^2``."""
    mean, log_std, eps = _data(1)
    alpha, target = 0.3, np.array([1.0, 0.2])
    scale, center = (HIGH - LOW) / 2, (HIGH + LOW) / 2

    def numpy_loss(flat):
        m, ls = flat[: B * A].reshape(B, A), flat[B * A :].reshape(B, A)
        u = m + np.exp(ls) * eps
        a = center + scale * np.tanh(u)
        log_prob = _normal_log_density(u, m, ls) - np.sum(np.log(scale * (1 - np.tanh(u) ** 2)), -1)
        return np.mean(alpha * log_prob + np.sum((a - target) ** 2, -1))

    with jax.enable_x64(True):

        def jax_loss(flat):
            m, ls = flat[: B * A].reshape(B, A), flat[B * A :].reshape(B, A)
            dist = networks.squashed_gaussian(m, ls, low=jnp.asarray(LOW), high=jnp.asarray(HIGH))
            u = m + jnp.exp(ls) * jnp.asarray(eps)  # the same draw as numpy_loss's
            action = dist.bijector.forward(u)
            with jax.numpy_rank_promotion("allow"):
                log_prob = dist.log_prob(action)
            q = -jnp.sum((action - jnp.broadcast_to(target, action.shape)) ** 2, -1)
            return losses.soft_actor_loss(log_prob, q, alpha)

        flat = np.concatenate([mean.ravel(), log_std.ravel()])
        ours = np.asarray(jax.grad(jax_loss)(jnp.asarray(flat)))
        assert float(jax_loss(jnp.asarray(flat))) == pytest.approx(numpy_loss(flat), rel=1e-9)
    np.testing.assert_allclose(ours, _finite_difference(numpy_loss, flat), rtol=1e-6, atol=1e-8)


def test_the_temperature_loss_gradient_matches_float64_central_differences():
    """``-alpha (log pi + H_target)`` averaged, in ``log_alpha``; and its sign: the temperature
    rises when the policy's entropy is below the target."""
    rng = np.random.default_rng(2)
    log_prob, target_entropy = rng.normal(size=7), -2.0

    def numpy_loss(x):
        return float(np.mean(-np.exp(x[0]) * (log_prob + target_entropy)))

    with jax.enable_x64(True):
        grad = jax.grad(losses.temperature_loss)(
            jnp.float64(0.4), jnp.asarray(log_prob), target_entropy
        )
    np.testing.assert_allclose(
        float(grad), _finite_difference(numpy_loss, np.array([0.4]))[0], rtol=1e-7
    )
    # Entropy -mean(log_prob) below the target: descending raises log_alpha (gradient < 0).
    low_entropy = np.full(7, 3.0)  # entropy -3 < -2
    assert float(jax.grad(losses.temperature_loss)(0.0, jnp.asarray(low_entropy), -2.0)) < 0


def test_sac_refuses_discrete_actions_in_one_line():
    config = sac_pendulum.get_config()
    with config.unlocked():
        config.environment = "cartpole"
        config.env.max_steps = 500
    with pytest.raises(ValueError, match="jaxrl.agents.sac needs a bounded box of actions"):
        sac.make_experiment(config)
