"""Pieces shared by the tabular algorithms: step sizes, and the library's shared pieces they
compose (the grid task of a config, epsilon-greedy, exact ground truth and metrics), gathered
here so each tabular file imports one module.

Every algorithm steps the grid world through its environment API, ``gridworld.reset`` and
``gridworld.step``, with a counter-based key per step (``rng.env_key(key_data, t)``), so a plain
Python replay of the same random numbers can check it exactly, and computes its targets with
``jaxrl.targets``.
"""

from __future__ import annotations

from jaxrl.envs.grid_tasks import (
    EPISODIC_FIELDS,
    GRID_FIELDS,
    check_fields,
    grid_from_config,
    path_length_fn,
    task_from_config,
)
from jaxrl.envs.rng import ENV_STREAM, env_key
from jaxrl.exact import (
    EVALUATION_ERROR,
    GAMMA,
    OPTIMAL_TOL,
    greedy_path_length,
    ground_truth,
    policy_metrics,
    policy_values,
)
from jaxrl.policies import epsilon_greedy_action, epsilon_greedy_probs
from jaxrl.run.fields import RUNNER_FIELDS

__all__ = [
    "ENV_STREAM",
    "EPISODIC_FIELDS",
    "EVALUATION_ERROR",
    "GAMMA",
    "GRID_FIELDS",
    "OPTIMAL_TOL",
    "RUNNER_FIELDS",
    "STEP_SIZES",
    "STEP_SIZE_FIELDS",
    "check_fields",
    "check_step_size",
    "env_key",
    "epsilon_greedy_action",
    "epsilon_greedy_probs",
    "greedy_path_length",
    "grid_from_config",
    "ground_truth",
    "path_length_fn",
    "policy_metrics",
    "policy_values",
    "step_size",
    "task_from_config",
]

STEP_SIZES = ("constant", "harmonic", "polynomial")
STEP_SIZE_FIELDS = frozenset({"step_size", "step_power"})


def check_step_size(config) -> float | None:
    """Validates ``config.step_size``; returns the visit-count power, or None for constant.

    ``"constant"``: ``alpha = learning_rate``; ``"harmonic"``: ``learning_rate / n(s, a)``;
    ``"polynomial"``: ``learning_rate / n(s, a)^step_power`` with ``config.step_power`` in
    (0.5, 1] (the Robbins-Monro conditions hold for all of these decaying schedules; powers below
    1 forget the initial estimates much faster when targets bootstrap).
    """
    if config.step_size not in STEP_SIZES:
        raise ValueError(f"config.step_size must be one of {STEP_SIZES}, got {config.step_size!r}")
    if config.step_size == "constant":
        return None
    if config.step_size == "harmonic":
        return 1.0
    power = float(config.step_power)
    if not 0.5 < power <= 1.0:
        raise ValueError(f"config.step_power must be in (0.5, 1], got {config.step_power!r}")
    return power


def step_size(visits, index, learning_rate, power: float | None):
    """``(visits, alpha)`` for the entry ``index`` of a table (a pair ``(s, a)`` of a Q table, a
    state ``s`` of a V table): counts the visit when the schedule needs it."""
    if power is None:
        return visits, learning_rate
    visits = visits.at[index].add(1.0)
    return visits, learning_rate / visits[index] ** power
