"""MC exploring starts on the book's 5x5 grid world.

Reference: S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 5.3 (MC exploring
starts, Algorithm 5.2); the grid of ch. 1-4 (target (3, 2); six forbidden cells;
r_boundary = r_forbidden = -1, r_target = 1), continuing task, gamma 0.9.

Each episode starts from a state-action pair drawn uniformly from all 125, follows the current
greedy policy for ``episode_length`` steps, and its returns are averaged into ``q`` (every-visit,
as Algorithm 5.2; ``--config.visits=first`` for first-visit); the policy is greedy in ``q`` after
every episode. ``total_steps`` and ``chunk_steps`` count episodes (a training step is one
episode of ``episode_length`` environment steps).

Run:

    python -m experiments.train --config=jaxrl/configs/mc_exploring_starts.py \
        --workdir=runs/mc_exploring_starts

Expected (measured, 2-core CPU, about 6 s in all): 64 seeds x 20,000 episodes (2M environment
steps each), ten progress lines. The greedy policy's value error (``max_s |v_pi - v*|``, both
evaluated to within 1e-5; mean and 95% CI over seeds) falls slowly, from 1.99 after the first
chunk to 1.36 [1.15, 1.56] (1 of 64 seeds optimal): the averages keep the returns of the early,
poor policies, and every-visit counts a cycle of a poor policy (bumping into a wall, say) up to
100 times per episode. First-visit (``--config.visits=first``) ends at 0.35 [0.25, 0.46]; with
``--config.total_steps=100000`` (episodes) every-visit reaches 0.79 [0.54, 1.04] and
first-visit 0.076 [0.032, 0.121] (42 of 64 seeds optimal).
"""

import ml_collections

from jaxrl.configs import grid, runner


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.tabular.monte_carlo",
        num_seeds=64,
        total_steps=20_000,  # episodes per seed (a training step is one episode)
        chunk_steps=2_000,
        checkpoint_every=5,
    )
    config.method = "exploring_starts"  # "basic", "exploring_starts" or "epsilon_greedy"
    config.episode_length = 100  # environment steps per episode (static)
    config.visits = "every"  # "every": average every visit's return; "first": first visits only
    config.tail_steps = 0  # last steps per episode whose own (short) returns are not averaged
    # epsilon: 0 is the book's greedy policy (exploration comes from the starts); gamma:
    # the discount.
    runner.sweep(config, {"epsilon": 0.0, "gamma": 0.9}, {"epsilon": (0.0,)})
    config.env = grid.book_env()  # the grid world (static: changing it recompiles)
    config.lock()
    return config
