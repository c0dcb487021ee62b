"""Pieces shared by the tabular algorithms: the config's fields, the grid and its task, behaviour,
step sizes, ground truths and metrics.

Every algorithm steps the grid world through its environment API, ``gridworld.reset`` and
``gridworld.step``, with a counter-based key per step (``rng.counter_key(key_data, t,
ENV_STREAM)``), so a plain Python replay of the same random numbers can check it exactly, and
computes its targets with ``jaxrl.targets``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from jaxrl import dp
from jaxrl.envs import gridworld, rng
from jaxrl.run import real

STEP_SIZES = ("constant", "harmonic", "polynomial")
# The counter stream of the environment's own randomness (slip, auto-reset start cells).
ENV_STREAM = 1
# Policy evaluations inside a compiled run (metrics, ground truths) are accurate to this bound
# (``dp.evaluate_policy_bounded``: no LAPACK solve, which can deadlock when sharded on the CPU).
EVALUATION_ERROR = 1e-5
# A learned policy whose values are within this of the target's counts as optimal.
OPTIMAL_TOL = 1e-4
# The discounts the tabular experiments accept. The evaluation needs about
# log(EVALUATION_ERROR (1 - gamma) / max|r|) / log(gamma) sweeps: 21k at gamma = 0.999 with
# rewards of -10, but 230k at 0.9999, beyond its 100k cap (and value iteration's float32
# convergence test stalls there too).
GAMMA = real(0.0, 0.999)


# Fields every runner config has (see ``jaxrl.run``).
RUNNER_FIELDS = frozenset(
    {
        "experiment",
        "seed",
        "num_seeds",
        "total_steps",
        "chunk_steps",
        "checkpoint_every",
        "hparams",
        "sweep",
        "sweep_mode",
    }
)
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
STEP_SIZE_FIELDS = frozenset({"step_size", "step_power"})


def check_fields(config, module: str, fields) -> None:
    """Refuses a config whose fields are not exactly the runner's plus ``fields``.

    A field the algorithm does not read is an error, not silently ignored (a Sarsa config with a
    ``behaviour`` would otherwise run as if it had none); so is a missing one. The grid block
    ``env`` must hold exactly the grid's fields, plus ``start`` for an episodic task.
    """
    allowed = RUNNER_FIELDS | set(fields)
    present = set(config.keys())
    extra, missing = sorted(present - allowed), sorted(allowed - present)
    if extra:
        raise ValueError(
            f"config.{extra[0]} is not a field of {module}, which reads: "
            f"{', '.join(sorted(allowed - RUNNER_FIELDS))}"
        )
    if missing:
        raise ValueError(f"config lacks the field {missing[0]!r} that {module} reads")
    if "env" in allowed:
        env_fields = GRID_FIELDS | ({"start"} if config.get("episodic", False) else set())
        env_present = set(config.env.keys())
        if env_present != env_fields:
            odd = sorted(env_present ^ env_fields)[0]
            what = "is not a field of" if odd in env_present else "is missing from"
            raise ValueError(f"config.env.{odd} {what} the grid block of {module}")
    if config.get("episodic", None) is False and "max_episode_steps" in present:
        raise ValueError(
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
    """The grid and environment of a tabular config: ``(grid, params)``.

    The book's continuing task by default (one long trajectory from a uniform start, no time
    limit, the target not absorbing). With ``config.episodic``, the path-finding task of ch. 7:
    episodes from ``config.env.start`` to the target, which becomes absorbing (``terminated``),
    cut after ``config.max_episode_steps`` (``truncated``: not an end, the learner bootstraps
    from ``info["final_observation"]``); the environment restarts episodes itself
    (``auto_reset``).
    """
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


def env_key(key_data: jax.Array, step: jax.Array) -> jax.Array:
    """The environment's key for training step ``step`` of the seed with raw key ``key_data``."""
    return rng.counter_key(key_data, step, stream=ENV_STREAM)


def epsilon_greedy_action(q_s: jax.Array, u: jax.Array, epsilon: jax.Array) -> jax.Array:
    """An epsilon-greedy action from one uniform ``u``.

    Uniform over all actions when ``u < epsilon`` (then ``u / epsilon`` is uniform again and picks
    it), else the greedy one (lowest index on ties). This is the book's policy (Zhao, ch. 5.4):
    the greedy action has probability ``1 - epsilon (|A| - 1) / |A|``.
    """
    num_actions = q_s.shape[-1]
    explore = u < epsilon
    random_action = jnp.minimum(jnp.floor(num_actions * u / epsilon), num_actions - 1)
    return jnp.where(explore, random_action.astype(jnp.int32), jnp.argmax(q_s).astype(jnp.int32))


def epsilon_greedy_probs(q_s: jax.Array, epsilon: jax.Array) -> jax.Array:
    """``pi(. | s)`` of the epsilon-greedy policy of ``q_s`` (``[A]``; ties to the lowest index)."""
    num_actions = q_s.shape[-1]
    greedy = jax.nn.one_hot(jnp.argmax(q_s), num_actions, dtype=q_s.dtype)
    return greedy * (1.0 - epsilon) + epsilon / num_actions


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


def policy_values(mdp, policy: jax.Array, gamma: jax.Array) -> jax.Array:
    """``v_pi`` of ``policy [S, A]`` within ``EVALUATION_ERROR`` (no LAPACK: see above)."""
    return dp.evaluate_policy_bounded(mdp, policy, gamma=gamma, error_bound=EVALUATION_ERROR).values


def ground_truth(mdp, gamma: jax.Array, epsilon: jax.Array | None = None):
    """``(q_target, v_target)`` for this setting's gamma (traced under vmap: no recompiling).

    The optimal action values and the values of the optimal policy; or, with ``epsilon``, those
    of the best epsilon-greedy policy (``dp.epsilon_greedy_value_iteration``), the target of
    Sarsa and MC epsilon-greedy. The values are evaluated as the learned policies are
    (:func:`policy_values`), so a learned policy equal to the target scores exactly 0.
    """
    if epsilon is None:
        solution = dp.value_iteration(mdp, gamma=gamma, tol=1e-6)
    else:
        solution = dp.epsilon_greedy_value_iteration(mdp, epsilon=epsilon, gamma=gamma, tol=1e-6)
    return solution.q_values, policy_values(mdp, solution.policy, gamma)


def policy_metrics(q, q_target, v_target, mdp, gamma, *, epsilon=None) -> dict:
    """The metrics of a Q table's policy against a target from :func:`ground_truth`.

    The policy is greedy in ``q`` (or epsilon-greedy, with ``epsilon``), evaluated with
    :func:`policy_values`: ``value_error = max_s |v_pi(s) - v_target(s)|``, ``value_gap =
    max_s v_target(s) - v_pi(s)`` (how far it falls short), ``q_error = max |q - q_target|``, and
    ``optimal`` = 1 if ``value_error < OPTIMAL_TOL``. Each algorithm reports the ones it names.
    """
    policy = (
        dp.greedy_policy(q) if epsilon is None else dp.epsilon_greedy_policy(q, epsilon=epsilon)
    )
    difference = v_target - policy_values(mdp, policy, gamma)
    error = jnp.max(jnp.abs(difference))
    return {
        "value_error": error,
        "value_gap": jnp.max(difference),
        "q_error": jnp.max(jnp.abs(q - q_target)),
        "optimal": (error < OPTIMAL_TOL).astype(jnp.float32),
    }


def path_length_fn(grid: gridworld.GridWorld, params: gridworld.EnvParams, config):
    """``q -> steps`` of the greedy path from the episodic task's start to the target."""
    next_state_table, _ = params.mdp.deterministic_tables()
    return functools.partial(
        greedy_path_length,
        next_state_table=next_state_table,
        start=grid.state_index(tuple(config.env.start)),
        target=grid.state_index(grid.target),
        max_steps=int(config.max_episode_steps),
    )


def greedy_path_length(q, next_state_table, *, start: int, target: int, max_steps: int):
    """Steps the greedy policy of ``q`` takes from ``start`` to ``target`` (``max_steps`` if it
    does not get there), following the deterministic moves ``next_state_table [S, A]``."""

    def follow(carry, _):
        s, steps = carry
        arrived = s == target
        s_next = next_state_table[s, jnp.argmax(q[s])]
        return (jnp.where(arrived, s, s_next), steps + jnp.where(arrived, 0, 1)), None

    (_, steps), _ = jax.lax.scan(follow, (jnp.int32(start), jnp.int32(0)), None, length=max_steps)
    return steps.astype(jnp.float32)
