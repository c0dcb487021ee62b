"""Tabular Double Q-learning on the book's 5x5 grid world, swept over learning rates.

Reference: van Hasselt (2010), "Double Q-learning", NeurIPS; the grid of Zhao ch. 1-4 (target
(3, 2); six forbidden cells; r_boundary = r_forbidden = -1, r_target = 1), continuing task,
gamma 0.9, an epsilon-greedy behaviour in the sum of the two tables.

Run:

    python -m experiments.train --config=jaxrl/configs/double_q_learning.py --workdir=DIR

Expected (measured, 2-core CPU, about 7 s in all): 256 seeds x 3 learning rates, ten progress
lines at about 37 M env steps/s. The greedy policy of the mean of the two tables is optimal
(``value_error`` 0) for every seed from 60k steps on with learning rate 0.2, from 120k with 0.1
and at 200k with 0.05: each table gets half the updates, so it learns about half as fast as
Q-learning at the same rate.
"""

import ml_collections

from jaxrl.configs import q_learning


def get_config() -> ml_collections.ConfigDict:
    config = q_learning.get_config()  # the same fields: Double Q-learning uses the same scaffold
    with config.unlocked():
        config.experiment = "jaxrl.tabular.double_q_learning"
        config.num_seeds = 256
        config.total_steps = 200_000
        config.chunk_steps = 20_000
        config.sweep.learning_rate = (0.05, 0.1, 0.2)
    return config
