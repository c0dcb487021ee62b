"""The DDPG benchmark's peer, apart from the binary (which defines absl flags) so tests can
import it: the usual single-process loop, gymnasium's Pendulum-v1 stepped from Python, a NumPy
ring buffer, and the library's jitted update (``ddpg.update``: the critic step, the actor step;
then the targets' Polyak move, ``optax.incremental_update``, as the scaffold makes it), one
seed."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl import optim
from jaxrl.agents import ddpg, off_policy
from jaxrl.configs import ddpg_pendulum
from jaxrl.envs import pendulum


def benchmark_config(steps: int, variant: str = "ddpg"):
    """The Pendulum config of the result, ``steps`` training steps per timed chunk, and one
    evaluation episode per chunk instead of 100 (counted against us, not compared)."""
    config = ddpg_pendulum.get_config(variant)
    with config.unlocked():
        config.chunk_steps = steps
        config.eval_episodes = 1
    return config


class PythonDDPG:
    """The usual loop: gymnasium's Pendulum from Python, a NumPy buffer, a jitted forward pass
    per step for the noisy action, and the same jitted update as ours once per step."""

    def __init__(self, config, seed: int = 0):
        self.config = config
        hparams = ddpg.Hparams(**{k: jnp.asarray(v) for k, v in config.hparams.items()})
        bound, size = pendulum.MAX_TORQUE, pendulum.ACTION_SIZE
        low, high = jnp.full((size,), -bound), jnp.full((size,), bound)
        actor = ddpg.Actor(tuple(config.hidden), (bound,) * size)
        critic = ddpg.Critic(config.hidden)
        members = 2 if config.twin else 1
        self.key, actor_key, critic_key = jax.random.split(jax.random.key(seed), 3)
        obs0, action0 = jnp.zeros(pendulum.OBSERVATION_SIZE), jnp.zeros(size)
        actor_params = actor.init(actor_key, obs0)
        critic_params = jax.vmap(critic.init, in_axes=(0, None, None))(
            jax.random.split(critic_key, members), obs0, action0
        )
        self.params = self.target = ddpg.Params(actor_params, critic_params)
        optimizers = tuple(
            optim.make_optimizer(config.optimizer, learning_rate=hparams[i]) for i in (0, 1)
        )
        self.opt_state = (optimizers[0].init(actor_params), optimizers[1].init(critic_params))
        capacity = config.buffer_capacity
        self.obs_buf = np.zeros((capacity, pendulum.OBSERVATION_SIZE), np.float32)
        self.next_buf = np.zeros_like(self.obs_buf)
        self.action_buf = np.zeros((capacity, size), np.float32)
        self.reward_buf = np.zeros(capacity, np.float32)
        self.term_buf = np.zeros(capacity, np.float32)
        self.position = self.size = self.steps = 0
        self.rng = np.random.default_rng(seed)
        self.env = gymnasium.make("Pendulum-v1")
        self.obs, _ = self.env.reset(seed=seed)
        sigma = float(hparams.noise_scale) * bound

        @jax.jit
        def act(actor_params, obs, eps):
            return jnp.clip(actor.apply(actor_params, obs) + sigma * eps, -bound, bound)

        @jax.jit
        def learn(params, target, opt_state, batch, key, step):
            params, opt_state, _ = ddpg.update(
                actor,
                critic,
                optimizers,
                params,
                target,
                opt_state,
                batch,
                key,
                hparams,
                step,
                low=low,
                high=high,
            )
            delayed = (step + 1) % hparams.policy_delay == 0
            moved = optax.incremental_update(params, target, hparams.tau)
            target = jax.tree.map(lambda m, t: jnp.where(delayed, m, t), moved, target)
            return params, target, opt_state

        self._act, self._learn = act, learn

    def run(self, env_steps: int):
        config = self.config
        for _ in range(env_steps):
            if self.size < config.learning_starts:
                action = self.rng.uniform(-2.0, 2.0, (1,)).astype(np.float32)
            else:
                eps = self.rng.standard_normal(1).astype(np.float32)
                action = np.asarray(self._act(self.params.actor, self.obs, eps))
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            i = self.position
            self.obs_buf[i], self.action_buf[i], self.reward_buf[i] = self.obs, action, reward
            self.term_buf[i], self.next_buf[i] = terminated, next_obs
            self.position = (i + 1) % len(self.obs_buf)
            self.size = min(self.size + 1, len(self.obs_buf))
            self.obs = next_obs
            if terminated or truncated:
                self.obs, _ = self.env.reset()
            if self.size >= config.learning_starts:
                idx = self.rng.integers(0, self.size, config.batch_size)
                batch = off_policy.Transition(
                    self.obs_buf[idx],
                    self.action_buf[idx],
                    self.reward_buf[idx],
                    self.term_buf[idx],
                    self.next_buf[idx],
                    (),
                )
                self.key, key = jax.random.split(self.key)
                self.params, self.target, self.opt_state = self._learn(
                    self.params, self.target, self.opt_state, batch, key, self.steps
                )
            self.steps += 1
        return self.params
