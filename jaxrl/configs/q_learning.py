"""Tabular Q-learning on the book's 5x5 grid world, swept over learning rates.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 7.4 (Q-learning);
the grid of ch. 1-4 (target (3, 2); six forbidden cells; r_boundary = r_forbidden = -1,
r_target = 1), continuing task, gamma 0.9.

Run:

    python -m experiments.train --config=jaxrl/configs/q_learning.py --workdir=runs/q_learning

Expected (measured, 2-core CPU, about 10 s in all): 1024 seeds x 4 learning rates in one compiled
program sharded over a CPU device per core, a compile line and ten progress lines at about
55 M env steps/s. The greedy policy's value error (``max_s |v_pi - v*|``, both evaluated to
within 1e-5) reaches 0 for every seed with learning rates 0.1 and 0.2; 0.05 ends at 2e-4 and
0.02 at 0.07 (still converging). It writes metrics.csv, summary.json, per_seed.npz and
curves.png under the work directory.
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.tabular.q_learning",
        num_seeds=1024,
        total_steps=100_000,  # environment steps per seed
        chunk_steps=10_000,
        checkpoint_every=2,
    )
    config.behaviour = "epsilon_greedy"  # "epsilon_greedy" (on-policy) or "uniform" (off-policy)
    config.step_size = "constant"  # "constant", "harmonic" (lr / n(s, a)) or "polynomial"
    config.step_power = 0.6  # "polynomial": alpha = learning_rate / n(s, a)^step_power
    runner.sweep(
        config,
        # the step size alpha (its scale for "harmonic"), exploration of the epsilon-greedy
        # behaviour, the discount
        {"learning_rate": 0.1, "epsilon": 0.8, "gamma": 0.9},
        {"learning_rate": (0.02, 0.05, 0.1, 0.2)},
    )
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
