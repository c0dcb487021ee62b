"""The actor-critic benchmark's peer, apart from the binary (which defines absl flags) so tests can
import it: the usual single-process PPO loop, one seed, its ``num_envs`` gymnasium CartPole-v1
environments stepped from Python, and the library's jitted policy and update
(``ppo.make_agent``: the policy network, ``prepare`` and ``update``, the same functions our
compiled program runs)."""

from __future__ import annotations

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.agents import on_policy, ppo
from jaxrl.configs import actor_critic_cartpole
from jaxrl.envs import cartpole


def benchmark_config(steps: int):
    """The PPO CartPole config (the settings of the result), ``steps`` training steps (rollouts)
    per timed chunk, and one evaluation episode per chunk instead of 100 (the evaluation is not
    what is compared; it is still counted against us)."""
    config = actor_critic_cartpole.get_config("ppo")
    with config.unlocked():
        config.chunk_steps = steps
        config.eval_episodes = 1
    return config


class PythonPPO:
    """The usual loop: ``num_envs`` gymnasium environments from Python, a jitted forward pass per
    vector step for the actions, NumPy rollout arrays, and the jitted update once per rollout."""

    def __init__(self, config, seed: int = 0):
        self.config = config
        self.agent = ppo.make_agent(config)
        agent, n = self.agent, config.num_envs
        self.hparams = ppo.Hparams(**{k: jnp.float32(v) for k, v in config.hparams.items()})
        key = jax.random.key(seed)
        self.key, init_key = jax.random.split(key)
        self.params = agent.init_params(init_key)
        actor_opt, critic_opt = agent.optimizers(self.hparams)
        self.opt_state = (actor_opt.init(self.params.actor), critic_opt.init(self.params.critic))
        self.envs = [gymnasium.make("CartPole-v1") for _ in range(n)]
        self.obs = np.stack([env.reset(seed=seed * n + i)[0] for i, env in enumerate(self.envs)])
        self.time = np.zeros(n, np.int32)
        self.env_steps = self.updates = 0

        @jax.jit
        def act(params, obs, key):
            pi = agent.nets.policy(params.actor, obs)
            action = pi.sample(seed=key).astype(jnp.int32)
            return action, pi.probs, pi.log_prob(action)

        @jax.jit
        def learn(params, opt_state, rollout, key):
            batch = agent.prepare(params, rollout, self.hparams)
            return agent.update(params, opt_state, batch, self.hparams, key)

        self._act, self._learn = act, learn

    def rollout(self) -> on_policy.Rollout:
        """``rollout_length`` steps of every environment, as the agent's time-major arrays."""
        length, n = self.config.rollout_length, self.config.num_envs
        obs = np.zeros((length, n, cartpole.OBSERVATION_SIZE), np.float32)
        next_obs = np.zeros_like(obs)
        action = np.zeros((length, n), np.int32)
        reward, terminated, done = (np.zeros((length, n), np.float32) for _ in range(3))
        probs = np.zeros((length, n, cartpole.NUM_ACTIONS), np.float32)
        log_prob = np.zeros((length, n), np.float32)
        time = np.zeros((length, n), np.int32)
        for t in range(length):
            self.key, act_key = jax.random.split(self.key)
            a, p, lp = self._act(self.params, self.obs, act_key)
            a, probs[t], log_prob[t] = np.asarray(a), np.asarray(p), np.asarray(lp)
            obs[t], action[t], time[t] = self.obs, a, self.time
            for i, env in enumerate(self.envs):
                o, r, term, trunc, _ = env.step(int(a[i]))
                reward[t, i], terminated[t, i], next_obs[t, i] = r, term, o
                done[t, i] = term or trunc
                if term or trunc:
                    o, _ = env.reset()
                self.obs[i] = o
            self.time = np.where(done[t] > 0, 0, self.time + 1)
        self.env_steps += length * n
        return on_policy.Rollout(
            obs,
            action,
            reward,
            terminated,
            done,
            next_obs,
            probs,
            log_prob,
            time,
            np.zeros_like(reward),
        )

    def run(self, rollouts: int):
        for _ in range(rollouts):
            rollout = self.rollout()
            self.key, update_key = jax.random.split(self.key)
            self.params, self.opt_state, _ = self._learn(
                self.params, self.opt_state, rollout, update_key
            )
            self.updates += 1
        return self.params
