"""Online epsilon-greedy DQN on CartPole-v1 (Mnih et al. 2015, "Human-level control through deep
reinforcement learning", Nature 518).

Plain DQN (squared TD loss, no double Q), adam at a constant learning rate 2.5e-4, an MLP of
120 and 84 units, a 10k-transition buffer, minibatches of 128, ``num_envs = 10`` environments per
seed stepped together with one update per training step (one update per 10 environment steps),
the target network copied every 50 updates (500 environment steps), epsilon from 1 to 0.05 over
the first 250k environment steps. These are the settings CleanRL documents for this task
(https://docs.cleanrl.dev/rl-algorithms/dqn/), with its 10 steps between updates taken by 10
environments at once. The result is the greedy policy's mean return over ``eval_episodes`` fresh
episodes after 500k environment steps per seed.

Run:

    python -m experiments.train --config=jaxrl/configs/dqn_cartpole.py --workdir=DIR

Expected (measured 2026-12-02, 2 busy CPU cores, 127 s wall with a 9 s compile): the greedy
policy's mean return over 100 episodes after 500k environment steps is 500 in 15 of 16 seeds and
499.7 in the 16th (median 500; the median over seeds passes 450 after 250k steps).
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

TOTAL_ENV_STEPS = 500_000
NUM_ENVS = 10


def get_config() -> ml_collections.ConfigDict:
    total_steps = TOTAL_ENV_STEPS // NUM_ENVS
    config = runner.base(
        "jaxrl.agents.dqn",
        num_seeds=16,
        total_steps=total_steps,  # training steps per seed (NUM_ENVS environment steps each)
        chunk_steps=total_steps // 20,
        checkpoint_every=5,
    )
    config.environment = "cartpole"  # a registered environment (jaxrl.envs) with discrete actions
    config.env = ml_collections.ConfigDict({"max_steps": 500})  # its options: the time limit
    config.eval_episodes = 100  # greedy episodes scored at the end of every chunk
    config.num_envs = NUM_ENVS  # environments per seed, stepped together
    config.updates_per_step = 1  # optimizer steps per training step
    config.hidden = (120, 84)  # hidden layer widths of the Q-network (static)
    config.buffer_capacity = 10_000  # replay buffer size (transitions per seed)
    config.batch_size = 128  # minibatch size
    config.learning_starts = 10_000  # transitions stored before the first update
    config.epsilon_start = 1.0  # exploration rate at step 0
    config.exploration_steps = 250_000  # environment steps of the linear decay to hparams.epsilon
    config.loss = "squared"  # "squared" or "huber"
    config.double = False  # double DQN's target
    config.ensemble_size = 1  # Q-networks in the ensemble (1: plain DQN)
    config.ensemble_target = "member"  # "member", "mean", "min" or "lcb"
    config.optimizer = optim.default_config()  # adam, constant learning rate
    runner.sweep(
        config,
        {
            "learning_rate": 2.5e-4,
            "gamma": 0.99,
            "epsilon": 0.05,  # final exploration rate
            "target_period": 50,  # training steps (one update each) between target copies
            "tau": 1.0,
            "pessimism": 0.0,
            "weight_decay": 0.0,
        },
        {},
    )
    config.lock()
    return config
