"""The grid-world tasks of the tabular and linear learners, built from a config's ``env`` block.

The book's continuing task (one long trajectory from a uniform start, no time limit, the target
not absorbing) or, with ``config.episodic``, the path-finding task of ch. 7: episodes from
``config.env.start`` to the target, which becomes absorbing (``terminated``), cut after
``config.max_episode_steps`` (``truncated``: not an end, the learner bootstraps from
``info["final_observation"]``); the environment restarts episodes itself (``auto_reset``).
"""

from __future__ import annotations

import dataclasses
import functools

from jaxrl import exact
from jaxrl.envs import gridworld
from jaxrl.run.experiment import ConfigError

GRID_FIELDS = frozenset(
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
EPISODIC_FIELDS = frozenset({"episodic", "max_episode_steps"})


def check_env_block(config, module: str) -> None:
    """The grid block ``config.env`` must hold exactly the grid's fields, plus ``start`` for an
    episodic task; ``max_episode_steps`` only goes with an episodic task."""
    env_fields = GRID_FIELDS | ({"start"} if config.get("episodic", False) else set())
    env_present = set(config.env.keys())
    if env_present != env_fields:
        odd = sorted(env_present ^ env_fields)[0]
        what = "is not a field of" if odd in env_present else "is missing from"
        raise ConfigError(f"config.env.{odd} {what} the grid block of {module}")
    if config.get("episodic", None) is False and "max_episode_steps" in config:
        raise ConfigError(
            f"config.max_episode_steps is set but config.episodic is False: {module} reads it "
            f"only in the episodic task"
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
    if not config.get("episodic", False):
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


def check_fields(config, module: str, fields) -> None:
    """``jaxrl.run.fields.check_fields``, then the grid block's own fields
    (:func:`check_env_block`)."""
    from jaxrl.run import fields as run_fields

    run_fields.check_fields(config, module, fields)
    if "env" in fields:
        check_env_block(config, module)
