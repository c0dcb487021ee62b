"""MC epsilon-greedy on the book's 5x5 grid world, swept over epsilon.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 5.4 (MC
epsilon-greedy, Algorithm 5.3); the grid of ch. 1-4 (target (3, 2); six forbidden cells;
r_boundary = r_forbidden = -1, r_target = 1), continuing task, gamma 0.9.

No exploring starts: each episode starts in a uniformly drawn cell and every action comes from
the current epsilon-greedy policy; every-visit returns are averaged into ``q`` and the policy is
epsilon-greedy in ``q`` after every episode. The reference for each epsilon is the best
epsilon-greedy policy (``jaxrl.dp.epsilon_greedy_value_iteration``): ``value_error`` is
``max_s |v_pi - v_eps*|`` with both evaluated to within 1e-5. ``total_steps`` and ``chunk_steps``
count episodes (a training step is one episode of ``episode_length`` environment steps).

Run:

    python -m experiments.train --config=jaxrl/configs/mc_epsilon_greedy.py \
        --workdir=runs/mc_epsilon_greedy

Expected (measured, 2-core CPU, about 8 s in all): 64 seeds x 3 epsilons x 20,000 episodes (2M
environment steps) in one compiled program, ten progress lines. The final value error against
the best epsilon-greedy policy (mean and 95% CI over seeds) is 1.09 [0.98, 1.21] for epsilon
0.1, 0.50 [0.39, 0.61] for 0.2 and 0.036 [0.024, 0.048] for 0.5 (24 of 64 seeds optimal), all
still falling: a small epsilon rarely revisits the cells far from the target, so their
averages keep the returns of the early, poor policies longest.
"""

import ml_collections

from jaxrl.configs import grid


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "jaxrl.tabular.monte_carlo"  # module providing make_experiment(config)
    config.method = "epsilon_greedy"  # "basic", "exploring_starts" or "epsilon_greedy"
    config.seed = 0  # base seed; seed index i uses fold_in(key(seed), i)
    config.num_seeds = 64  # independent runs per hyperparameter setting
    config.total_steps = 20_000  # episodes per seed (a training step is one episode)
    config.chunk_steps = 2_000  # episodes per compiled chunk (one progress line each)
    config.checkpoint_every = 5  # chunks between orbax checkpoints
    config.episode_length = 100  # environment steps per episode (static)
    config.visits = "every"  # "every": average every visit's return (the book); "first"
    config.tail_steps = 0  # last steps per episode whose own (short) returns are not averaged

    config.hparams = ml_collections.ConfigDict()  # defaults of the swept values
    config.hparams.epsilon = 0.5  # exploration of the epsilon-greedy policy
    config.hparams.gamma = 0.9  # discount

    # Tuples of swept values, overridable on the command line as
    # --config.sweep.epsilon="(0.2,0.5)".
    config.sweep = ml_collections.ConfigDict()
    config.sweep.epsilon = (0.1, 0.2, 0.5)
    config.sweep_mode = "zip"  # "zip" the sweep tuples, or cross them ("product")

    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
