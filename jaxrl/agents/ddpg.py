"""Deep deterministic policy gradient (DDPG), with TD3's three fixes as options.

Silver et al. (2014), "Deterministic Policy Gradient Algorithms", ICML; Lillicrap et al. (2016),
DDPG, https://arxiv.org/abs/1509.02971; Fujimoto, van Hoof and Meger (2018), TD3,
https://arxiv.org/abs/1802.09477. Zhao, ch. 10.5 (deterministic actor-critic).

The actor is ``mu(s) = bound * tanh(MLP(s))``, inside the action bounds by construction; the
critic ``Q(s, a)`` is an MLP on ``[s, a]`` (two of them, one stacked pytree, with ``twin``). Each
training step of one seed:

1. acts in its ``N`` environments: uniformly random actions until the buffer holds
   ``learning_starts`` transitions, then ``clip(mu(s) + noise, -bound, bound)`` with Gaussian
   noise of standard deviation ``noise_scale * bound``, or Ornstein-Uhlenbeck noise
   ``x <- x - ou_theta x + noise_scale * bound * eps`` (reset to 0 when an episode ends);
2. stores ``(s, a, r, terminated, s')`` in the replay buffer (``jaxrl.replay``), ``s'`` the
   state reached (``info["final_observation"]``): Pendulum's 200-step truncation bootstraps;
3. once the buffer holds ``learning_starts``, takes one critic step on a uniform minibatch
   minimising ``0.5 delta^2`` (``losses.squared_loss``) of the TD error
   (``targets.td_learning``) to the target networks' value at the target action
   ``a' = clip(mu_T(s') + clip(eps', -c, c), -bound, bound)``, ``eps' ~ N(0, target_noise *
   bound)``, ``c = target_noise_clip * bound`` (TD3's target policy smoothing; 0: DDPG's
   ``mu_T(s')``), and with ``twin`` the minimum of the two target critics
   (``targets.ensemble_value``, TD3's clipped double Q);
4. every ``policy_delay`` training steps (TD3's delayed updates; 1: DDPG) one actor step on
   ``losses.deterministic_policy_gradient_loss`` with the first critic's action gradient at
   ``mu(s)`` (the critic held fixed), then Polyak averaging of both targets,
   ``w_T <- tau w + (1 - tau) w_T``.

Swept (``Hparams``): the two learning rates, ``gamma``, ``tau``, ``noise_scale``,
``policy_delay`` (int), ``target_noise`` and ``target_noise_clip``; the networks, buffer, batch,
noise process and ``twin`` are static config. The metric is the deterministic policy's mean
return over ``eval_episodes`` fresh episodes (``jaxrl.envs.evaluation``) after every chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim, replay, targets
from jaxrl.agents import checks
from jaxrl.envs import evaluation, pendulum, rng, wrappers
from jaxrl.run import POSITIVE, Experiment, integer, real
from jaxrl.tabular import common

ENVIRONMENTS = ("pendulum",)
NOISES = ("gaussian", "ou")
MODULE = "jaxrl.agents.ddpg"

# Counter streams of a seed's raw key (jaxrl.envs.rng): one per use within a step.
ACT_STREAM, ENV_STREAM, SAMPLE_STREAM, EVAL_STREAM, TARGET_STREAM = 0, 1, 2, 3, 4

DOMAINS = {
    "actor_lr": POSITIVE,
    "critic_lr": POSITIVE,
    "gamma": real(0.0, 1.0, high_open=True),
    "tau": real(0.0, 1.0, low_open=True),
    "noise_scale": real(0.0),
    "policy_delay": integer(1),
    "target_noise": real(0.0),
    "target_noise_clip": real(0.0),
}


class Hparams(NamedTuple):
    actor_lr: jax.Array
    critic_lr: jax.Array
    gamma: jax.Array
    tau: jax.Array  # target <- tau online + (1 - tau) target
    noise_scale: jax.Array  # exploration noise, in units of the action bound
    policy_delay: jax.Array  # int32: training steps per actor step (TD3: 2)
    target_noise: jax.Array  # target policy smoothing's std, in units of the bound (TD3: 0.2)
    target_noise_clip: jax.Array  # and its clip (TD3: 0.5)


class Transition(NamedTuple):
    obs: jax.Array  # [D]
    action: jax.Array  # [A]
    reward: jax.Array  # []
    terminated: jax.Array  # [] float32
    next_obs: jax.Array  # [D] the state reached (before any auto-reset)


class Networks(NamedTuple):
    actor: Any
    critic: Any  # leaves [K, ...]: K = 2 with twin, else 1
    actor_target: Any
    critic_target: Any


class Carry(NamedTuple):
    nets: Networks
    opt_state: Any  # (actor optimizer state, critic optimizer state)
    buffer: replay.ReplayState
    obs: jax.Array  # [N, D]
    env_state: Any
    noise: jax.Array  # [N, A] the Ornstein-Uhlenbeck state (0 for Gaussian noise)
    step: jax.Array  # [] int32 training steps taken
    key_data: jax.Array  # [2] uint32


class Actor(nn.Module):
    """``mu(s) = bound * tanh(MLP(s))``: a deterministic policy inside ``[-bound, bound]``."""

    hidden: Sequence[int]
    action_size: int
    bound: float

    @nn.compact
    def __call__(self, obs: jax.Array) -> jax.Array:
        return self.bound * jnp.tanh(networks.MLP(self.hidden, self.action_size)(obs))


class Critic(nn.Module):
    """``Q(s, a)``: an MLP on the concatenated observation and action, one output."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        x = jnp.concatenate([obs, action], axis=-1)
        return networks.MLP(self.hidden, 1)(x)[..., 0]


FIELDS = {
    "environment",
    "num_envs",
    "hidden",
    "buffer_capacity",
    "batch_size",
    "learning_starts",
    "noise",
    "ou_theta",
    "twin",
    "max_episode_steps",
    "eval_episodes",
    "optimizer",
}


def check_config(config) -> None:
    """Refuses a bad DDPG config in one line naming the field, before anything compiles."""
    if config.get("environment") not in ENVIRONMENTS:
        raise ValueError(
            f"config.environment must be one of {ENVIRONMENTS}, got {config.get('environment')!r}"
        )
    common.check_fields(config, MODULE, FIELDS)
    for name in (
        "num_envs",
        "buffer_capacity",
        "batch_size",
        "learning_starts",
        "max_episode_steps",
        "eval_episodes",
    ):
        checks.positive_int(config, name)
    checks.hidden_widths(config)
    if config.noise not in NOISES:
        raise ValueError(f"config.noise must be one of {NOISES}, got {config.noise!r}")
    theta = config.ou_theta
    if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0 <= theta <= 1:
        raise ValueError(f"config.ou_theta must be a number in [0, 1], got {theta!r}")
    if not isinstance(config.twin, bool):
        raise ValueError(f"config.twin must be True or False, got {config.twin!r}")
    if config.learning_starts > config.buffer_capacity:
        raise ValueError(
            f"config.learning_starts = {config.learning_starts} exceeds "
            f"config.buffer_capacity = {config.buffer_capacity}: learning would never start"
        )
    optim.check_config(config.optimizer)


def polyak(online, target, tau):
    """``tau * online + (1 - tau) * target``, leaf by leaf (the target networks' update)."""
    return jax.tree.map(lambda w, w_t: tau * w + (1.0 - tau) * w_t, online, target)


def target_actions(actor, actor_target, next_obs, eps, hparams: Hparams, *, bound: float):
    """``clip(mu_T(s') + clip(noise * eps, -c, c), -bound, bound)``: the target policy's actions,
    smoothed by clipped Gaussian noise (TD3; ``target_noise = 0``: DDPG's ``mu_T(s')``).

    Args:
        actor: the actor module; ``actor_target`` its target parameters.
        next_obs: ``[B, D]``; ``eps``: ``[B, A]`` standard normal draws.
        hparams: ``target_noise`` and ``target_noise_clip``, in units of ``bound``.
    """
    clip = hparams.target_noise_clip * bound
    noise = jnp.clip(hparams.target_noise * bound * eps, -clip, clip)
    return jnp.clip(actor.apply(actor_target, next_obs) + noise, -bound, bound)


def critic_loss(
    actor, critic, critic_params, actor_target, critic_target, batch, eps, hparams, *, bound
):
    """Each critic's minibatch mean of ``0.5 delta^2``, summed over the critics.

    ``delta = r + gamma (1 - terminated) min_k Q_T,k(s', a') - Q(s, a)`` from
    ``targets.td_learning`` (the target under stop-gradient), with ``a'`` from
    :func:`target_actions` and the minimum over the target critics from
    ``targets.ensemble_value`` (TD3's clipped double Q; with one critic, its value).

    Args:
        actor, critic: the modules.
        critic_params: the online critics, leaves ``[K, ...]`` (differentiated).
        actor_target, critic_target: the target networks.
        batch: a :class:`Transition` with leaves ``[B, ...]``.
        eps: ``[B, A]`` standard normal draws for the target smoothing.
    """
    next_action = target_actions(actor, actor_target, batch.next_obs, eps, hparams, bound=bound)
    each = jax.vmap(critic.apply, in_axes=(0, None, None))
    q_next = each(critic_target, batch.next_obs, next_action)  # [K, B]
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


def update(
    actor, critic, optimizers, nets, opt_state, batch, eps, hparams, *, bound, ready, delayed
):
    """One training step's learning: a critic step, then an actor step and the Polyak move.

    The critic step descends :func:`critic_loss`; the actor step descends :func:`actor_loss`
    on the updated critics; then both targets move, ``w_T <- tau w + (1 - tau) w_T``. The
    critic's step is kept only where ``ready`` (the buffer holds ``learning_starts``), the
    actor's step and the targets' move only where ``delayed`` (every ``policy_delay`` steps).

    Args:
        actor, critic: the modules; ``optimizers``: ``(actor's, critic's)`` optax transforms.
        nets, opt_state: the :class:`Networks` and ``(actor's, critic's)`` optimizer states.
        batch: a :class:`Transition` with leaves ``[B, ...]``; ``eps``: ``[B, A]`` normal draws
            for the target smoothing.
        ready, delayed: ``[]`` bools (may be traced).

    Returns:
        ``(nets, opt_state, critic loss)``.
    """
    actor_opt, critic_opt = optimizers
    actor_state, critic_state = opt_state
    loss, grads = jax.value_and_grad(critic_loss, argnums=2)(
        actor,
        critic,
        nets.critic,
        nets.actor_target,
        nets.critic_target,
        batch,
        eps,
        hparams,
        bound=bound,
    )
    updates, new_critic_state = critic_opt.update(grads, critic_state, nets.critic)
    new_critic = optax.apply_updates(nets.critic, updates)
    grads = jax.grad(actor_loss, argnums=2)(actor, critic, nets.actor, new_critic, batch.obs)
    updates, new_actor_state = actor_opt.update(grads, actor_state, nets.actor)
    new_actor = optax.apply_updates(nets.actor, updates)
    pick = lambda flag, new, old: jax.tree.map(  # noqa: E731
        lambda n, o: jnp.where(flag, n, o), new, old
    )
    critic_params = pick(ready, new_critic, nets.critic)
    actor_params = pick(delayed, new_actor, nets.actor)
    nets = Networks(
        actor=actor_params,
        critic=critic_params,
        actor_target=pick(
            delayed, polyak(actor_params, nets.actor_target, hparams.tau), nets.actor_target
        ),
        critic_target=pick(
            delayed, polyak(critic_params, nets.critic_target, hparams.tau), nets.critic_target
        ),
    )
    opt_state = (
        pick(delayed, new_actor_state, actor_state),
        pick(ready, new_critic_state, critic_state),
    )
    return nets, opt_state, loss


def make_experiment(config) -> Experiment:
    """The runner's view of DDPG / TD3 (see ``jaxrl/configs/ddpg_pendulum.py``)."""
    check_config(config)
    env_params = pendulum.make_params(max_steps=config.max_episode_steps, auto_reset=True)
    reset, step_env = wrappers.episode_statistics(pendulum.reset, pendulum.step)
    bound, size = pendulum.MAX_TORQUE, pendulum.ACTION_SIZE
    num_envs, batch_size, chunk_steps = config.num_envs, config.batch_size, int(config.chunk_steps)
    members = 2 if config.twin else 1
    hidden = tuple(config.hidden)
    actor, critic = Actor(hidden, size, bound), Critic(hidden)
    example_obs = jnp.zeros((pendulum.OBSERVATION_SIZE,), jnp.float32)
    example_action = jnp.zeros((size,), jnp.float32)

    def optimizers(hparams: Hparams):
        make = lambda lr: optim.make_optimizer(config.optimizer, learning_rate=lr)  # noqa: E731
        return make(hparams.actor_lr), make(hparams.critic_lr)

    def q_all(critic_params, obs, action):  # [K, ...] every critic's values
        return jax.vmap(critic.apply, in_axes=(0, None, None))(critic_params, obs, action)

    def init(key, hparams: Hparams) -> Carry:
        actor_key, critic_key, env_key, key = jax.random.split(key, 4)
        actor_params = actor.init(actor_key, example_obs)
        critic_params = jax.vmap(critic.init, in_axes=(0, None, None))(
            jax.random.split(critic_key, members), example_obs, example_action
        )
        actor_opt, critic_opt = optimizers(hparams)
        obs, env_state = jax.vmap(reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), env_params
        )
        item = Transition(example_obs, example_action, jnp.float32(0), jnp.float32(0), example_obs)
        return Carry(
            nets=Networks(actor_params, critic_params, actor_params, critic_params),
            opt_state=(actor_opt.init(actor_params), critic_opt.init(critic_params)),
            buffer=replay.init(config.buffer_capacity, item),
            obs=obs,
            env_state=env_state,
            noise=jnp.zeros((num_envs, size), jnp.float32),
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
        )

    def learn(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        """A critic step, and every ``policy_delay`` steps an actor step and the Polyak move;
        all masked until the buffer holds ``learning_starts`` transitions."""
        batch = replay.sample(
            carry.buffer, rng.counter_key(carry.key_data, carry.step, SAMPLE_STREAM), batch_size
        )
        target_key = rng.counter_key(carry.key_data, carry.step, TARGET_STREAM)
        eps = jax.random.normal(target_key, batch.action.shape)
        ready = carry.buffer.size >= config.learning_starts
        delayed = jnp.logical_and(ready, (carry.step + 1) % hparams.policy_delay == 0)
        nets, opt_state, loss = update(
            actor,
            critic,
            optimizers(hparams),
            carry.nets,
            carry.opt_state,
            batch,
            eps,
            hparams,
            bound=bound,
            ready=ready,
            delayed=delayed,
        )
        carry = carry._replace(nets=nets, opt_state=opt_state)
        return carry, jnp.where(ready, loss / members, jnp.nan)

    def train_step(carry: Carry, hparams: Hparams):
        index = carry.step * num_envs + jnp.arange(num_envs)
        act_keys = jax.vmap(lambda i: rng.counter_key(carry.key_data, i, ACT_STREAM))(index)
        eps = jax.vmap(lambda k: jax.random.normal(k, (size,)))(act_keys)
        uniform = jax.vmap(lambda k: jax.random.uniform(k, (size,), minval=-bound, maxval=bound))(
            act_keys
        )
        sigma = hparams.noise_scale * bound
        if config.noise == "ou":
            noise = carry.noise - config.ou_theta * carry.noise + sigma * eps
        else:
            noise = sigma * eps
        greedy = actor.apply(carry.nets.actor, carry.obs)
        warm = carry.buffer.size >= config.learning_starts
        action = jnp.where(warm, jnp.clip(greedy + noise, -bound, bound), uniform)
        env_keys = jax.vmap(lambda i: rng.counter_key(carry.key_data, i, ENV_STREAM))(index)
        obs, env_state, reward, terminated, truncated, info = jax.vmap(
            step_env, in_axes=(0, 0, 0, None)
        )(env_keys, carry.env_state, action, env_params)
        done = jnp.logical_or(terminated, truncated)
        transitions = Transition(
            carry.obs, action, reward, terminated.astype(jnp.float32), info["final_observation"]
        )
        carry = carry._replace(buffer=replay.add_batch(carry.buffer, transitions))
        carry, loss = learn(carry, hparams)
        finished = jnp.sum(jnp.where(done, env_state.returned_episode_return, 0.0))
        carry = carry._replace(
            obs=obs,
            env_state=env_state,
            noise=jnp.where(done[:, None], 0.0, noise),
            step=carry.step + 1,
        )
        return carry, (loss, finished, jnp.sum(done))

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, (loss, finished, ended) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        learned, count = jnp.sum(~jnp.isnan(loss)), jnp.sum(ended)
        deterministic = lambda obs, _: actor.apply(carry.nets.actor, obs)  # noqa: E731
        eval_key = rng.counter_key(carry.key_data, carry.step, EVAL_STREAM)
        metrics = {
            "eval_return": evaluation.evaluate(
                pendulum.reset,
                pendulum.step,
                pendulum.make_params(max_steps=config.max_episode_steps),
                deterministic,
                eval_key,
                episodes=config.eval_episodes,
                max_steps=config.max_episode_steps,
            ),
            "episode_return": jnp.where(
                count > 0, jnp.sum(finished) / jnp.maximum(count, 1), jnp.nan
            ),
            "critic_loss": jnp.where(learned > 0, jnp.nansum(loss) / learned, jnp.nan),
            # Always defined: NaN here (diverged parameters) stops the run with the seed named.
            "q_mean": jnp.mean(
                q_all(carry.nets.critic, carry.obs, actor.apply(carry.nets.actor, carry.obs))
            ),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=DOMAINS,
        metrics=("eval_return", "episode_return", "critic_loss", "q_mean"),
        main_metric="eval_return",
        env_steps_per_step=num_envs,
        nan_metrics=("episode_return", "critic_loss"),
    )
