"""Soft actor-critic (SAC) with a learned entropy temperature.

Haarnoja, Zhou, Abbeel and Levine (2018), "Soft Actor-Critic", https://arxiv.org/abs/1801.01290;
Haarnoja et al. (2018), "Soft Actor-Critic Algorithms and Applications",
https://arxiv.org/abs/1812.05905 (the learned temperature, twin critics).

On the off-policy scaffold (``jaxrl.agents.off_policy``: stepping, replay, warm-up, the critics'
Polyak move every step, evaluation), for any environment with a bounded box of actions. The
policy is a Gaussian squashed into the box (``networks.squashed_gaussian``, distrax), its mean
and log standard deviation from one MLP; two critics ``Q_k(s, a)`` are one stacked pytree.
Uniformly random actions until the buffer holds ``learning_starts`` transitions, then actions
drawn from the policy. Each update, on a minibatch:

1. the critics descend ``0.5 delta^2`` (``losses.squared_loss``) of ``delta =
   targets.td_learning(Q_k(s, a), r, gamma (1 - terminated), V)`` with the soft value
   ``V = targets.soft_value(min_k Q_T,k(s', a'), log pi(a'|s'), alpha)``, ``a' ~ pi(.|s')``;
2. the actor descends ``losses.soft_actor_loss``, ``alpha log pi(a|s) - min_k Q_k(s, a)`` at a
   reparameterised ``a ~ pi(.|s)`` (the updated critics held fixed);
3. the temperature ``alpha = exp(log_alpha)`` descends ``losses.temperature_loss`` toward the
   target entropy ``-dim(A)``.

Fields: ``SCHEMA`` (static and swept, each with its domain and purpose). The greedy readout
is the squashed mean; the sampled one draws from the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim, targets
from jaxrl.agents import off_policy
from jaxrl.run import DISCOUNT, POSITIVE, fields, real

MODULE = "jaxrl.agents.sac"
LOG_STD_RANGE = (-5.0, 2.0)  # the policy's log standard deviation is clipped to this
SCHEMA = off_policy.SCHEMA.extend(
    MODULE,
    hidden=fields.static(fields.WIDTHS, "hidden layer widths of the actor and the critics"),
    optimizer=fields.static(optim.BLOCK, "the optimizer of all three"),
    actor_lr=fields.swept(POSITIVE, "the actor's step size"),
    critic_lr=fields.swept(POSITIVE, "the critics' step size"),
    alpha_lr=fields.swept(POSITIVE, "the temperature's step size"),
    gamma=fields.swept(DISCOUNT, "the discount"),
    tau=fields.swept(real(0.0, 1.0, low_open=True), "critic targets' Polyak rate, every step"),
    init_alpha=fields.swept(POSITIVE, "the temperature at the start"),
)
Hparams = SCHEMA.hparams_type


class Params(NamedTuple):
    actor: Any
    critic: Any  # leaves [2, ...]: the twin critics
    log_alpha: jax.Array  # []


class GaussianActor(nn.Module):
    """``s -> (mean, log_std)`` of the pre-squash Gaussian, each ``[..., A]``."""

    hidden: Sequence[int]
    action_size: int

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        out = networks.MLP(self.hidden, 2 * self.action_size)(obs)
        mean, log_std = jnp.split(out, 2, axis=-1)
        return mean, jnp.clip(log_std, *LOG_STD_RANGE)


def critic_loss(critic, critic_params, target_critic, batch, next_draw, alpha, gamma):
    """Each critic's mean ``0.5 delta^2`` to the soft target, summed over the two critics;
    ``next_draw = (a', log pi(a'|s'))``, ``a' ~ pi(.|s')``."""
    next_action, next_log_prob = next_draw
    each = jax.vmap(critic.apply, in_axes=(0, None, None))
    q_next = jnp.min(each(target_critic, batch.next_obs, next_action), axis=0)  # [B]
    value = jax.vmap(targets.soft_value, in_axes=(0, 0, None))(q_next, next_log_prob, alpha)
    discount = gamma * (1.0 - batch.terminated)
    q = each(critic_params, batch.obs, batch.action)  # [2, B]
    errors = jax.vmap(jax.vmap(targets.td_learning), in_axes=(0, None, None, None))(
        q, batch.reward, discount, value
    )
    return jnp.sum(jnp.mean(losses.squared_loss(errors), axis=-1))


def make_experiment(config):
    """The runner's view of SAC (see ``jaxrl/configs/sac_pendulum.py``)."""
    env = off_policy.check_config(config, SCHEMA)
    low, high = off_policy.box_bounds(env, MODULE)
    space, size = env.action_space, env.action_space.size
    actor = GaussianActor(tuple(config.hidden), size)
    critic = networks.StateActionValue(config.hidden)
    example_obs = jnp.zeros(env.observation_space.shape, jnp.float32)
    each = jax.vmap(critic.apply, in_axes=(0, None, None))

    def pi_sample(actor_params, obs, key):
        """``(a, log pi(a|s))``: a reparameterised draw from the squashed Gaussian."""
        mean, log_std = actor.apply(actor_params, obs)
        dist = networks.squashed_gaussian(mean, log_std, low=low, high=high)
        with jax.numpy_rank_promotion("allow"):  # distrax broadcasts its [1, ...] draw itself
            return dist.sample_and_log_prob(seed=key)

    def pi_mean(actor_params, obs):  # the squashed mean: the greedy action
        mean, _ = actor.apply(actor_params, obs)
        fit = lambda x: jnp.broadcast_to(x, mean.shape)  # noqa: E731
        return fit((high + low) / 2) + fit((high - low) / 2) * jnp.tanh(mean)

    block, _ = optim.over_the_run(config.optimizer, off_policy.run_updates(config))

    def optimizers(hparams: Hparams):
        make = lambda lr: optim.make_optimizer(block, learning_rate=lr)  # noqa: E731
        return make(hparams.actor_lr), make(hparams.critic_lr), make(hparams.alpha_lr)

    def init(keys, hparams: Hparams):
        actor_params = actor.init(keys[0], example_obs)
        critic_params = jax.vmap(critic.init, in_axes=(0, None, None))(
            jax.random.split(keys[1], 2), example_obs, jnp.zeros((size,), jnp.float32)
        )
        params = Params(actor_params, critic_params, jnp.log(hparams.init_alpha))
        opts = optimizers(hparams)
        return params, tuple(o.init(p) for o, p in zip(opts, params, strict=True))

    def act(params: Params, obs, draws, explore, hparams: Hparams, step, ready):
        keys = draws.keys()
        sampled = jax.vmap(lambda k, o: pi_sample(params.actor, o, k)[0])(keys, obs)
        uniform = jax.vmap(space.sample)(keys)
        return jnp.where(ready, sampled, uniform), explore

    def update(params: Params, target: Params, opt_state, batch, key, hparams: Hparams, step):
        next_key, actor_key = jax.random.split(key)
        opts, alpha = optimizers(hparams), jnp.exp(params.log_alpha)
        next_draw = pi_sample(params.actor, batch.next_obs, next_key)
        q_loss, grads = jax.value_and_grad(critic_loss, argnums=1)(
            critic, params.critic, target.critic, batch, next_draw, alpha, hparams.gamma
        )
        updates, critic_state = opts[1].update(grads, opt_state[1], params.critic)
        critic_params = optax.apply_updates(params.critic, updates)

        def actor_objective(actor_params):
            action, log_prob = pi_sample(actor_params, batch.obs, actor_key)
            q = jnp.min(each(critic_params, batch.obs, action), axis=0)
            return losses.soft_actor_loss(log_prob, q, alpha), log_prob

        (pi_loss, log_prob), grads = jax.value_and_grad(actor_objective, has_aux=True)(params.actor)
        updates, actor_state = opts[0].update(grads, opt_state[0], params.actor)
        actor_params = optax.apply_updates(params.actor, updates)
        grad = jax.grad(losses.temperature_loss)(params.log_alpha, log_prob, -float(size))
        updates, alpha_state = opts[2].update(grad, opt_state[2], params.log_alpha)
        log_alpha = optax.apply_updates(params.log_alpha, updates)
        metrics = {"critic_loss": q_loss / 2, "actor_loss": pi_loss, "entropy": -jnp.mean(log_prob)}
        opt_state = (actor_state, critic_state, alpha_state)
        return Params(actor_params, critic_params, log_alpha), opt_state, metrics

    def policy(params: Params, hparams: Hparams, mode: str):
        if mode == "greedy":
            return lambda obs, key: pi_mean(params.actor, obs)
        return lambda obs, key: pi_sample(params.actor, obs, key)[0]

    def chunk_metrics(params: Params, obs, hparams: Hparams, step):
        q = each(params.critic, obs, pi_mean(params.actor, obs))  # NaN stops a diverged run
        return {"q_mean": jnp.mean(q), "alpha": jnp.exp(params.log_alpha)}

    algorithm = off_policy.Algorithm(
        init_keys=2,
        init=init,
        act=act,
        update=update,
        policy=policy,
        target_update=lambda hparams: (1, hparams.tau),
        update_metrics=("critic_loss", "actor_loss", "entropy"),
        chunk_metrics=chunk_metrics,
        chunk_metric_names=("q_mean", "alpha"),
    )
    return off_policy.make_experiment(config, env, algorithm, SCHEMA)
