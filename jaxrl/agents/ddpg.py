"""Deep deterministic policy gradient (DDPG), with TD3's three fixes as options.

Silver et al. (2014), "Deterministic Policy Gradient Algorithms", ICML; Lillicrap et al. (2016),
DDPG, https://arxiv.org/abs/1509.02971; Fujimoto, van Hoof and Meger (2018), TD3,
https://arxiv.org/abs/1802.09477. Zhao, ch. 10.5 (deterministic actor-critic).

On the off-policy scaffold (``jaxrl.agents.off_policy``: stepping, replay, warm-up, the targets'
Polyak move, evaluation), for any environment with a box of actions ``[low, high]``. The actor
is ``mu(s) = center + scale * tanh(MLP(s))``, inside the bounds by construction; the critic
``Q(s, a)`` is an MLP on ``[s, a]`` (two of them, one stacked pytree, with ``twin``). Then:

1. acting: uniformly random actions until the buffer holds ``learning_starts`` transitions, then
   ``clip(mu(s) + noise, low, high)``, Gaussian noise of standard deviation ``noise_scale *
   scale`` or Ornstein-Uhlenbeck noise ``x <- x - ou_theta x + noise_scale * scale * eps``
   (restarted at 0 when an episode ends);
2. each update: one critic step minimising ``0.5 delta^2`` (``losses.squared_loss``) of the TD
   error (``targets.td_learning``) to the target networks' value at the target action ``a' =
   clip(mu_T(s') + clip(eps', -c, c), low, high)``, ``eps' ~ N(0, target_noise * scale)``, ``c =
   target_noise_clip * scale`` (TD3's target policy smoothing; 0: DDPG's ``mu_T(s')``), with
   ``twin`` the minimum of the two target critics (``targets.ensemble_value``, TD3's clipped
   double Q); then every ``policy_delay`` training steps (TD3's delayed updates; 1: DDPG) one
   actor step on ``losses.deterministic_policy_gradient_loss`` with the first critic's action
   gradient at ``mu(s)`` (the critic held fixed), and the targets' Polyak move by ``tau``.

Fields: ``SCHEMA`` (static and swept, each with its domain and purpose).
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
from jaxrl.run import DISCOUNT, POSITIVE, fields, integer, real

NOISES = ("gaussian", "ou")
MODULE = "jaxrl.agents.ddpg"
SCHEMA = off_policy.SCHEMA.extend(
    MODULE,
    hidden=fields.static(fields.WIDTHS, "hidden layer widths of the actor and the critic"),
    noise=fields.static(fields.one_of(*NOISES), "exploration noise: independent or OU"),
    ou_theta=fields.static(real(0.0, 1.0), "the OU process's pull to 0 per step"),
    twin=fields.static(fields.BOOLEAN, "TD3's twin critics (the minimum bootstraps)"),
    optimizer=fields.static(optim.BLOCK, "the actor's and the critic's optimizer"),
    actor_lr=fields.swept(POSITIVE, "the actor's step size"),
    critic_lr=fields.swept(POSITIVE, "the critic's step size"),
    gamma=fields.swept(DISCOUNT, "the discount"),
    tau=fields.swept(real(0.0, 1.0, low_open=True), "target <- tau online + (1 - tau) target"),
    noise_scale=fields.swept(real(0.0), "exploration noise, in units of the action scale"),
    policy_delay=fields.swept(integer(1), "training steps per actor step (TD3: 2)"),
    target_noise=fields.swept(real(0.0), "target smoothing's std, in action scales (TD3: 0.2)"),
    target_noise_clip=fields.swept(real(0.0), "and its clip (TD3: 0.5)"),
)
Hparams = SCHEMA.hparams_type


class Params(NamedTuple):
    actor: Any
    critic: Any  # leaves [K, ...]: K = 2 with twin, else 1


def _fit(x, like: jax.Array) -> jax.Array:
    """``x`` (a per-action-dimension ``[A]``) broadcast to ``like``'s ``[..., A]``."""
    return jnp.broadcast_to(jnp.asarray(x, jnp.float32), like.shape)


def _clip(action: jax.Array, low, high) -> jax.Array:
    return jnp.clip(action, _fit(low, action), _fit(high, action))


class Actor(nn.Module):
    """``mu(s) = center + scale * tanh(MLP(s))``: a deterministic policy inside the box."""

    hidden: Sequence[int]
    scale: tuple[float, ...]
    center: tuple[float, ...] = ()

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        t = jnp.tanh(networks.MLP(self.hidden, len(self.scale))(obs))
        mu = _fit(self.scale, t) * t
        return mu + _fit(self.center, mu) if any(self.center) else mu


Critic = networks.StateActionValue  # Q(s, a), an MLP on [s, a]


def check_config(config):
    """Refuses a bad DDPG config in one line naming the field; returns its environment."""
    env = off_policy.check_config(config, SCHEMA)
    off_policy.box_bounds(env, MODULE)
    return env


def target_actions(actor, actor_target, next_obs, eps, hparams: Hparams, *, low, high):
    """``clip(mu_T(s') + clip(noise * eps, -c, c), low, high)``: the target policy's actions,
    smoothed by clipped Gaussian noise (TD3; ``target_noise = 0``: DDPG's ``mu_T(s')``).

    Args:
        next_obs: ``[B, D]``; ``eps``: ``[B, A]`` standard normal draws.
        hparams: ``target_noise`` and ``target_noise_clip``, in units of the scale.
        low, high: ``[A]`` the action bounds.
    """
    scale = _fit((high - low) / 2, eps)
    clip = hparams.target_noise_clip * scale
    noise = jnp.clip(hparams.target_noise * scale * eps, -clip, clip)
    return _clip(actor.apply(actor_target, next_obs) + noise, low, high)


def critic_loss(actor, critic, critic_params, target: Params, batch, eps, hparams, *, low, high):
    """Each critic's minibatch mean of ``0.5 delta^2``, summed over the critics, with
    ``delta = r + gamma (1 - terminated) min_k Q_T,k(s', a') - Q(s, a)`` from
    ``targets.td_learning`` and ``a'`` from :func:`target_actions`."""
    next_action = target_actions(
        actor, target.actor, batch.next_obs, eps, hparams, low=low, high=high
    )
    each = jax.vmap(critic.apply, in_axes=(0, None, None))
    q_next = each(target.critic, batch.next_obs, next_action)  # [K, B]
    value = jax.vmap(lambda q: targets.ensemble_value(q[:, None], kind="min"))(q_next.T)[:, 0]
    discount = hparams.gamma * (1.0 - batch.terminated)
    q = each(critic_params, batch.obs, batch.action)  # [K, B]
    errors = jax.vmap(jax.vmap(targets.td_learning), in_axes=(0, None, None, None))(
        q, batch.reward, discount, value
    )
    return jnp.sum(jnp.mean(losses.squared_loss(errors), axis=-1))


def actor_loss(actor, critic, actor_params, critic_params, obs):
    """The DPG loss (``losses.deterministic_policy_gradient_loss``) with the first critic's
    action gradient at ``mu(s)``: its gradient is that of ``-mean Q_1(s, mu(s))``, the critic
    held fixed."""
    action = actor.apply(actor_params, obs)
    first = jax.tree.map(lambda leaf: leaf[0], critic_params)
    dqda = jax.vmap(jax.grad(critic.apply, argnums=2), in_axes=(None, 0, 0))(first, obs, action)
    return losses.deterministic_policy_gradient_loss(action, dqda)


def update(actor, critic, opts, params, target, opt_state, batch, key, hparams, step, *, low, high):
    """One update: a critic step on :func:`critic_loss` (target smoothing noise from ``key``),
    then, every ``policy_delay`` training steps, an actor step on :func:`actor_loss` with the
    new critics (the scaffold moves the targets). Returns ``(params, opt_state, metrics)``."""
    actor_opt, critic_opt = opts
    actor_state, critic_state = opt_state
    eps = jax.random.normal(key, batch.action.shape)
    loss, grads = jax.value_and_grad(critic_loss, argnums=2)(
        actor, critic, params.critic, target, batch, eps, hparams, low=low, high=high
    )
    updates, critic_state = critic_opt.update(grads, critic_state, params.critic)
    new_critic = optax.apply_updates(params.critic, updates)
    grads = jax.grad(actor_loss, argnums=2)(actor, critic, params.actor, new_critic, batch.obs)
    updates, new_actor_state = actor_opt.update(grads, actor_state, params.actor)
    new_actor = optax.apply_updates(params.actor, updates)
    delayed = (step + 1) % hparams.policy_delay == 0
    pick = lambda new, old: jax.tree.map(lambda n, o: jnp.where(delayed, n, o), new, old)  # noqa: E731
    params = Params(pick(new_actor, params.actor), new_critic)
    opt_state = (pick(new_actor_state, actor_state), critic_state)
    members = jax.tree.leaves(params.critic)[0].shape[0]
    return params, opt_state, {"critic_loss": loss / members}


def make_experiment(config):
    """The runner's view of DDPG / TD3 (see ``jaxrl/configs/ddpg_pendulum.py``)."""
    env = check_config(config)
    low, high = off_policy.box_bounds(env, MODULE)
    scale, center = tuple(((high - low) / 2).tolist()), tuple(((high + low) / 2).tolist())
    members, size = (2 if config.twin else 1), len(scale)
    actor, critic = Actor(tuple(config.hidden), scale, center), Critic(tuple(config.hidden))
    example_obs = jnp.zeros(env.observation_space.shape, jnp.float32)
    example_action = jnp.zeros((size,), jnp.float32)
    sigma_unit = jnp.asarray(scale, jnp.float32)

    block, _ = optim.over_the_run(config.optimizer, off_policy.run_updates(config))

    def optimizers(hparams: Hparams):
        make = lambda lr: optim.make_optimizer(block, learning_rate=lr)  # noqa: E731
        return make(hparams.actor_lr), make(hparams.critic_lr)

    def init(keys, hparams: Hparams):
        actor_params = actor.init(keys[0], example_obs)
        critic_params = jax.vmap(critic.init, in_axes=(0, None, None))(
            jax.random.split(keys[1], members), example_obs, example_action
        )
        actor_opt, critic_opt = optimizers(hparams)
        opt_state = (actor_opt.init(actor_params), critic_opt.init(critic_params))
        return Params(actor_params, critic_params), opt_state

    def act(params: Params, obs, draws, noise, hparams: Hparams, step, ready):
        keys = draws.keys()
        eps = jax.vmap(lambda k: jax.random.normal(k, (size,)))(keys)
        uniform = jax.vmap(lambda k: jax.random.uniform(k, (size,), minval=low, maxval=high))(keys)
        sigma = hparams.noise_scale * _fit(sigma_unit, eps)
        noise = (
            noise - config.ou_theta * noise + sigma * eps if config.noise == "ou" else sigma * eps
        )
        greedy = actor.apply(params.actor, obs)
        return jnp.where(ready, _clip(greedy + noise, low, high), uniform), noise

    def learn(params: Params, target: Params, opt_state, batch, key, hparams: Hparams, step):
        args = (params, target, opt_state, batch, key, hparams, step)
        return update(actor, critic, optimizers(hparams), *args, low=low, high=high)

    def policy(params: Params, hparams: Hparams, mode: str):
        if mode == "greedy":
            return lambda obs, key: actor.apply(params.actor, obs)

        def sample(obs, key):  # the exploration noise, Gaussian
            mu = actor.apply(params.actor, obs)
            noise = hparams.noise_scale * _fit(sigma_unit, mu) * jax.random.normal(key, mu.shape)
            return _clip(mu + noise, low, high)

        return sample

    def chunk_metrics(params: Params, obs, hparams: Hparams, step):
        q = jax.vmap(critic.apply, in_axes=(0, None, None))(
            params.critic, obs, actor.apply(params.actor, obs)
        )
        # Always defined: NaN here (diverged parameters) stops the run with the seed named.
        return {"q_mean": jnp.mean(q)}

    algorithm = off_policy.Algorithm(
        init_keys=2,
        init=init,
        act=act,
        update=learn,
        policy=policy,
        target_update=lambda hparams: (hparams.policy_delay, hparams.tau),
        update_metrics=("critic_loss",),
        chunk_metrics=chunk_metrics,
        chunk_metric_names=("q_mean",),
        explore_init=lambda n: jnp.zeros((n, size), jnp.float32),
    )
    return off_policy.make_experiment(config, env, algorithm, SCHEMA)
