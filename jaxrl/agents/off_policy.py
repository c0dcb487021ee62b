"""The off-policy scaffold: the loop every replay-based agent shares (DQN, DDPG and TD3, SAC).

An algorithm file owns its networks, its targets, its loss and its update, and hands them over as
an :class:`Algorithm`; :func:`make_experiment` owns the rest. Each training step of one seed:

1. acts in its ``num_envs`` environments (``algorithm.act``, with :class:`Draws`: one counter
   per environment in the stream ``ACT_STREAM``; ``ready`` says whether the warm-up is over) and
   steps them through the environment API (``jaxrl.envs``: any registered environment,
   restarted inside ``step``, with episode statistics);
2. stores the transitions ``(s, a, r, terminated, s', extras)`` in a replay buffer
   (``jaxrl.replay``), ``s'`` the observation the step reached (``info["final_observation"]``),
   so a time-limit truncation bootstraps from it and only a termination does not;
3. once the buffer holds ``learning_starts`` transitions, takes ``updates_per_step`` steps of
   ``algorithm.update``, each on a fresh minibatch (uniform, or ``algorithm.sample``), then moves
   the target networks every ``period`` training steps, ``w_T <- tau w + (1 - tau) w_T``
   (``optax.incremental_update``: ``tau = 1`` is a periodic copy, a small ``tau`` with period 1
   Polyak averaging), with ``(period, tau) = algorithm.target_update(hparams)``. Before that,
   nothing learns and the update's metrics are NaN.

After every chunk: the mean return of the episodes that ended in it, the greedy policy's mean
return over ``eval_episodes`` fresh episodes (``jaxrl.envs.evaluation``) when the environment has
episodes, and, on a finite MDP (the environment's ``Finite`` hook), the greedy policy of
``algorithm.action_values`` against the exact optimum (``jaxrl.exact``).

The randomness of a seed is counter-based (``jaxrl.envs.rng``): one stream per use, so a seed of
a vmapped sweep computes what it computes alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl import envs, exact, optim, replay
from jaxrl.envs import evaluation, rng, spaces
from jaxrl.run import Experiment, fields

# Counter streams of a seed's raw key: one per use within a training step.
ACT_STREAM, ENV_STREAM, SAMPLE_STREAM, EVAL_STREAM, UPDATE_STREAM, EXTRAS_STREAM = range(6)
MODES = ("greedy", "sample")
# The config fields the scaffold reads (an algorithm extends it with its own, then its swept).
SCHEMA = envs.SCHEMA.extend(
    "jaxrl.agents.off_policy",
    updates_per_step=fields.static(fields.POSITIVE_INT, "optimizer steps per training step"),
    buffer_capacity=fields.static(fields.POSITIVE_INT, "replay buffer size (transitions)"),
    batch_size=fields.static(fields.POSITIVE_INT, "minibatch size"),
    learning_starts=fields.static(fields.POSITIVE_INT, "transitions stored before learning"),
)


class Algorithm(NamedTuple):
    """What an off-policy algorithm gives the scaffold (every function pure, for one seed).

    Attributes:
        init_keys: how many keys ``init`` takes.
        init: ``(keys [init_keys], hparams) -> (params, opt_state)``; the target networks start
            as copies of ``params``.
        act: ``(params, obs [N, ...], draws, explore, hparams, step, ready) -> (actions [N,
            ...], explore)``: the behaviour; ``draws`` its randomness (:class:`Draws`),
            ``explore`` per-environment exploration state (``explore_init``), ``ready`` whether
            the warm-up is over.
        update: ``(params, target_params, opt_state, batch, key, hparams, step) -> (params,
            opt_state, metrics)``: one optimizer step on a minibatch (a :class:`Transition` of
            ``[B, ...]`` leaves, or what ``sample`` returns); ``metrics`` a dict of scalars named
            ``update_metrics``.
        policy: ``(params, hparams, mode) -> act(obs, key)``, the trained policy for
            ``run.load(...).policy``; ``mode`` is ``"greedy"`` (deterministic) or ``"sample"``;
            ``act`` is batched over the observation's leading axes.
        target_update: ``hparams -> (period, tau)`` of the target networks' move.
        update_metrics: the names of ``update``'s metrics (NaN until learning starts).
        chunk_metrics: ``(params, obs [N, ...], hparams, step) -> dict`` after every chunk; its
            names are ``chunk_metric_names`` (e.g. the mean value of the current states: NaN
            there stops a diverged run with the seed named).
        chunk_metric_names: see ``chunk_metrics``.
        explore_init: ``num_envs -> explore``, restored where an episode ends (``None``: none).
        extras: ``(key, num_envs) -> [N, ...]`` stored with each step's transitions (``None``:
            nothing), e.g. bootstrap weights.
        sample: ``(buffer, key) -> batch`` (``None``: ``replay.sample`` of ``batch_size``).
        action_values: ``(params, obs [S, ...]) -> [S, A]`` for the exact metrics of a finite
            MDP (``None``: none).
    """

    init_keys: int
    init: Callable
    act: Callable
    update: Callable
    policy: Callable
    target_update: Callable
    update_metrics: tuple[str, ...]
    chunk_metrics: Callable
    chunk_metric_names: tuple[str, ...]
    explore_init: Callable | None = None
    extras: Callable | None = None
    sample: Callable | None = None
    action_values: Callable | None = None


class Draws(NamedTuple):
    """The acting randomness of one training step: counter-based (``jaxrl.envs.rng``), one
    counter per environment in the stream ``ACT_STREAM``, drawn as the algorithm needs it."""

    key_data: jax.Array  # [2] uint32, the seed's raw key
    counter: jax.Array  # [N] int32

    def keys(self) -> jax.Array:
        """``[N]`` typed keys, one per environment."""
        return jax.vmap(lambda i: rng.counter_key(self.key_data, i, ACT_STREAM))(self.counter)

    def uniforms(self) -> jax.Array:
        """``[N]`` uniforms on [0, 1), one per environment (one Threefry block each)."""
        draw = lambda i: rng.counter_uniforms(self.key_data, i, ACT_STREAM)[0]  # noqa: E731
        return jax.vmap(draw)(self.counter)


class Transition(NamedTuple):
    obs: jax.Array  # observation acted on
    action: jax.Array
    reward: jax.Array  # []
    terminated: jax.Array  # [] float32: 1 when s' is terminal (nothing to bootstrap)
    next_obs: jax.Array  # observation reached (before any auto-reset)
    extras: Any  # the algorithm's per-transition extras (or ())


class Carry(NamedTuple):
    params: Any
    target_params: Any
    opt_state: Any
    buffer: replay.ReplayState
    obs: jax.Array  # [N, ...]
    env_state: Any  # batched over the N environments
    explore: Any  # the algorithm's exploration state, [N, ...] leaves
    step: jax.Array  # [] int32 training steps taken
    key_data: jax.Array  # [2] uint32
    truth: Any  # a finite MDP's (q*, v*) for this setting's gamma; otherwise ()


def check_config(config, schema: fields.Schema) -> envs.Environment:
    """Refuses a bad field of ``schema`` (the scaffold's extended by an algorithm's) in one line;
    returns the config's environment."""
    schema.check(config)
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
    return envs.make(config.environment, config.env)


def box_bounds(env: envs.Environment, module: str) -> tuple[jax.Array, jax.Array]:
    """``(low, high)`` ``[A]`` of the environment's bounded box of actions (one line if not)."""
    space = env.action_space
    if not isinstance(space, spaces.Box) or not np.all(np.isfinite(space.low + space.high)):
        raise ValueError(f"{module} needs a bounded box of actions; {env.name!r} has none")
    return tuple(jnp.asarray(b) for b in space.bounds())


def run_updates(config) -> int:
    """The optimizer updates of a run: ``updates_per_step`` on each training step from the first
    whose buffer holds ``learning_starts`` transitions (step ``s``, from 0, stores ``num_envs``
    transitions and then learns), ``ceil(learning_starts / num_envs) - 1``, to the last. A
    schedule with ``decay_steps = 0`` decays over them."""
    first = -(-int(config.learning_starts) // int(config.num_envs)) - 1
    return max(int(config.total_steps) - first, 0) * int(config.updates_per_step)


def make_experiment(
    config, env: envs.Environment, algorithm: Algorithm, schema: fields.Schema, *, domains=None
):
    """The runner's view of ``algorithm`` on ``env`` (module docstring); its hyperparameters are
    ``schema``'s swept fields, with ``domains`` narrowing theirs for this config."""
    domains = schema.domains if domains is None else domains
    reset, step_env, env_params = envs.training(env)
    num_envs, batch_size = config.num_envs, config.batch_size
    updates_per_step, learning_starts = config.updates_per_step, config.learning_starts
    chunk_steps, finite, episodic = int(config.chunk_steps), env.finite, env.max_steps is not None
    obs_example = jnp.zeros(env.observation_space.shape, env.observation_space.dtype)
    action_example = jnp.zeros(env.action_space.shape, env.action_space.dtype)
    explore_init = algorithm.explore_init or (lambda n: ())
    extras = algorithm.extras or (lambda key, n: ())

    def sample(buffer, key):
        if algorithm.sample is not None:
            return algorithm.sample(buffer, key)
        return replay.sample(buffer, key, batch_size)

    def init(key, hparams) -> Carry:
        *net_keys, env_key, key = jax.random.split(key, algorithm.init_keys + 2)
        params, opt_state = algorithm.init(jnp.stack(net_keys), hparams)
        obs, env_state = jax.vmap(reset, in_axes=(0, None))(
            jax.random.split(env_key, num_envs), env_params
        )
        example_extras = jax.tree.map(lambda x: x[0], extras(jax.random.key(0), 1))
        item = Transition(
            obs_example, action_example, jnp.float32(0), jnp.float32(0), obs_example, example_extras
        )
        truth = () if finite is None else exact.ground_truth(finite.mdp, hparams.gamma)
        return Carry(
            params=params,
            target_params=params,
            opt_state=opt_state,
            buffer=replay.init(config.buffer_capacity, item),
            obs=obs,
            env_state=env_state,
            explore=explore_init(num_envs),
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            truth=truth,
        )

    def learn(carry: Carry, hparams):
        """``updates_per_step`` updates, then the target networks' move; all kept only once the
        buffer holds ``learning_starts`` transitions."""

        def one(state, u):
            params, opt_state = state
            counter = carry.step * updates_per_step + u
            batch = sample(carry.buffer, rng.counter_key(carry.key_data, counter, SAMPLE_STREAM))
            update_key = rng.counter_key(carry.key_data, counter, UPDATE_STREAM)
            params, opt_state, metrics = algorithm.update(
                params, carry.target_params, opt_state, batch, update_key, hparams, carry.step
            )
            return (params, opt_state), metrics

        state = (carry.params, carry.opt_state)
        if updates_per_step == 1:  # no loop: XLA compiles the one update as it stands
            (params, opt_state), metrics = one(state, 0)
            metrics = jax.tree.map(lambda x: x[None], metrics)
        else:
            (params, opt_state), metrics = jax.lax.scan(one, state, jnp.arange(updates_per_step))
        ready = carry.buffer.size >= learning_starts
        keep = lambda new, old: jax.tree.map(lambda n, o: jnp.where(ready, n, o), new, old)  # noqa: E731
        params, opt_state = keep(params, carry.params), keep(opt_state, carry.opt_state)
        period, tau = algorithm.target_update(hparams)
        move = jnp.logical_and(ready, (carry.step + 1) % period == 0)
        target_params = jax.tree.map(
            lambda new, old: jnp.where(move, new, old),
            optax.incremental_update(params, carry.target_params, tau),
            carry.target_params,
        )
        metrics = {k: jnp.where(ready, jnp.mean(v), jnp.nan) for k, v in metrics.items()}
        return carry._replace(params=params, target_params=target_params, opt_state=opt_state), (
            metrics
        )

    def train_step(carry: Carry, hparams):
        index = carry.step * num_envs + jnp.arange(num_envs)
        ready = carry.buffer.size >= learning_starts
        action, explore = algorithm.act(
            carry.params,
            carry.obs,
            Draws(carry.key_data, index),
            carry.explore,
            hparams,
            carry.step,
            ready,
        )
        env_keys = jax.vmap(lambda i: rng.counter_key(carry.key_data, i, ENV_STREAM))(index)
        obs, env_state, reward, terminated, _, info = jax.vmap(step_env, in_axes=(0, 0, 0, None))(
            env_keys, carry.env_state, action, env_params
        )
        extras_key = rng.counter_key(carry.key_data, carry.step, EXTRAS_STREAM)
        transitions = Transition(
            carry.obs,
            action,
            reward,
            terminated.astype(jnp.float32),
            info["final_observation"],
            extras(extras_key, num_envs),
        )
        carry = carry._replace(buffer=replay.add_batch(carry.buffer, transitions))
        carry, metrics = learn(carry, hparams)
        done = info["episode_done"]
        restart = lambda x, x0: jnp.where(done.reshape(done.shape + (1,) * (x.ndim - 1)), x0, x)  # noqa: E731
        carry = carry._replace(
            obs=obs,
            env_state=env_state,
            explore=jax.tree.map(restart, explore, explore_init(num_envs)),
            step=carry.step + 1,
        )
        finished = jnp.sum(jnp.where(done, env_state.returned_episode_return, 0.0))
        return carry, (metrics, finished, jnp.sum(done))

    def exact_metrics(carry: Carry, hparams) -> dict:
        """The greedy policy of the action values against the exact optimum."""
        q = algorithm.action_values(carry.params, finite.observations)  # [S, A]
        q_star, v_star = carry.truth
        metrics = exact.policy_metrics(q, q_star, v_star, finite.mdp, hparams.gamma)
        # The book's Figure 8.11(e): RMSE of the estimated state values max_a q(s, a) vs v*.
        metrics["value_rmse"] = jnp.sqrt(jnp.mean(jnp.square(jnp.max(q, axis=-1) - v_star)))
        return metrics

    def train_chunk(carry: Carry, hparams):
        carry, (per_step, finished, ended) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        metrics = {}
        if episodic:
            metrics = evaluation.episode_metrics(
                env,
                algorithm.policy(carry.params, hparams, "greedy"),
                rng.counter_key(carry.key_data, carry.step, EVAL_STREAM),
                episodes=config.eval_episodes,
                finished=finished,
                ended=ended,
            )
        if exact_names:
            metrics.update(exact_metrics(carry, hparams))
        for name, values in per_step.items():
            learned = jnp.sum(~jnp.isnan(values))
            metrics[name] = jnp.where(learned > 0, jnp.nansum(values) / learned, jnp.nan)
        metrics.update(algorithm.chunk_metrics(carry.params, carry.obs, hparams, carry.step))
        return carry, metrics

    exact_names = ()
    if finite is not None and algorithm.action_values is not None:
        exact_names = ("value_error", "value_gap", "optimal", "value_rmse", "q_error")
        domains = {**domains, "gamma": exact.GAMMA}  # the ground truth is solved for each gamma
    generic = ("eval_return", "episode_return") if episodic else ()
    names = (*generic, *exact_names, *algorithm.update_metrics, *algorithm.chunk_metric_names)
    main = "value_rmse" if exact_names else (names[0])
    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=schema.hparams_type,
        domains=domains,
        metrics=names,
        main_metric=main,
        env_steps_per_step=num_envs,
        nan_metrics=(*generic[1:], *algorithm.update_metrics),
        policy=lambda carry, hparams, mode: algorithm.policy(carry.params, hparams, mode),
        values=None
        if algorithm.action_values is None
        else lambda carry, hparams: lambda obs: algorithm.action_values(carry.params, obs),
        depends_on_total_steps=optim.over_the_run(config.optimizer, run_updates(config))[1],
    )
