"""Policy gradient and actor-critic: REINFORCE, QAC, A2C, off-policy actor-critic and PPO.

Zhao, ch. 9 (policy gradient, REINFORCE, Algorithm 9.1) and ch. 10 (QAC, Algorithm 10.1; A2C,
Algorithm 10.2; off-policy actor-critic, Algorithm 10.3); Sutton and Barto (2018), ch. 13;
Schulman et al. (2016), GAE, https://arxiv.org/abs/1506.02438; Schulman et al. (2017), PPO,
https://arxiv.org/abs/1707.06347.

The policy ``pi_theta(a|s)`` is a ``distrax.Categorical`` over the logits of the actor: a table
``theta[s, a]`` on the grid world (the tabular softmax policy of ch. 9) or a small MLP on
CartPole. The critic is a table or an MLP too: state values ``v(s)``, or action values
``q(s, a)`` for QAC. Each training step of one seed:

1. **collects** a rollout of ``rollout_length`` steps in each of its ``num_envs`` environments
   (which restart episodes themselves), acting with the policy, or with the uniform behaviour
   policy ``beta`` for ``algorithm = "off_policy"``;
2. **prepares** each step's actor weight ``A_t`` and critic target ``y_t`` with ``jaxrl.targets``,
   from the parameters before the update. ``discount_t = gamma (1 - terminated)``; an episode cut
   by a time limit bootstraps from the state it reached (``info["final_observation"]``), as does
   the end of the rollout:

   - ``"reinforce"``: the Monte Carlo return ``y_t = G_t`` of the rest of the episode
     (``targets.lambda_returns`` with lambda = 1 inside each episode), ``A_t = G_t - v(s_t)``
     with ``baseline`` (ch. 9.4 and Sutton and Barto, sec. 13.4), else ``A_t = G_t`` (and no
     bootstrap: the return stops at the end of the rollout);
   - ``"qac"``: ``A_t = q(s_t, a_t)`` (the book's actor step ``theta += alpha q grad ln pi``), the
     critic learning ``q`` by expected Sarsa, ``y_t = r + discount sum_a' pi(a'|s') q(s', a')``
     (``targets.expected_sarsa``: the book's Sarsa critic in expectation over ``a'``, which needs
     no next action at a rollout's end or a time limit);
   - ``"a2c"``: the TD advantage ``A_t = y_t - v(s_t)`` with the lambda-return
     ``y_t`` (``targets.lambda_returns``, cut at episode ends): lambda = 0 gives the book's TD
     error ``r + discount v(s') - v(s)``, lambda in (0, 1) is GAE (the GAE of Schulman et al.
     equals the lambda-return minus ``v``, see ``targets.generalized_advantage_estimation``);
   - ``"off_policy"``: the TD error ``A_t = delta_t`` (``targets.td_learning``) of data from the
     uniform behaviour ``beta``; the update weighs actor and critic by the importance ratio
     ``rho_t = pi(a_t|s_t) / beta(a_t|s_t)`` (``targets.importance_sampling_ratios``);
   - ``"ppo"``: A2C's advantages, optimised with the clipped surrogate of the ratio to the
     rollout's policy (``losses.clipped_surrogate_loss``), over ``epochs`` passes of
     ``num_minibatches`` shuffled minibatches. That is PPO; every other algorithm can run
     several epochs and minibatches too, without the clip.

   With ``discount_weighting``, ``A_t`` is multiplied by ``gamma^k``, ``k`` the step's index in
   its episode: the discounted policy gradient theorem's weight, which makes the REINFORCE
   estimate unbiased for ``J(theta) = sum_s d0(s) v_pi(s)`` (Sutton and Barto, sec. 13.3, the
   ``gamma^t`` of the REINFORCE box; the book's Algorithm 9.1 drops it);
3. **updates** actor and critic, each with its own optax optimizer (``jaxrl.optim``, step sizes
   ``actor_lr`` and ``critic_lr``: the book's ``alpha_theta`` and ``alpha_w``), by gradient
   descent on ``losses.actor_critic_loss`` (REINFORCE, QAC, A2C: ``-A_t log pi(a_t|s_t)`` plus
   ``0.5 (y_t - critic)^2``), ``losses.off_policy_actor_loss`` with a ``rho``-weighted critic
   (off-policy), or ``losses.clipped_surrogate_loss`` (PPO); ``entropy_coef`` times
   ``losses.entropy_loss`` rewards exploration.

Environments: the book's grid world (``environment = "grid"``; episodes of ``max_episode_steps``
from a uniformly drawn cell, so ``d0`` is uniform and ``J`` is the mean of ``v_pi``) with its
exact metrics (``jaxrl.dp``: the softmax policy's values against ``v*``), and CartPole-v1
(``"cartpole"``; the sampled policy scored on ``eval_episodes`` fresh episodes after every
chunk).

Swept (``Hparams``): ``actor_lr``, ``critic_lr``, ``gamma``, ``gae_lambda`` (a2c and ppo; the
others use the lambda their targets define), ``entropy_coef`` and ``clip_epsilon`` (ppo).
Everything that shapes arrays is static config.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import distrax
import jax
import jax.numpy as jnp
import optax

from jaxrl import dp, losses, networks, optim, targets
from jaxrl.agents import checks
from jaxrl.envs import cartpole, evaluation, gridworld, rng, wrappers
from jaxrl.run import POSITIVE, PROBABILITY, Experiment, real
from jaxrl.tabular import common

ALGORITHMS = ("reinforce", "qac", "a2c", "off_policy", "ppo")
ENVIRONMENTS = ("grid", "cartpole")
MODULE = "jaxrl.agents.actor_critic"

# Counter streams of a seed's raw key (jaxrl.envs.rng): one per use within a step.
ACT_STREAM, ENV_STREAM, SHUFFLE_STREAM, EVAL_STREAM = 0, 1, 2, 3

DOMAINS = {
    "actor_lr": POSITIVE,
    "critic_lr": POSITIVE,
    "gamma": common.GAMMA,  # the grid's ground truth is solved for each swept gamma
    "gae_lambda": PROBABILITY,
    "entropy_coef": real(0.0),
    "clip_epsilon": real(0.0, 1.0, low_open=True),
}


class Hparams(NamedTuple):
    actor_lr: jax.Array  # alpha_theta
    critic_lr: jax.Array  # alpha_w
    gamma: jax.Array
    gae_lambda: jax.Array  # lambda of a2c's and ppo's lambda-returns (GAE)
    entropy_coef: jax.Array
    clip_epsilon: jax.Array  # ppo's clip range


class Params(NamedTuple):
    actor: Any  # the policy's logits: a table theta[s, a] or an MLP
    critic: Any  # v(s) (a table [S, 1] or an MLP with one output) or, for qac, q(s, a)


class Rollout(NamedTuple):
    """A rollout, time-major: leaves ``[L, N, ...]`` for ``L`` steps of ``N`` environments."""

    obs: jax.Array  # observation acted on
    action: jax.Array  # int32
    reward: jax.Array
    terminated: jax.Array  # float32: 1 when the state reached is terminal (nothing to bootstrap)
    done: jax.Array  # float32: 1 when the step ended its episode (terminated or cut)
    next_obs: jax.Array  # observation of the state reached (before any restart)
    behaviour_probs: jax.Array  # [..., A] the acting policy's probabilities at obs
    time: jax.Array  # int32: the step's index within its episode
    episode_return: jax.Array  # undiscounted return of the episode the step ended (else 0)


class Batch(NamedTuple):
    """What the loss reads, flat: leaves ``[B, ...]``."""

    obs: jax.Array
    action: jax.Array
    behaviour_probs: jax.Array  # [B, A] (ppo's old policy, or off-policy's beta)
    advantage: jax.Array  # the actor's weight A_t (gradient stopped in the losses)
    target: jax.Array  # the critic's target y_t


class Carry(NamedTuple):
    params: Params
    opt_state: Any  # (actor optimizer state, critic optimizer state)
    obs: jax.Array  # [N, ...]
    env_state: Any  # batched over the N environments
    time: jax.Array  # [N] int32 steps into the current episodes
    step: jax.Array  # [] int32 training steps taken
    key_data: jax.Array  # [2] uint32
    truth: Any  # grid: (q*, v*) for this setting's gamma; cartpole: ()


class Task(NamedTuple):
    """An environment as the agent sees it (auto-resetting, with episode statistics)."""

    reset: Any
    step: Any
    params: Any
    obs_example: jax.Array
    num_actions: int
    grid: gridworld.GridWorld | None


FIELDS = {
    "environment",
    "algorithm",
    "baseline",
    "discount_weighting",
    "num_envs",
    "rollout_length",
    "epochs",
    "num_minibatches",
    "normalize_advantages",
    "max_episode_steps",
    "optimizer",
}
CARTPOLE_FIELDS = {"hidden", "activation", "eval_episodes"}


def check_config(config) -> None:
    """Refuses a bad actor-critic config in one line naming the field, before anything
    compiles."""
    if config.get("environment") not in ENVIRONMENTS:
        raise ValueError(
            f"config.environment must be one of {ENVIRONMENTS}, got {config.get('environment')!r}"
        )
    extra = {"env"} if config.environment == "grid" else CARTPOLE_FIELDS
    common.check_fields(config, MODULE, FIELDS | extra)
    if config.algorithm not in ALGORITHMS:
        raise ValueError(f"config.algorithm must be one of {ALGORITHMS}, got {config.algorithm!r}")
    for name in ("num_envs", "rollout_length", "epochs", "num_minibatches", "max_episode_steps"):
        checks.positive_int(config, name)
    for name in ("baseline", "discount_weighting", "normalize_advantages"):
        if not isinstance(config[name], bool):
            raise ValueError(f"config.{name} must be True or False, got {config[name]!r}")
    if not config.baseline and config.algorithm != "reinforce":
        raise ValueError(
            f"config.baseline = False is REINFORCE's option; {config.algorithm!r} needs its critic"
        )
    batch = config.num_envs * config.rollout_length
    if batch % config.num_minibatches:
        raise ValueError(
            f"config.num_minibatches = {config.num_minibatches} must divide the rollout's "
            f"num_envs * rollout_length = {batch} steps"
        )
    if config.environment == "cartpole":
        checks.positive_int(config, "eval_episodes")
        checks.hidden_widths(config)
        if config.activation not in networks.ACTIVATIONS:
            raise ValueError(
                f"config.activation must be one of {tuple(networks.ACTIVATIONS)}, "
                f"got {config.activation!r}"
            )
    optim.check_config(config.optimizer)


def make_task(config) -> Task:
    """The environment of a config: the grid (uniform start cell, episodes cut after
    ``max_episode_steps``, integer state observations) or CartPole-v1."""
    if config.environment == "grid":
        grid = common.grid_from_config(config.env)
        params = gridworld.make_params(grid, max_steps=config.max_episode_steps, auto_reset=True)
        reset, step = wrappers.episode_statistics(gridworld.reset, gridworld.step)
        return Task(reset, step, params, jnp.int32(0), gridworld.NUM_ACTIONS, grid)
    params = cartpole.make_params(max_steps=config.max_episode_steps, auto_reset=True)
    reset, step = wrappers.episode_statistics(cartpole.reset, cartpole.step)
    example = jnp.zeros((cartpole.OBSERVATION_SIZE,), jnp.float32)
    return Task(reset, step, params, example, cartpole.NUM_ACTIONS, None)


class Agent(NamedTuple):
    """The agent's pure functions for one config (what ``make_experiment`` composes; tests call
    them directly)."""

    task: Task
    init_params: Any  # key -> Params
    policy: Any  # (actor params, obs [..]) -> distrax.Categorical
    state_values: Any  # (Params, obs [..]) -> v(s) [..] (for qac, sum_a pi(a|s) q(s, a))
    collect: (
        Any  # (Params, obs, env_state, time, key_data, step) -> (obs, env_state, time, Rollout)
    )
    prepare: Any  # (Params, Rollout, Hparams) -> Batch
    loss: Any  # (Params, Batch, Hparams) -> losses.ActorCriticLoss
    optimizers: Any  # Hparams -> (actor optimizer, critic optimizer), optax
    update: Any  # (Params, opt_state, Batch, Hparams, key) -> (Params, opt_state, mean losses)


def make_agent(config) -> Agent:
    """The agent's functions for a checked config."""
    check_config(config)
    task = make_task(config)
    algorithm, num_actions = config.algorithm, task.num_actions
    num_envs, length = config.num_envs, config.rollout_length
    num_minibatches = config.num_minibatches
    q_critic = algorithm == "qac"
    uses_critic = config.baseline
    critic_width = num_actions if q_critic else 1
    if task.grid is not None:
        num_states = task.grid.num_states
        actor = networks.Tabular(num_states, num_actions)
        critic = networks.Tabular(num_states, critic_width)
    else:
        hidden, activation = tuple(config.hidden), config.activation
        actor = networks.MLP(hidden, num_actions, activation=activation, output_scale=0.01)
        critic = networks.MLP(hidden, critic_width, activation=activation, output_scale=1.0)

    def init_params(key) -> Params:
        actor_key, critic_key = jax.random.split(key)
        return Params(
            actor.init(actor_key, task.obs_example), critic.init(critic_key, task.obs_example)
        )

    def policy(actor_params, obs) -> distrax.Categorical:
        return distrax.Categorical(logits=actor.apply(actor_params, obs))

    def v_values(params: Params, obs) -> jax.Array:  # v(s) of a state-value critic
        return critic.apply(params.critic, obs)[..., 0]

    def state_values(params: Params, obs) -> jax.Array:
        if q_critic:
            return jnp.sum(policy(params.actor, obs).probs * critic.apply(params.critic, obs), -1)
        return v_values(params, obs)

    def behaviour(params: Params, obs) -> distrax.Categorical:
        if algorithm == "off_policy":  # the uniform behaviour policy beta
            return distrax.Categorical(logits=jnp.zeros((*jnp.shape(obs)[:1], num_actions)))
        return policy(params.actor, obs)

    def collect(params: Params, obs, env_state, time, key_data, step):
        """``rollout_length`` steps of the ``N`` environments; training step ``step``'s
        randomness is counter-based: environment ``i`` at rollout step ``j`` draws from counter
        ``(step * L + j) * N + i``."""

        def body(carry, j):
            obs, env_state, time = carry
            index = (step * length + j) * num_envs + jnp.arange(num_envs)
            acting = behaviour(params, obs)
            act_keys = jax.vmap(lambda i: rng.counter_key(key_data, i, ACT_STREAM))(index)
            action = jax.vmap(lambda d, k: d.sample(seed=k))(acting, act_keys).astype(jnp.int32)
            env_keys = jax.vmap(lambda i: rng.counter_key(key_data, i, ENV_STREAM))(index)
            next_obs, env_state, reward, terminated, truncated, info = jax.vmap(
                task.step, in_axes=(0, 0, 0, None)
            )(env_keys, env_state, action, task.params)
            done = jnp.logical_or(terminated, truncated)
            record = Rollout(
                obs=obs,
                action=action,
                reward=reward,
                terminated=terminated.astype(jnp.float32),
                done=done.astype(jnp.float32),
                next_obs=info["final_observation"],
                behaviour_probs=acting.probs,
                time=time,
                episode_return=jnp.where(done, env_state.returned_episode_return, 0.0),
            )
            return (next_obs, env_state, jnp.where(done, 0, time + 1)), record

        (obs, env_state, time), rollout = jax.lax.scan(
            body, (obs, env_state, time), jnp.arange(length)
        )
        return obs, env_state, time, rollout

    def prepare(params: Params, rollout: Rollout, hparams: Hparams) -> Batch:
        """Actor weights and critic targets of a rollout, from ``jaxrl.targets`` (module
        docstring, step 2), flattened to a batch of ``L * N`` steps."""
        r, a = rollout.reward, rollout.action
        discount = hparams.gamma * (1.0 - rollout.terminated)
        per_step = lambda f: jax.vmap(jax.vmap(f))  # noqa: E731  (over [L, N])
        if algorithm == "qac":
            q_tm1 = critic.apply(params.critic, rollout.obs)  # [L, N, A]
            q_t = critic.apply(params.critic, rollout.next_obs)
            pi_t = policy(params.actor, rollout.next_obs).probs
            delta = per_step(targets.expected_sarsa)(q_tm1, a, r, discount, q_t, pi_t)
            q_a = jnp.take_along_axis(q_tm1, a[..., None], axis=-1)[..., 0]
            advantage, target = q_a, delta + q_a
        elif algorithm == "off_policy":
            v_tm1 = v_values(params, rollout.obs)
            v_t = v_values(params, rollout.next_obs)
            delta = per_step(targets.td_learning)(v_tm1, r, discount, v_t)
            advantage, target = delta, delta + v_tm1
        else:  # reinforce, a2c, ppo: lambda-returns, each cut where its episode ends
            if uses_critic:
                v_tm1 = v_values(params, rollout.obs)
                v_t = v_values(params, rollout.next_obs)
            else:
                v_tm1 = v_t = jnp.zeros_like(r)
            lambda_ = 1.0 if algorithm == "reinforce" else hparams.gae_lambda
            lambda_t = lambda_ * (1.0 - rollout.done)
            returns = jax.vmap(targets.lambda_returns, in_axes=1, out_axes=1)
            target = returns(r, discount, v_t, lambda_t)
            advantage = target - v_tm1
        if config.discount_weighting:
            advantage = advantage * hparams.gamma ** rollout.time.astype(jnp.float32)
        flat = lambda x: x.reshape((-1, *x.shape[2:]))  # noqa: E731
        return Batch(
            obs=flat(rollout.obs),
            action=flat(a),
            behaviour_probs=flat(rollout.behaviour_probs),
            advantage=flat(advantage),
            target=flat(target),
        )

    def loss(params: Params, batch: Batch, hparams: Hparams) -> losses.ActorCriticLoss:
        """The loss of one (mini)batch (module docstring, step 3)."""
        pi = policy(params.actor, batch.obs)
        log_prob, entropy = pi.log_prob(batch.action), pi.entropy()
        advantage = batch.advantage
        if config.normalize_advantages:
            advantage = (advantage - jnp.mean(advantage)) / (jnp.std(advantage) + 1e-8)
        if not uses_critic:
            value = jnp.zeros_like(batch.target)
            target = value
        elif q_critic:
            q = critic.apply(params.critic, batch.obs)
            value = jnp.take_along_axis(q, batch.action[:, None], axis=-1)[:, 0]
            target = batch.target
        else:
            value, target = v_values(params, batch.obs), batch.target
        if algorithm in ("reinforce", "qac", "a2c"):
            return losses.actor_critic_loss(
                log_prob,
                advantage,
                value,
                target,
                entropy,
                critic_coef=1.0,
                entropy_coef=hparams.entropy_coef,
            )
        if algorithm == "ppo":
            old_log_prob = jnp.log(
                jnp.take_along_axis(batch.behaviour_probs, batch.action[:, None], axis=-1)[:, 0]
            )
            actor_loss = losses.clipped_surrogate_loss(
                log_prob, old_log_prob, advantage, epsilon=hparams.clip_epsilon
            )
            critic_weight = jnp.ones_like(value)
        else:  # off_policy: rho-weighted actor and critic steps (Zhao, Algorithm 10.3)
            rho = targets.importance_sampling_ratios(pi.probs, batch.behaviour_probs, batch.action)
            critic_weight = jax.lax.stop_gradient(rho)
            actor_loss = losses.off_policy_actor_loss(log_prob, critic_weight, advantage)
        td_error = jax.lax.stop_gradient(target) - value
        critic_loss = jnp.mean(critic_weight * losses.squared_loss(td_error))
        entropy_term = losses.entropy_loss(entropy)
        total = actor_loss + critic_loss + hparams.entropy_coef * entropy_term
        return losses.ActorCriticLoss(total, actor_loss, critic_loss, entropy_term)

    def optimizers(hparams: Hparams):
        make = lambda lr: optim.make_optimizer(config.optimizer, learning_rate=lr)  # noqa: E731
        return make(hparams.actor_lr), make(hparams.critic_lr)

    def gradient_step(state, minibatch: Batch, hparams: Hparams):
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

    def update(params: Params, opt_state, batch: Batch, hparams: Hparams, key):
        """``epochs`` passes over the batch, each in ``num_minibatches`` minibatches shuffled
        with ``fold_in(key, epoch)``; returns the new parameters and optimizer states and the
        losses' means over the steps."""
        size = jax.tree.leaves(batch)[0].shape[0]

        def epoch(state, e):
            if num_minibatches == 1:
                minibatches = jax.tree.map(lambda x: x[None], batch)
            else:
                order = jax.random.permutation(jax.random.fold_in(key, e), size)
                minibatches = jax.tree.map(
                    lambda x: x[order].reshape((num_minibatches, -1, *x.shape[1:])), batch
                )
            return jax.lax.scan(lambda s, m: gradient_step(s, m, hparams), state, minibatches)

        (params, opt_state), parts = jax.lax.scan(
            epoch, (params, opt_state), jnp.arange(config.epochs)
        )
        return params, opt_state, jax.tree.map(jnp.mean, parts)

    return Agent(
        task, init_params, policy, state_values, collect, prepare, loss, optimizers, update
    )


def make_experiment(config) -> Experiment:
    """The runner's view of the agent (see ``jaxrl/configs/actor_critic_*.py``)."""
    agent = make_agent(config)
    task = agent.task
    num_envs, chunk_steps = config.num_envs, int(config.chunk_steps)

    def init(key, hparams: Hparams) -> Carry:
        net_key, env_key, key = jax.random.split(key, 3)
        params = agent.init_params(net_key)
        actor_opt, critic_opt = agent.optimizers(hparams)
        obs, env_state = jax.vmap(task.reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), task.params
        )
        truth = ()
        if task.grid is not None:
            truth = common.ground_truth(task.params.mdp, hparams.gamma)
        return Carry(
            params=params,
            opt_state=(actor_opt.init(params.actor), critic_opt.init(params.critic)),
            obs=obs,
            env_state=env_state,
            time=jnp.zeros((num_envs,), jnp.int32),
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            truth=truth,
        )

    def train_step(carry: Carry, hparams: Hparams):
        obs, env_state, time, rollout = agent.collect(
            carry.params, carry.obs, carry.env_state, carry.time, carry.key_data, carry.step
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
            step=carry.step + 1,
        )
        return carry, (parts, jnp.sum(rollout.episode_return), jnp.sum(rollout.done))

    def evaluate_cartpole(carry: Carry) -> jax.Array:
        """Mean return of the sampled policy over ``eval_episodes`` fresh episodes."""
        sample = lambda obs, key: agent.policy(carry.params.actor, obs).sample(seed=key)  # noqa: E731
        key = rng.counter_key(carry.key_data, carry.step, EVAL_STREAM)
        return evaluation.evaluate(
            cartpole.reset,
            cartpole.step,
            cartpole.make_params(max_steps=config.max_episode_steps),
            sample,
            key,
            episodes=config.eval_episodes,
            max_steps=config.max_episode_steps,
        )

    def grid_metrics(carry: Carry, hparams: Hparams) -> dict:
        """The softmax policy's exact values (``jaxrl.dp``) against the optimum."""
        states = jnp.arange(task.grid.num_states)
        mdp = task.params.mdp
        probs = agent.policy(carry.params.actor, states).probs  # [S, A]
        logits = agent.policy(carry.params.actor, states).logits
        _, v_star = carry.truth
        v_pi = common.policy_values(mdp, probs, hparams.gamma)
        v_greedy = common.policy_values(mdp, dp.greedy_policy(logits), hparams.gamma)
        metrics = {
            "value_error": jnp.max(jnp.abs(v_star - v_pi)),
            "greedy_value_error": jnp.max(jnp.abs(v_star - v_greedy)),
            "mean_value": jnp.mean(v_pi),  # J(theta) = sum_s d0(s) v_pi(s), d0 uniform
        }
        if config.baseline:
            critic_v = agent.state_values(carry.params, states)
            metrics["critic_error"] = jnp.max(jnp.abs(critic_v - v_pi))
        return metrics

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, (parts, finished, ended) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        metrics = {
            "actor_loss": jnp.mean(parts.actor),
            "critic_loss": jnp.mean(parts.critic),
            "entropy": -jnp.mean(parts.entropy),
        }
        if task.grid is not None:
            metrics.update(grid_metrics(carry, hparams))
        else:
            count = jnp.sum(ended)
            metrics["episode_return"] = jnp.where(
                count > 0, jnp.sum(finished) / jnp.maximum(count, 1), jnp.nan
            )
            metrics["eval_return"] = evaluate_cartpole(carry)
            # Always defined: NaN here (diverged parameters) stops the run with the seed named.
            metrics["value_mean"] = jnp.mean(agent.state_values(carry.params, carry.obs))
        return carry, metrics

    losses_names = ("actor_loss", "critic_loss", "entropy")
    if task.grid is not None:
        names = ("value_error", "greedy_value_error", "mean_value")
        names += ("critic_error",) if config.baseline else ()
        names, main, nan_metrics = (*names, *losses_names), "value_error", ()
    else:
        names = ("eval_return", "episode_return", *losses_names, "value_mean")
        main, nan_metrics = "eval_return", ("episode_return",)
    domains = dict(DOMAINS)
    # Refuse sweeping a value the algorithm does not read: lambda is 1 for REINFORCE's Monte
    # Carlo returns and 0 for the one-step targets of qac and off_policy; only ppo clips (the
    # others take clip_epsilon = 0).
    if config.algorithm == "reinforce":
        domains["gae_lambda"] = real(1.0, 1.0)
    elif config.algorithm in ("qac", "off_policy"):
        domains["gae_lambda"] = real(0.0, 0.0)
    if config.algorithm != "ppo":
        domains["clip_epsilon"] = real(0.0, 0.0)
    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=domains,
        metrics=names,
        main_metric=main,
        env_steps_per_step=num_envs * config.rollout_length,
        nan_metrics=nan_metrics,
    )
