"""Off-policy Q-learning from a uniform behaviour policy on the book's 5x5 grid (Zhao, ch. 7.4).

The behaviour policy picks each of the five actions with probability 1/5 in every state and never
looks at the estimates (the book's figure 7.x: one long trajectory). Q-learning's target policy is
greedy, so the estimates converge to q* and the greedy policy is optimal.

Run:

    python -m experiments.train --config=jaxrl/configs/q_learning_off_policy.py --workdir=DIR

Expected: 256 seeds x 3 learning rates; ``q_error`` (``max |q - q*|``) falls towards 0 and the
greedy policy is optimal (``optimal`` 1.0) for every seed by the last chunk.
"""

from jaxrl.configs import q_learning


def get_config():
    config = q_learning.get_config()
    with config.unlocked():
        config.behaviour = "uniform"
        config.num_seeds = 256
        config.hparams.epsilon = 1.0  # unused: the behaviour is uniform
        config.sweep.learning_rate = (0.05, 0.1, 0.2)
    return config
