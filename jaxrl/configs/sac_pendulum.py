"""SAC with a learned temperature on Pendulum-v1: 8 vmapped seeds x 20,000 environment steps.

Settings: one environment per seed, one update per environment step on minibatches of 256 from
a 20,000-transition buffer (all of training), uniformly random actions for the first 1,000
steps; actor and twin critics MLPs of 64 and 64 ReLU units (as the DDPG config), adam at 1e-3
(actor, critics and temperature), tau 0.005, gamma 0.99, the temperature from 1 toward the
target entropy -1 (minus the action's dimension).

Run:

    python -m experiments.train --config=jaxrl/configs/sac_pendulum.py --workdir=DIR

Expected (measured 2026-12-06, 2 busy CPU cores): the deterministic (mean) action's return
over 100 evaluation episodes after 20,000 steps is -153.6 to -139.6 in every seed (57 s wall in
the run, 10 s of it compiling); the temperature ends at 0.01-0.05.
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_STEPS = 20_000


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.agents.sac",
        num_seeds=8,
        total_steps=TOTAL_STEPS,  # training steps per seed: one environment step each
        chunk_steps=TOTAL_STEPS // 10,
        checkpoint_every=5,
    )
    config.environment = "pendulum"  # a registered environment (jaxrl.envs) with a box of actions
    config.env = ml_collections.ConfigDict({"max_steps": 200})  # its options: the time limit
    config.eval_episodes = 100  # mean-action episodes scored after every chunk
    config.num_envs = 1  # environments per seed, stepped together
    config.updates_per_step = 1  # updates per training step
    config.hidden = (64, 64)  # hidden widths of the actor and of each critic (static)
    config.buffer_capacity = TOTAL_STEPS  # replay buffer size (transitions per seed)
    config.batch_size = 256  # minibatch size
    config.learning_starts = 1_000  # uniformly random actions until the buffer holds this many
    config.optimizer = optim.default_config()  # adam
    runner.sweep(
        config,
        {
            "actor_lr": 1e-3,
            "critic_lr": 1e-3,
            "alpha_lr": 1e-3,
            "gamma": 0.99,
            "tau": 0.005,
            "init_alpha": 1.0,
        },
        {},
    )
    config.lock()
    return config
