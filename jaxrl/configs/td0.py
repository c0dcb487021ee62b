"""TD(0) evaluation of the uniform random policy on the book's 5x5 grid (Zhao, ch. 7.1).

Run:

    python -m experiments.train --config=jaxrl/configs/td0.py --workdir=DIR

Expected (measured, 2-core CPU, about 5 s): 256 seeds x 3 learning-rate scales with a polynomial
step size ``lr / n(s)^0.6``; the estimates approach the values of the uniform policy (the book's
figure: -3.8, -3.8, -3.6, -3.1, -3.2 on the top row), the mean ``value_error`` (the largest error
over states) falling from 0.78, 0.31 and 0.28 after 20k steps to 0.10, 0.10 and 0.14 after 200k
for scales 0.5, 1 and 2.
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.tabular.td0",
        num_seeds=256,
        total_steps=200_000,  # environment steps per seed
        chunk_steps=20_000,
        checkpoint_every=2,
    )
    config.policy = "uniform"  # the policy evaluated
    config.step_size = "polynomial"  # "constant", "harmonic" or "polynomial"
    config.step_power = 0.6  # alpha = learning_rate / n(s)^step_power
    runner.sweep(config, {"learning_rate": 1.0, "gamma": 0.9}, {"learning_rate": (0.5, 1.0, 2.0)})
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
