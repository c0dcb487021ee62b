"""DQN on gymnax's MinAtar Breakout (``"gymnax:Breakout-MinAtar"``; needs
``pip install 'jaxrl[envs]'``).

The observation is MinAtar's 10x10x4 grid of 0/1 channels, flattened into a Q-network MLP of
128 and 128 units (the flattened-MLP torso); plain DQN (Huber loss), adam at 2.5e-4, a
100k-transition buffer, minibatches of 64, 8 environments per seed stepped together with one
update per training step (one update per 8 environment steps), the target network copied every
125 updates (1,000 environment steps), epsilon from 1 to 0.05 over the first 250k environment
steps, 8 seeds of 2M environment steps.

The result is the greedy policy's mean return over ``eval_episodes = 100`` fresh episodes per
seed after every chunk; beside it, a uniform random policy's returns (``python -m
experiments.random_policy --environment=gymnax:Breakout-MinAtar``).

Run:

    python -m experiments.train --config=jaxrl/configs/dqn_minatar.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores shared with other runs, 17 min 31 s wall): the final
greedy mean return over 100 episodes per seed, sorted: 26.94, 26.96, 27.0, 39.32, 41.24, 42.44,
48.3, 66.6 (median 40.3); the median over seeds was 10.8 at 500k steps, 26.6 at 1M, 40.3 at 2M;
a uniform random policy scores 0.41 on average, 3 at its 99th percentile (10,000 episodes).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_ENV_STEPS = 2_000_000
NUM_ENVS = 8
CHUNKS = 20


def get_config() -> ml_collections.ConfigDict:
    total_steps = TOTAL_ENV_STEPS // NUM_ENVS  # 250,000 training steps, 8 environment steps each
    config = runner.base(
        "jaxrl.agents.dqn",
        num_seeds=8,
        total_steps=total_steps,
        chunk_steps=total_steps // CHUNKS,
        checkpoint_every=5,
    )
    config.environment = "gymnax:Breakout-MinAtar"  # gymnax's environment by name (jaxrl[envs])
    config.env = ml_collections.ConfigDict()  # its options (max_steps: the time limit)
    config.eval_episodes = 100  # greedy episodes scored at the end of every chunk
    config.num_envs = NUM_ENVS  # environments per seed, stepped together
    config.updates_per_step = 1  # optimizer steps per training step
    config.hidden = (128, 128)  # hidden layer widths of the Q-network (static)
    config.buffer_capacity = 100_000  # replay buffer size (transitions per seed)
    config.batch_size = 64  # minibatch size
    config.learning_starts = 5_000  # transitions stored before the first update
    config.epsilon_start = 1.0  # exploration rate at step 0
    config.exploration_steps = 250_000  # environment steps of the linear decay to hparams.epsilon
    config.loss = "huber"
    config.double = False
    config.ensemble_size = 1
    config.ensemble_target = "member"
    config.optimizer = optim.default_config()  # adam, constant learning rate
    runner.sweep(
        config,
        {
            "learning_rate": 2.5e-4,
            "gamma": 0.99,
            "epsilon": 0.05,  # final exploration rate
            "target_period": 125,  # training steps (one update each) between target copies
            "tau": 1.0,
            "pessimism": 0.0,
            "weight_decay": 0.0,
        },
        {},
    )
    config.lock()
    return config
