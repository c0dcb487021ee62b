"""TD-linear evaluation of the uniform random policy on the book's 5x5 grid (Zhao, ch. 8.2).

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 8.2 (TD-linear on
the grid of ch. 1-4 with polynomial and Fourier features; the Figure 8.6 setting: the uniform
policy, r_boundary = r_forbidden = -1, r_target = 1, gamma 0.9); Sutton and Barto, ch. 9.4. One
long trajectory per seed, the step ``lr / (1 + t / 2000) / max_s ||phi(s)||^2``.

Run (one command per feature set: onehot, poly1-poly3, fourier1-fourier8; poly3 by default):

    python -m experiments.train --config=jaxrl/configs/td_linear.py --workdir=DIR
    python -m experiments.train --config=jaxrl/configs/td_linear.py --workdir=DIR \
        --config.features=fourier3

Expected (measured, 2-core CPU, 9-17 s a run): 256 seeds x learning rates 0.1, 0.25, 0.5 for
200k steps. At 0.25, the mean over seeds of the final ``fixed_point_error`` (``max_s
|phi(s)^T (w - w*)|``) and, after the slash, of ``value_error`` (``max_s |phi(s)^T w -
v_pi(s)|``) and ``rmse``, with in brackets the same two errors of ``w*`` itself (the
approximation's floor):

    onehot    0.076 / 0.076, 0.033  [0, 0]
    poly1     0.079 / 0.487, 0.228  [0.460, 0.223]
    poly2     0.075 / 0.417, 0.198  [0.407, 0.194]
    poly3     0.074 / 0.271, 0.130  [0.252, 0.125]
    fourier1  0.078 / 0.472, 0.212  [0.455, 0.207]
    fourier2  0.072 / 0.342, 0.142  [0.338, 0.137]
    fourier3  0.068 / 0.230, 0.101  [0.224, 0.097]
    fourier4  0.117 / 0.117, 0.055  [0, 0]  (a complete basis of the 25 cells)

With 0.5 the error to w* ends about 35% higher for every set but fourier4 (0.097, better); with 0.1
the slow directions of the ill-conditioned sets (onehot, poly3, fourier3, fourier4) have not
converged (0.14-0.29), the others end at 0.05. The errors to v_pi level off at those of w*: more
features, a smaller floor.
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.approx.td_linear",
        num_seeds=256,
        total_steps=200_000,  # environment steps per seed
        chunk_steps=20_000,
        checkpoint_every=2,
    )
    config.features = "poly3"  # "onehot", "poly1"-"poly3" or "fourier1"-"fourier8" (static)
    config.policy = "uniform"  # the policy evaluated
    runner.sweep(
        config,
        # the normalized step size's scale, its decay (1 + t / decay_steps)^-step_power, the
        # discount
        {"learning_rate": 0.25, "step_power": 1.0, "decay_steps": 2000.0, "gamma": 0.9},
        {"learning_rate": (0.1, 0.25, 0.5)},
    )
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
