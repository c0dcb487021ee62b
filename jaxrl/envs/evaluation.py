"""Scoring a policy: its mean return over fresh episodes of an environment, run side by side."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def evaluate(reset, step, params, act, key: jax.Array, *, episodes: int, max_steps: int):
    """Mean undiscounted return of a policy over ``episodes`` fresh episodes: the mean of
    :func:`episode_returns` (the same arguments)."""
    return jnp.mean(
        episode_returns(reset, step, params, act, key, episodes=episodes, max_steps=max_steps)
    )


def episode_returns(reset, step, params, act, key: jax.Array, *, episodes: int, max_steps: int):
    """Undiscounted returns ``[E]`` of a policy's ``episodes`` fresh episodes, run side by side.

    Every episode starts from ``reset`` (keys ``split(reset_key, episodes)``) and runs until it
    terminates or ``max_steps`` steps have passed; steps after an episode ended are not counted
    (``params`` should not auto-reset). Step ``t`` draws the actions with
    ``act(obs [E, ...], fold_in(act_key, t))`` (a deterministic policy may ignore the key) and
    steps every episode with ``split(fold_in(env_key, t), E)``, from
    ``reset_key, act_key = split(key)`` and ``env_key = fold_in(key, 2)`` (a third stream:
    ``split(key)`` is ``fold_in(key, 0)`` and ``fold_in(key, 1)``).

    Args:
        reset, step: the environment's functions (``jaxrl.envs`` API), for one episode.
        params: its parameters.
        act: ``(obs [E, ...], key) -> [E, ...]`` actions.
        key: randomness of the starts, the policy and the environment.
        episodes: ``E``, a static positive int.
        max_steps: the number of steps scanned (static): the environment's time limit.

    Returns:
        ``[E]`` float32, each episode's return.
    """
    reset_key, act_key = jax.random.split(key)
    env_key = jax.random.fold_in(key, 2)
    obs, state = jax.vmap(reset, in_axes=(0, None))(jax.random.split(reset_key, episodes), params)

    def body(carry, t):
        obs, state, alive, total = carry
        action = act(obs, jax.random.fold_in(act_key, t))
        keys = jax.random.split(jax.random.fold_in(env_key, t), episodes)
        obs, state, reward, terminated, truncated, _ = jax.vmap(step, in_axes=(0, 0, 0, None))(
            keys, state, action, params
        )
        total = total + jnp.where(alive, reward, 0.0)
        alive = jnp.logical_and(alive, ~jnp.logical_or(terminated, truncated))
        return (obs, state, alive, total), None

    start = (obs, state, jnp.ones((episodes,), bool), jnp.zeros((episodes,), jnp.float32))
    (_, _, _, total), _ = jax.lax.scan(body, start, jnp.arange(max_steps))
    return total


def random_returns(env, key: jax.Array, *, episodes: int) -> jax.Array:
    """The returns ``[episodes]`` of the uniform random policy on ``env`` (a
    ``jaxrl.envs.Environment`` with a time limit; a box of actions must be bounded), each
    action drawn from the action space with its own key (:func:`episode_returns`): the
    baseline beside a learning curve."""

    def act(obs, key):
        return jax.vmap(env.action_space.sample)(jax.random.split(key, obs.shape[0]))

    return episode_returns(
        env.reset, env.step, env.params, act, key, episodes=episodes, max_steps=env.max_steps
    )


def episode_metrics(env, act, key: jax.Array, *, episodes: int, finished, ended) -> dict:
    """Every agent's generic metrics on an environment with episodes: ``eval_return``, the mean
    return of ``act`` over ``episodes`` fresh episodes (:func:`evaluate`, with the environment's
    own ``reset``, ``step``, ``params`` and time limit), and ``episode_return``, the mean return
    of the training episodes that ended in a chunk (``finished``: the sum of their returns,
    ``ended``: their count; NaN when none ended).

    Args:
        env: a ``jaxrl.envs.Environment`` whose ``max_steps`` is not None.
        act: ``(obs [E, ...], key) -> actions``, e.g. a readout policy.
        finished, ended: arrays whose sums are the returns and the count of ended episodes.
    """
    count = jnp.sum(ended)
    return {
        "eval_return": evaluate(
            env.reset, env.step, env.params, act, key, episodes=episodes, max_steps=env.max_steps
        ),
        "episode_return": jnp.where(count > 0, jnp.sum(finished) / jnp.maximum(count, 1), jnp.nan),
    }
