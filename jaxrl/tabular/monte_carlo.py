"""Monte Carlo control on the grid world: MC basic, MC exploring starts and MC epsilon-greedy.

Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 5. All three are generalized
policy iteration in which the action values of the current policy are estimated from sampled
returns instead of being computed from the model. The task is the book's continuing one, so an
"episode" is a trajectory cut after ``L`` steps and its returns are truncated:
``g_t = r_{t+1} + gamma r_{t+2} + ... + gamma^{L-1-t} r_L``. (Arrays hold ``rewards[t]``, the
book's ``r_{t+1}``: the reward received after acting at step ``t``.)

* **MC basic** (ch. 5.2, Algorithm 5.1). Policy iteration with a model-free evaluation step: for
  every pair ``(s, a)`` one episode of ``L`` steps starts with ``a`` in ``s`` and then follows the
  deterministic policy ``pi_k``; its return is ``q_k(s, a)``; ``pi_{k+1}`` is greedy in
  ``q_k``. The grid world and ``pi_k`` are deterministic, so one episode per pair gives the exact
  ``L``-step truncated action value (the book's remark), and MC basic is deterministic. All
  ``S * A`` episodes run as one vmapped ``lax.scan`` (:func:`truncated_action_values`). Short
  episodes cannot see the target from far away, so their values there are 0 and their policy is
  poor: the book's example on the episode length (ch. 5.2), reproduced by sweeping
  ``episode_length``.

* **MC exploring starts** (ch. 5.3, Algorithm 5.2). Each episode starts from a pair
  ``(s_0, a_0)`` drawn uniformly from all ``S * A`` pairs (so every pair keeps being explored)
  and then follows the current greedy policy; after the episode the returns are averaged into
  ``q`` (first-visit or every-visit, a static option) and the policy becomes greedy in ``q``
  (generalized policy iteration: one episode per improvement).

* **MC epsilon-greedy** (ch. 5.4, Algorithm 5.3). No exploring starts: each episode starts in a
  uniformly drawn state and every action, the first included, comes from the current
  epsilon-greedy policy (the book's: greedy action with probability ``1 - eps (|A| - 1) / |A|``).
  Every-visit returns are averaged; the policy is improved to epsilon-greedy in ``q``. With a
  fixed epsilon the target is the best epsilon-greedy policy
  (:func:`jaxrl.dp.epsilon_greedy_value_iteration`), not the optimal policy.

The last two are one algorithm with two start rules and run through the experiment runner:
``make_experiment(config)`` returns a :class:`jaxrl.run.Experiment` whose training step is one
episode (``config.total_steps`` and ``config.chunk_steps`` count episodes; the runner's
environment-step counts multiply by ``episode_length``) and whose ``train_chunk`` is a
``lax.scan`` over episodes, each an inner ``lax.scan`` of ``gridworld.step`` calls; the runner
vmaps it over seeds and settings. Episodes start with ``gridworld.reset`` (a uniform start cell)
and per-episode randomness comes from counter-based uniforms
(:func:`jaxrl.envs.rng.counter_uniforms`) indexed by the episode and step numbers, so no key is
split in the loop. MC basic runs through the runner too (one seed suffices: it is
deterministic), with ``episode_length`` a swept integer, so the book's sweep over episode lengths
is one program; and it is available as the plain function :func:`mc_basic` for figures.

Averaging is incremental: after an episode in which pair ``p`` collected ``k`` counted returns
summing to ``G``, ``n(p) <- n(p) + k`` and ``q(p) <- q(p) + (G - k q(p)) / n(p)``, which is the
exact mean of all returns of ``p`` so far (ch. 5.3's ``Returns / Num``) without carrying sums.
Options beyond the book: ``tail_steps``, the number of final steps of each episode whose own
(shortest-horizon) returns are not averaged but only complete the earlier ones, which bounds the
truncation bias of every averaged return by ``gamma^tail_steps max|r| / (1 - gamma)``; and
``epsilon > 0`` for exploring starts.

Metrics per chunk (per seed): ``value_error`` = ``max_s |v_pi(s) - v_target(s)|`` where ``pi`` is
the policy the algorithm would act with now (greedy, or epsilon-greedy in ``q``), and
``v_target`` the values of the best policy of that kind (the optimal policy, or the best
epsilon-greedy one), both evaluated to within 1e-5 by :func:`jaxrl.dp.evaluate_policy_bounded`;
``optimal`` = 1 if ``value_error < 1e-4``; ``q_error`` = ``max |q - q_target|``; ``return`` =
mean discounted return from the episodes' starts in the chunk. MC basic reports
``value_error``, ``q_error`` (its truncated estimates against ``q*``), ``optimal`` and
``policy_changes``.

Fields: ``BASIC_SCHEMA`` for MC basic (``method = "basic"`` and the grid static;
``episode_length`` and ``gamma`` swept), ``SCHEMA`` for the other two (``method``,
``episode_length``, ``visits``, ``tail_steps`` and the grid static; ``epsilon`` and ``gamma``
swept).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import dp
from jaxrl.envs import grid_tasks, gridworld, rng
from jaxrl.run import PROBABILITY, Experiment, fields, integer
from jaxrl.tabular.common import (
    GAMMA,
    epsilon_greedy_action,
    grid_from_config,
    ground_truth,
    policy_metrics,
)
from jaxrl.targets import discounted_returns

METHODS = ("basic", "exploring_starts", "epsilon_greedy")
SAMPLING_METHODS = METHODS[1:]  # make_sampling_experiment's; "basic" is make_basic_experiment's
VISITS = ("first", "every")
# Counter streams: the episode's start (reset) and first action, the actions, the environment.
START_STREAM, FIRST_ACTION_STREAM, ACTION_STREAM, ENV_STREAM = 3, 0, 1, 2


# ---------------------------------------------------------------------------------------------
# Averaging, one episode at a time (the returns are ``jaxrl.targets.discounted_returns``).


def first_visit_mask(pairs: jax.Array, num_pairs: int) -> jax.Array:
    """``[T]`` bool: whether step ``t`` is the first visit of its pair ``pairs[t]`` in the episode.

    Computed in ``O(T + num_pairs)`` by a scatter-min of the step index into the pairs.

    Args:
        pairs: ``[T]`` int pair indices ``s * A + a``, each in ``[0, num_pairs)``.
        num_pairs: the number of pairs.
    """
    chex.assert_rank(pairs, 1)
    chex.assert_type(pairs, int)
    steps = jnp.arange(pairs.shape[0], dtype=jnp.int32)
    first_step = jnp.full((num_pairs,), pairs.shape[0], jnp.int32).at[pairs].min(steps)
    return first_step[pairs] == steps


def average_returns(
    q: jax.Array, counts: jax.Array, pairs: jax.Array, returns: jax.Array, weights: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """Adds one episode's returns to the running averages: ``q(p) = Returns(p) / Num(p)``.

    With ``k(p) = sum_t w_t [pairs_t = p]`` and ``G(p) = sum_t w_t g_t [pairs_t = p]``:
    ``n(p) <- n(p) + k(p)``, ``q(p) <- q(p) + (G(p) - k(p) q(p)) / n(p)`` (unchanged where
    ``n(p) = 0``). Zhao, ch. 5.3 (Algorithm 5.2) in incremental form (ch. 6.1).

    Args:
        q: ``[P]`` float current averages, one per pair (flattened ``[S * A]``).
        counts: ``[P]`` float number of returns averaged so far.
        pairs: ``[T]`` int pair of each step.
        returns: ``[T]`` float return of each step.
        weights: ``[T]`` float, 1 for a counted return, 0 for one left out (first-visit, tail).

    Returns:
        ``(q, counts)`` updated.
    """
    chex.assert_rank([q, counts, pairs, returns, weights], [1, 1, 1, 1, 1])
    chex.assert_equal_shape([q, counts])
    chex.assert_equal_shape([pairs, returns, weights])
    k = jnp.zeros_like(counts).at[pairs].add(weights)
    total = jnp.zeros_like(q).at[pairs].add(weights * returns)
    counts = counts + k
    q = q + (total - k * q) / jnp.maximum(counts, 1.0)
    return q, counts


# ---------------------------------------------------------------------------------------------
# MC basic.


def truncated_action_values(
    next_state: jax.Array,
    reward: jax.Array,
    policy: jax.Array,
    *,
    gamma: jax.typing.ArrayLike,
    episode_length: jax.typing.ArrayLike,
    max_length: int,
) -> jax.Array:
    """MC basic's policy evaluation: the return of one episode from every pair ``(s, a)``.

    The episode from ``(s, a)`` takes ``a`` in ``s`` and then ``policy``'s action for
    ``episode_length - 1`` more steps; ``q(s, a) = sum_{t < L} gamma^t r_{t+1}`` (Zhao, ch. 5.2).
    In a deterministic MDP with a deterministic policy this is the exact ``L``-step truncated
    action value of the policy. All pairs run in one vmapped ``lax.scan`` of ``max_length``
    steps; steps ``t >= episode_length`` are masked out, so ``episode_length`` may be traced
    (a sweep over lengths compiles once).

    Args:
        next_state: ``[S, A]`` int deterministic successor table.
        reward: ``[S, A]`` float reward table.
        policy: ``[S]`` int action of the deterministic policy in each state.
        gamma: discount.
        episode_length: ``L``, between 1 and ``max_length``.
        max_length: static scan length.

    Returns:
        ``[S, A]`` float32 returns.
    """
    chex.assert_rank([next_state, reward, policy], [2, 2, 1])
    chex.assert_equal_shape([next_state, reward])
    chex.assert_type([next_state, reward, policy], [int, float, int])
    num_states, num_actions = reward.shape

    def one_episode(s0, a0):
        def step(carry, t):
            s, a = carry
            r = jnp.where(t < episode_length, reward[s, a], 0.0)  # steps past L: no reward
            s = next_state[s, a]
            return (s, policy[s]), r

        _, rewards = jax.lax.scan(step, (s0, a0), jnp.arange(max_length))
        discounts = jnp.full_like(rewards, gamma)
        return discounted_returns(rewards, discounts, jnp.zeros((), rewards.dtype))[0]

    states = jnp.arange(num_states, dtype=jnp.int32)
    actions = jnp.arange(num_actions, dtype=jnp.int32)
    return jax.vmap(jax.vmap(one_episode, (None, 0)), (0, None))(states, actions)


class MCBasicResult(NamedTuple):
    """What :func:`mc_basic` returns (``K`` iterations).

    Attributes:
        q: ``[S, A]`` the last estimates ``q_{K-1}`` (of the policy ``pi_{K-1}``).
        policy: ``[S]`` int the final greedy policy ``pi_K``.
        q_history: ``[K, S, A]``: entry ``k`` estimates the policy ``policy_history[k]``.
        policy_history: ``[K + 1, S]`` int: ``pi_0 .. pi_K``.
    """

    q: jax.Array
    policy: jax.Array
    q_history: jax.Array
    policy_history: jax.Array


def _check_deterministic(grid: gridworld.GridWorld) -> None:
    if grid.slip or grid.absorbing_target:
        raise ValueError(
            "MC basic uses one episode per pair, exact only in the deterministic, non-absorbing "
            f"grid world; got slip={grid.slip}, absorbing_target={grid.absorbing_target}"
        )


def _check_length(name: str, value) -> int:
    if float(value) != int(value) or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def mc_basic(
    grid: gridworld.GridWorld,
    *,
    gamma: float,
    episode_length: int,
    num_iterations: int,
    initial_policy: jax.Array | None = None,
) -> MCBasicResult:
    """MC basic: ``q_k`` = one ``L``-step episode per pair under ``pi_k``; ``pi_{k+1}`` greedy.

    Zhao, ch. 5.2, Algorithm 5.1, for a fixed number of iterations (ties of the greedy policy go
    to the lowest action index, as in :func:`jaxrl.dp.greedy_policy`).

    Args:
        grid: a deterministic, non-absorbing grid world.
        gamma: discount in [0, 1).
        episode_length: ``L`` >= 1.
        num_iterations: ``K`` >= 1 evaluate-improve steps.
        initial_policy: ``[S]`` int actions of ``pi_0`` (default: all ``UP``, action 0).

    Returns:
        :class:`MCBasicResult`.
    """
    _check_deterministic(grid)
    dp.check_gamma(gamma)
    length = _check_length("episode_length", episode_length)
    iterations = _check_length("num_iterations", num_iterations)
    next_state, reward = gridworld.to_grid_mdp(grid).deterministic_tables()
    if initial_policy is None:
        initial_policy = jnp.zeros((grid.num_states,), jnp.int32)
    if tuple(np.shape(initial_policy)) != (grid.num_states,):
        raise ValueError(
            f"initial_policy must have shape [S] = [{grid.num_states}], "
            f"got {list(np.shape(initial_policy))}"
        )
    return _mc_basic(
        next_state,
        reward,
        jnp.asarray(initial_policy, jnp.int32),
        jnp.float32(gamma),
        length=length,
        num_iterations=iterations,
    )


@functools.partial(jax.jit, static_argnames=("length", "num_iterations"))
def _mc_basic(next_state, reward, policy0, gamma, *, length, num_iterations):
    def iteration(policy, _):
        q = truncated_action_values(
            next_state, reward, policy, gamma=gamma, episode_length=length, max_length=length
        )
        new_policy = jnp.argmax(q, axis=-1).astype(jnp.int32)
        return new_policy, (q, policy)

    policy, (qs, policies) = jax.lax.scan(iteration, policy0, None, length=num_iterations)
    history = jnp.concatenate([policies, policy[None]], axis=0)
    return MCBasicResult(q=qs[-1], policy=policy, q_history=qs, policy_history=history)


BASIC_SCHEMA = grid_tasks.CONTINUING_SCHEMA.extend(
    "jaxrl.tabular.monte_carlo (MC basic)",
    method=fields.static(fields.one_of("basic"), "MC basic (make_basic_experiment)"),
    episode_length=fields.swept(integer(1), "L, the steps of each pair's episode (int32)"),
    gamma=fields.swept(GAMMA, "the discount"),
)
BasicHparams = BASIC_SCHEMA.hparams_type


class BasicCarry(NamedTuple):
    """MC basic's state (deterministic: the seed is not used)."""

    policy: jax.Array  # [S] int32 current policy pi_k
    q: jax.Array  # [S, A] estimates of the previous policy (zeros before the first iteration)
    q_star: jax.Array  # [S, A]
    v_star: jax.Array  # [S]


def _max_episode_length(config) -> int:
    """The longest episode length a config runs (its default or its sweep): the static scan
    length. The values themselves are checked by the runner against the domain (integers >= 1)
    before anything is compiled."""
    values = list(config.sweep.get("episode_length", ())) or [config.hparams.episode_length]
    lengths = []
    for v in values:
        try:
            lengths.append(int(float(v)))
        except (TypeError, ValueError):
            pass
    return max([1, *lengths])


def make_basic_experiment(config) -> Experiment:
    """MC basic for the runner: one train step is one evaluate-improve iteration.

    ``config.total_steps`` and ``config.chunk_steps`` count iterations; the scan length of an
    episode is the longest ``episode_length`` of the config, shorter ones are masked, so one
    iteration takes ``S * A * max_length`` environment steps (model steps of the deterministic
    tables) for every setting.
    """
    BASIC_SCHEMA.check(config)
    grid = grid_from_config(config.env)
    _check_deterministic(grid)
    max_length = _max_episode_length(config)
    mdp = gridworld.to_grid_mdp(grid)
    next_state, reward = mdp.deterministic_tables()
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    chunk_steps = int(config.chunk_steps)

    def init(key: jax.Array, hparams: BasicHparams) -> BasicCarry:
        del key  # MC basic is deterministic
        q_star, v_star = ground_truth(mdp, hparams.gamma)
        return BasicCarry(
            policy=jnp.zeros((num_states,), jnp.int32),  # pi_0: always UP
            q=jnp.zeros((num_states, num_actions), jnp.float32),
            q_star=q_star,
            v_star=v_star,
        )

    def iteration(carry: BasicCarry, hparams: BasicHparams) -> BasicCarry:
        q = truncated_action_values(
            next_state,
            reward,
            carry.policy,
            gamma=hparams.gamma,
            episode_length=hparams.episode_length,
            max_length=max_length,
        )
        return carry._replace(policy=jnp.argmax(q, axis=-1).astype(jnp.int32), q=q)

    def train_chunk(carry: BasicCarry, hparams: BasicHparams) -> tuple[BasicCarry, dict]:
        before = jax.lax.scan(
            lambda c, _: (iteration(c, hparams), None), carry, None, length=chunk_steps - 1
        )[0]
        carry = iteration(before, hparams)
        # The policy is greedy in q (the improvement step), so the metrics of q's are its.
        truth = policy_metrics(carry.q, carry.q_star, carry.v_star, mdp, hparams.gamma)
        metrics = {name: truth[name] for name in ("value_error", "q_error", "optimal")}
        metrics["policy_changes"] = jnp.sum(carry.policy != before.policy).astype(jnp.float32)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=BasicHparams,
        domains=BASIC_SCHEMA.domains,
        metrics=("value_error", "q_error", "optimal", "policy_changes"),
        main_metric="value_error",
        env_steps_per_step=num_states * num_actions * max_length,
    )


# ---------------------------------------------------------------------------------------------
# MC exploring starts and MC epsilon-greedy.


SCHEMA = grid_tasks.CONTINUING_SCHEMA.extend(
    "jaxrl.tabular.monte_carlo (MC exploring starts / epsilon-greedy)",
    method=fields.static(
        fields.one_of(*SAMPLING_METHODS), "exploring starts or epsilon-greedy starts"
    ),
    episode_length=fields.static(fields.POSITIVE_INT, "environment steps per episode"),
    visits=fields.static(fields.one_of(*VISITS), "average every visit's return, or first visits'"),
    tail_steps=fields.static(
        fields.COUNT, "last steps per episode whose own (short) returns are not averaged"
    ),
    epsilon=fields.swept(PROBABILITY, "exploration of the behaviour (and improved) policy"),
    gamma=fields.swept(GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    """Training state of one seed and setting."""

    q: jax.Array  # [S, A] average of the returns collected for each pair
    counts: jax.Array  # [S, A] float32 number of returns averaged
    episode: jax.Array  # [] int32 episodes done (the counter of the random streams)
    key_data: jax.Array  # [2] uint32 raw key of this seed
    q_target: jax.Array  # [S, A] action values of the best (epsilon-)greedy policy
    v_target: jax.Array  # [S] its exact values


class Episode(NamedTuple):
    """One episode: ``states[t]``, ``actions[t]`` and ``rewards[t]`` (the book's ``r_{t+1}``)."""

    states: jax.Array  # [L] int32
    actions: jax.Array  # [L] int32
    rewards: jax.Array  # [L] float32


def generate_episode(
    q: jax.Array,
    key_data: jax.Array,
    episode: jax.Array,
    *,
    params: gridworld.EnvParams,
    epsilon: jax.Array,
    length: int,
    exploring_start: bool,
) -> Episode:
    """One episode of ``length`` steps following the epsilon-greedy policy of ``q``.

    The episode starts with ``gridworld.reset`` on ``counter_key(key_data, episode,
    START_STREAM)`` (a uniform start cell for the continuing grid). With ``exploring_start`` the
    first action is uniform too (Zhao, ch. 5.3), drawn from the second of
    ``counter_uniforms(key_data, episode, FIRST_ACTION_STREAM)``; otherwise it comes from the
    policy like the others (ch. 5.4), from the same uniform. The action at step ``t >= 1`` uses
    ``counter_uniforms(key_data, episode * length + t, ACTION_STREAM)``; the environment's own
    randomness (slip) uses ``counter_key(..., ENV_STREAM)`` of the same step.

    Args:
        q: ``[S, A]`` action values defining the (epsilon-)greedy policy.
        key_data: ``[2]`` uint32 raw key of the seed.
        episode: ``[]`` int32 episode index.
        params: the grid world's :class:`jaxrl.envs.gridworld.EnvParams`.
        epsilon: exploration in [0, 1] (0: greedy).
        length: static number of steps ``L``.
        exploring_start: draw the first action uniformly rather than from the policy.
    """
    chex.assert_rank(q, 2)
    num_actions = q.shape[-1]
    s0, env_state = gridworld.reset(rng.counter_key(key_data, episode, START_STREAM), params)
    _, u_action = rng.counter_uniforms(key_data, episode, stream=FIRST_ACTION_STREAM)
    if exploring_start:
        a0 = jnp.minimum(jnp.floor(u_action * num_actions), num_actions - 1).astype(jnp.int32)
    else:
        a0 = epsilon_greedy_action(q[s0], u_action, epsilon)
    first_step = episode * length
    # Without slip the move is deterministic and the step never reads its key: skip the hash.
    unused_key = jax.random.wrap_key_data(jnp.zeros((2,), jnp.uint32), impl="threefry2x32")

    def step(carry, t):
        s, env_state, a = carry
        if params.mdp.slip:
            env_key = rng.counter_key(key_data, first_step + t, stream=ENV_STREAM)
        else:
            env_key = unused_key
        s_next, env_state, reward, _, _, _ = gridworld.step(env_key, env_state, a, params)
        u, _ = rng.counter_uniforms(key_data, first_step + t + 1, stream=ACTION_STREAM)
        a_next = epsilon_greedy_action(q[s_next], u, epsilon)
        return (s_next, env_state, a_next), (s, a, reward)

    _, (states, actions, rewards) = jax.lax.scan(step, (s0, env_state, a0), jnp.arange(length))
    return Episode(states=states, actions=actions, rewards=rewards)


def make_sampling_experiment(config) -> Experiment:
    """MC exploring starts or MC epsilon-greedy (``config.method``) for the runner.

    One training step is one episode of ``config.episode_length`` environment steps, followed by
    policy evaluation (averaging) and improvement; ``config.total_steps`` and
    ``config.chunk_steps`` count episodes.
    """
    SCHEMA.check(config)
    length, tail = int(config.episode_length), int(config.tail_steps)
    if tail >= length:
        raise ValueError(
            f"config.tail_steps must be an integer in [0, episode_length) = [0, {length}), "
            f"got {config.tail_steps!r}"
        )
    exploring_start = config.method == "exploring_starts"
    first_visit = config.visits == "first"
    grid = grid_from_config(config.env)
    params = gridworld.make_params(grid)  # continuing: uniform start cells, no time limit
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    num_pairs = num_states * num_actions
    episodes_per_chunk = int(config.chunk_steps)
    counted = (jnp.arange(length) < length - tail).astype(jnp.float32)  # [L] tail left out

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        q_target, v_target = ground_truth(mdp, hparams.gamma, hparams.epsilon)
        return Carry(
            q=jnp.zeros((num_states, num_actions), jnp.float32),
            counts=jnp.zeros((num_states, num_actions), jnp.float32),
            episode=jnp.int32(0),
            key_data=jax.random.key_data(key),
            q_target=q_target,
            v_target=v_target,
        )

    def train_episode(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        episode = generate_episode(
            carry.q,
            carry.key_data,
            carry.episode,
            params=params,
            epsilon=hparams.epsilon,
            length=length,
            exploring_start=exploring_start,
        )
        # The truncated returns g_t = r_{t+1} + gamma g_{t+1}, g_L = 0 (Zhao, ch. 5.3).
        returns = discounted_returns(
            episode.rewards, jnp.full_like(episode.rewards, hparams.gamma), 0.0
        )
        pairs = episode.states * num_actions + episode.actions
        weights = counted * first_visit_mask(pairs, num_pairs) if first_visit else counted
        q, counts = average_returns(
            carry.q.reshape(-1), carry.counts.reshape(-1), pairs, returns, weights
        )
        # Improvement is implicit: the policy is always (epsilon-)greedy in the current q.
        carry = carry._replace(
            q=q.reshape(num_states, num_actions),
            counts=counts.reshape(num_states, num_actions),
            episode=carry.episode + 1,
        )
        return carry, returns[0]

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, start_returns = jax.lax.scan(
            lambda c, _: train_episode(c, hparams), carry, None, length=episodes_per_chunk
        )
        truth = policy_metrics(
            carry.q, carry.q_target, carry.v_target, mdp, hparams.gamma, epsilon=hparams.epsilon
        )
        metrics = {name: truth[name] for name in ("value_error", "q_error", "optimal")}
        metrics["return"] = jnp.mean(start_returns)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=SCHEMA.domains,
        metrics=("value_error", "q_error", "optimal", "return"),
        main_metric="value_error",
        env_steps_per_step=length,
    )


def make_experiment(config) -> Experiment:
    """The runner's view of the Monte Carlo method ``config.method`` (one of ``METHODS``).

    See ``jaxrl/configs/mc_basic.py``, ``mc_exploring_starts.py`` and ``mc_epsilon_greedy.py``.
    """
    if config.get("method") == "basic":
        return make_basic_experiment(config)
    return make_sampling_experiment(config)  # its schema refuses any other method
