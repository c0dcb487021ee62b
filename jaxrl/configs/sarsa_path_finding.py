"""Sarsa path finding on the book's 5x5 grid (Zhao, ch. 7.2, the episodic example).

Episodes start at the top-left cell (0, 0) and end at the target (3, 2); r_target = 0,
r_forbidden = r_boundary = -10, r_step = -1. The policy is epsilon-greedy (epsilon 0.1) in the
current estimates; ``path_length`` is the number of steps its greedy part takes from the start
to the target (``max_episode_steps`` means it does not get there). ``variant`` may also be
``"expected_sarsa"`` (n-step returns would cross episode ends and are refused).

Run:

    python -m experiments.train --config=jaxrl/configs/sarsa_path_finding.py --workdir=DIR

Expected (measured, about 5 s): 64 seeds x 3 learning-rate scales (step size
``lr / n(s, a)^0.6``); ``path_length`` reaches 11 steps, the greedy path of the best
epsilon-greedy policy (DP), for every seed with scales 0.5 and 1, and for 62 of 64 with scale 2
(two greedy paths still loop after 100k steps). With a constant step size Sarsa's sampled next
action keeps the estimates noisy, and some seeds' greedy paths loop at any given moment.
"""

from jaxrl.configs import grid, sarsa


def get_config():
    config = sarsa.make("sarsa")
    del config["restart_every"]  # episodes restart at the start cell instead
    grid.make_episodic(config)  # episodic, max_episode_steps and the path-finding grid
    config.num_seeds = 64
    config.total_steps = 100_000
    config.chunk_steps = 10_000
    config.hparams.epsilon = 0.1
    config.lock()
    return config
