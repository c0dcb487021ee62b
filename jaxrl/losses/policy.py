"""Policy losses: policy gradient, entropy bonus, advantage actor-critic, off-policy actor-critic
and PPO's clipped surrogate.

Each loss is a mean over a batch of ``[T]`` steps (one trajectory or a minibatch; vmap for more)
and is written so that gradient DESCENT on it is the method's ascent on its objective. The
weights a method multiplies the score ``grad log pi(a|s)`` by (returns, advantages, importance
ratios times advantages) come from ``jaxrl.targets`` and are treated as constants: every loss
stops their gradient itself, so a caller cannot leak a critic's gradient into the actor.

Reference: Zhao, ch. 9 (policy gradient; the REINFORCE update theta += alpha q_t grad ln pi) and
ch. 10 (actor-critic: QAC, A2C with the TD error as the advantage, off-policy actor-critic with
importance sampling); Sutton and Barto (2018), ch. 13; Schulman et al. (2017), "Proximal Policy
Optimization Algorithms", https://arxiv.org/abs/1707.06347, eq. (7).
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp


def _check(name_rank: dict[str, tuple[jax.Array, int]]) -> list[jax.Array]:
    arrays = [jnp.asarray(x) for x, _ in name_rank.values()]
    chex.assert_rank(arrays, [rank for _, rank in name_rank.values()])
    chex.assert_type(arrays, float)
    return arrays


def policy_gradient_loss(log_prob_t: jax.typing.ArrayLike, weight_t: jax.typing.ArrayLike):
    """``-mean_t w_t log pi(a_t | s_t)``, with ``w`` held constant.

    Its gradient is ``-mean_t w_t grad log pi(a_t | s_t)``: descending it is the policy-gradient
    ascent of Zhao, ch. 9.4 (REINFORCE: ``w_t`` the return ``q_t``, times ``gamma^t`` for the
    discounted objective; with a baseline, ``q_t - b(s_t)``), or an actor's step with ``w_t`` an
    advantage or a TD error (ch. 10).

    Args:
        log_prob_t: ``[T]`` log-probabilities of the actions taken, differentiable in the
            policy's parameters (e.g. ``distrax.Categorical(logits).log_prob(a_t)``).
        weight_t: ``[T]`` the weights (gradient stopped here).

    Returns:
        ``[]`` the loss.
    """
    log_prob_t, weight_t = _check({"log_prob_t": (log_prob_t, 1), "weight_t": (weight_t, 1)})
    chex.assert_equal_shape([log_prob_t, weight_t])
    return -jnp.mean(jax.lax.stop_gradient(weight_t) * log_prob_t)


def entropy_loss(entropy_t: jax.typing.ArrayLike) -> jax.Array:
    """``-mean_t H(pi(. | s_t))``: adding ``c * entropy_loss`` to a loss rewards exploration.

    Args:
        entropy_t: ``[T]`` entropies of the policy at the visited states, differentiable
            (e.g. ``distrax.Categorical(logits).entropy()``).
    """
    (entropy_t,) = _check({"entropy_t": (entropy_t, 1)})
    return -jnp.mean(entropy_t)


class ActorCriticLoss(NamedTuple):
    """The total loss and its parts (each a mean over the batch)."""

    total: jax.Array
    actor: jax.Array
    critic: jax.Array
    entropy: jax.Array


def actor_critic_loss(
    log_prob_t: jax.typing.ArrayLike,
    advantage_t: jax.typing.ArrayLike,
    value_t: jax.typing.ArrayLike,
    target_t: jax.typing.ArrayLike,
    entropy_t: jax.typing.ArrayLike,
    *,
    critic_coef: jax.typing.ArrayLike = 0.5,
    entropy_coef: jax.typing.ArrayLike = 0.0,
) -> ActorCriticLoss:
    """The advantage actor-critic loss: actor, critic and entropy terms in one.

    ``actor = -mean_t A_t log pi(a_t | s_t)`` (:func:`policy_gradient_loss`, ``A`` constant),
    ``critic = mean_t 0.5 (y_t - v_t)^2`` (the semi-gradient TD regression of the critic: the
    target ``y`` constant) and ``entropy = -mean_t H_t``; ``total = actor + critic_coef * critic +
    entropy_coef * entropy``. With ``A_t`` the TD error ``r + gamma v(s') - v(s)`` this is Zhao's
    A2C (ch. 10.2); with a lambda-return target and GAE advantages, the usual A2C.

    Args:
        log_prob_t: ``[T]`` log-probabilities of the actions taken.
        advantage_t: ``[T]`` advantages (from ``jaxrl.targets``; gradient stopped).
        value_t: ``[T]`` the critic's values ``v(s_t)``, differentiable.
        target_t: ``[T]`` the critic's targets (gradient stopped).
        entropy_t: ``[T]`` the policy's entropies at ``s_t``.
        critic_coef, entropy_coef: the weights of the critic and entropy terms (>= 0; may be
            traced, e.g. a swept entropy coefficient).
    """
    for name, coef in (("critic_coef", critic_coef), ("entropy_coef", entropy_coef)):
        if not isinstance(coef, jax.core.Tracer) and not float(coef) >= 0:
            raise ValueError(f"{name} must be >= 0, got {coef!r}")
    arrays = _check(
        {
            "log_prob_t": (log_prob_t, 1),
            "advantage_t": (advantage_t, 1),
            "value_t": (value_t, 1),
            "target_t": (target_t, 1),
            "entropy_t": (entropy_t, 1),
        }
    )
    chex.assert_equal_shape(arrays)
    log_prob_t, advantage_t, value_t, target_t, entropy_t = arrays
    actor = policy_gradient_loss(log_prob_t, advantage_t)
    critic = jnp.mean(0.5 * jnp.square(jax.lax.stop_gradient(target_t) - value_t))
    entropy = entropy_loss(entropy_t)
    total = actor + critic_coef * critic + entropy_coef * entropy
    return ActorCriticLoss(total, actor, critic, entropy)


def off_policy_actor_loss(
    log_prob_t: jax.typing.ArrayLike,
    rho_t: jax.typing.ArrayLike,
    advantage_t: jax.typing.ArrayLike,
) -> jax.Array:
    """The importance-weighted actor loss: ``-mean_t rho_t A_t log pi(a_t | s_t)``.

    With actions drawn from a behaviour ``beta``, ``rho_t = pi(a_t|s_t) / beta(a_t|s_t)``
    (``jaxrl.targets.importance_sampling_ratios``) makes the score's expectation the on-policy
    gradient's (Zhao, ch. 10.4: ``theta += alpha rho_t delta_t grad ln pi``). ``rho`` and ``A``
    are constants here, so the gradient is ``-mean_t rho_t A_t grad log pi``, not the gradient
    of ``rho`` itself.

    Args:
        log_prob_t: ``[T]`` log-probabilities of the actions taken under the target policy.
        rho_t: ``[T]`` importance ratios (gradient stopped).
        advantage_t: ``[T]`` advantages or TD errors (gradient stopped).
    """
    arrays = _check(
        {"log_prob_t": (log_prob_t, 1), "rho_t": (rho_t, 1), "advantage_t": (advantage_t, 1)}
    )
    chex.assert_equal_shape(arrays)
    log_prob_t, rho_t, advantage_t = arrays
    return policy_gradient_loss(log_prob_t, rho_t * advantage_t)


def clipped_surrogate_loss(
    log_prob_t: jax.typing.ArrayLike,
    old_log_prob_t: jax.typing.ArrayLike,
    advantage_t: jax.typing.ArrayLike,
    *,
    epsilon: jax.typing.ArrayLike,
) -> jax.Array:
    """PPO's clipped surrogate, negated: ``-mean_t min(r_t A_t, clip(r_t, 1-eps, 1+eps) A_t)``.

    ``r_t = exp(log pi(a_t|s_t) - log pi_old(a_t|s_t))`` is the ratio to the policy that
    collected the data (Schulman et al. 2017, eq. 7). At ``r = 1`` its gradient is the policy
    gradient's; the clip removes the incentive to move ``r`` beyond ``1 +- eps`` in the
    direction the advantage favours.

    Args:
        log_prob_t: ``[T]`` log-probabilities under the policy being optimised.
        old_log_prob_t: ``[T]`` log-probabilities under the data's policy (gradient stopped).
        advantage_t: ``[T]`` advantages (gradient stopped).
        epsilon: ``[]`` the clip range (> 0; may be traced).
    """
    arrays = _check(
        {
            "log_prob_t": (log_prob_t, 1),
            "old_log_prob_t": (old_log_prob_t, 1),
            "advantage_t": (advantage_t, 1),
        }
    )
    chex.assert_equal_shape(arrays)
    log_prob_t, old_log_prob_t, advantage_t = arrays
    if not isinstance(epsilon, jax.core.Tracer) and not float(epsilon) > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    ratio = jnp.exp(log_prob_t - jax.lax.stop_gradient(old_log_prob_t))
    advantage_t = jax.lax.stop_gradient(advantage_t)
    clipped = jnp.clip(ratio, 1.0 - epsilon, 1.0 + epsilon)
    return -jnp.mean(jnp.minimum(ratio * advantage_t, clipped * advantage_t))


def deterministic_policy_gradient_loss(
    a_t: jax.typing.ArrayLike, dqda_t: jax.typing.ArrayLike
) -> jax.Array:
    """The deterministic policy gradient as a loss: ``mean_t 0.5 ||stop(a_t + dqda_t) - a_t||^2``.

    With ``a_t = mu_theta(s_t)`` the actor's actions and ``dqda_t = grad_a Q(s_t, a)`` at
    ``a = a_t`` (the critic's action gradient, gradient stopped: the critic is held fixed), the
    loss's gradient in ``theta`` is ``-mean_t dqda_t . d mu_theta(s_t) / d theta``, the gradient
    of ``-mean_t Q(s_t, mu_theta(s_t))`` with the critic fixed: descending it is the DPG ascent
    (Silver et al. 2014, "Deterministic Policy Gradient Algorithms", ICML, Theorem 1; Lillicrap et
    al. 2016, DDPG, https://arxiv.org/abs/1509.02971). Writing the loss through ``dqda`` keeps
    the critic's parameters out of the actor's gradient by construction.

    Args:
        a_t: ``[T, A]`` the actor's actions, differentiable in its parameters.
        dqda_t: ``[T, A]`` the critic's action gradients there (gradient stopped here).

    Returns:
        ``[]`` the loss.
    """
    a_t, dqda_t = _check({"a_t": (a_t, 2), "dqda_t": (dqda_t, 2)})
    chex.assert_equal_shape([a_t, dqda_t])
    target = jax.lax.stop_gradient(a_t + dqda_t)
    return jnp.mean(0.5 * jnp.sum(jnp.square(target - a_t), axis=-1))


def weighted_critic_loss(
    value_t: jax.typing.ArrayLike, target_t: jax.typing.ArrayLike, weight_t: jax.typing.ArrayLike
) -> jax.Array:
    """``mean_t w_t 0.5 (y_t - v_t)^2`` with the target ``y`` and the weight ``w`` held constant.

    Its gradient in the critic is ``-mean_t w_t (y_t - v_t) grad v_t``: the importance-weighted
    critic step of off-policy actor-critic (``w = rho``, Zhao, Algorithm 10.3), or PPO's plain
    one (``w = 1``).

    Args:
        value_t: ``[T]`` the critic's values, differentiable.
        target_t: ``[T]`` its targets (gradient stopped).
        weight_t: ``[T]`` the weights (gradient stopped).
    """
    value_t, target_t, weight_t = _check(
        {"value_t": (value_t, 1), "target_t": (target_t, 1), "weight_t": (weight_t, 1)}
    )
    chex.assert_equal_shape([value_t, target_t, weight_t])
    td_error = jax.lax.stop_gradient(target_t) - value_t
    return jnp.mean(jax.lax.stop_gradient(weight_t) * (0.5 * jnp.square(td_error)))


def soft_actor_loss(
    log_prob_t: jax.typing.ArrayLike, q_t: jax.typing.ArrayLike, alpha: jax.typing.ArrayLike
) -> jax.Array:
    """SAC's policy loss ``mean_t alpha log pi(a_t|s_t) - Q(s_t, a_t)``, ``a_t`` drawn from the
    policy by reparameterisation so that both terms carry the policy's gradient; the temperature
    ``alpha`` is held constant.

    Haarnoja et al. (2018), "Soft Actor-Critic Algorithms and Applications",
    https://arxiv.org/abs/1812.05905, eq. (7): minimising it is minimising the KL divergence of
    the policy to ``exp(Q / alpha)``.

    Args:
        log_prob_t: ``[T]`` log-densities of the sampled actions (differentiable).
        q_t: ``[T]`` the critic's values of the sampled actions (differentiable in the actions).
        alpha: ``[]`` the temperature (gradient stopped).
    """
    log_prob_t, q_t = _check({"log_prob_t": (log_prob_t, 1), "q_t": (q_t, 1)})
    chex.assert_equal_shape([log_prob_t, q_t])
    return jnp.mean(jax.lax.stop_gradient(alpha) * log_prob_t - q_t)


def temperature_loss(
    log_alpha: jax.typing.ArrayLike,
    log_prob_t: jax.typing.ArrayLike,
    target_entropy: jax.typing.ArrayLike,
) -> jax.Array:
    """SAC's temperature loss ``mean_t -alpha (log pi(a_t|s_t) + H_target)``, ``alpha =
    exp(log_alpha)``, the log-densities held constant.

    Haarnoja et al. (2018), https://arxiv.org/abs/1812.05905, eq. (18): its gradient in
    ``log_alpha`` is ``alpha (H(pi) - H_target)`` estimated from the samples, so descending it
    raises the temperature when the policy's entropy falls below ``H_target`` and lowers it above.

    Args:
        log_alpha: ``[]`` the log-temperature (differentiated).
        log_prob_t: ``[T]`` log-densities of actions drawn from the policy (gradient stopped).
        target_entropy: ``[]`` ``H_target`` (``-dim(A)`` in the paper).
    """
    (log_prob_t,) = _check({"log_prob_t": (log_prob_t, 1)})
    chex.assert_rank(jnp.asarray(log_alpha), 0)
    slack = jax.lax.stop_gradient(log_prob_t + target_entropy)
    return jnp.mean(-jnp.exp(log_alpha) * slack)
