"""Pieces shared by the tabular algorithms: step sizes, and the library's shared pieces they
compose (the grid task of a config, epsilon-greedy, exact ground truth and metrics), gathered
here so each tabular file imports one module.

Fields: ``SCHEMA`` (the grid task's, ``jaxrl.envs.grid_tasks.SCHEMA``, and the step-size
schedule's ``step_size`` and ``step_power``) and ``CONTINUING_SCHEMA`` (the same without the
episodic task); each algorithm extends one with its own.

Every algorithm steps the grid world through its environment API, ``gridworld.reset`` and
``gridworld.step``, with a counter-based key per step (``rng.env_key(key_data, t)``), so a plain
Python replay of the same random numbers can check it exactly, and computes its targets with
``jaxrl.targets``.
"""

from __future__ import annotations

from jaxrl.envs import grid_tasks
from jaxrl.envs.grid_tasks import (
    grid_from_config,
    is_episodic,
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
from jaxrl.run import fields, real
from jaxrl.run.fields import RUNNER_FIELDS

__all__ = [
    "CONTINUING_SCHEMA",
    "ENV_STREAM",
    "EVALUATION_ERROR",
    "GAMMA",
    "OPTIMAL_TOL",
    "RUNNER_FIELDS",
    "SCHEMA",
    "STEP_SIZES",
    "env_key",
    "epsilon_greedy_action",
    "epsilon_greedy_probs",
    "greedy_path_length",
    "grid_from_config",
    "ground_truth",
    "is_episodic",
    "path_length_fn",
    "policy_metrics",
    "policy_values",
    "step_size",
    "step_size_power",
    "task_from_config",
]

MODULE = "jaxrl.tabular.common"
STEP_SIZES = ("constant", "harmonic", "polynomial")
# The step-size schedule's fields, in both schemas below (see step_size_power).
_STEP_SIZE = {
    "step_size": fields.static(
        fields.one_of(*STEP_SIZES), "alpha: lr, lr / n (harmonic) or lr / n^step_power"
    ),
    "step_power": fields.static(
        real(0.5, 1.0, low_open=True), "the polynomial schedule's power of the visit count n"
    ),
}
SCHEMA = grid_tasks.SCHEMA.extend(MODULE, **_STEP_SIZE)
CONTINUING_SCHEMA = grid_tasks.CONTINUING_SCHEMA.extend(MODULE, **_STEP_SIZE)


def step_size_power(config) -> float | None:
    """The visit-count power of the schedule ``config.step_size``, or None for constant (both
    fields checked by the schema).

    ``"constant"``: ``alpha = learning_rate``; ``"harmonic"``: ``learning_rate / n(s, a)``;
    ``"polynomial"``: ``learning_rate / n(s, a)^step_power`` with ``config.step_power`` in
    (0.5, 1] (the Robbins-Monro conditions hold for all of these decaying schedules; powers below
    1 forget the initial estimates much faster when targets bootstrap).
    """
    if config.step_size == "constant":
        return None
    if config.step_size == "harmonic":
        return 1.0
    return float(config.step_power)


def step_size(visits, index, learning_rate, power: float | None):
    """``(visits, alpha)`` for the entry ``index`` of a table (a pair ``(s, a)`` of a Q table, a
    state ``s`` of a V table): counts the visit when the schedule needs it."""
    if power is None:
        return visits, learning_rate
    visits = visits.at[index].add(1.0)
    return visits, learning_rate / visits[index] ** power
