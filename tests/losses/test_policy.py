"""Policy losses: hand values, gradients against central finite differences (float64), the
constants they must not differentiate, and the chapter 10 importance-sampling example."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import targets
from jaxrl.losses import policy

T, A = 6, 3


def _finite_difference(f, x, eps=1e-6):
    """Central differences of a scalar function of a float64 array."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        grad[i] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "logits": rng.normal(size=(T, A)),
        "actions": rng.integers(0, A, size=T),
        "weights": rng.normal(size=T),
        "values": rng.normal(size=T),
        "targets": rng.normal(size=T),
    }


def _log_prob(logits, actions):
    return jnp.take_along_axis(jax.nn.log_softmax(logits), actions[:, None], axis=-1)[:, 0]


def _entropy(logits):
    p = jax.nn.softmax(logits)
    return -jnp.sum(p * jax.nn.log_softmax(logits), axis=-1)


def _check_gradient(loss_of_logits, logits):
    with jax.enable_x64(True):
        x = np.asarray(logits, np.float64)
        analytic = np.asarray(jax.grad(lambda z: loss_of_logits(jnp.asarray(z)))(x))
        numeric = _finite_difference(lambda z: float(loss_of_logits(jnp.asarray(z))), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)
    return analytic


def test_policy_gradient_loss_by_hand_and_by_finite_differences():
    d = _data()
    log_p = np.log([0.5, 0.25])
    np.testing.assert_allclose(
        policy.policy_gradient_loss(jnp.asarray(log_p, jnp.float32), jnp.array([2.0, -1.0])),
        -(2.0 * log_p[0] - 1.0 * log_p[1]) / 2,
        rtol=1e-6,
    )
    _check_gradient(
        lambda z: policy.policy_gradient_loss(_log_prob(z, d["actions"]), d["weights"]),
        d["logits"],
    )


def test_the_weights_are_constants():
    """No gradient reaches the weights (a critic's values or returns) through the actor loss."""
    d = _data()
    log_p = _log_prob(jnp.asarray(d["logits"], jnp.float32), d["actions"])
    grad = jax.grad(lambda w: policy.policy_gradient_loss(log_p, w))(jnp.ones(T))
    np.testing.assert_array_equal(grad, 0.0)
    grad = jax.grad(lambda a: policy.clipped_surrogate_loss(log_p, log_p - 0.1, a, epsilon=0.2))(
        jnp.ones(T)
    )
    np.testing.assert_array_equal(grad, 0.0)


def test_entropy_loss_by_finite_differences():
    d = _data(1)
    np.testing.assert_allclose(
        policy.entropy_loss(_entropy(jnp.zeros((2, A)))), -np.log(A), rtol=1e-6
    )
    _check_gradient(lambda z: policy.entropy_loss(_entropy(z)), d["logits"])


def test_actor_critic_loss_parts_and_gradients():
    d = _data(2)

    def loss(z, values):
        return policy.actor_critic_loss(
            _log_prob(z, d["actions"]),
            d["weights"],
            values,
            d["targets"],
            _entropy(z),
            critic_coef=0.5,
            entropy_coef=0.01,
        )

    with jax.enable_x64(True):
        parts = loss(jnp.asarray(d["logits"]), jnp.asarray(d["values"]))
        expected_critic = np.mean(0.5 * (d["targets"] - d["values"]) ** 2)
        np.testing.assert_allclose(parts.critic, expected_critic, rtol=1e-12)
        np.testing.assert_allclose(
            parts.total, parts.actor + 0.5 * parts.critic + 0.01 * parts.entropy, rtol=1e-12
        )
        # The critic's gradient is the semi-gradient -(y - v) / T (the target is a constant).
        grad_v = jax.grad(lambda v: loss(jnp.asarray(d["logits"]), v).total)(d["values"])
        np.testing.assert_allclose(grad_v, -0.5 * (d["targets"] - d["values"]) / T, rtol=1e-12)
    _check_gradient(lambda z: loss(z, jnp.asarray(d["values"])).total, d["logits"])


def test_off_policy_actor_loss_weighs_the_score_by_rho_times_the_advantage():
    d = _data(3)
    rho = np.abs(d["weights"]) + 0.1
    analytic = _check_gradient(
        lambda z: policy.off_policy_actor_loss(_log_prob(z, d["actions"]), rho, d["values"]),
        d["logits"],
    )
    with jax.enable_x64(True):
        plain = jax.grad(
            lambda z: policy.policy_gradient_loss(_log_prob(z, d["actions"]), rho * d["values"])
        )(jnp.asarray(d["logits"]))
    np.testing.assert_allclose(analytic, plain, rtol=1e-12)


def test_clipped_surrogate_by_hand_and_by_finite_differences():
    # Ratios 1.5 (A > 0: clipped at 1.2), 0.5 (A > 0: unclipped), 1.5 (A < 0: unclipped).
    log_p = jnp.log(jnp.array([0.6, 0.2, 0.6]))
    old = jnp.log(jnp.array([0.4, 0.4, 0.4]))
    adv = jnp.array([2.0, 1.0, -1.0])
    value = policy.clipped_surrogate_loss(log_p, old, adv, epsilon=0.2)
    np.testing.assert_allclose(value, -(1.2 * 2.0 + 0.5 * 1.0 + 1.5 * -1.0) / 3, rtol=1e-6)
    grad = jax.grad(lambda lp: policy.clipped_surrogate_loss(lp, old, adv, epsilon=0.2))(log_p)
    # d/dlogp of -r A / 3 is -r A / 3 where unclipped, 0 where the clip binds.
    np.testing.assert_allclose(grad, [0.0, -0.5 / 3, 1.5 / 3], rtol=1e-5)
    d = _data(4)
    old_log_p = np.asarray(_log_prob(jnp.asarray(d["logits"]), d["actions"])) + 0.05
    _check_gradient(
        lambda z: policy.clipped_surrogate_loss(
            _log_prob(z, d["actions"]), old_log_p, d["weights"], epsilon=0.2
        ),
        d["logits"],
    )


def test_at_ratio_one_the_clipped_surrogate_is_the_policy_gradient():
    d = _data(5)
    logits = jnp.asarray(d["logits"], jnp.float32)
    log_p = lambda z: _log_prob(z, d["actions"])  # noqa: E731
    old = jax.lax.stop_gradient(log_p(logits))
    clipped = jax.grad(
        lambda z: policy.clipped_surrogate_loss(log_p(z), old, d["weights"], epsilon=0.2)
    )(logits)
    plain = jax.grad(lambda z: policy.policy_gradient_loss(log_p(z), d["weights"]))(logits)
    np.testing.assert_allclose(clipped, plain, rtol=1e-5, atol=1e-7)


def test_the_deterministic_policy_gradient_is_the_gradient_of_q_at_the_actors_actions():
    """A small tanh actor mu_theta(s) (bounded by 2, as Pendulum's torque) and critic Q(s, a):
    the gradient of the DPG loss built from the critic's action gradients equals minus the central
    finite differences (float64) of ``J(theta) = mean_t Q(s_t, mu_theta(s_t))`` with the critic
    fixed, and carries no gradient into the critic's parameters."""
    from jax.flatten_util import ravel_pytree

    rng = np.random.default_rng(4)
    with jax.enable_x64(True):
        states = jnp.asarray(rng.normal(size=(T, 3)))
        actor = {
            "w1": jnp.asarray(rng.normal(size=(3, 8))),
            "b1": jnp.asarray(rng.normal(size=8)),
            "w2": jnp.asarray(rng.normal(size=(8, 2)) * 0.5),
        }
        critic = {"v": jnp.asarray(rng.normal(size=(5, 16))), "w": jnp.asarray(rng.normal(size=16))}

        def mu(p, s):
            return 2.0 * jnp.tanh(jnp.tanh(s @ p["w1"] + p["b1"][None]) @ p["w2"])

        def q(c, s, a):
            return jnp.tanh(jnp.concatenate([s, a]) @ c["v"]) @ c["w"]

        def loss(p, c):
            actions = mu(p, states)
            dqda = jax.vmap(jax.grad(q, argnums=2), in_axes=(None, 0, 0))(c, states, actions)
            return policy.deterministic_policy_gradient_loss(actions, dqda)

        flat, unravel = ravel_pytree(actor)
        analytic = np.asarray(ravel_pytree(jax.grad(loss)(actor, critic))[0])
        objective = lambda x: float(  # noqa: E731
            jnp.mean(jax.vmap(q, in_axes=(None, 0, 0))(critic, states, mu(unravel(x), states)))
        )
        numeric = _finite_difference(objective, np.asarray(flat))
        critic_grad = ravel_pytree(jax.grad(loss, argnums=1)(actor, critic))[0]
    np.testing.assert_allclose(analytic, -numeric, rtol=1e-6, atol=1e-8)
    assert np.max(np.abs(analytic)) > 1e-2  # a gradient worth comparing
    np.testing.assert_array_equal(critic_grad, 0.0)


def test_bad_arguments():
    x = jnp.zeros(T)
    with pytest.raises(ValueError, match="epsilon must be > 0, got 0"):
        policy.clipped_surrogate_loss(x, x, x, epsilon=0.0)
    with pytest.raises(ValueError, match="entropy_coef must be >= 0, got -1.0"):
        policy.actor_critic_loss(x, x, x, x, x, entropy_coef=-1.0)
    with pytest.raises(ValueError, match="critic_coef must be >= 0, got -0.5"):
        policy.actor_critic_loss(x, x, x, x, x, critic_coef=-0.5)
    # Traced coefficients (a swept entropy weight) are accepted.
    traced = jax.jit(lambda c: policy.actor_critic_loss(x, x, x, x, x, entropy_coef=c).total)
    assert float(traced(0.1)) == 0.0
    with pytest.raises(AssertionError):
        policy.policy_gradient_loss(jnp.zeros((T, 1)), x)  # rank 2: a contract violation


def test_importance_sampling_gives_the_expectation_under_the_target():
    """Zhao, ch. 10.3's example: X in {+1, -1} drawn with p0 = (0.5, 0.5); reweighted by
    p1(x) / p0(x) with p1 = (0.8, 0.2), the sample mean estimates E_p1[X] = 0.6. Each weighted
    sample is 1.6 or -0.4 with probability 1/2: standard deviation 1, so with n = 200,000
    samples the estimate's standard error is 1/sqrt(n) = 0.0022; the test allows 5 of them."""
    n = 200_000
    index = jax.random.bernoulli(jax.random.key(0), 0.5, (n,)).astype(jnp.int32)  # 0: +1, 1: -1
    x = 1.0 - 2.0 * index
    p1 = jnp.broadcast_to(jnp.array([0.8, 0.2]), (n, 2))
    p0 = jnp.broadcast_to(jnp.array([0.5, 0.5]), (n, 2))
    rho = targets.importance_sampling_ratios(p1, p0, index)
    assert abs(float(jnp.mean(x)) - 0.0) < 5 / np.sqrt(n)  # the plain mean estimates E_p0 = 0
    assert abs(float(jnp.mean(rho * x)) - 0.6) < 5 / np.sqrt(n)
