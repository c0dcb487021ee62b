"""Configs of every deep agent on the chains of ``tests/agents/chain.py``: the library's own
configs with the environment, the budget and the networks changed (nothing else edited)."""

from __future__ import annotations

import jax
import ml_collections

from jaxrl.configs import actor_critic_cartpole, ddpg_pendulum, dqn_cartpole, sac_pendulum

DISCRETE = "tests.agents.chain:discrete"
CONTINUOUS = "tests.agents.chain:continuous"
OPTIMAL = {DISCRETE: -5.0, CONTINUOUS: -2.0}
# agent -> (library config, its variant or None)
AGENTS = {
    "dqn": (dqn_cartpole, None),
    "reinforce": (actor_critic_cartpole, "reinforce"),
    "qac": (actor_critic_cartpole, "qac"),
    "a2c": (actor_critic_cartpole, "a2c"),
    "off_policy_ac": (actor_critic_cartpole, "off_policy"),
    "ppo": (actor_critic_cartpole, "ppo"),
    # PPO's Gaussian policy on the box chain, observations normalised and rewards scaled.
    "ppo_box": (actor_critic_cartpole, "ppo"),
    "ddpg": (ddpg_pendulum, "ddpg"),
    "td3": (ddpg_pendulum, "td3"),
    "sac": (sac_pendulum, None),
}


def config(name: str, num_seeds: int = 8) -> ml_collections.ConfigDict:
    module, variant = AGENTS[name]
    cfg = module.get_config() if variant is None else module.get_config(variant)
    with cfg.unlocked():
        cfg.num_seeds = num_seeds
        cfg.env = ml_collections.ConfigDict()
        cfg.eval_episodes = 2
        cfg.checkpoint_every = 1
        if name == "dqn":
            cfg.environment = DISCRETE
            cfg.num_envs, cfg.hidden = 4, (32,)
            cfg.buffer_capacity, cfg.batch_size, cfg.learning_starts = 2_000, 64, 200
            cfg.exploration_steps = 1_600
            cfg.total_steps = cfg.chunk_steps = 600
            cfg.hparams.learning_rate, cfg.hparams.gamma, cfg.hparams.target_period = 3e-3, 0.9, 20
        elif module is actor_critic_cartpole:
            cfg.environment = CONTINUOUS if name == "ppo_box" else DISCRETE
            cfg.normalize_observations = cfg.scale_rewards = name == "ppo_box"
            cfg.num_envs, cfg.rollout_length, cfg.hidden = 8, 8, (32,)
            cfg.total_steps = cfg.chunk_steps = 160
            cfg.optimizer.name, cfg.optimizer.schedule = "adam", "constant"
            cfg.hparams.actor_lr, cfg.hparams.critic_lr, cfg.hparams.gamma = 1e-2, 1e-2, 0.9
        else:
            cfg.environment = CONTINUOUS
            cfg.hidden = (32, 32)
            cfg.buffer_capacity, cfg.batch_size, cfg.learning_starts = 3_000, 64, 400
            cfg.total_steps = cfg.chunk_steps = 2_000
            cfg.hparams.gamma, cfg.hparams.tau = 0.9, 0.05
            if name == "sac":
                cfg.hparams.init_alpha = 0.05
            else:
                cfg.hparams.noise_scale = 0.3
    return cfg


def greedy_return(env, act) -> float:
    """The undiscounted return of one episode of the greedy readout ``act`` (the chains are
    deterministic: one episode is the policy's return), stepped from Python until the episode
    ends: the readout's program and the environment's step each compile once for every seed."""
    reset, step = jax.jit(env.reset), jax.jit(env.step)
    key = jax.random.key(0)
    obs, state = reset(key, env.params)
    total = 0.0
    for _ in range(env.max_steps):
        action = act(obs[None], key)[0]
        obs, state, reward, terminated, truncated, _ = step(key, state, action, env.params)
        total += float(reward)
        if bool(terminated) or bool(truncated):
            return total
    raise AssertionError(f"the episode did not end within max_steps = {env.max_steps}")
