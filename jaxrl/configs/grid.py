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


def make_episodic(config, *, max_episode_steps: int = 100) -> None:
    """Turns a continuing tabular config into the book's path-finding task (Zhao, ch. 7).

    Episodes start at the top-left cell (0, 0) and end at the target, which becomes absorbing;
    r_target = 0, r_forbidden = r_boundary = -10, r_step = -1, so the best policy is the
    shortest path that avoids the forbidden cells.
    """
    config.episodic = True  # episodes from env.start to the (absorbing) target
    config.max_episode_steps = max_episode_steps  # an episode is cut after this many steps
    env = book_env()
    env.start = (0, 0)  # the episodes' start cell
    env.reward_target = 0.0
    env.reward_forbidden = -10.0
    env.reward_boundary = -10.0
    env.reward_step = -1.0
    config.env = env
