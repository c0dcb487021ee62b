"""The on-policy scaffold: the loop every policy-gradient agent shares (REINFORCE, QAC, A2C,
off-policy actor-critic, PPO).

An algorithm file owns its targets and its loss (and its critic's kind) and hands them over as
an :class:`Algorithm`; :func:`make_agent` and :func:`make_experiment` own the rest. The policy
``pi_theta(a|s)`` is a ``distrax.Categorical`` over the actor's logits on discrete actions, and
on box actions (REINFORCE, A2C and PPO) a diagonal Gaussian with a learned log-std, a vector or
a head of the actor (``log_std``), its draws clipped to the box in the environment (see
:class:`Networks`); actor and critic are tables ``theta[s, a]`` on a discrete observation space
(the tabular softmax policy of Zhao, ch. 9) or MLPs on a box (an image flattened). Options:
running observation normalisation and reward scaling (``jaxrl.running``: the statistics are part
of the carry, so they vmap with the seeds and are checkpointed, and the trained policy read out
of a run normalises with them). Each training step of one seed:

1. **collects** a rollout of ``rollout_length`` steps in each of its ``num_envs`` environments
   (any registered environment with discrete actions, restarted inside ``step``), acting with the
   policy or the algorithm's behaviour policy; counter-based keys, one per environment and step;
2. **prepares** each step's actor weight ``A_t`` and critic target ``y_t``
   (``algorithm.prepare``, with ``jaxrl.targets``) from the parameters before the update;
   ``discount_t = gamma (1 - terminated)``, and an episode cut by a time limit bootstraps from the
   state it reached (``info["final_observation"]``), as does the end of the rollout. With
   ``discount_weighting``, ``A_t`` is multiplied by ``gamma^k``, ``k`` the step's index in its
   episode: the discounted policy gradient theorem's weight, which makes the REINFORCE estimate
   unbiased for ``J(theta) = sum_s d0(s) v_pi(s)`` (Sutton and Barto, sec. 13.3);
3. **updates** actor and critic, each with its own optax optimizer (``actor_lr`` and
   ``critic_lr``: the book's ``alpha_theta`` and ``alpha_w``), over ``epochs`` passes of
   ``num_minibatches`` shuffled minibatches of ``algorithm.loss`` (advantages standardised per
   minibatch with ``normalize_advantages``).

After every chunk: the mean return of the episodes that ended in it, the sampled policy's mean
return over ``eval_episodes`` fresh episodes, the critic's mean value of the current states, the
losses, and on a finite MDP (the environment's ``Finite`` hook) the softmax policy's exact values
against v* (``jaxrl.exact``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import distrax
import jax
import jax.numpy as jnp
import optax

from jaxrl import dp, envs, exact, losses, networks, optim, running, targets
from jaxrl.envs import evaluation, rng, spaces
from jaxrl.run import DISCOUNT, POSITIVE, Experiment, fields, real

# Counter streams of a seed's raw key: one per use within a training step.
ACT_STREAM, ENV_STREAM, SHUFFLE_STREAM, EVAL_STREAM = 0, 1, 2, 3
# The scaffold's fields and the swept values every actor-critic algorithm reads (REINFORCE, QAC
# and off-policy AC read exactly these; an algorithm extends the schema with its own).
SCHEMA = envs.SCHEMA.extend(
    "jaxrl.agents.on_policy",
    rollout_length=fields.static(fields.POSITIVE_INT, "steps per environment per rollout"),
    epochs=fields.static(fields.POSITIVE_INT, "passes over each rollout"),
    num_minibatches=fields.static(fields.POSITIVE_INT, "minibatches per pass"),
    normalize_advantages=fields.static(fields.BOOLEAN, "per-minibatch advantage normalisation"),
    discount_weighting=fields.static(fields.BOOLEAN, "weight step t's actor term by gamma^t"),
    normalize_observations=fields.static(fields.BOOLEAN, "running mean-variance normalisation"),
    scale_rewards=fields.static(fields.BOOLEAN, "rewards / running std of the discounted return"),
    hidden=fields.static(fields.WIDTHS, "hidden layer widths (continuous observations)"),
    activation=fields.static(fields.one_of(*networks.ACTIVATIONS), "the hidden activation"),
    log_std=fields.static(fields.one_of(*networks.LOG_STDS), "box actions: the Gaussian's log-std"),
    init_log_std=fields.static(real(*networks.LOG_STD_RANGE), "box actions: its initial log-std"),
    optimizer=fields.static(optim.BLOCK, "the actor's and the critic's optimizer"),
    actor_lr=fields.swept(POSITIVE, "alpha_theta, the actor's step size"),
    critic_lr=fields.swept(POSITIVE, "alpha_w, the critic's step size"),
    gamma=fields.swept(DISCOUNT, "the discount"),
    entropy_coef=fields.swept(real(0.0), "the entropy bonus's weight"),
)
Hparams = SCHEMA.hparams_type


class Params(NamedTuple):
    actor: Any  # the policy's logits: a table theta[s, a] or an MLP
    critic: Any  # v(s) (one output) or q(s, .) (one per action)


class Networks(NamedTuple):
    """The actor and critic modules, and how to read them.

    On a discrete action space the policy is ``distrax.Categorical`` over the actor's logits; on
    a box ``[low, high]`` it is a diagonal Gaussian (``networks.GaussianActor``,
    ``networks.diagonal_gaussian``) whose draws are unbounded: the rollout keeps the draw (its
    log-probability is the ratio's), and the environment gets it clipped to the box
    (:meth:`env_action`)."""

    actor: Any
    critic: Any
    box: spaces.Box | None = None  # the action space, when it is a box

    def policy(self, actor_params, obs) -> distrax.Distribution:
        if self.box is None:
            return distrax.Categorical(logits=self.actor.apply(actor_params, obs))
        return networks.diagonal_gaussian(*self.actor.apply(actor_params, obs))

    def env_action(self, action) -> jax.Array:
        """What the environment is given: a box action clipped to its bounds."""
        if self.box is None:
            return action.astype(jnp.int32)
        low, high = (jnp.broadcast_to(b, action.shape) for b in self.box.bounds())
        return jnp.clip(action, low, high)

    def greedy(self, actor_params, obs) -> jax.Array:
        """The most probable action (a Gaussian's mean), as the environment gets it."""
        return self.env_action(self.policy(actor_params, obs).mode())

    def critic_values(self, params: Params, obs) -> jax.Array:  # [..., 1] or [..., A]
        return self.critic.apply(params.critic, obs)

    def v(self, params: Params, obs) -> jax.Array:  # v(s) of a state-value critic
        return self.critic.apply(params.critic, obs)[..., 0]


class Rollout(NamedTuple):
    """A rollout, time-major: leaves ``[L, N, ...]`` for ``L`` steps of ``N`` environments."""

    obs: jax.Array  # observation acted on (normalised, with normalize_observations)
    action: jax.Array  # int32, or a box's [..., d] float32 Gaussian draw (before clipping)
    reward: jax.Array
    terminated: jax.Array  # float32: 1 when the state reached is terminal (nothing to bootstrap)
    done: jax.Array  # float32: 1 when the step ended its episode (terminated or cut)
    next_obs: jax.Array  # observation of the state reached (before any restart)
    behaviour_probs: jax.Array  # [..., A] the acting policy's probabilities at obs ([..., 0]: box)
    behaviour_log_prob: jax.Array  # the acting policy's log-probability of the action
    time: jax.Array  # int32: the step's index within its episode
    episode_return: jax.Array  # undiscounted return of the episode the step ended (else 0)


class Batch(NamedTuple):
    """What the loss reads, flat: leaves ``[B, ...]``."""

    obs: jax.Array
    action: jax.Array
    behaviour_probs: jax.Array  # [B, A] (off-policy's beta; [B, 0] for box actions)
    behaviour_log_prob: jax.Array  # [B] log pi_old(a|s) (ppo's old policy)
    advantage: jax.Array  # the actor's weight A_t (gradient stopped in the losses)
    target: jax.Array  # the critic's target y_t


class Algorithm(NamedTuple):
    """What an on-policy algorithm gives the scaffold (every function pure).

    Attributes:
        prepare: ``(nets, params, rollout, hparams) -> (advantage, target)``, each ``[L, N]``.
        loss: ``(nets, params, batch, hparams) -> losses.ActorCriticLoss`` of a minibatch.
        critic_outputs: ``"state"`` (a critic ``v(s)``) or ``"action"`` (``q(s, a)``).
        baseline: whether the algorithm reads its critic (REINFORCE may go without).
        behaviour: optional ``(nets, params, obs) -> distrax.Categorical`` acting in the
            rollouts (``None``: the policy itself).
    """

    prepare: Callable
    loss: Callable
    critic_outputs: str = "state"
    baseline: bool = True
    behaviour: Callable | None = None


class Normalizer(NamedTuple):
    """The running statistics a seed carries (``()`` for an option that is off)."""

    obs: Any  # running.Moments of the observations
    reward: Any  # running.RewardScale of the rewards


class Agent(NamedTuple):
    """The agent's pure functions for one config (what :func:`make_experiment` composes; tests
    and benchmarks call them directly)."""

    env: envs.Environment
    nets: Networks
    init_params: Callable  # key -> Params
    init_normalizer: Callable  # () -> Normalizer
    observe: Callable  # (Normalizer, obs) -> what the networks see (normalised, or obs itself)
    # (Params, obs, env_state, time, Normalizer, key_data, step, hparams)
    #     -> (obs, env_state, time, Normalizer, Rollout)
    collect: Callable
    prepare: Callable  # (Params, Rollout, hparams) -> Batch
    loss: Callable  # (Params, Batch, hparams) -> losses.ActorCriticLoss
    optimizers: Callable  # hparams -> (actor optimizer, critic optimizer)
    update: Callable  # (Params, opt_state, Batch, hparams, key) -> (Params, opt_state, mean losses)
    state_values: Callable  # (Params, obs) -> v(s) (for q critics, sum_a pi(a|s) q(s, a))
    baseline: bool  # whether the critic is trained and read


def check_config(config, schema: fields.Schema, *, box_actions: bool = False) -> envs.Environment:
    """Refuses a bad field of ``schema`` (the scaffold's, or an algorithm's extension of it) in
    one line; returns the config's environment (with box actions only for an algorithm that
    takes them)."""
    schema.check(config)
    batch = config.num_envs * config.rollout_length
    if batch % config.num_minibatches:
        raise ValueError(
            f"config.num_minibatches = {config.num_minibatches} must divide the rollout's "
            f"num_envs * rollout_length = {batch} steps"
        )
    env = envs.make(config.environment, config.env)
    if not box_actions and not isinstance(env.action_space, spaces.Discrete):
        raise ValueError(
            f"{schema.module} needs discrete actions; environment {env.name!r} has a box"
        )
    return env


def make_agent(config, algorithm: Algorithm, env: envs.Environment) -> Agent:
    """The agent's functions for a checked config and its environment."""
    reset, step_env, env_params = envs.training(env)
    action_space, obs_space = env.action_space, env.observation_space
    box = None if isinstance(action_space, spaces.Discrete) else action_space
    num_envs, length = config.num_envs, config.rollout_length
    q_critic = algorithm.critic_outputs == "action"
    width = action_space.n if q_critic else 1
    if isinstance(obs_space, spaces.Discrete) and box is None:  # a table per state
        actor, critic = (
            networks.Tabular(obs_space.n, action_space.n),
            networks.Tabular(obs_space.n, width),
        )
    else:
        hidden, activation = tuple(config.hidden), config.activation
        dims = spaces.observation_axes(obs_space)  # an image is flattened
        mlp = functools.partial(networks.MLP, hidden, activation=activation, input_dims=dims)
        critic = mlp(width, output_scale=1.0)
        if box is None:
            actor = mlp(action_space.n, output_scale=0.01)
        else:
            actor = networks.GaussianActor(
                hidden,
                action_dims=box.size,
                activation=activation,
                input_dims=dims,
                log_std=config.log_std,
                init_log_std=float(config.init_log_std),
            )
    nets = Networks(actor, critic, box)
    example = jnp.zeros(obs_space.shape, obs_space.dtype)
    behaviour = algorithm.behaviour or (lambda nets, params, obs: nets.policy(params.actor, obs))
    normalize_obs, scale_rewards = config.normalize_observations, config.scale_rewards

    def init_normalizer() -> Normalizer:
        return Normalizer(
            obs=running.moments(obs_space.shape) if normalize_obs else (),
            reward=running.reward_scale(num_envs) if scale_rewards else (),
        )

    def observe(normalizer: Normalizer, obs):
        return running.normalize(normalizer.obs, obs) if normalize_obs else obs

    def sample_each(dist, keys):
        """One draw per environment ``i`` of the batched policy, with its own ``keys[i]``."""
        if box is None:
            return jax.vmap(lambda d, k: d.sample(seed=k))(dist, keys).astype(jnp.int32)
        normal = dist.distribution  # Independent(Normal): draw each environment's Normal alone
        return jax.vmap(lambda m, sd, k: m + sd * jax.random.normal(k, m.shape, m.dtype))(
            normal.loc, normal.scale, keys
        )

    def init_params(key) -> Params:
        actor_key, critic_key = jax.random.split(key)
        return Params(actor.init(actor_key, example), critic.init(critic_key, example))

    def state_values(params: Params, obs) -> jax.Array:
        if q_critic:
            return jnp.sum(
                nets.policy(params.actor, obs).probs * nets.critic_values(params, obs), -1
            )
        return nets.v(params, obs)

    def collect(params: Params, obs, env_state, time, normalizer: Normalizer, key_data, step, hp):
        """``rollout_length`` steps of the ``N`` environments; environment ``i`` at rollout step
        ``j`` of training step ``step`` draws from counter ``(step * L + j) * N + i``. With
        ``normalize_observations`` each step first folds the ``N`` observations into the running
        moments, then normalises what it stores (``obs`` and ``next_obs``) with them; with
        ``scale_rewards`` it stores the scaled rewards (``running.scale_rewards`` at ``hp.gamma``;
        episode returns stay unscaled)."""

        def body(carry, j):
            obs, env_state, time, normalizer = carry
            if normalize_obs:
                normalizer = normalizer._replace(obs=running.update(normalizer.obs, obs))
            seen = observe(normalizer, obs)
            index = (step * length + j) * num_envs + jnp.arange(num_envs)
            acting = behaviour(nets, params, seen)
            act_keys = jax.vmap(lambda i: rng.counter_key(key_data, i, ACT_STREAM))(index)
            action = sample_each(acting, act_keys)
            env_keys = jax.vmap(lambda i: rng.counter_key(key_data, i, ENV_STREAM))(index)
            next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
                step_env, in_axes=(0, 0, 0, None)
            )(env_keys, env_state, nets.env_action(action), env_params)
            done = jnp.logical_or(terminated, truncated)
            if scale_rewards:
                reward, scale = running.scale_rewards(normalizer.reward, reward, done, hp.gamma)
                normalizer = normalizer._replace(reward=scale)
            record = Rollout(
                obs=seen,
                action=action,
                reward=reward,
                terminated=terminated.astype(jnp.float32),
                done=done.astype(jnp.float32),
                next_obs=observe(normalizer, info["final_observation"]),
                behaviour_probs=acting.probs if box is None else jnp.zeros((num_envs, 0)),
                behaviour_log_prob=acting.log_prob(action),
                time=time,
                episode_return=jnp.where(done, env_state.returned_episode_return, 0.0),
            )
            return (next_obs, env_state, jnp.where(done, 0, time + 1), normalizer), record

        (obs, env_state, time, normalizer), rollout = jax.lax.scan(
            body, (obs, env_state, time, normalizer), jnp.arange(length)
        )
        return obs, env_state, time, normalizer, rollout

    def prepare(params: Params, rollout: Rollout, hparams) -> Batch:
        """The algorithm's actor weights and critic targets, flattened to ``L * N`` steps."""
        advantage, target = algorithm.prepare(nets, params, rollout, hparams)
        if config.discount_weighting:
            advantage = advantage * hparams.gamma ** rollout.time.astype(jnp.float32)
        flat = lambda x: x.reshape((x.shape[0] * x.shape[1], *x.shape[2:]))  # noqa: E731
        return Batch(
            obs=flat(rollout.obs),
            action=flat(rollout.action),
            behaviour_probs=flat(rollout.behaviour_probs),
            behaviour_log_prob=flat(rollout.behaviour_log_prob),
            advantage=flat(advantage),
            target=flat(target),
        )

    def loss(params: Params, batch: Batch, hparams) -> losses.ActorCriticLoss:
        if config.normalize_advantages:
            advantage = batch.advantage
            advantage = (advantage - jnp.mean(advantage)) / (jnp.std(advantage) + 1e-8)
            batch = batch._replace(advantage=advantage)
        return algorithm.loss(nets, params, batch, hparams)

    optimizer, _ = optim.over_the_run(config.optimizer, run_updates(config))

    def optimizers(hparams):
        make = lambda lr: optim.make_optimizer(optimizer, learning_rate=lr)  # noqa: E731
        return make(hparams.actor_lr), make(hparams.critic_lr)

    def gradient_step(state, minibatch: Batch, hparams):
        params, (actor_state, critic_state) = state
        actor_opt, critic_opt = optimizers(hparams)

        def total(p: Params):
            parts = loss(p, minibatch, hparams)
            return parts.total, parts

        grads, parts = jax.grad(total, has_aux=True)(params)
        actor_updates, actor_state = actor_opt.update(grads.actor, actor_state, params.actor)
        critic_updates, critic_state = critic_opt.update(grads.critic, critic_state, params.critic)
        params = Params(
            optax.apply_updates(params.actor, actor_updates),
            optax.apply_updates(params.critic, critic_updates),
        )
        return (params, (actor_state, critic_state)), parts

    def update(params: Params, opt_state, batch: Batch, hparams, key):
        """``epochs`` passes over the batch, each in ``num_minibatches`` minibatches shuffled
        with ``fold_in(key, epoch)``; returns the new parameters and optimizer states and the
        losses' means over the steps."""
        size, num_minibatches = jax.tree.leaves(batch)[0].shape[0], config.num_minibatches

        def epoch(state, e):
            if num_minibatches == 1:
                minibatches = jax.tree.map(lambda x: x[None], batch)
            else:
                order = jax.random.permutation(jax.random.fold_in(key, e), size)
                minibatches = jax.tree.map(
                    lambda x: x[order].reshape(
                        (num_minibatches, size // num_minibatches, *x.shape[1:])
                    ),
                    batch,
                )
            return jax.lax.scan(lambda s, m: gradient_step(s, m, hparams), state, minibatches)

        (params, opt_state), parts = jax.lax.scan(
            epoch, (params, opt_state), jnp.arange(config.epochs)
        )
        return params, opt_state, jax.tree.map(jnp.mean, parts)

    return Agent(
        env,
        nets,
        init_params,
        init_normalizer,
        observe,
        collect,
        prepare,
        loss,
        optimizers,
        update,
        state_values,
        algorithm.baseline,
    )


class Carry(NamedTuple):
    params: Params
    opt_state: Any  # (actor optimizer state, critic optimizer state)
    obs: jax.Array  # [N, ...]
    env_state: Any  # batched over the N environments
    time: jax.Array  # [N] int32 steps into the current episodes
    normalizer: Normalizer  # running observation and return statistics (checkpointed)
    step: jax.Array  # [] int32 training steps taken
    key_data: jax.Array  # [2] uint32
    truth: Any  # a finite MDP's (q*, v*) for this setting's gamma; otherwise ()


def run_updates(config) -> int:
    """The optimizer updates of a run (each optimizer's): ``epochs * num_minibatches`` per
    training step, one rollout each. A schedule with ``decay_steps = 0`` decays over them."""
    return int(config.total_steps) * int(config.epochs) * int(config.num_minibatches)


def make_experiment(config, agent: Agent, schema: fields.Schema) -> Experiment:
    """The runner's view of an agent (module docstring), its hyperparameters ``schema``'s swept
    fields."""
    domains = schema.domains
    env, nets = agent.env, agent.nets
    reset, _, env_params = envs.training(env)
    num_envs, chunk_steps = config.num_envs, int(config.chunk_steps)
    finite, episodic = env.finite, env.max_steps is not None

    def init(key, hparams) -> Carry:
        net_key, env_key, key = jax.random.split(key, 3)
        params = agent.init_params(net_key)
        actor_opt, critic_opt = agent.optimizers(hparams)
        obs, env_state = jax.vmap(reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), env_params
        )
        return Carry(
            params=params,
            opt_state=(actor_opt.init(params.actor), critic_opt.init(params.critic)),
            obs=obs,
            env_state=env_state,
            time=jnp.zeros((num_envs,), jnp.int32),
            normalizer=agent.init_normalizer(),
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            truth=() if finite is None else exact.ground_truth(finite.mdp, hparams.gamma),
        )

    def train_step(carry: Carry, hparams):
        obs, env_state, time, normalizer, rollout = agent.collect(
            carry.params,
            carry.obs,
            carry.env_state,
            carry.time,
            carry.normalizer,
            carry.key_data,
            carry.step,
            hparams,
        )
        batch = agent.prepare(carry.params, rollout, hparams)
        shuffle_key = rng.counter_key(carry.key_data, carry.step, SHUFFLE_STREAM)
        params, opt_state, parts = agent.update(
            carry.params, carry.opt_state, batch, hparams, shuffle_key
        )
        carry = carry._replace(
            params=params,
            opt_state=opt_state,
            obs=obs,
            env_state=env_state,
            time=time,
            normalizer=normalizer,
            step=carry.step + 1,
        )
        return carry, (parts, jnp.sum(rollout.episode_return), jnp.sum(rollout.done))

    def policy(carry: Carry, hparams, mode: str):
        """The trained policy on raw observations (normalised with the carried statistics)."""
        actor, see = carry.params.actor, lambda obs: agent.observe(carry.normalizer, obs)  # noqa: E731
        if mode == "greedy":
            return lambda obs, key: nets.greedy(actor, see(obs))
        return lambda obs, key: nets.env_action(nets.policy(actor, see(obs)).sample(seed=key))

    def values(carry: Carry, obs):
        return agent.state_values(carry.params, agent.observe(carry.normalizer, obs))

    def exact_metrics(carry: Carry, hparams) -> dict:
        """The softmax policy's exact values (``jaxrl.exact``) against the optimum."""
        seen = agent.observe(carry.normalizer, finite.observations)
        pi = nets.policy(carry.params.actor, seen)  # [S, A]
        _, v_star = carry.truth
        v_pi = exact.policy_values(finite.mdp, pi.probs, hparams.gamma)
        v_greedy = exact.policy_values(finite.mdp, dp.greedy_policy(pi.logits), hparams.gamma)
        metrics = {
            "value_error": jnp.max(jnp.abs(v_star - v_pi)),
            "greedy_value_error": jnp.max(jnp.abs(v_star - v_greedy)),
            "mean_value": jnp.mean(v_pi),  # J(theta) for a uniform d0
        }
        if agent.baseline:
            critic_v = agent.state_values(carry.params, seen)
            metrics["critic_error"] = jnp.max(jnp.abs(critic_v - v_pi))
        return metrics

    def train_chunk(carry: Carry, hparams):
        carry, (parts, finished, ended) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        metrics = {}
        if episodic:
            metrics = evaluation.episode_metrics(
                env,
                policy(carry, hparams, "sample"),
                rng.counter_key(carry.key_data, carry.step, EVAL_STREAM),
                episodes=config.eval_episodes,
                finished=finished,
                ended=ended,
            )
        if finite is not None:
            metrics.update(exact_metrics(carry, hparams))
        metrics["actor_loss"] = jnp.mean(parts.actor)
        metrics["critic_loss"] = jnp.mean(parts.critic)
        metrics["entropy"] = -jnp.mean(parts.entropy)
        # Always defined: NaN here (diverged parameters) stops the run with the seed named.
        metrics["value_mean"] = jnp.mean(values(carry, carry.obs))
        return carry, metrics

    generic = ("eval_return", "episode_return") if episodic else ()
    exact_names = ()
    if finite is not None:
        exact_names = ("value_error", "greedy_value_error", "mean_value")
        exact_names += ("critic_error",) if agent.baseline else ()
        domains = {**domains, "gamma": exact.GAMMA}  # the ground truth is solved for each gamma
    names = (*generic, *exact_names, "actor_loss", "critic_loss", "entropy", "value_mean")
    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=schema.hparams_type,
        domains=domains,
        metrics=names,
        main_metric="value_error" if exact_names else names[0],
        env_steps_per_step=num_envs * config.rollout_length,
        nan_metrics=generic[1:],
        policy=policy,
        values=lambda carry, hparams: lambda obs: values(carry, obs),
        depends_on_total_steps=optim.over_the_run(config.optimizer, run_updates(config))[1],
    )


def lambda_return_targets(nets: Networks, params: Params, rollout: Rollout, *, gamma, lambda_):
    """``(A_t, y_t)``: the lambda-return ``y_t`` (``targets.lambda_returns``, cut where each
    episode ends and bootstrapped from ``v(s')`` of the state reached) and ``A_t = y_t - v(s_t)``.
    lambda = 1 is REINFORCE's Monte Carlo return, lambda = 0 the TD target, lambda in (0, 1) GAE
    (``targets.generalized_advantage_estimation`` equals this ``A_t``). ``nets = None``: no
    critic (``v = 0``, no bootstrap)."""
    r = rollout.reward
    discount = gamma * (1.0 - rollout.terminated)
    if nets is None:
        v_tm1 = v_t = jnp.zeros_like(r)
    else:
        v_tm1, v_t = nets.v(params, rollout.obs), nets.v(params, rollout.next_obs)
    lambda_t = lambda_ * (1.0 - rollout.done)
    returns = jax.vmap(targets.lambda_returns, in_axes=1, out_axes=1)
    target = returns(r, discount, v_t, lambda_t)
    return target - v_tm1, target
