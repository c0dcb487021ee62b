"""Linear Q-learning path finding on the book's 5x5 grid (Zhao, ch. 8.3.2), Fourier features.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 8.3.2 (Q-learning
with linear function approximation). The task, the features and the metrics are those of
``linear_sarsa.py`` (the path-finding task; Fourier features of order 4); the behaviour is
epsilon-greedy (epsilon 0.1) in the current estimates, and the target the optimal policy.

Run:

    python -m experiments.train --config=jaxrl/configs/linear_q_learning.py --workdir=DIR

Expected (measured, 2-core CPU, about 10 s): 64 seeds x constant learning rates 0.025, 0.05,
0.1 (normalized: ``lr / max_s ||phi(s)||^2``), 200k steps. ``path_length`` ends at 11, the
optimal policy's path, for every seed at every learning rate; ``value_error`` stays at about 11
(10.8 to 12.1; far states are rarely visited). With ``--config.features=fourier3``, 59 to 62
seeds of 64 end at 11 and 2 to 5 loop.
"""

import ml_collections

from jaxrl.configs import linear_sarsa, runner


def get_config() -> ml_collections.ConfigDict:
    config = linear_sarsa.make("q_learning")
    runner.sweep(
        config,
        # the normalized step size's scale, its decay (1 + t / decay_steps)^-step_power (0: a
        # constant step), the exploration of the epsilon-greedy behaviour, the discount
        {
            "learning_rate": 0.05,
            "step_power": 0.0,
            "decay_steps": 1.0,
            "epsilon": 0.1,
            "gamma": 0.9,
        },
        {"learning_rate": (0.025, 0.05, 0.1)},
    )
    config.lock()
    return config
