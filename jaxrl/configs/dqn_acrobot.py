"""DQN on gymnax's Acrobot-v1 (``"gymnax:Acrobot-v1"``; needs ``pip install 'jaxrl[envs]'``).

Plain DQN (squared TD loss), an MLP of 256 and 256 units, adam at 6.3e-4, a 50k-transition
buffer, minibatches of 128, 4 environments per seed stepped together with one update per
training step (one update per 4 environment steps), the target network copied every 64 updates
(256 environment steps), epsilon from 1 to 0.1 over the first 30k environment steps: the RL
Baselines3 Zoo's DQN settings for Acrobot-v1, its 4 steps between updates taken by 4
environments at once. 16 seeds of 250k environment steps.

The result is the greedy policy's mean return over ``eval_episodes = 100`` fresh episodes per
seed after the last chunk (gymnasium's reward threshold for Acrobot-v1 is -100).

Run:

    python -m experiments.train --config=jaxrl/configs/dqn_acrobot.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores shared with other runs, 15 min wall): the final
greedy mean return over 100 episodes per seed, sorted: -89.0, -83.8, -76.31, -76.07, -74.28,
-73.91, -73.17, -73.11, -72.17, -71.12, -70.92, -70.27, -70.08, -68.9, -68.68, -67.4 (median
-72.6; -79.8 at 100k steps).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_ENV_STEPS = 250_000
NUM_ENVS = 4
CHUNKS = 10


def get_config() -> ml_collections.ConfigDict:
    total_steps = TOTAL_ENV_STEPS // NUM_ENVS  # 62,500 training steps, 4 environment steps each
    config = runner.base(
        "jaxrl.agents.dqn",
        num_seeds=16,
        total_steps=total_steps,
        chunk_steps=total_steps // CHUNKS,
        checkpoint_every=2,
    )
    config.environment = "gymnax:Acrobot-v1"  # gymnax's environment by name (jaxrl[envs])
    config.env = ml_collections.ConfigDict()  # its options (max_steps: the time limit)
    config.eval_episodes = 100  # greedy episodes scored at the end of every chunk
    config.num_envs = NUM_ENVS  # environments per seed, stepped together
    config.updates_per_step = 1  # optimizer steps per training step
    config.hidden = (256, 256)  # hidden layer widths of the Q-network (static)
    config.buffer_capacity = 50_000  # replay buffer size (transitions per seed)
    config.batch_size = 128  # minibatch size
    config.learning_starts = 1_000  # transitions stored before the first update
    config.epsilon_start = 1.0  # exploration rate at step 0
    config.exploration_steps = 30_000  # environment steps of the linear decay to hparams.epsilon
    config.loss = "squared"
    config.double = False
    config.ensemble_size = 1
    config.ensemble_target = "member"
    config.optimizer = optim.default_config()  # adam, constant learning rate
    runner.sweep(
        config,
        {
            "learning_rate": 6.3e-4,
            "gamma": 0.99,
            "epsilon": 0.1,  # final exploration rate
            "target_period": 64,  # training steps (one update each) between target copies
            "tau": 1.0,
            "pessimism": 0.0,
            "weight_decay": 0.0,
        },
        {},
    )
    config.lock()
    return config
