"""Deep Q-learning (DQN), with double DQN, Polyak targets and bagged ensembles as options.

Zhao, ch. 8.4 (Algorithm 8.3); Mnih et al. (2015), "Human-level control through deep
reinforcement learning", Nature 518; van Hasselt et al. (2016), double DQN,
https://arxiv.org/abs/1509.06461; Osband et al. (2016), bootstrapped DQN,
https://arxiv.org/abs/1602.04621.

Each training step of one seed:

1. acts in its ``N`` environments, epsilon-greedily in the (ensemble-mean) Q-values, epsilon
   decaying linearly from ``epsilon_start`` to ``hparams.epsilon`` over ``exploration_steps``
   environment steps (an optax schedule);
2. stores the ``N`` transitions ``(s, a, r, terminated, s')`` in a replay buffer
   (``jaxrl.replay``); ``s'`` is the observation the step reached (``info["final_observation"]``),
   so a time-limit truncation bootstraps from it and only a termination does not;
3. once the buffer holds ``learning_starts`` transitions, takes ``updates_per_step`` optimizer
   steps, each on a fresh uniform minibatch of ``batch_size`` transitions, minimising
   ``loss(delta)`` (squared or Huber, ``jaxrl.losses``) of the Q-learning error from
   ``jaxrl.targets``::

       delta = r + gamma (1 - terminated) max_a' q_target(s', a') - q(s, a)

   or, with ``double``, the double Q-learning error (the online network picks ``a'``, the
   target network values it);
4. every ``target_period`` training steps moves the target network towards the online one,
   ``w_T <- tau w + (1 - tau) w_T``: ``tau = 1`` is DQN's periodic copy, a small ``tau`` with
   period 1 is Polyak averaging.

An ensemble (``ensemble_size = K > 1``) holds K Q-networks as ONE parameter pytree with a leading
``[K]`` axis (``jaxrl.networks``), applied with vmap. Bagging (Breiman 1996), online: every
transition is stored with K bootstrap weights drawn from Poisson(1), the streaming form of a
with-replacement resample of the data (Oza and Russell 2001, "Online bagging and boosting";
as in bootstrapped DQN), and member ``k`` weights its loss on each transition by its own weight;
it also draws its own minibatches. A member bootstraps from its own target network
(``ensemble_target = "member"``) or from the target ensemble's ``"mean"``, ``"min"`` or ``"lcb"``
(mean minus ``pessimism`` std) value (``jaxrl.targets.ensemble_value``). Actions are greedy in
the ensemble mean. With ``K = 1`` every weight is 1: plain DQN.

Environments: the textbook grid world (``environment = "grid"``, observation the normalised
(row, col) of the cell, as in the book's example) and CartPole-v1 (``"cartpole"``). On the grid
the metrics compare the greedy policy with the exact optimum from ``jaxrl.dp``; on CartPole the
greedy policy is evaluated on ``eval_episodes`` fresh episodes at the end of every chunk.

Swept (``Hparams``): ``learning_rate``, ``gamma``, ``epsilon`` (final exploration rate),
``target_period`` (int), ``tau``, ``pessimism`` and ``weight_decay`` (adamw only). Everything
that shapes arrays (network, buffer, batch, ``N``, ``K``) is static config.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim, replay, targets
from jaxrl.agents import checks
from jaxrl.envs import cartpole, evaluation, gridworld, rng, wrappers
from jaxrl.run import POSITIVE, PROBABILITY, Experiment, integer, real
from jaxrl.tabular import common

ENVIRONMENTS = ("grid", "cartpole")
ENSEMBLE_TARGETS = ("member", *targets.ENSEMBLE_VALUES)
MODULE = "jaxrl.agents.dqn"

# Counter streams of a seed's raw key (jaxrl.envs.rng): one per use within a step.
ACT_STREAM, ENV_STREAM, SAMPLE_STREAM, EVAL_STREAM, BAGGING_STREAM = 0, 1, 2, 3, 4

DOMAINS = {
    "learning_rate": POSITIVE,
    "gamma": common.GAMMA,  # the grid's ground truth is solved for each swept gamma
    "epsilon": PROBABILITY,
    "target_period": integer(1),
    "tau": real(0.0, 1.0, low_open=True),
    "pessimism": real(0.0),
    "weight_decay": real(0.0),  # adamw only: {0} for the other optimizers (see make_experiment)
}


class Hparams(NamedTuple):
    learning_rate: jax.Array
    gamma: jax.Array
    epsilon: jax.Array  # final exploration rate
    target_period: jax.Array  # int32: training steps between target-network moves
    tau: jax.Array  # target <- tau online + (1 - tau) target
    pessimism: jax.Array  # k of the "lcb" ensemble target
    weight_decay: jax.Array  # adamw's decoupled decay (0 for the other optimizers)


class Transition(NamedTuple):
    obs: jax.Array  # [D] observation acted on
    action: jax.Array  # [] int32
    reward: jax.Array  # []
    terminated: jax.Array  # [] float32: 1 when s' is terminal (nothing to bootstrap)
    next_obs: jax.Array  # [D] observation reached (before any auto-reset)
    weights: jax.Array  # [K] float32 bootstrap weights, one per member (all 1 when K = 1)


class Carry(NamedTuple):
    params: Any  # online ensemble, leaves [K, ...]
    target_params: Any  # target ensemble, leaves [K, ...]
    opt_state: Any
    buffer: replay.ReplayState
    obs: jax.Array  # [N, D]
    env_state: Any  # batched over the N environments
    step: jax.Array  # [] int32 training steps taken
    key_data: jax.Array  # [2] uint32
    truth: Any  # grid: (q*, v*) for this setting's gamma; cartpole: ()


class Task(NamedTuple):
    """An environment as DQN sees it."""

    reset: Any
    step: Any
    params: Any
    obs_size: int
    num_actions: int
    grid: gridworld.GridWorld | None


FIELDS = {
    "environment",
    "num_envs",
    "updates_per_step",
    "hidden",
    "buffer_capacity",
    "batch_size",
    "learning_starts",
    "epsilon_start",
    "exploration_steps",
    "loss",
    "double",
    "ensemble_size",
    "ensemble_target",
    "optimizer",
}


def check_config(config) -> None:
    """Refuses a bad DQN config in one line naming the field, before anything compiles."""
    if config.get("environment") not in ENVIRONMENTS:
        raise ValueError(
            f"config.environment must be one of {ENVIRONMENTS}, got {config.get('environment')!r}"
        )
    extra = {"env"} if config.environment == "grid" else {"max_episode_steps", "eval_episodes"}
    common.check_fields(config, MODULE, FIELDS | extra)
    for name in (
        "num_envs",
        "updates_per_step",
        "buffer_capacity",
        "batch_size",
        "learning_starts",
        "ensemble_size",
    ):
        checks.positive_int(config, name)
    if config.environment == "cartpole":
        checks.positive_int(config, "max_episode_steps")
        checks.positive_int(config, "eval_episodes")
    steps = config.exploration_steps
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"config.exploration_steps must be an integer >= 0, got {steps!r}")
    start = config.epsilon_start
    if isinstance(start, bool) or not isinstance(start, (int, float)) or not 0 <= start <= 1:
        raise ValueError(f"config.epsilon_start must be a number in [0, 1], got {start!r}")
    checks.hidden_widths(config)
    if config.loss not in losses.value.TD_LOSSES:
        raise ValueError(
            f"config.loss must be one of {losses.value.TD_LOSSES}, got {config.loss!r}"
        )
    if not isinstance(config.double, bool):
        raise ValueError(f"config.double must be True or False, got {config.double!r}")
    if config.ensemble_target not in ENSEMBLE_TARGETS:
        raise ValueError(
            f"config.ensemble_target must be one of {ENSEMBLE_TARGETS}, "
            f"got {config.ensemble_target!r}"
        )
    if config.num_envs > config.buffer_capacity:
        raise ValueError(
            f"config.buffer_capacity = {config.buffer_capacity} must hold at least one step's "
            f"transitions (config.num_envs = {config.num_envs})"
        )
    if config.learning_starts > config.buffer_capacity:
        raise ValueError(
            f"config.learning_starts = {config.learning_starts} exceeds "
            f"config.buffer_capacity = {config.buffer_capacity}: learning would never start"
        )
    optim.check_config(config.optimizer)
    if config.ensemble_size > 1 and config.optimizer.max_grad_norm > 0:
        raise ValueError(
            f"config.optimizer.max_grad_norm = {config.optimizer.max_grad_norm} with "
            f"config.ensemble_size = {config.ensemble_size}: it must be 0 (clipping the global "
            f"norm of the stacked ensemble would couple its members)"
        )


def make_task(config) -> Task:
    """The environment of a DQN config, auto-resetting, with episode statistics."""
    if config.environment == "grid":
        grid, params = common.task_from_config(config)
        params = params.replace(observation="coords")
        reset, step = wrappers.episode_statistics(gridworld.reset, gridworld.step)
        return Task(reset, step, params, 2, gridworld.NUM_ACTIONS, grid)
    params = cartpole.make_params(max_steps=config.max_episode_steps, auto_reset=True)
    reset, step = wrappers.episode_statistics(cartpole.reset, cartpole.step)
    return Task(reset, step, params, cartpole.OBSERVATION_SIZE, cartpole.NUM_ACTIONS, None)


def bootstrap_weights(key: jax.Array, shape: tuple[int, ...], ensemble_size: int) -> jax.Array:
    """Bootstrap weights ``[*shape, K]`` of new transitions: Poisson(1) draws (online bagging),
    or all ones for a single network."""
    if ensemble_size == 1:
        return jnp.ones((*shape, 1), jnp.float32)
    return jax.random.poisson(key, 1.0, (*shape, ensemble_size)).astype(jnp.float32)


def bootstrap_batches(buffer: replay.ReplayState, key: jax.Array, ensemble_size: int, batch_size):
    """One minibatch per member, ``[K, B, ...]`` leaves: member k's ``B`` slots are drawn
    uniformly with replacement with ``jax.random.split(key, K)[k]``. With ``K = 1`` it is DQN's
    uniform minibatch."""
    indices = jax.vmap(lambda k: replay.sample_indices(buffer, k, batch_size))(
        jax.random.split(key, ensemble_size)
    )
    return replay.gather(buffer, indices)


def td_errors(
    network,
    params,
    target_params,
    batch: Transition,
    *,
    gamma: jax.Array,
    double: bool,
    ensemble_target: str,
    pessimism: jax.Array,
) -> jax.Array:
    """TD errors ``[K, B]`` of an ensemble, member k on its own minibatch ``batch[k]``.

    The error of each transition comes from ``jaxrl.targets``: ``q_learning`` (bootstrap from
    ``max_a' q_T(s', a')``) or, with ``double``, ``double_q_learning`` (the online values pick
    ``a'``, the target values value it). ``q_T`` is member k's own target network
    (``ensemble_target = "member"``) or the target ensemble's combined value on member k's
    batch (``targets.ensemble_value``: ``"mean"``, ``"min"`` or ``"lcb"``); the online selector
    is combined the same way. The discount is ``gamma (1 - terminated)``.

    Args:
        network: the flax module of one member.
        params, target_params: online and target ensembles (leaves ``[K, ...]``).
        batch: a :class:`Transition` whose leaves are ``[K, B, ...]``.
        gamma, pessimism: ``[]`` (may be traced).
        double, ensemble_target: static choices.
    """
    q_tm1 = networks.ensemble_apply_each(network, params, batch.obs)  # [K, B, A]
    discount = gamma * (1.0 - batch.terminated)  # [K, B]
    if ensemble_target == "member":
        q_t = networks.ensemble_apply_each(network, target_params, batch.next_obs)
        selector = networks.ensemble_apply_each(network, params, batch.next_obs)
    else:

        def combined(p, next_obs):  # every member's values on one member's batch: [B, A]
            values = jnp.swapaxes(networks.ensemble_apply(network, p, next_obs), 0, 1)
            value = lambda q: targets.ensemble_value(  # noqa: E731
                q, kind=ensemble_target, pessimism=pessimism
            )
            return jax.vmap(value)(values)  # [B, K, A] -> [B, A]

        q_t = jax.vmap(lambda x: combined(target_params, x))(batch.next_obs)
        selector = jax.vmap(lambda x: combined(params, x))(batch.next_obs)
    if double:
        return jax.vmap(jax.vmap(targets.double_q_learning))(
            q_tm1, batch.action, batch.reward, discount, q_t, selector
        )
    return jax.vmap(jax.vmap(targets.q_learning))(q_tm1, batch.action, batch.reward, discount, q_t)


def ensemble_td_loss(network, params, target_params, batch: Transition, *, loss: str, **kwargs):
    """The sum over members of each member's bootstrap-weighted mean loss.

    Member k's term is ``sum_b w_kb loss(delta_kb) / B`` with ``delta`` from :func:`td_errors`
    (which takes the other keyword arguments), ``loss`` from ``jaxrl.losses.td_loss`` and
    ``w_kb = batch.weights[k, b, k]``, its own bootstrap weight of the transition. Member k's
    parameters enter only its own term, so one gradient step on the stacked ensemble is K
    independent steps, one per member, with an elementwise optimizer such as adam (and no
    clipping of the global norm, which ``check_config`` refuses for an ensemble)."""
    errors = td_errors(network, params, target_params, batch, **kwargs)  # [K, B]
    own = jnp.diagonal(batch.weights, axis1=0, axis2=2).T  # [K, B]: w[k, b, k]
    return jnp.sum(jnp.mean(own * losses.td_loss(errors, kind=loss), axis=-1))


def make_experiment(config) -> Experiment:
    """The runner's view of DQN (see ``jaxrl/configs/dqn_grid.py`` and ``dqn_cartpole.py``)."""
    check_config(config)
    task = make_task(config)
    num_envs, batch_size = config.num_envs, config.batch_size
    ensemble_size, chunk_steps = config.ensemble_size, int(config.chunk_steps)
    updates_per_step = config.updates_per_step
    learning_starts = config.learning_starts
    network = networks.q_network(tuple(config.hidden), task.num_actions)
    epsilon_start = float(config.epsilon_start)
    exploration_steps = -(-config.exploration_steps // num_envs)  # in training steps (ceiling)
    optimizer_config = config.optimizer

    def optimizer(hparams: Hparams) -> optax.GradientTransformation:
        return optim.make_optimizer(
            optimizer_config,
            learning_rate=hparams.learning_rate,
            weight_decay=hparams.weight_decay,
        )

    def epsilon_at(step, hparams: Hparams):
        if exploration_steps == 0:
            return hparams.epsilon
        schedule = optax.linear_schedule(epsilon_start, hparams.epsilon, exploration_steps)
        return schedule(step)

    def q_all(params, obs):  # [K, ..., A]: every member's action values
        return networks.ensemble_apply(network, params, obs)

    def init(key, hparams: Hparams) -> Carry:
        net_key, env_key, key = jax.random.split(key, 3)
        example = jnp.zeros((task.obs_size,), jnp.float32)
        params = networks.ensemble_init(network, net_key, example, ensemble_size)
        obs, env_state = jax.vmap(task.reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), task.params
        )
        weights = jnp.ones((ensemble_size,), jnp.float32)
        item = Transition(example, jnp.int32(0), jnp.float32(0), jnp.float32(0), example, weights)
        truth = ()
        if task.grid is not None:
            truth = common.ground_truth(task.params.mdp, hparams.gamma)
        return Carry(
            params=params,
            target_params=params,
            opt_state=optimizer(hparams).init(params),
            buffer=replay.init(config.buffer_capacity, item),
            obs=obs,
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            truth=truth,
        )

    def loss_fn(params, target_params, batch, hparams: Hparams):
        return ensemble_td_loss(
            network,
            params,
            target_params,
            batch,
            gamma=hparams.gamma,
            loss=config.loss,
            double=config.double,
            ensemble_target=config.ensemble_target,
            pessimism=hparams.pessimism,
        )

    def learn(carry: Carry, hparams: Hparams):
        """``updates_per_step`` optimizer steps, each on K fresh bootstrap minibatches, then the
        target network's move; all masked until the buffer holds ``learning_starts``."""

        def update(state, u):
            params, opt_state = state
            counter = carry.step * updates_per_step + u
            sample_key = rng.counter_key(carry.key_data, counter, SAMPLE_STREAM)
            batch = bootstrap_batches(carry.buffer, sample_key, ensemble_size, batch_size)
            loss, grads = jax.value_and_grad(loss_fn)(params, carry.target_params, batch, hparams)
            updates, opt_state = optimizer(hparams).update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), loss

        (params, opt_state), loss = jax.lax.scan(
            update, (carry.params, carry.opt_state), jnp.arange(updates_per_step)
        )
        ready = carry.buffer.size >= learning_starts
        keep = lambda new, old: jax.tree.map(  # noqa: E731
            lambda n, o: jnp.where(ready, n, o), new, old
        )
        params, opt_state = keep(params, carry.params), keep(opt_state, carry.opt_state)
        move = jnp.logical_and(ready, (carry.step + 1) % hparams.target_period == 0)
        target_params = jax.tree.map(
            lambda w, w_t: jnp.where(move, hparams.tau * w + (1.0 - hparams.tau) * w_t, w_t),
            params,
            carry.target_params,
        )
        loss = jnp.where(ready, jnp.mean(loss) / ensemble_size, jnp.nan)
        return params, target_params, opt_state, loss

    def train_step(carry: Carry, hparams: Hparams):
        index = carry.step * num_envs + jnp.arange(num_envs)
        u = jax.vmap(lambda i: rng.counter_uniforms(carry.key_data, i, ACT_STREAM)[0])(index)
        q = jnp.mean(q_all(carry.params, carry.obs), axis=0)  # [N, A]
        epsilon = epsilon_at(carry.step, hparams)
        actions = jax.vmap(common.epsilon_greedy_action, in_axes=(0, 0, None))(q, u, epsilon)
        env_keys = jax.vmap(lambda i: rng.counter_key(carry.key_data, i, ENV_STREAM))(index)
        obs, env_state, reward, terminated, _, info = jax.vmap(task.step, in_axes=(0, 0, 0, None))(
            env_keys, carry.env_state, actions, task.params
        )
        bagging_key = rng.counter_key(carry.key_data, carry.step, BAGGING_STREAM)
        transitions = Transition(
            carry.obs,
            actions,
            reward,
            terminated.astype(jnp.float32),
            info["final_observation"],
            bootstrap_weights(bagging_key, (num_envs,), ensemble_size),
        )
        carry = carry._replace(buffer=replay.add_batch(carry.buffer, transitions))
        params, target_params, opt_state, loss = learn(carry, hparams)
        done = info["episode_done"]
        finished = jnp.sum(jnp.where(done, env_state.returned_episode_return, 0.0))
        carry = carry._replace(
            params=params,
            target_params=target_params,
            opt_state=opt_state,
            obs=obs,
            env_state=env_state,
            step=carry.step + 1,
        )
        return carry, (loss, finished, jnp.sum(done), epsilon)

    def evaluate_cartpole(carry: Carry) -> jax.Array:
        """Mean return of the greedy policy over ``eval_episodes`` fresh episodes."""
        greedy = lambda obs, _: jnp.argmax(jnp.mean(q_all(carry.params, obs), axis=0), -1)  # noqa: E731
        key = rng.counter_key(carry.key_data, carry.step, EVAL_STREAM)
        return evaluation.evaluate(
            cartpole.reset,
            cartpole.step,
            cartpole.make_params(max_steps=config.max_episode_steps),
            greedy,
            key,
            episodes=config.eval_episodes,
            max_steps=config.max_episode_steps,
        )

    def grid_metrics(carry: Carry, hparams: Hparams) -> dict:
        """The greedy policy against the exact optimum (``jaxrl.dp``, as the tabular agents)."""
        positions = jnp.arange(task.grid.num_states)
        obs = jax.vmap(lambda s: gridworld.observe(s, task.params))(positions)
        q = jnp.mean(q_all(carry.params, obs), axis=0)  # [S, A]
        q_star, v_star = carry.truth
        metrics = common.policy_metrics(q, q_star, v_star, task.params.mdp, hparams.gamma)
        # The book's Figure 8.11(e): RMSE of the estimated state values max_a q(s, a) vs v*.
        metrics["value_rmse"] = jnp.sqrt(jnp.mean(jnp.square(jnp.max(q, axis=-1) - v_star)))
        return metrics

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, (loss, finished, ended, epsilon) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        learned = jnp.sum(~jnp.isnan(loss))
        metrics = {
            "loss": jnp.where(learned > 0, jnp.nansum(loss) / learned, jnp.nan),
            "epsilon": epsilon[-1],
            # Always defined: NaN here (diverged parameters) stops the run with the seed named.
            "q_mean": jnp.mean(jnp.max(jnp.mean(q_all(carry.params, carry.obs), axis=0), -1)),
        }
        if task.grid is not None:
            metrics.update(grid_metrics(carry, hparams))
        else:
            count = jnp.sum(ended)
            metrics["episode_return"] = jnp.where(
                count > 0, jnp.sum(finished) / jnp.maximum(count, 1), jnp.nan
            )
            metrics["eval_return"] = evaluate_cartpole(carry)
        return carry, metrics

    if task.grid is not None:
        names = ("value_error", "value_gap", "optimal", "value_rmse", "q_error", "loss")
        names, main, nan_metrics = (*names, "q_mean", "epsilon"), "value_rmse", ("loss",)
    else:
        names = ("eval_return", "episode_return", "loss", "q_mean", "epsilon")
        main, nan_metrics = "eval_return", ("episode_return", "loss")
    domains = dict(DOMAINS)
    if optimizer_config.name != "adamw":  # only adamw reads a weight decay: refuse a sweep of it
        domains["weight_decay"] = real(0.0, 0.0)
    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=domains,
        metrics=names,
        main_metric=main,
        env_steps_per_step=num_envs,
        nan_metrics=nan_metrics,
    )
