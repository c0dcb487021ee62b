"""Pieces shared by the tabular algorithms: the grid from a config, behaviour, step sizes."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl.envs import gridworld

STEP_SIZES = ("constant", "harmonic", "polynomial")


def grid_from_config(env) -> gridworld.GridWorld:
    """The grid world named by a config's ``env`` block."""
    return gridworld.GridWorld(
        shape=tuple(env.shape),
        target=tuple(env.target),
        forbidden=tuple(tuple(c) for c in env.forbidden),
        reward_boundary=env.reward_boundary,
        reward_forbidden=env.reward_forbidden,
        reward_target=env.reward_target,
        reward_step=env.reward_step,
    )


def epsilon_greedy_action(q_s: jax.Array, u: jax.Array, epsilon: jax.Array) -> jax.Array:
    """An epsilon-greedy action from one uniform ``u``.

    Uniform over all actions when ``u < epsilon`` (then ``u / epsilon`` is uniform again and picks
    it), else the greedy one (lowest index on ties). This is the book's policy (Zhao, ch. 5.4):
    the greedy action has probability ``1 - epsilon (|A| - 1) / |A|``.
    """
    num_actions = q_s.shape[-1]
    explore = u < epsilon
    random_action = jnp.minimum(jnp.floor(num_actions * u / epsilon), num_actions - 1)
    return jnp.where(explore, random_action.astype(jnp.int32), jnp.argmax(q_s).astype(jnp.int32))


def epsilon_greedy_probs(q_s: jax.Array, epsilon: jax.Array) -> jax.Array:
    """``pi(. | s)`` of the epsilon-greedy policy of ``q_s`` (``[A]``; ties to the lowest index)."""
    num_actions = q_s.shape[-1]
    greedy = jax.nn.one_hot(jnp.argmax(q_s), num_actions, dtype=q_s.dtype)
    return greedy * (1.0 - epsilon) + epsilon / num_actions


def check_step_size(config) -> float | None:
    """Validates ``config.step_size``; returns the visit-count power, or None for constant.

    ``"constant"``: ``alpha = learning_rate``; ``"harmonic"``: ``learning_rate / n(s, a)``;
    ``"polynomial"``: ``learning_rate / n(s, a)^step_power`` with ``config.step_power`` in
    (0.5, 1] (the Robbins-Monro conditions hold for all of these decaying schedules; powers below
    1 forget the initial estimates much faster when targets bootstrap).
    """
    if config.step_size not in STEP_SIZES:
        raise ValueError(f"config.step_size must be one of {STEP_SIZES}, got {config.step_size!r}")
    if config.step_size == "constant":
        return None
    if config.step_size == "harmonic":
        return 1.0
    power = float(config.step_power)
    if not 0.5 < power <= 1.0:
        raise ValueError(f"config.step_power must be in (0.5, 1], got {config.step_power!r}")
    return power


def step_size(visits, s, a, learning_rate, power: float | None):
    """``(visits, alpha)`` for the pair ``(s, a)``: counts the visit when the schedule needs it."""
    if power is None:
        return visits, learning_rate
    visits = visits.at[s, a].add(1.0)
    return visits, learning_rate / visits[s, a] ** power


def move(params: gridworld.EnvParams, key_data, step, state, action):
    """One grid-world step from state index ``state`` (continuing task): ``(next, reward)``."""
    from jaxrl.envs import rng

    env_key = rng.counter_key(key_data, step, stream=1)
    env_state = gridworld.EnvState(position=state, time=jnp.int32(0))
    _, next_state, reward, _, _ = gridworld.step(env_key, env_state, action, params)
    return next_state.position, reward


def episodic_params(grid: gridworld.GridWorld, config):
    """The book's path-finding task (ch. 7): episodes from ``config.env.start`` to the target,
    which becomes absorbing, cut after ``config.max_episode_steps`` (truncation, not an end).
    Returns ``(grid, params)``."""
    import dataclasses

    grid = dataclasses.replace(grid, absorbing_target=True)
    params = gridworld.make_params(
        grid, start=tuple(config.env.start), max_steps=int(config.max_episode_steps)
    )
    return grid, params


def episodic_step(params, key_data, step, state, time, action):
    """One step of an episodic task: ``(landed, next_state, next_time, reward, discount, done)``.

    ``landed`` is where the move ended (to bootstrap from), ``next_state`` where the agent goes
    on from.

    ``discount`` is 0 when the episode terminated (nothing to bootstrap from) and 1 otherwise;
    when the episode ended (terminated or truncated), ``next_state``/``next_time`` are a fresh
    start (drawn with the counter stream 3), and the caller must not carry on from the old one.
    """
    from jaxrl.envs import rng

    env_key = rng.counter_key(key_data, step, stream=1)
    env_state = gridworld.EnvState(position=state, time=time)
    _, landed, reward, terminated, truncated = gridworld.step(env_key, env_state, action, params)
    _, start = gridworld.reset(rng.counter_key(key_data, step, stream=3), params)
    done = jnp.logical_or(terminated, truncated)
    return (
        landed.position,
        jnp.where(done, start.position, landed.position),
        jnp.where(done, 0, time + 1),
        reward,
        1.0 - terminated.astype(jnp.float32),
        done,
    )


def greedy_path_length(q, next_state_table, *, start: int, target: int, max_steps: int):
    """Steps the greedy policy of ``q`` takes from ``start`` to ``target`` (``max_steps`` if it
    does not get there), following the deterministic moves ``next_state_table [S, A]``."""

    def follow(carry, _):
        s, steps = carry
        arrived = s == target
        s_next = next_state_table[s, jnp.argmax(q[s])]
        return (jnp.where(arrived, s, s_next), steps + jnp.where(arrived, 0, 1)), None

    (_, steps), _ = jax.lax.scan(follow, (jnp.int32(start), jnp.int32(0)), None, length=max_steps)
    return steps.astype(jnp.float32)
