"""MC epsilon-greedy on the book's 5x5 grid world, swept over epsilon.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 5.4 (MC
epsilon-greedy, Algorithm 5.3); the grid of ch. 1-4 (target (3, 2); six forbidden cells;
r_boundary = r_forbidden = -1, r_target = 1), continuing task, gamma 0.9.

No exploring starts: each episode starts in a uniformly drawn cell and every action comes from
the current epsilon-greedy policy; every-visit returns are averaged into ``q`` and the policy is
epsilon-greedy in ``q`` after every episode. The reference for each epsilon is the best
epsilon-greedy policy (``jaxrl.dp.epsilon_greedy_value_iteration``): ``value_error`` is
``max_s |v_pi - v_eps*|`` with both evaluated to within 1e-5. ``total_steps`` and ``chunk_steps``
count episodes (a training step is one episode of ``episode_length`` environment steps).

Run:

    python -m experiments.train --config=jaxrl/configs/mc_epsilon_greedy.py \
        --workdir=runs/mc_epsilon_greedy

Expected (measured, 2-core CPU, about 8 s in all): 64 seeds x 3 epsilons x 20,000 episodes (2M
environment steps) in one compiled program, ten progress lines. The final value error against
the best epsilon-greedy policy (mean and 95% CI over seeds) is 1.09 [0.98, 1.21] for epsilon
0.1, 0.50 [0.39, 0.61] for 0.2 and 0.036 [0.024, 0.048] for 0.5 (24 of 64 seeds optimal), all
still falling: a small epsilon rarely revisits the cells far from the target, so their
averages keep the returns of the early, poor policies longest.
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.tabular.monte_carlo",
        num_seeds=64,
        total_steps=20_000,  # episodes per seed (a training step is one episode)
        chunk_steps=2_000,
        checkpoint_every=5,
    )
    config.method = "epsilon_greedy"  # "basic", "exploring_starts" or "epsilon_greedy"
    config.episode_length = 100  # environment steps per episode (static)
    config.visits = "every"  # "every": average every visit's return; "first": first visits only
    config.tail_steps = 0  # last steps per episode whose own (short) returns are not averaged
    # epsilon: exploration of the epsilon-greedy policy; gamma: the discount.
    runner.sweep(config, {"epsilon": 0.5, "gamma": 0.9}, {"epsilon": (0.1, 0.2, 0.5)})
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
