"""Linear Sarsa path finding on the book's 5x5 grid (Zhao, ch. 8.3.1), Fourier features.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 8.3.1 (Sarsa with
value function approximation; the path-finding task of ch. 7); Sutton and Barto, ch. 10.1.
Episodes start at the top-left cell (0, 0) and end at the target (3, 2); r_target = 0,
r_forbidden = r_boundary = -10, r_step = -1, gamma 0.9. The policy is epsilon-greedy (epsilon
0.1) in ``q(s, a) = phi(s)^T w_a`` with the Fourier features of order 4 (25 per action: on this
grid a complete basis, so the target is representable, but an update moves every state's values).
``path_length`` is the number of steps the greedy policy takes from the start to the target.

Run:

    python -m experiments.train --config=jaxrl/configs/linear_sarsa.py --workdir=DIR

Expected (measured, 2-core CPU, about 12 s): 64 seeds x learning-rate scales 0.05, 0.1, 0.2 of
the decaying step ``lr / (1 + t / 20000) / max_s ||phi(s)||^2``, 200k steps. ``path_length``
ends at 11 (the greedy path of the best epsilon-greedy policy) for every seed with scales 0.1
and 0.2, and for 63 of 64 with 0.05 (one greedy path loops). ``value_gap`` stays at about 11
(10.7 to 12.2): states off the path are rarely visited, which path finding does not need (the
tabular ``sarsa_path_finding`` says the same). With ``--config.features=fourier3`` (16 features
per action, no longer a complete basis) 54 to 59 seeds of 64 end at 11, 3 to 5 loop, and a few
take other paths (13 steps, or 5 through forbidden cells).
"""

import ml_collections

from jaxrl.configs import grid, runner


def make(variant: str, *, episodic: bool = True) -> ml_collections.ConfigDict:
    """A linear control config of ``variant`` without its swept values (unlocked): the book's
    path-finding task, or the continuing task with ``episodic=False``."""
    config = runner.base(
        "jaxrl.approx.linear_control",
        num_seeds=64,
        total_steps=200_000,  # environment steps per seed
        chunk_steps=20_000,
        checkpoint_every=2,
    )
    config.variant = variant  # "sarsa" or "q_learning"
    config.features = "fourier4"  # state features: "onehot", "poly1"-"poly3", "fourier1"-"fourier8"
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    if episodic:
        grid.make_episodic(config)  # episodic, max_episode_steps and the path-finding grid
    return config


def get_config() -> ml_collections.ConfigDict:
    config = make("sarsa")
    runner.sweep(
        config,
        # the normalized step size's scale, its decay (1 + t / decay_steps)^-step_power, the
        # exploration of the epsilon-greedy policy, the discount
        {
            "learning_rate": 0.1,
            "step_power": 1.0,
            "decay_steps": 20_000.0,
            "epsilon": 0.1,
            "gamma": 0.9,
        },
        {"learning_rate": (0.05, 0.1, 0.2)},
    )
    config.lock()
    return config
