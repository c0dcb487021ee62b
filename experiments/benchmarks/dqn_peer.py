"""The DQN benchmark's peer, apart from the binary (which defines absl flags) so tests can import
it: the usual single-process loop, gymnasium's CartPole-v1 stepped from Python, a NumPy ring
buffer, and the library's jitted update (``dqn.ensemble_td_loss`` and ``optim``), one seed."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxrl import networks, optim
from jaxrl.agents import dqn, off_policy
from jaxrl.configs import dqn_cartpole
from jaxrl.envs import cartpole


def benchmark_config(steps: int):
    """The CartPole config, with a constant epsilon (its final value) for ours and the peer
    alike, so that both take a greedy forward pass on the same share of steps."""
    config = dqn_cartpole.get_config()
    with config.unlocked():
        config.chunk_steps = steps
        config.epsilon_start = config.hparams.epsilon
    return config


class PythonDQN:
    """The usual loop: gymnasium's CartPole from Python, a NumPy buffer, jitted act and update."""

    def __init__(self, config, seed: int = 0, learning_starts: int | None = None):
        self.config = config
        self.learning_starts = (
            config.learning_starts if learning_starts is None else learning_starts
        )
        hparams = dict(config.hparams.items())
        self.network = networks.q_network(tuple(config.hidden), cartpole.NUM_ACTIONS)
        key = jax.random.key(seed)
        example = jnp.zeros((cartpole.OBSERVATION_SIZE,), jnp.float32)
        self.params = networks.ensemble_init(self.network, key, example, config.ensemble_size)
        self.target = self.params
        self.optimizer = optim.make_optimizer(
            config.optimizer,
            learning_rate=hparams["learning_rate"],
            weight_decay=hparams["weight_decay"],
        )
        self.opt_state = self.optimizer.init(self.params)
        self.epsilon = hparams["epsilon"]
        self.period = int(hparams["target_period"])
        capacity, size = config.buffer_capacity, cartpole.OBSERVATION_SIZE
        self.obs_buf = np.zeros((capacity, size), np.float32)
        self.next_buf = np.zeros((capacity, size), np.float32)
        self.action_buf = np.zeros((capacity,), np.int32)
        self.reward_buf = np.zeros((capacity,), np.float32)
        self.term_buf = np.zeros((capacity,), np.float32)
        self.position = self.size = self.env_steps = self.updates = 0
        self.rng = np.random.default_rng(seed)
        k = config.ensemble_size
        self.ones = np.ones((k, config.batch_size, k), np.float32)
        self.env = gymnasium.make("CartPole-v1")
        self.obs, _ = self.env.reset(seed=seed)
        network, loss_kwargs = (
            self.network,
            dict(
                gamma=hparams["gamma"],
                loss=config.loss,
                double=config.double,
                ensemble_target=config.ensemble_target,
                pessimism=hparams["pessimism"],
            ),
        )

        @jax.jit
        def act(params, obs):
            q = jnp.mean(networks.ensemble_apply(network, params, obs), axis=0)
            return jnp.argmax(q)

        @jax.jit
        def update(params, target, opt_state, batch):
            grads = jax.grad(dqn.ensemble_td_loss, argnums=1)(
                network, params, target, batch, **loss_kwargs
            )
            updates, opt_state = self.optimizer.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        self._act, self._update = act, update

    def _store(self, obs, action, reward, terminated, next_obs):
        i = self.position
        self.obs_buf[i], self.action_buf[i], self.reward_buf[i] = obs, action, reward
        self.term_buf[i], self.next_buf[i] = terminated, next_obs
        self.position = (i + 1) % len(self.obs_buf)
        self.size = min(self.size + 1, len(self.obs_buf))

    def _learn(self):
        config = self.config
        for _ in range(config.updates_per_step):
            idx = self.rng.integers(0, self.size, (config.ensemble_size, config.batch_size))
            batch = off_policy.Transition(
                self.obs_buf[idx],
                self.action_buf[idx],
                self.reward_buf[idx],
                self.term_buf[idx],
                self.next_buf[idx],
                self.ones,  # bootstrap weights: a single network weighs every transition 1
            )
            self.params, self.opt_state = self._update(
                self.params, self.target, self.opt_state, batch
            )
        self.updates += 1
        if self.updates % self.period == 0:
            self.target = self.params

    def run(self, env_steps: int):
        config = self.config
        for _ in range(env_steps):
            if self.rng.random() < self.epsilon:
                action = int(self.rng.integers(0, cartpole.NUM_ACTIONS))
            else:
                action = int(self._act(self.params, self.obs))
            next_obs, reward, terminated, truncated, _ = self.env.step(action)
            self._store(self.obs, action, reward, float(terminated), next_obs)
            self.obs = next_obs
            if terminated or truncated:
                self.obs, _ = self.env.reset()
            self.env_steps += 1
            if self.env_steps % config.num_envs == 0 and self.size >= self.learning_starts:
                self._learn()
        return self.params
