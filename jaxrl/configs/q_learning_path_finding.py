"""Q-learning path finding on the book's 5x5 grid (Zhao, ch. 7, the episodic examples).

Episodes start at the top-left cell (0, 0) and end at the target (3, 2); r_target = 0,
r_forbidden = r_boundary = -10, r_step = -1, so the best policy is the shortest path that avoids
the forbidden cells. The behaviour is epsilon-greedy (epsilon 0.1) in the current estimates.
``path_length`` is the number of steps the greedy policy of the estimates takes from the start to
the target (``max_episode_steps`` means it does not get there).

Run:

    python -m experiments.train --config=jaxrl/configs/q_learning_path_finding.py --workdir=DIR

Expected (measured, 2-core CPU, about 5 s): 64 seeds x 3 learning rates; ``path_length``
reaches 11 steps, the length of the optimal policy's path (value iteration), for every seed. The
value error over all states stays large: with epsilon 0.1 from one start cell, states far from
the agent's path are rarely visited, which path finding does not need.
"""

from jaxrl.configs import grid, q_learning


def get_config():
    config = q_learning.get_config()
    with config.unlocked():
        grid.make_episodic(config)  # episodic, max_episode_steps and the path-finding grid
        config.num_seeds = 64
        config.total_steps = 100_000
        config.chunk_steps = 10_000
        config.hparams.epsilon = 0.1
        config.sweep.learning_rate = (0.05, 0.1, 0.2)
    return config
