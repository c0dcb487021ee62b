"""MC basic on the book's 5x5 grid world, swept over episode lengths (one compiled program).

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 5.2 (MC basic,
Algorithm 5.1, and the example on the episode length); the grid of ch. 1-4 (target (3, 2); six
forbidden cells; r_boundary = r_forbidden = -1, r_target = 1), continuing task, gamma 0.9.

MC basic is policy iteration whose evaluation step runs one episode of ``episode_length`` steps
from every state-action pair; grid and policy are deterministic, so the run is deterministic
and one seed is all it needs. Here one "step" of the runner is one evaluate-improve iteration
(``total_steps`` iterations in all), starting from the policy that always goes UP.

Run:

    python -m experiments.train --config=jaxrl/configs/mc_basic.py --workdir=runs/mc_basic

Expected (measured, 2-core CPU, a few seconds): ten progress lines, one per iteration, for the
eight episode lengths 1, 2, 3, 4, 14, 15, 30, 100. The final greedy policy's value error
(``max_s |v_pi - v*|``, both evaluated to within 1e-5) is 0 (optimal) for every length from 14
up, reached by iteration 6; short episodes cannot see the target from far away and stop at a
poor policy: value error 9.0, 8.1, 7.2 and 6.48 for lengths 1, 2, 3 and 4 (the states from which
the target is farther than ``L`` steps keep value 0). For the value maps and policies per length use
``jaxrl.tabular.monte_carlo.mc_basic``.
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.tabular.monte_carlo",
        num_seeds=1,  # MC basic is deterministic: one seed suffices
        total_steps=10,  # policy-iteration steps (evaluate all pairs, then improve)
        chunk_steps=1,
        checkpoint_every=5,
    )
    config.method = "basic"  # "basic", "exploring_starts" or "epsilon_greedy"
    # L (an integer >= 1; episodes are scanned to the longest swept length) and the discount.
    runner.sweep(
        config,
        {"episode_length": 100, "gamma": 0.9},
        {"episode_length": (1, 2, 3, 4, 14, 15, 30, 100)},
    )
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
