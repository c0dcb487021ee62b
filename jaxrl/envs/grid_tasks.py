"""The grid-world tasks of the tabular and linear learners, built from a config's ``env`` block.

The book's continuing task (one long trajectory from a uniform start, no time limit, the target
not absorbing) or, with ``config.episodic``, the path-finding task of ch. 7: episodes from
``config.env.start`` to the target, which becomes absorbing (``terminated``), cut after
``config.max_episode_steps`` (``truncated``: not an end, the learner bootstraps from
``info["final_observation"]``); the environment restarts episodes itself (``auto_reset``).

Fields: ``CONTINUING_SCHEMA`` (the grid block ``env``) for the learners of the continuing task
only, ``SCHEMA`` (with ``episodic`` and ``max_episode_steps``) for those of both; each learner
extends one with its own.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from jaxrl import exact
from jaxrl.envs import gridworld
from jaxrl.run import fields
from jaxrl.run.experiment import ConfigError

MODULE = "jaxrl.envs.grid_tasks"
# The grid block's own fields (``jaxrl/configs/grid.py``); the episodic task adds ``start``.
GRID_KEYS = frozenset(
    {
        "shape",
        "target",
        "forbidden",
        "reward_boundary",
        "reward_forbidden",
        "reward_target",
        "reward_step",
    }
)


def is_episodic(config) -> bool:
    """Whether ``config`` asks for the episodic task: it has ``episodic``, other than False (a
    value that is not a boolean is then refused by :data:`SCHEMA`)."""
    value = config.get("episodic", False)
    return not (isinstance(value, (bool, np.bool_)) and not value)


def check_env_block(env, config, *, episodic: bool | None = None) -> None:
    """The grid block ``config.env`` must hold exactly the grid's fields, plus ``start`` in the
    episodic task (``episodic``; default: :func:`is_episodic` of ``config``)."""
    episodic = is_episodic(config) if episodic is None else episodic
    expected = GRID_KEYS | ({"start"} if episodic else set())
    present = set(env.keys())
    if present != expected:
        odd = sorted(present ^ expected)[0]
        what = "is not a field of" if odd in present else "is missing from"
        task = "the episodic task's" if episodic else "the continuing task's"
        raise ConfigError(f"config.env.{odd} {what} {task} grid block")


_ENV_DOC = "the grid world: shape, target, forbidden cells, rewards (and start, if episodic)"
# The continuing task (one long trajectory) only: the learners that do not read ``episodic``.
CONTINUING_SCHEMA = fields.Schema(
    MODULE,
    env=fields.static(
        fields.block(
            functools.partial(check_env_block, episodic=False),
            "a grid block without start (jaxrl/configs/grid.py)",
        ),
        _ENV_DOC,
    ),
)
# The continuing task, or the episodic one where ``config.episodic`` is set (True).
SCHEMA = fields.Schema(
    MODULE,
    env=fields.static(
        fields.block(check_env_block, "a grid block (jaxrl/configs/grid.py)"), _ENV_DOC
    ),
    episodic=fields.static(
        fields.BOOLEAN, "the path-finding task: episodes from env.start", when=is_episodic
    ),
    max_episode_steps=fields.static(
        fields.POSITIVE_INT, "an episode is cut after this many steps", when=is_episodic
    ),
)


def grid_from_config(env) -> gridworld.GridWorld:
    """The grid world named by a config's ``env`` block."""
    return gridworld.GridWorld(
        shape=tuple(env.shape),
        target=tuple(env.target),
        forbidden=tuple(tuple(c) for c in env.forbidden),
        reward_boundary=env.reward_boundary,
        reward_forbidden=env.reward_forbidden,
        reward_target=env.reward_target,
        reward_step=env.reward_step,
    )


def task_from_config(config) -> tuple[gridworld.GridWorld, gridworld.EnvParams]:
    """The grid and environment of a tabular or linear config: ``(grid, params)`` (module
    docstring)."""
    grid = grid_from_config(config.env)
    if not is_episodic(config):
        return grid, gridworld.make_params(grid)
    grid = dataclasses.replace(grid, absorbing_target=True)
    params = gridworld.make_params(
        grid,
        start=tuple(config.env.start),
        max_steps=int(config.max_episode_steps),
        auto_reset=True,
    )
    return grid, params


def path_length_fn(grid: gridworld.GridWorld, params: gridworld.EnvParams, config):
    """``q -> steps`` of the greedy path from the episodic task's start to the target
    (``exact.greedy_path_length`` on the grid's deterministic moves)."""
    next_state_table, _ = params.mdp.deterministic_tables()
    return functools.partial(
        exact.greedy_path_length,
        next_state_table=next_state_table,
        start=grid.state_index(tuple(config.env.start)),
        target=grid.state_index(grid.target),
        max_steps=int(config.max_episode_steps),
    )
