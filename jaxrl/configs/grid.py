"""The book's 5x5 grid world as a config block, shared by the tabular configs."""

import ml_collections


def book_env() -> ml_collections.ConfigDict:
    """Zhao's 5x5 grid: target (3, 2), six forbidden cells, r_b = r_f = -1, r_t = 1, r_step = 0.

    Static for an experiment: changing a field recompiles.
    """
    env = ml_collections.ConfigDict()
    env.shape = (5, 5)
    env.target = (3, 2)
    env.forbidden = ((1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1))
    env.reward_boundary = -1.0
    env.reward_forbidden = -1.0
    env.reward_target = 1.0
    env.reward_step = 0.0
    return env
