"""A small flax + optax agent defined outside ``jaxrl/``, for the runner's acceptance tests.

Online Q-learning with a flax MLP on a 3x3 grid world with an absorbing target (episodes of at
most 6 steps, restarted by the environment), 4 environments per seed stepped together, an
epsilon-greedy behaviour and an optax optimizer; the TD error comes from ``jaxrl.targets``. The
target network is refreshed every ``target_period`` steps: an integer hyperparameter, so it can
be swept without recompiling. The metric ``episode_return`` (the mean return of the episodes
that ended in the chunk) is undefined, NaN, in a chunk where none ended.

It is run by ``python -m experiments.train --config=tests/run/flax_agent_config.py``, which
names this module by its dotted path (``tests.run.flax_agent``): a fork's own experiment needs
no change to the launcher.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxrl.envs import gridworld, rng, wrappers
from jaxrl.run import DISCOUNT, POSITIVE, PROBABILITY, Experiment, integer
from jaxrl.targets import td

NUM_ENVS = 4


class Hparams(NamedTuple):
    learning_rate: jax.Array
    epsilon: jax.Array
    gamma: jax.Array
    target_period: jax.Array  # int32: steps between target-network refreshes


class QNetwork(nn.Module):
    hidden: int
    num_actions: int

    @nn.compact
    def __call__(self, obs):
        x = nn.relu(nn.Dense(self.hidden)(obs))
        return nn.Dense(self.num_actions)(x)


class Carry(NamedTuple):
    params: dict
    target_params: dict
    opt_state: optax.OptState
    obs: jax.Array  # [N, S]
    env_state: wrappers.EpisodeStatsState  # batched over the N environments
    step: jax.Array
    key_data: jax.Array


def make_experiment(config) -> Experiment:
    grid = gridworld.GridWorld(
        shape=(3, 3), target=(2, 2), forbidden=((1, 1),), absorbing_target=True, reward_step=-0.1
    )
    params_env = gridworld.make_params(grid, max_steps=6, observation="onehot")
    reset_fn, step_fn = wrappers.episode_statistics(
        *wrappers.auto_reset(gridworld.reset, gridworld.step)
    )
    network = QNetwork(hidden=int(config.hidden), num_actions=gridworld.NUM_ACTIONS)
    chunk_steps = int(config.chunk_steps)

    def optimizer(learning_rate):
        return optax.sgd(learning_rate)

    def init(key, hparams: Hparams) -> Carry:
        net_key, env_key, key = jax.random.split(key, 3)
        params = network.init(net_key, jnp.zeros((grid.num_states,)))
        obs, env_state = jax.vmap(reset_fn, in_axes=(0, None))(
            jax.random.split(env_key, NUM_ENVS), params_env
        )
        return Carry(
            params=params,
            target_params=params,
            opt_state=optimizer(hparams.learning_rate).init(params),
            obs=obs,
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
        )

    def train_step(carry: Carry, hparams: Hparams):
        u = jax.vmap(lambda i: rng.counter_uniforms(carry.key_data, carry.step * NUM_ENVS + i)[0])(
            jnp.arange(NUM_ENVS)
        )
        q = network.apply(carry.params, carry.obs)  # [N, A]
        explore = u < hparams.epsilon
        random_action = jnp.minimum(
            jnp.floor(u / hparams.epsilon * gridworld.NUM_ACTIONS), gridworld.NUM_ACTIONS - 1
        ).astype(jnp.int32)
        actions = jnp.where(explore, random_action, jnp.argmax(q, axis=-1).astype(jnp.int32))
        env_keys = jax.vmap(
            lambda i: rng.counter_key(carry.key_data, carry.step * NUM_ENVS + i, 1)
        )(jnp.arange(NUM_ENVS))
        obs, env_state, reward, terminated, _, info = jax.vmap(step_fn, in_axes=(0, 0, 0, None))(
            env_keys, carry.env_state, actions, params_env
        )
        q_next = network.apply(carry.target_params, info["final_observation"])
        discount = hparams.gamma * (1.0 - terminated.astype(jnp.float32))

        def loss(params):
            q_tm1 = network.apply(params, carry.obs)
            errors = jax.vmap(td.q_learning)(q_tm1, actions, reward, discount, q_next)
            return 0.5 * jnp.mean(errors**2)

        grads = jax.grad(loss)(carry.params)
        updates, opt_state = optimizer(hparams.learning_rate).update(grads, carry.opt_state)
        params = optax.apply_updates(carry.params, updates)
        step = carry.step + 1
        refresh = step % hparams.target_period == 0
        target_params = jax.tree.map(
            lambda new, old: jnp.where(refresh, new, old), params, carry.target_params
        )
        done = info["episode_done"]
        carry = carry._replace(
            params=params,
            target_params=target_params,
            opt_state=opt_state,
            obs=obs,
            env_state=env_state,
            step=step,
        )
        finished_return = jnp.where(done, env_state.returned_episode_return, 0.0)
        return carry, (jnp.sum(finished_return), jnp.sum(done))

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, (returns, ended) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        count = jnp.sum(ended)
        q = network.apply(carry.params, jnp.eye(grid.num_states))
        return carry, {
            # Undefined (NaN) when no episode ended in this chunk.
            "episode_return": jnp.where(count > 0, jnp.sum(returns) / count, jnp.nan),
            "episodes": count.astype(jnp.float32),
            "q_mean": jnp.mean(q),
        }

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains={
            "learning_rate": POSITIVE,
            "epsilon": PROBABILITY,
            "gamma": DISCOUNT,
            "target_period": integer(1),
        },
        metrics=("episode_return", "episodes", "q_mean"),
        main_metric="episode_return",
        env_steps_per_step=NUM_ENVS,
        nan_metrics=("episode_return",),
    )
