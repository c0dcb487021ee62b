"""DQN off-policy on the book's 5x5 grid from a uniform behaviour policy (Zhao, ch. 8.4, Fig. 8.11).

The book's example: gamma 0.9, r_boundary = r_forbidden = -10, r_target = 1; a uniform behaviour
policy, a replay buffer of 1,000 transitions, minibatches of 100, and a network whose inputs are
the normalised row and column of the cell, here with five outputs, one per action (the variant
the book names). Its episode is one trajectory of 1,000 steps; here the uniform behaviour keeps
acting and the buffer keeps its last 1,000 transitions (learning starts once it is full), so
every update is still a uniform draw from 1,000 uniform-behaviour samples. Two hidden layers of
64 units (the book's one layer of 100 reached the optimum in 10 of 16 seeds at these step
counts), adam with the learning rate decayed linearly from 3e-3 to 0 over the 19,001 updates,
the target network copied every 100 updates.

The decay lasts the whole run, whatever ``total_steps`` is (``jaxrl.optim.over_the_run``), so
a finished run is not extended: a larger ``total_steps`` needs another work directory.

Run:

    python -m experiments.train --config=jaxrl/configs/dqn_grid.py --workdir=DIR

Expected (measured 2026-12-06 with the decay over the run's 19,001 updates, 2 CPU cores, 27 s
wall): after 20k steps the greedy policy is optimal in 16 of 16 seeds (its exact values, by
``jaxrl.dp``, equal v* to within 1e-4: the ``value_error`` is 0 in every seed; the first seed
gets there after 8k steps, all 16 after 12k); the RMSE of max_a q(s, a) against v* is
0.0002-0.018 per seed (the book's Figure 8.11(e)). (With the decay over 19,000 updates, one
fewer, on 2026-12-02: the same 16 of 16, first after 7k, RMSE 0.0003-0.008.)
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.agents.dqn",
        num_seeds=16,
        total_steps=20_000,  # training steps per seed: one environment step and one update each
        chunk_steps=1_000,
        checkpoint_every=4,
    )
    config.environment = "grid"  # a registered environment (jaxrl.envs) with discrete actions
    config.eval_episodes = 100  # greedy episodes scored after every chunk (episodic tasks only)
    config.num_envs = 1  # environments per seed, stepped together
    config.updates_per_step = 1  # optimizer steps per training step
    config.hidden = (64, 64)  # hidden layer widths of the Q-network (static)
    config.buffer_capacity = 1_000  # replay buffer size (transitions per seed)
    config.batch_size = 100  # minibatch size
    config.learning_starts = 1_000  # transitions stored before the first update
    config.epsilon_start = 1.0  # exploration rate at step 0 (1: the uniform behaviour)
    config.exploration_steps = 0  # environment steps of the linear decay to hparams.epsilon
    config.loss = "squared"  # "squared" (the book's) or "huber"
    config.double = False  # double DQN's target
    config.ensemble_size = 1  # Q-networks in the ensemble (1: plain DQN)
    config.ensemble_target = "member"  # "member", "mean", "min" or "lcb"
    config.optimizer = optim.default_config()  # adam
    config.optimizer.schedule = "linear"  # to 0 over the updates (learning starts at 1,000)
    config.optimizer.decay_steps = 0  # over the whole run: its 19,001 updates, from total_steps
    runner.sweep(
        config,
        {
            "learning_rate": 3e-3,
            "gamma": 0.9,
            "epsilon": 1.0,  # the behaviour stays uniform
            "target_period": 100,
            "tau": 1.0,
            "pessimism": 0.0,
            "weight_decay": 0.0,
        },
        {},
    )
    env = grid.book_env()
    env.reward_boundary = -10.0
    env.reward_forbidden = -10.0
    env.observation = "coords"  # the normalised (row, col) of the cell, as in the book
    config.env = env  # the grid world's options (static): continuing, no time limit
    config.lock()
    return config
