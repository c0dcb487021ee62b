"""TD(0) evaluation of the uniform random policy on the book's 5x5 grid (Zhao, ch. 7.1).

Run:

    python -m experiments.train --config=jaxrl/configs/td0.py --workdir=DIR

Expected: 256 seeds x 3 learning-rate scales with a polynomial step size ``lr / n(s)^0.6``; the
estimates approach the exact values of the uniform policy (the book's figure: -3.8, -3.8, -3.6,
-3.1, -3.2 on the top row), ``value_error`` falling from about 4.5 towards 0.
"""

import ml_collections

from jaxrl.configs import q_learning


def get_config() -> ml_collections.ConfigDict:
    base = q_learning.get_config()
    config = ml_collections.ConfigDict()
    config.experiment = "jaxrl.tabular.td0"  # module providing make_experiment(config)
    config.policy = "uniform"  # the policy evaluated
    config.seed = 0
    config.num_seeds = 256
    config.total_steps = 200_000
    config.chunk_steps = 20_000
    config.checkpoint_every = 2
    config.step_size = "polynomial"  # "constant", "harmonic" or "polynomial"
    config.step_power = 0.6  # alpha = learning_rate / n(s)^step_power
    config.hparams = ml_collections.ConfigDict({"learning_rate": 1.0, "gamma": 0.9})
    config.sweep = ml_collections.ConfigDict({"learning_rate": (0.5, 1.0, 2.0)})
    config.sweep_mode = "zip"  # "zip" the sweep tuples, or cross them ("product")
    config.env = base.env
    config.lock()
    return config
