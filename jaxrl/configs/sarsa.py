"""Sarsa on the book's 5x5 grid (Zhao, ch. 7.2), epsilon-greedy, swept over learning rates.

The same config runs expected Sarsa (``--config.variant=expected_sarsa``); n-step Sarsa, which
has the extra field ``n``, has its own config, ``n_step_sarsa.py``. With epsilon fixed, the
target is the best epsilon-greedy policy (``jaxrl.dp.epsilon_greedy_value_iteration``);
``value_gap`` measures how far the learned epsilon-greedy policy's values are from it (both
evaluated to within 1e-5).

Run:

    python -m experiments.train --config=jaxrl/configs/sarsa.py --workdir=DIR

Expected (measured, 2-core CPU, about 9 s): 256 seeds x 3 learning-rate scales; the mean
``value_gap`` falls from about 0.7 after 20k steps to 0.20, 0.10 and 0.061 after 200k for scales
0.5, 1 and 2 (Sarsa's sampled next action makes it slower and noisier than expected Sarsa, which
ends at 0.105, 0.065 and 0.0006).
"""

import ml_collections

from jaxrl.configs import grid, runner


def make(variant: str) -> ml_collections.ConfigDict:
    """The continuing Sarsa-family config of ``variant`` (unlocked)."""
    config = runner.base(
        "jaxrl.tabular.sarsa",
        num_seeds=256,
        total_steps=200_000,  # environment steps per seed
        chunk_steps=20_000,
        checkpoint_every=2,
    )
    config.variant = variant  # "sarsa", "expected_sarsa" or "n_step_sarsa"
    if variant == "n_step_sarsa":
        config.n = 3  # steps of the n-step return
    config.restart_every = 20  # reset the environment every K steps (coverage; 0: never)
    config.step_size = "polynomial"  # "constant", "harmonic" (lr / n(s, a)) or "polynomial"
    config.step_power = 0.6  # "polynomial": alpha = learning_rate / n(s, a)^step_power
    runner.sweep(
        config,
        # the step size's scale, the policy's exploration, the discount
        {"learning_rate": 1.0, "epsilon": 0.2, "gamma": 0.9},
        {"learning_rate": (0.5, 1.0, 2.0)},
    )
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    return config


def get_config() -> ml_collections.ConfigDict:
    config = make("sarsa")
    config.lock()
    return config
