r"""The examples of chapters 2-7 of Zhao's book: figures, values.json, report.html.

Reproduces S. Zhao, "Mathematical Foundations of Reinforcement Learning":

* ch. 2: state values of several policies on the book's 5x5 grid (exact policy evaluation) and
  the 2x2 example with v = [9, 10, 10, 10];
* ch. 3: optimal values and policies for several discounts, for a strongly punished forbidden
  area, and the invariance of the optimal policy under r -> r + b (value iteration);
* ch. 4: the sequence of policies of policy iteration, and ||v_k - v*||_inf against k for value
  iteration, truncated policy iteration with several truncation lengths and policy iteration;
* ch. 5: MC basic's values and policies for several episode lengths, and the best epsilon-greedy
  policies and their values for several epsilons;
* ch. 6: mean estimation by Robbins-Monro with a_k = 1/k (the incremental mean), 1/k^p and a
  constant step: estimates against k over seeds, and the RMS error against sigma / sqrt(k);
* ch. 7: learning curves (mean and 95% interval over seeds) of TD(0), Q-learning on and off
  policy, Sarsa and expected Sarsa against the dynamic-programming answers, run as
  one compiled program over seeds (``jaxrl.run.train``), and off-policy Q-learning's policy;
  path finding (the episodic task) by Q-learning and Sarsa: seed 0's greedy policy and path,
  and the greedy path length against steps next to the optimal 11 steps.

Usage::

    python -m experiments.book --workdir=runs/book
    python -m experiments.book --workdir=runs/book --config.gamma=0.5

Everything is written into ``--workdir`` (created if missing): ``*.png``, ``values.json`` (every
value and policy, rounded, with the config) and ``report.html`` (self-contained: the images are
embedded as data URIs). See ``jaxrl/configs/book.py`` for the fields and the expected results.
"""

from __future__ import annotations

import base64
import functools
import html
import importlib
import json
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import app, flags, logging
from matplotlib.patches import Rectangle

from experiments import cli
from jaxrl import dp, plotting
from jaxrl import run as runner
from jaxrl.configs import book as book_config
from jaxrl.configs import double_q_learning as double_q_learning_config
from jaxrl.configs import expected_sarsa as expected_sarsa_config
from jaxrl.configs import q_learning as q_learning_config
from jaxrl.configs import q_learning_off_policy as q_learning_off_policy_config
from jaxrl.configs import sarsa as sarsa_config
from jaxrl.configs import td0 as td0_config
from jaxrl.envs import gridworld as gw
from jaxrl.run.experiment import seed_keys
from jaxrl.run.stats import summarize
from jaxrl.run.workdir import check_writable
from jaxrl.tabular import control, double_q_learning, monte_carlo, q_learning, sarsa, td0
from jaxrl.tabular.mean_estimation import robbins_monro_mean, step_sizes

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory to write figures and results into.")
_CONFIG = cli.define_config_file(
    "config", book_config.__file__, "Path to the experiment config file."
)
flags.mark_flag_as_required("workdir")

U, R, D, L, S = gw.UP, gw.RIGHT, gw.DOWN, gw.LEFT, gw.STAY
ARROWS = ("\u2191", "\u2192", "\u2193", "\u2190", "\u25cb")  # up, right, down, left, stay

# A hand-made "good" policy, as in the book's ch. 2 examples: around the forbidden area to the
# target. Its values are the ones the book shows for a good policy (first row 3.5 3.9 4.3 4.8 5.3).
GOOD_POLICY = (
    (R, R, R, R, D),
    (U, U, R, R, D),
    (U, L, D, R, D),
    (U, R, S, L, D),
    (U, R, U, L, L),
)
# The 2x2 example of ch. 2 (s1 s2 / s3 s4, s2 forbidden, s4 the target): down, down, right, stay.
SMALL_POLICY = ((D, D), (R, S))


# ---------------------------------------------------------------------------------------------
# Configuration.


def _check_gamma_field(name: str, value) -> None:
    try:
        dp.check_gamma(value)
    except ValueError:
        raise ValueError(f"config.{name} must be in [0, 1), got {value!r}") from None


def _check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"config.{name} must be a positive integer, got {value!r}")


def book_grid(config: ml_collections.ConfigDict, **overrides) -> gw.GridWorld:
    """The book's 5x5 grid with the config's rewards (and any field overrides)."""
    rewards = dict(
        reward_boundary=config.reward_boundary,
        reward_forbidden=config.reward_forbidden,
        reward_target=config.reward_target,
        reward_step=config.reward_step,
    )
    rewards.update(overrides)
    return gw.book_grid(**rewards)


def check_config(config: ml_collections.ConfigDict) -> None:
    """Raises ``ValueError`` naming the field for any invalid value; compiles nothing."""
    _check_gamma_field("gamma", config.gamma)
    gammas = tuple(config.chapter3_gammas)
    if not gammas:
        raise ValueError("config.chapter3_gammas must hold at least one discount")
    for g in gammas:
        _check_gamma_field("chapter3_gammas", g)
    for name in ("tol", "reward_shift", "strong_reward_forbidden"):
        value = config[name]
        if not np.isfinite(value) or (name == "tol" and value <= 0):
            kind = "a positive number" if name == "tol" else "a finite number"
            raise ValueError(f"config.{name} must be {kind}, got {value!r}")
    for name in ("max_iterations", "policy_iteration_steps", "num_iterations", "dpi"):
        _check_positive_int(name, config[name])
    truncations = tuple(config.truncations)
    if not truncations:
        raise ValueError("config.truncations must hold at least one truncation length")
    for j in truncations:
        _check_positive_int("truncations", j)
    lengths = tuple(config.mc_episode_lengths)
    if not lengths:
        raise ValueError("config.mc_episode_lengths must hold at least one episode length")
    for n in lengths:
        _check_positive_int("mc_episode_lengths", n)
    epsilons = tuple(config.epsilons)
    if not epsilons:
        raise ValueError("config.epsilons must hold at least one epsilon")
    for e in epsilons:
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not 0.0 <= e <= 1.0:
            raise ValueError(f"config.epsilons must each be in [0, 1], got {e!r}")
    for name in ("mc_iterations", "td_num_seeds", "td_steps", "td_chunks"):
        _check_positive_int(name, config[name])
    if isinstance(config.td_seed, bool) or not isinstance(config.td_seed, (int, np.integer)):
        raise ValueError(f"config.td_seed must be an integer, got {config.td_seed!r}")
    if config.td_steps % config.td_chunks:
        raise ValueError(
            f"config.td_chunks must divide config.td_steps, got td_steps={config.td_steps} and "
            f"td_chunks={config.td_chunks}"
        )
    for name in ("sa_num_seeds", "sa_steps", "pf_num_seeds", "pf_steps", "pf_chunks"):
        _check_positive_int(name, config[name])
    for name in ("sa_seed", "pf_seed"):
        if isinstance(config[name], bool) or not isinstance(config[name], (int, np.integer)):
            raise ValueError(f"config.{name} must be an integer, got {config[name]!r}")
    if config.sa_num_seeds < 2:
        raise ValueError(
            f"config.sa_num_seeds must be at least 2 (for a spread), got {config.sa_num_seeds!r}"
        )
    for name in ("sa_low", "sa_high", "sa_initial_estimate"):
        if not np.isfinite(config[name]):
            raise ValueError(f"config.{name} must be a finite number, got {config[name]!r}")
    if not config.sa_low < config.sa_high:
        raise ValueError(
            f"config.sa_high must be above config.sa_low, got sa_low={config.sa_low} and "
            f"sa_high={config.sa_high}"
        )
    if not 0.5 < config.sa_power <= 1.0:
        raise ValueError(f"config.sa_power must be in (0.5, 1], got {config.sa_power!r}")
    if not 0.0 < config.sa_constant_step <= 1.0:
        raise ValueError(
            f"config.sa_constant_step must be in (0, 1], got {config.sa_constant_step!r}"
        )
    if config.pf_steps % config.pf_chunks:
        raise ValueError(
            f"config.pf_chunks must divide config.pf_steps, got pf_steps={config.pf_steps} and "
            f"pf_chunks={config.pf_chunks}"
        )
    try:  # GridWorld validates the rewards (finite) and names the field.
        book_grid(config)
        book_grid(config, reward_forbidden=config.strong_reward_forbidden)
    except ValueError as e:
        raise ValueError(f"config: {e}") from None


# ---------------------------------------------------------------------------------------------
# Computation.


def one_hot_policy(actions) -> np.ndarray:
    """``[rows, cols]`` action indices -> ``[S, 5]`` deterministic policy."""
    return np.eye(gw.NUM_ACTIONS, dtype=np.float32)[np.asarray(actions).reshape(-1)]


def solve(grid: gw.GridWorld, *, gamma: float, config) -> dict:
    """Optimal values and a greedy optimal policy by value iteration (Zhao, ch. 4.1)."""
    result = dp.value_iteration(
        gw.to_grid_mdp(grid), gamma=gamma, tol=config.tol, max_iterations=config.max_iterations
    )
    if not bool(result.converged):
        logging.warning("value iteration did not converge for gamma=%s", gamma)
    return {
        "gamma": gamma,
        "values": np.asarray(result.values),
        "policy": np.asarray(result.policy),
        "q_values": np.asarray(result.q_values),
        "iterations": int(result.iterations),
    }


def chapter2(config, grid: gw.GridWorld) -> dict:
    """State values of several policies by the closed form v = (I - gamma P_pi)^-1 r_pi."""
    mdp = gw.to_mdp(grid)
    optimal = solve(grid, gamma=config.gamma, config=config)
    policies = {
        "good": one_hot_policy(GOOD_POLICY),
        "optimal": optimal["policy"],
        "always right": one_hot_policy(np.full(grid.shape, R)),
        "uniform random": np.full((grid.num_states, gw.NUM_ACTIONS), 1.0 / gw.NUM_ACTIONS),
    }
    evaluated = {
        name: {"policy": pi, "values": np.asarray(dp.evaluate_policy(mdp, pi, gamma=config.gamma))}
        for name, pi in policies.items()
    }
    small = gw.GridWorld(
        shape=(2, 2),
        target=(1, 1),
        forbidden=((0, 1),),
        reward_boundary=config.reward_boundary,
        reward_forbidden=config.reward_forbidden,
        reward_target=config.reward_target,
        reward_step=config.reward_step,
    )
    small_pi = one_hot_policy(SMALL_POLICY)
    small_v = np.asarray(dp.evaluate_policy(gw.to_mdp(small), small_pi, gamma=config.gamma))
    return {
        "policies": evaluated,
        "small": {"grid": small, "policy": small_pi, "values": small_v},
    }


def chapter3(config, grid: gw.GridWorld) -> dict:
    """Optimal values and policies for several discounts and rewards (value iteration)."""
    gammas = [solve(grid, gamma=float(g), config=config) for g in config.chapter3_gammas]
    strong_grid = book_grid(config, reward_forbidden=config.strong_reward_forbidden)
    strong = solve(strong_grid, gamma=config.gamma, config=config)
    b = config.reward_shift
    shifted_grid = book_grid(
        config,
        reward_boundary=config.reward_boundary + b,
        reward_forbidden=config.reward_forbidden + b,
        reward_target=config.reward_target + b,
        reward_step=config.reward_step + b,
    )
    base = solve(grid, gamma=config.gamma, config=config)
    shifted = solve(shifted_grid, gamma=config.gamma, config=config)
    # Zhao, ch. 3.5: r -> r + b gives v' = v + b / (1 - gamma) and the same optimal policies.
    predicted = base["values"] + b / (1.0 - config.gamma)
    q_shift = shifted["q_values"]
    base_actions = base["policy"].argmax(-1)
    base_action_q = q_shift[np.arange(grid.num_states), base_actions]
    scale = 1e-4 * (1.0 + np.abs(q_shift).max())
    affine = {
        "shift": b,
        "base": base,
        "shifted": shifted,
        "shifted_grid": shifted_grid,
        "max_abs_value_error": float(np.abs(shifted["values"] - predicted).max()),
        "same_greedy_actions": bool(np.array_equal(base_actions, shifted["policy"].argmax(-1))),
        "base_policy_optimal_after_shift": bool(np.all(base_action_q >= q_shift.max(-1) - scale)),
    }
    return {
        "gammas": gammas,
        "strong": strong,
        "strong_grid": strong_grid,
        "affine": affine,
    }


def policy_iteration_sequence(grid: gw.GridWorld, *, gamma: float, steps: int) -> list[dict]:
    """Policy iteration step by step from "always stay" (Zhao, ch. 4.2), for the figure.

    ``pi_{k+1} = greedy(q_{pi_k})``, keeping ``pi_k``'s action wherever it is already greedy (so
    ties do not flip). Stops when no state can improve, or after ``steps`` policies. This Python
    loop only collects the few policies the figure shows; ``dp.policy_iteration`` is the solver.
    """
    mdp = gw.to_mdp(grid)
    policy = one_hot_policy(np.full(grid.shape, S))
    sequence = []
    for k in range(steps):
        v = dp.evaluate_policy(mdp, policy, gamma=gamma)
        q = np.asarray(dp.q_values(mdp, v, gamma=gamma))
        current = np.sum(policy * q, axis=-1)
        improvable = q.max(-1) > current + 1e-5 * (1.0 + np.abs(current))
        stable = not improvable.any()
        sequence.append({"step": k, "policy": policy, "values": np.asarray(v), "stable": stable})
        if stable:
            break
        greedy = np.asarray(dp.greedy_policy(jnp.asarray(q)))
        policy = np.where(improvable[:, None], greedy, policy)
    return sequence


@functools.partial(jax.jit, static_argnames=("num_iterations",))
def convergence_errors(mdp, v_star, gamma, truncations, *, num_iterations: int):
    """``||v_k - v*||_inf`` for k = 0..K of value, truncated policy and policy iteration.

    Zhao, ch. 4.3. From ``v_0 = 0``: value iteration ``v_{k+1} = max_a q_k``; truncated policy
    iteration ``pi_k = greedy(q(v_k))``, ``v_{k+1} = T_{pi_k}^j v_k`` (one run per ``j`` in
    ``truncations``, vmapped: one compile); policy iteration ``v_{k+1} = v_{pi_k}`` exactly.

    Returns:
        ``(vi [K + 1], tpi [len(truncations), K + 1], pi [K + 1])``.
    """
    v0 = jnp.zeros_like(v_star)
    error = lambda v: jnp.max(jnp.abs(v - v_star))

    def run(update):
        def body(v, _):
            new_v = update(v)
            return new_v, error(new_v)

        _, errors = jax.lax.scan(body, v0, None, length=num_iterations)
        return jnp.concatenate([error(v0)[None], errors])

    def greedy(v):
        return dp.greedy_policy(dp.q_values(mdp, v, gamma=gamma))

    def truncated(j):
        def update(v):
            policy = greedy(v)
            sweep = lambda _, u: dp.bellman_expectation_backup(mdp, u, policy, gamma=gamma)
            return jax.lax.fori_loop(0, j, sweep, v)

        return run(update)

    vi = run(lambda v: dp.bellman_optimality_backup(mdp, v, gamma=gamma))
    tpi = jax.vmap(truncated)(truncations)
    pi = run(lambda v: dp.evaluate_policy(mdp, greedy(v), gamma=gamma))
    return vi, tpi, pi


def chapter4(config, grid: gw.GridWorld) -> dict:
    """Policy iteration's policies, and the convergence of VI, truncated PI and PI."""
    sequence = policy_iteration_sequence(
        grid, gamma=config.gamma, steps=config.policy_iteration_steps
    )
    optimal = solve(grid, gamma=config.gamma, config=config)
    mdp = gw.to_mdp(grid)
    # v* by the exact linear solve of the optimal policy: value iteration's own v* is only
    # within tol * gamma / (1 - gamma) of it, which would put a floor under every curve.
    v_star = dp.evaluate_policy(mdp, optimal["policy"], gamma=config.gamma)
    vi, tpi, pi = convergence_errors(
        mdp,
        v_star,
        jnp.float32(config.gamma),
        jnp.asarray(config.truncations, jnp.int32),
        num_iterations=config.num_iterations,
    )
    curves = {"value iteration": np.asarray(vi)}
    for j, errors in zip(config.truncations, np.asarray(tpi), strict=True):
        curves[f"truncated PI, j={j}"] = errors
    curves["policy iteration"] = np.asarray(pi)
    for name, errors in curves.items():
        if not np.all(np.isfinite(errors)):
            raise FloatingPointError(f"non-finite ||v_k - v*|| in the {name} curve")
    return {"sequence": sequence, "curves": curves, "v_star": np.asarray(v_star)}


def chapter5(config, grid: gw.GridWorld) -> dict:
    """MC basic for several episode lengths, and optimal epsilon-greedy policies (Zhao, ch. 5)."""
    mdp = gw.to_mdp(grid)
    optimal = solve(grid, gamma=config.gamma, config=config)
    v_star = np.asarray(dp.evaluate_policy(mdp, optimal["policy"], gamma=config.gamma))
    q_star = optimal["q_values"]
    mc = []
    for length in config.mc_episode_lengths:
        result = monte_carlo.mc_basic(
            grid,
            gamma=config.gamma,
            episode_length=int(length),
            num_iterations=config.mc_iterations,
        )
        q = np.asarray(result.q)
        policy = one_hot_policy(np.asarray(result.policy))
        exact = np.asarray(dp.evaluate_policy(mdp, policy, gamma=config.gamma))
        mc.append(
            {
                "episode_length": int(length),
                # The estimated state values max_a q(s, a) (q of the last evaluated policy).
                "values": q.max(-1),
                "policy": policy,
                "value_error": float(np.abs(q.max(-1) - v_star).max()),
                "policy_optimal": bool(np.abs(exact - v_star).max() < 1e-3),
            }
        )
    eps = []
    for epsilon in config.epsilons:
        result = dp.epsilon_greedy_value_iteration(
            mdp, epsilon=float(epsilon), gamma=config.gamma, tol=config.tol
        )
        if not bool(result.converged):
            logging.warning("epsilon-greedy value iteration did not converge, eps=%s", epsilon)
        policy = np.asarray(result.policy)
        # Exact values of that policy (a linear solve), as in chapter 4.
        values = np.asarray(dp.evaluate_policy(mdp, policy, gamma=config.gamma))
        # States whose greedy action (the most likely one) is not optimal (not argmax of q*).
        greedy = policy.argmax(-1)
        chosen = q_star[np.arange(grid.num_states), greedy]
        not_optimal = int(np.sum(chosen < q_star.max(-1) - 1e-4 * (1 + np.abs(q_star).max())))
        eps.append(
            {
                "epsilon": float(epsilon),
                "policy": policy,
                "values": values,
                "non_optimal_greedy_states": not_optimal,
            }
        )
    return {"mc_basic": mc, "epsilon_greedy": eps}


def chapter6(config) -> dict:
    """Mean estimation by Robbins-Monro with three step sizes (Zhao, ch. 6.1-6.2).

    ``x_k`` uniform on ``[sa_low, sa_high]``, one stream per seed; ``w_{k+1} = w_k - a_k (w_k -
    x_k)`` with ``a_k = 1/k`` (the incremental sample mean), ``1/k^p`` and a constant ``a``. The
    streams are vmapped (one compile per schedule).
    """
    num_steps, low, high = config.sa_steps, config.sa_low, config.sa_high
    keys = seed_keys(config.sa_seed, config.sa_num_seeds)
    samples = jax.vmap(lambda key: jax.random.uniform(key, (num_steps,), minval=low, maxval=high))(
        keys
    )
    true_mean = 0.5 * (low + high)
    sigma = (high - low) / np.sqrt(12.0)  # standard deviation of the uniform distribution
    a = config.sa_constant_step
    schedules = {
        "a_k = 1/k (incremental mean)": step_sizes(num_steps, schedule="harmonic"),
        f"a_k = 1/k^{config.sa_power:g}": step_sizes(
            num_steps, schedule="power", power=config.sa_power
        ),
        f"a_k = {a:g} (constant)": step_sizes(num_steps, schedule="constant", scale=a),
    }
    estimate = jax.jit(
        jax.vmap(
            lambda x, a_k: robbins_monro_mean(x, a_k, w_1=config.sa_initial_estimate), (0, None)
        )
    )
    k = np.arange(1, num_steps + 1)
    curves = {}
    for name, a_k in schedules.items():
        w = np.asarray(estimate(samples, a_k), np.float64)  # [seeds, K]: w_{k+1}, k = 1..K
        if not np.all(np.isfinite(w)):
            raise FloatingPointError(f"non-finite estimate for the step size {name}")
        stats = summarize(w, axis=0)
        curves[name] = {
            "estimates": w,
            **stats,
            "p025": np.percentile(w, 2.5, axis=0),
            "p975": np.percentile(w, 97.5, axis=0),
            # Root mean squared error over the seeds, sqrt(mean_i (w_i - E[X])^2).
            "rmse": np.sqrt(np.mean((w - true_mean) ** 2, axis=0)),
        }
    # The sample mean's standard error, and the constant step's stationary spread
    # sqrt(a Var[X] / (2 - a)) (w = sum_j a (1 - a)^j x_{k-j} for large k).
    return {
        "k": k,
        "true_mean": true_mean,
        "sigma": sigma,
        "standard_error": sigma / np.sqrt(k),
        "constant_spread": float(sigma * np.sqrt(a / (2.0 - a))),
        "curves": curves,
        "samples_seed0": np.asarray(samples[0]),
    }


# Chapter 7: (name, module, library config, what the error is measured against, metric).
TD_ALGORITHMS = (
    ("TD(0)", td0, td0_config, "v_pi (uniform policy)", "value_error"),
    ("Q-learning (on-policy)", q_learning, q_learning_config, "v*", "value_error"),
    ("Q-learning (off-policy)", q_learning, q_learning_off_policy_config, "v*", "value_error"),
    ("Double Q-learning", double_q_learning, double_q_learning_config, "v*", "value_error"),
    ("Sarsa", sarsa, sarsa_config, "v_eps* (best eps-greedy)", "value_gap"),
    ("expected Sarsa", sarsa, expected_sarsa_config, "v_eps* (best eps-greedy)", "value_gap"),
)


def td_config(config, library_config) -> ml_collections.ConfigDict:
    """A library config with the book's grid, gamma and budget (the hparams stay the library's)."""
    cfg = library_config.get_config()
    with cfg.unlocked():
        cfg.num_seeds = config.td_num_seeds
        cfg.total_steps = config.td_steps
        cfg.chunk_steps = config.td_steps // config.td_chunks
        cfg.hparams.gamma = config.gamma
        for name in ("reward_boundary", "reward_forbidden", "reward_target", "reward_step"):
            cfg.env[name] = config[name]
    return cfg


def run_seeds(module, cfg, *, seed: int, num_seeds: int, num_chunks: int, metric: str):
    """``num_seeds`` runs of ``module.make_experiment(cfg)`` in one vmapped program per chunk.

    Returns:
        ``(carry, errors [num_chunks, num_seeds])``: the final carry (leaves ``[num_seeds, ...]``)
        and ``metric`` after each chunk.
    """
    experiment = module.make_experiment(cfg)
    hparams = runner.make_settings(experiment, dict(cfg.hparams), {}).hparams  # one setting
    result = runner.train(experiment, hparams, seed_keys(seed, num_seeds), num_chunks=num_chunks)
    carry = jax.tree.map(lambda x: x[0], result.carry)
    return carry, result.metrics[metric][:, 0]


def _q_table(carry):
    """The Q table of a tabular carry (the control scaffold keeps it as ``tables``)."""
    return carry.tables if isinstance(carry, control.Carry) else carry.q


def _step_size_text(cfg) -> str:
    """The step-size schedule of a library config in words, e.g. ``lr / n(s, a)^0.6``."""
    n = "n(s)" if cfg.experiment == "jaxrl.tabular.td0" else "n(s, a)"
    if cfg.step_size == "constant":
        return "constant lr"
    if cfg.step_size == "harmonic":
        return f"lr / {n}"
    return f"lr / {n}^{cfg.step_power:g}"


def chapter7(config, grid: gw.GridWorld, v_star: np.ndarray) -> dict:
    """Learning curves of TD(0), Q-learning (on and off policy), Sarsa and expected Sarsa."""
    chunk_steps = config.td_steps // config.td_chunks
    curves = {}
    off_policy_q = None
    for name, module, library_config, truth, metric in TD_ALGORITHMS:
        cfg = td_config(config, library_config)
        start = time.perf_counter()
        carry, errors = run_seeds(
            module,
            cfg,
            seed=config.td_seed,
            num_seeds=config.td_num_seeds,
            num_chunks=config.td_chunks,
            metric=metric,
        )
        logging.info("ch. 7 %s: %.1f s", name, time.perf_counter() - start)
        stats = summarize(errors, axis=1)  # over the seeds
        curves[name] = {
            "truth": truth,
            "metric": metric,
            "hparams": {k: float(v) for k, v in cfg.hparams.items()},
            "step_size": _step_size_text(cfg),
            "restart_every": int(cfg.get("restart_every", 0)),
            "errors": errors,
            **stats,
        }
        if name == "Q-learning (off-policy)":
            off_policy_q = np.asarray(_q_table(carry))
    # The greedy policy of seed 0's off-policy estimates, and its exact values.
    mdp = gw.to_mdp(grid)
    greedy = np.asarray(dp.greedy_policy(jnp.asarray(off_policy_q[0])))
    greedy_values = np.asarray(dp.evaluate_policy(mdp, greedy, gamma=config.gamma))
    final = curves["Q-learning (off-policy)"]["errors"][-1]
    return {
        "steps": chunk_steps * np.arange(1, config.td_chunks + 1),
        "curves": curves,
        "off_policy": {
            "policy": greedy,
            "values": greedy_values,
            "value_error_seed0": float(np.abs(greedy_values - v_star).max()),
            "final_value_error_max": float(final.max()),
            "optimal_fraction": float(np.mean(final < 1e-4)),
        },
    }


# Chapter 7 path finding: (name, tabular module, config module under jaxrl.configs). A config
# that is not there (yet) is skipped, and the report says so.
PATH_FINDING = (
    ("Q-learning", q_learning, "q_learning_path_finding"),
    ("Sarsa", sarsa, "sarsa_path_finding"),
)


def path_finding_config(config, config_name: str) -> ml_collections.ConfigDict | None:
    """A path-finding library config with the book config's budget, or ``None`` if missing.

    The hparams (learning rate, epsilon, gamma) and the step-size schedule stay the library's.
    """
    try:
        module = importlib.import_module(f"jaxrl.configs.{config_name}")
    except ModuleNotFoundError:
        return None
    cfg = module.get_config()
    with cfg.unlocked():
        cfg.num_seeds = config.pf_num_seeds
        cfg.total_steps = config.pf_steps
        cfg.chunk_steps = config.pf_steps // config.pf_chunks
    return cfg


def path_grid(cfg) -> gw.GridWorld:
    """The episodic grid of a path-finding config: its layout and rewards, the target absorbing."""
    env = cfg.env
    return gw.GridWorld(
        shape=tuple(env.shape),
        target=tuple(env.target),
        forbidden=tuple(tuple(c) for c in env.forbidden),
        reward_boundary=env.reward_boundary,
        reward_forbidden=env.reward_forbidden,
        reward_target=env.reward_target,
        reward_step=env.reward_step,
        absorbing_target=True,
    )


def greedy_path(grid: gw.GridWorld, actions, *, start, max_steps: int) -> list[tuple[int, int]]:
    """The cells the deterministic policy ``actions [S]`` visits from ``start`` to the target.

    Stops at the target, on a revisit (a loop: it never gets there) or after ``max_steps``.
    """
    next_state, _ = gw.to_grid_mdp(grid).deterministic_tables()
    next_state = np.asarray(next_state)
    s, target = grid.state_index(tuple(start)), grid.state_index(grid.target)
    path = [s]
    while s != target and len(path) <= max_steps:
        s = int(next_state[s, int(actions[s])])
        if s in path:
            path.append(s)
            break
        path.append(s)
    return [grid.cell(x) for x in path]


def path_finding(config) -> dict:
    """Q-learning (and Sarsa) on the book's episodic path-finding task (Zhao, ch. 7).

    Each algorithm runs its path-finding config (its learning rate and epsilon) for
    ``pf_num_seeds`` seeds x ``pf_steps`` steps as one program (``jaxrl.run.train``); the
    optimal path comes from value iteration on the same episodic MDP.
    """
    runs, missing = {}, []
    grid = start = gamma = max_steps = None
    for name, module, config_name in PATH_FINDING:
        cfg = path_finding_config(config, config_name)
        if cfg is None:
            logging.warning("no jaxrl/configs/%s.py: %s path finding skipped", config_name, name)
            missing.append(f"jaxrl/configs/{config_name}.py")
            continue
        t0 = time.perf_counter()
        carry, lengths = run_seeds(
            module,
            cfg,
            seed=config.pf_seed,
            num_seeds=config.pf_num_seeds,
            num_chunks=config.pf_chunks,
            metric="path_length",
        )
        logging.info("ch. 7 path finding, %s: %.1f s", name, time.perf_counter() - t0)
        grid, start = path_grid(cfg), tuple(cfg.env.start)
        gamma, max_steps = float(cfg.hparams.gamma), int(cfg.max_episode_steps)
        actions = np.asarray(_q_table(carry)[0]).argmax(-1)
        actions[grid.state_index(grid.target)] = S  # terminal: drawn as "stay"
        runs[name] = {
            "hparams": {k: float(v) for k, v in cfg.hparams.items()},
            "step_size": _step_size_text(cfg),
            "max_episode_steps": max_steps,
            "lengths": lengths,  # [chunks, seeds]
            **summarize(lengths, axis=1),
            "policy_seed0": one_hot_policy(actions.reshape(grid.shape)),
            "path_seed0": greedy_path(grid, actions, start=start, max_steps=max_steps),
        }
    if not runs:
        raise ValueError("no path-finding library config found: " + ", ".join(missing))
    solution = dp.value_iteration(
        gw.to_grid_mdp(grid), gamma=gamma, tol=config.tol, max_iterations=config.max_iterations
    )
    actions = np.asarray(solution.policy).argmax(-1)
    actions[grid.state_index(grid.target)] = S
    optimal_path = greedy_path(grid, actions, start=start, max_steps=max_steps)
    return {
        "grid": grid,
        "start": start,
        "gamma": gamma,
        "steps": (config.pf_steps // config.pf_chunks) * np.arange(1, config.pf_chunks + 1),
        "runs": runs,
        "missing": missing,
        "optimal_policy": one_hot_policy(actions.reshape(grid.shape)),
        "optimal_path": optimal_path,
        "optimal_length": len(optimal_path) - 1,
    }


# ---------------------------------------------------------------------------------------------
# Figures.


def _pair_figure(grid, panels, *, dpi, path, panel_size=2.9):
    """One column per ``(title, policy, values)``: the policy above, the values below."""
    fig, axes = plotting.new_figure(2, len(panels), panel_size=panel_size)
    for i, (title, policy, values) in enumerate(panels):
        plotting.plot_grid(axes[0, i], grid, policy=policy, title=title)
        plotting.plot_grid(axes[1, i], grid, values=values)
    return plotting.save_figure(fig, path, dpi=dpi)


def _pair_rows(grid, panels, *, dpi, path, per_row=4, panel_size=2.6):
    """Like :func:`_pair_figure`, wrapped after ``per_row`` columns (two axes rows per row)."""
    ncols = min(per_row, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = plotting.new_figure(2 * nrows, ncols, panel_size=panel_size)
    for i, (title, policy, values) in enumerate(panels):
        r, c = divmod(i, ncols)
        plotting.plot_grid(axes[2 * r, c], grid, policy=policy, title=title)
        plotting.plot_grid(axes[2 * r + 1, c], grid, values=values)
    for i in range(len(panels), nrows * ncols):
        r, c = divmod(i, ncols)
        axes[2 * r, c].set_axis_off()
        axes[2 * r + 1, c].set_axis_off()
    return plotting.save_figure(fig, path, dpi=dpi)


def write_figures(results, workdir: str, *, dpi: int) -> dict[str, list[tuple[str, str]]]:
    """Writes every PNG; returns ``{chapter: [(filename, caption), ...]}``."""
    grid, c2, c3, c4 = results["grid"], results["ch2"], results["ch3"], results["ch4"]
    gamma = results["gamma"]
    c4_optimal = {"policy": c2["policies"]["optimal"]["policy"], "values": c4["v_star"]}
    figures = {"ch2": [], "ch3": [], "ch4": [], "ch5": [], "ch6": [], "ch7": [], "ch7pf": []}

    def add(chapter, name, caption):
        figures[chapter].append((name, caption))
        logging.info("wrote %s", os.path.join(workdir, name))

    small = c2["small"]
    fig, axes = plotting.new_figure(1, 2, panel_size=2.6)
    plotting.plot_grid(axes[0, 0], small["grid"], policy=small["policy"], title="policy")
    plotting.plot_grid(axes[0, 1], small["grid"], values=small["values"], title="state values")
    plotting.save_figure(fig, os.path.join(workdir, "ch2_2x2.png"), dpi=dpi)
    add(
        "ch2",
        "ch2_2x2.png",
        "The 2x2 example of ch. 2: s1 s2 on top, s3 s4 below; s2 is forbidden and s4 the target. "
        f"The policy goes down, down, right, stay; solving the Bellman equation at gamma={gamma} "
        "gives v = [9, 10, 10, 10] with the book's rewards.",
    )
    panels = [(name, e["policy"], e["values"]) for name, e in c2["policies"].items()]
    _pair_figure(grid, panels, dpi=dpi, path=os.path.join(workdir, "ch2_policies.png"))
    add(
        "ch2",
        "ch2_policies.png",
        "Policies (top) and their state values (bottom) on the book's 5x5 grid, by the closed "
        f"form v = (I - gamma P_pi)^-1 r_pi at gamma={gamma}. The 'good' policy walks around the "
        "forbidden (orange) cells to the target (cyan); the optimal one cuts through a forbidden "
        "cell where that pays; always-right and the uniform random policy have low, mostly "
        "negative values. For the random policy arrow length and opacity show probabilities.",
    )

    panels = [(f"gamma = {e['gamma']:g}", e["policy"], e["values"]) for e in c3["gammas"]]
    _pair_figure(grid, panels, dpi=dpi, path=os.path.join(workdir, "ch3_gammas.png"))
    add(
        "ch3",
        "ch3_gammas.png",
        "Optimal policies (top) and optimal state values (bottom) by value iteration for several "
        "discounts. A far-sighted agent (gamma=0.9) accepts a forbidden-cell penalty to reach the "
        "target sooner; a short-sighted one (gamma=0.5) avoids the forbidden area; at gamma=0 "
        "only the immediate reward counts (ties go to the lowest action index, UP first).",
    )

    strong = c3["strong"]
    _pair_figure(
        c3["strong_grid"],
        [
            (
                f"r_forbidden = {c3['strong_grid'].reward_forbidden:g}",
                strong["policy"],
                strong["values"],
            )
        ],
        dpi=dpi,
        path=os.path.join(workdir, "ch3_strong_punishment.png"),
    )
    add(
        "ch3",
        "ch3_strong_punishment.png",
        f"Optimal policy and values with a strongly punished forbidden area "
        f"(r_forbidden = {c3['strong_grid'].reward_forbidden:g}, gamma={gamma}): the optimal "
        "policy now avoids every forbidden cell.",
    )

    aff = c3["affine"]
    _pair_figure(
        grid,
        [
            ("original rewards", aff["base"]["policy"], aff["base"]["values"]),
            (f"rewards + {aff['shift']:g}", aff["shifted"]["policy"], aff["shifted"]["values"]),
        ],
        dpi=dpi,
        path=os.path.join(workdir, "ch3_affine.png"),
    )
    add(
        "ch3",
        "ch3_affine.png",
        f"Adding b={aff['shift']:g} to every reward (ch. 3.5) leaves the optimal policy unchanged "
        f"and shifts every optimal value by b/(1-gamma) = {aff['shift'] / (1 - gamma):.3g}; "
        f"largest deviation from that prediction: {aff['max_abs_value_error']:.1e}.",
    )

    seq = c4["sequence"]
    panels = [
        (f"pi_{e['step']}" + (" (stable)" if e["stable"] else ""), e["policy"], e["values"])
        for e in seq
    ]
    _pair_figure(
        grid,
        panels,
        dpi=dpi,
        path=os.path.join(workdir, "ch4_policy_iteration.png"),
        panel_size=2.5,
    )
    add(
        "ch4",
        "ch4_policy_iteration.png",
        "Policy iteration from 'always stay' (ch. 4.2): each column is a policy pi_k (top) and its "
        "exact values v_pi_k (bottom); pi_{k+1} is greedy w.r.t. q_pi_k. States near the target "
        "become right first and the improvement spreads outwards until the policy is stable.",
    )

    fig, axes = plotting.new_figure(1, 1, panel_size=5.0)
    fig.set_size_inches(7.0, 4.6)
    plotting.plot_convergence(
        axes[0, 0],
        c4["curves"],
        title=f"convergence on the 5x5 grid, gamma={gamma}",
        styles={
            "value iteration": {"linewidth": 4.0, "alpha": 0.45},
            "policy iteration": {"color": "black", "linestyle": ":"},
            **{name: {"linestyle": "--"} for name in c4["curves"] if name.endswith("j=1")},
        },
    )
    plotting.save_figure(fig, os.path.join(workdir, "ch4_convergence.png"), dpi=dpi)
    add(
        "ch4",
        "ch4_convergence.png",
        "||v_k - v*||_inf against the iteration k from v_0 = 0 (ch. 4.3): value iteration, "
        "truncated policy iteration with j evaluation sweeps per step (j = 1 is value iteration, "
        "so the two lines coincide) and policy iteration (exact evaluation, j = infinity). Longer "
        "truncations need fewer iterations. v* is the exact linear solve of the optimal policy; "
        "the flat tails near 1e-5 are float32 round-off, and an error of exactly 0 (policy "
        "iteration once it has found the optimal policy) cannot be drawn on a log axis.",
    )
    c5 = results["ch5"]
    panels = [(f"L = {e['episode_length']}", e["policy"], e["values"]) for e in c5["mc_basic"]]
    _pair_rows(grid, panels, dpi=dpi, path=os.path.join(workdir, "ch5_episode_length.png"))
    optimal_lengths = [e["episode_length"] for e in c5["mc_basic"] if e["policy_optimal"]]
    if optimal_lengths:
        reach = (
            f"From L = {optimal_lengths[0]} (of those shown) the final policy is optimal (its "
            "exact values are v*), but the values are truncated sums of rewards"
        )
    else:
        reach = "For none of these lengths is the final policy optimal"
    last = c5["mc_basic"][-1]
    add(
        "ch5",
        "ch5_episode_length.png",
        f"MC basic (ch. 5.2) with episode length L: the final greedy policy (top) and the "
        f"estimated state values max_a q(s, a) (bottom) after {results['mc_iterations']} "
        "evaluate-improve iterations from 'always up', one L-step episode per state-action pair "
        "(the grid is deterministic). With a short episode only states from which the target "
        "can be reached within L steps see a positive return (L = 1: the target and its four "
        "neighbours); the others keep whatever action avoids a penalty soonest. The reach grows "
        f"with L. {reach}; at L = {last['episode_length']} the largest difference from the "
        f"optimal values is {last['value_error']:.1e}.",
    )

    panels = [
        (f"epsilon = {e['epsilon']:g}", e["policy"], e["values"]) for e in c5["epsilon_greedy"]
    ]
    _pair_figure(grid, panels, dpi=dpi, path=os.path.join(workdir, "ch5_epsilon.png"))
    top = ", ".join(f"{e['values'][0]:.2f}" for e in c5["epsilon_greedy"])
    changed = ", ".join(
        f"{e['non_optimal_greedy_states']} (epsilon = {e['epsilon']:g})"
        for e in c5["epsilon_greedy"]
    )
    add(
        "ch5",
        "ch5_epsilon.png",
        "The best epsilon-greedy policy (top; arrow length and opacity show the probabilities: "
        "greedy action 1 - 4 epsilon / 5, every other action epsilon / 5) and its exact values "
        "(bottom) for each epsilon (ch. 5.4), by value iteration over epsilon-greedy policies. "
        "The values fall in every state as epsilon grows, since the random actions lead into "
        f"forbidden cells and off the boundary: v(0, 0) = {top} for epsilon = "
        f"{', '.join(f'{e:g}' for e in results['epsilons'])}. States whose greedy action is not "
        f"optimal for the original problem: {changed}. With a large epsilon the greedy part of the "
        "best epsilon-greedy policy can stop being optimal (it weighs the random moves into the "
        "forbidden cells), one reason to keep epsilon small or let it decay.",
    )

    c6 = results["ch6"]
    k, names = c6["k"], list(c6["curves"])
    fig, axes = plotting.new_figure(1, len(names) + 1, panel_size=3.6)
    lows = [c6["curves"][n]["p025"].min() for n in names]
    highs = [c6["curves"][n]["p975"].max() for n in names]
    span = (min(lows[0], c6["true_mean"] - 3), max(highs[0], c6["true_mean"] + 3))
    for i, (ax, name) in enumerate(zip(axes[0, :-1], names, strict=True)):
        c = c6["curves"][name]
        color = f"C{i}"
        ax.fill_between(
            k,
            c["p025"],
            c["p975"],
            color=color,
            alpha=0.15,
            linewidth=0,
            label="2.5-97.5% of seeds",
        )
        ax.plot(k, c["estimates"][0], color=color, linewidth=0.7, alpha=0.6, label="seed 0")
        ax.plot(k, c["mean"], color=color, linewidth=1.8, label="mean over seeds")
        ax.fill_between(
            k,
            c["ci_low"],
            c["ci_high"],
            color=color,
            alpha=0.45,
            linewidth=0,
            label="95% CI of the mean",
        )
        ax.axhline(c6["true_mean"], color="black", linestyle="--", linewidth=1.0, label="E[X]")
        ax.set_xscale("log")
        ax.set_ylim(*span)
        ax.set_xlabel("sample k")
        ax.set_ylabel("estimate w_{k+1}" if i == 0 else "")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        if i == 0:
            ax.legend(fontsize="x-small", loc="lower right")
    ax = axes[0, -1]
    plotting.plot_convergence(
        ax,
        {
            **{n: c6["curves"][n]["rmse"] for n in names},
            "sigma / sqrt(k)": c6["standard_error"],
        },
        first_iteration=1,
        xlabel="sample k",
        ylabel="RMS error over seeds",
        title="root mean squared error",
        styles={"sigma / sqrt(k)": {"color": "black", "linestyle": "--", "linewidth": 1.0}},
    )
    ax.axhline(c6["constant_spread"], color="C2", linestyle=":", linewidth=1.2)
    ax.set_xscale("log")
    plotting.save_figure(fig, os.path.join(workdir, "ch6_mean_estimation.png"), dpi=dpi)
    final = {n: c6["curves"][n] for n in names}
    add(
        "ch6",
        "ch6_mean_estimation.png",
        f"Mean estimation by stochastic approximation (ch. 6.1-6.2): x_k uniform on "
        f"[{results['sa_range'][0]:g}, {results['sa_range'][1]:g}] (E[X] = "
        f"{c6['true_mean']:g}, sigma = {c6['sigma']:.3g}), w_{{k+1}} = w_k - a_k (w_k - x_k) from "
        f"w_1 = {results['sa_initial_estimate']:g}, {len(c6['curves'][names[0]]['estimates'])} "
        "seeds. Left three panels (log k axis): seed 0 (thin), the mean over seeds with its 95% "
        "t-interval (dark band) and the middle 95% of the seeds (light band). Right: the RMS "
        "error over seeds against k, log-log. With a_k = 1/k (the sample mean) it follows the "
        "standard error sigma/sqrt(k) (dashed); 1/k^p also converges, more slowly; the "
        "constant step stops improving: its spread stays near sqrt(a Var[X] / (2 - a)) = "
        f"{c6['constant_spread']:.3g} (dotted). Spread over seeds at k = {k[-1]}: "
        + ", ".join(f"{final[n]['std'][-1]:.3g} ({n})" for n in names)
        + ".",
    )

    c7 = results["ch7"]
    groups = (
        ("TD(0): max_s |v(s) - v_pi(s)|", ("TD(0)",)),
        (
            "Q-learning: max_s |v_greedy(s) - v*(s)|",
            ("Q-learning (on-policy)", "Q-learning (off-policy)"),
        ),
        ("Sarsa: max_s v_eps*(s) - v_pi(s)", ("Sarsa", "expected Sarsa")),
    )
    fig, axes = plotting.new_figure(1, len(groups), panel_size=4.2)
    for ax, (title, names) in zip(axes[0], groups, strict=True):
        plotting.plot_learning_curves(
            ax,
            c7["steps"],
            np.stack([c7["curves"][n]["mean"] for n in names]),
            np.stack([c7["curves"][n]["ci_low"] for n in names]),
            np.stack([c7["curves"][n]["ci_high"] for n in names]),
            labels=list(names),
            ylabel="value error",
            title=title,
        )
        ax.set_ylim(bottom=0.0)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    plotting.save_figure(fig, os.path.join(workdir, "ch7_learning_curves.png"), dpi=dpi)
    hp = {n: c["hparams"] for n, c in c7["curves"].items()}
    add(
        "ch7",
        "ch7_learning_curves.png",
        f"Temporal-difference learning on the 5x5 grid (ch. 7), one long trajectory per seed: the "
        f"mean over {results['td_num_seeds']} seeds and its 95% t-interval (shaded) of the "
        "error after every chunk, against dynamic programming's answer. Left: TD(0) evaluating "
        f"the uniform random policy (step size {c7['curves']['TD(0)']['step_size']}, lr = "
        f"{hp['TD(0)']['learning_rate']:g}), error against its exact v_pi. Middle: Q-learning "
        "with an epsilon-greedy behaviour (epsilon = "
        f"{hp['Q-learning (on-policy)']['epsilon']:g}) and off-policy from a uniform behaviour "
        f"(step size {c7['curves']['Q-learning (off-policy)']['step_size']}, lr = "
        f"{hp['Q-learning (off-policy)']['learning_rate']:g}); the error is "
        "that of the greedy policy's exact values against v*, 0 once the greedy policy is "
        "optimal. Right: Sarsa and expected Sarsa with epsilon = "
        f"{hp['Sarsa']['epsilon']:g} (step size {c7['curves']['Sarsa']['step_size']}, lr = "
        f"{hp['Sarsa']['learning_rate']:g}, a random restart every "
        f"{c7['curves']['Sarsa']['restart_every']} steps), the gap of the "
        "learned epsilon-greedy policy's exact values to the best epsilon-greedy policy's.",
    )

    off = c7["off_policy"]
    _pair_figure(
        grid,
        [
            ("off-policy Q-learning, seed 0", off["policy"], off["values"]),
            ("optimal (value iteration)", c4_optimal["policy"], c4_optimal["values"]),
        ],
        dpi=dpi,
        path=os.path.join(workdir, "ch7_off_policy.png"),
    )
    add(
        "ch7",
        "ch7_off_policy.png",
        "Off-policy Q-learning (ch. 7.4.2): the behaviour picks each action with probability 1/5 "
        f"and never looks at the estimates. After {results['td_steps']} steps the greedy policy "
        "of seed 0's estimates (left, with its exact values) "
        + ("is optimal" if off["value_error_seed0"] < 1e-3 else "is not yet optimal")
        + f": max_s |v_greedy(s) - v*(s)| = {off['value_error_seed0']:.1e} (largest over all "
        f"{results['td_num_seeds']} seeds: {off['final_value_error_max']:.1e}; optimal in "
        f"{100 * off['optimal_fraction']:.0f}% of the seeds). Right: an optimal policy by value "
        "iteration; where several actions are optimal the two may pick different ones.",
    )
    pf = results["pf"]
    pgrid = pf["grid"]
    panels = [(f"{n}, seed 0", r["policy_seed0"], r["path_seed0"]) for n, r in pf["runs"].items()]
    panels.append(("optimal (value iteration)", pf["optimal_policy"], pf["optimal_path"]))
    fig, axes = plotting.new_figure(1, len(panels), panel_size=3.3)
    for ax, (title, policy, path) in zip(axes[0], panels, strict=True):
        arrives = tuple(path[-1]) == pgrid.target
        length = f"{len(path) - 1} steps" if arrives else "never arrives"
        plotting.plot_grid(ax, pgrid, policy=policy, title=f"{title}: {length}")
        draw_path(ax, path)
    plotting.save_figure(fig, os.path.join(workdir, "ch7_path_finding_policy.png"), dpi=dpi)
    add(
        "ch7pf",
        "ch7_path_finding_policy.png",
        "Path finding (ch. 7, the episodic task): episodes start at "
        f"{pf['start']} (S) and end at the target; r_step = {pgrid.reward_step:g}, "
        f"r_forbidden = r_boundary = {pgrid.reward_forbidden:g}, r_target = "
        f"{pgrid.reward_target:g}. The greedy policy of seed 0's estimates after "
        f"{pf['steps'][-1]} steps (arrows) and the path it takes from the start (red line "
        "through the shaded cells), next to an optimal policy of the same episodic MDP by value "
        "iteration. States the agent never visited keep q = 0 and show the first action (up); "
        "the target is terminal (circle).",
    )
    fig, axes = plotting.new_figure(1, 1, panel_size=5.0)
    fig.set_size_inches(7.0, 4.4)
    ax = axes[0, 0]
    names = list(pf["runs"])
    plotting.plot_learning_curves(
        ax,
        pf["steps"],
        np.stack([pf["runs"][n]["mean"] for n in names]),
        np.stack([pf["runs"][n]["ci_low"] for n in names]),
        np.stack([pf["runs"][n]["ci_high"] for n in names]),
        labels=names,
        ylabel="greedy path length from the start (steps)",
        title="path finding: greedy path length",
    )
    ax.axhline(pf["optimal_length"], color="black", linestyle="--", linewidth=1.0)
    ax.text(
        pf["steps"][0],
        pf["optimal_length"],
        f"optimal: {pf['optimal_length']}",
        va="bottom",
        fontsize=9,
    )
    ax.set_yscale("log")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    plotting.save_figure(fig, os.path.join(workdir, "ch7_path_finding_length.png"), dpi=dpi)
    first = pf["runs"][names[0]]
    cap = first["max_episode_steps"]
    add(
        "ch7pf",
        "ch7_path_finding_length.png",
        "The number of steps the greedy policy takes from the start to the target, mean over "
        f"{first['lengths'].shape[1]} seeds with its 95% t-interval, against environment steps "
        f"(log y axis; {cap} means the greedy path loops and never arrives). Dashed: the "
        f"optimal {pf['optimal_length']} steps. Step sizes: "
        + "; ".join(
            f"{n}: {r['step_size']}, lr = {r['hparams']['learning_rate']:g}, epsilon = "
            f"{r['hparams']['epsilon']:g}"
            for n, r in pf["runs"].items()
        )
        + ". Seeds with the optimal length at the end: "
        + ", ".join(
            f"{int(np.sum(r['lengths'][-1] == pf['optimal_length']))} of "
            f"{r['lengths'].shape[1]} ({n})"
            for n, r in pf["runs"].items()
        )
        + ".",
    )
    return figures


def draw_path(ax, path) -> None:
    """Shades the cells of ``path`` (``[(row, col)]``) and draws a line through their centres."""
    for r, c in path:
        ax.add_patch(Rectangle((c, r), 1, 1, facecolor="#d62728", alpha=0.12, linewidth=0))
    rows = [r + 0.5 for r, _ in path]
    cols = [c + 0.5 for _, c in path]
    ax.plot(cols, rows, color="#d62728", linewidth=2.0, alpha=0.75, zorder=3)
    ax.plot(cols[:1], rows[:1], "o", color="#d62728", markersize=6, zorder=4)
    ax.text(
        cols[0] - 0.32,
        rows[0] - 0.3,
        "S",
        color="#d62728",
        fontsize=10,
        weight="bold",
        ha="center",
        va="center",
        zorder=4,
    )


# ---------------------------------------------------------------------------------------------
# values.json and report.html.


def _round(x, decimals=3):
    return np.round(np.asarray(x, np.float64), decimals).tolist()


def _sig(x, digits=4):
    return [float(f"{v:.{digits}g}") for v in np.asarray(x, np.float64).reshape(-1)]


def _policy_json(grid: gw.GridWorld, policy) -> dict:
    p = np.asarray(policy).reshape(*grid.shape, gw.NUM_ACTIONS)
    deterministic = bool(np.allclose(p.max(-1), 1.0))
    actions = None
    if deterministic:
        actions = [[gw.ACTION_NAMES[a] for a in row] for row in p.argmax(-1)]
    return {"actions": actions, "probabilities": _round(p)}


def _grid_json(grid: gw.GridWorld) -> dict:
    return {
        "shape": list(grid.shape),
        "target": list(grid.target),
        "forbidden": [list(c) for c in grid.forbidden],
        "reward_boundary": grid.reward_boundary,
        "reward_forbidden": grid.reward_forbidden,
        "reward_target": grid.reward_target,
        "reward_step": grid.reward_step,
    }


def _solution_json(grid, entry) -> dict:
    return {
        "values": _round(np.asarray(entry["values"]).reshape(grid.shape)),
        "policy": _policy_json(grid, entry["policy"]),
        **({"gamma": entry["gamma"]} if "gamma" in entry else {}),
        **({"iterations": entry["iterations"]} if "iterations" in entry else {}),
    }


def values_json(config, results) -> dict:
    """Everything computed, rounded (values to 3 decimals, errors to 4 significant digits)."""
    grid, c2, c3, c4 = results["grid"], results["ch2"], results["ch3"], results["ch4"]
    aff = c3["affine"]
    small = c2["small"]
    return {
        "config": config.to_dict(),
        "action_order": list(gw.ACTION_NAMES),
        "grid": _grid_json(grid),
        "chapter2": {
            "gamma": config.gamma,
            "policies": {name: _solution_json(grid, e) for name, e in c2["policies"].items()},
            "example_2x2": {
                "grid": _grid_json(small["grid"]),
                **_solution_json(small["grid"], small),
            },
        },
        "chapter3": {
            "optimal": [_solution_json(grid, e) for e in c3["gammas"]],
            "strong_punishment": {
                "grid": _grid_json(c3["strong_grid"]),
                **_solution_json(c3["strong_grid"], c3["strong"]),
            },
            "affine": {
                "shift": aff["shift"],
                "gamma": config.gamma,
                "value_shift": aff["shift"] / (1.0 - config.gamma),
                "max_abs_value_error": float(f"{aff['max_abs_value_error']:.3g}"),
                "same_greedy_actions": aff["same_greedy_actions"],
                "base_policy_optimal_after_shift": aff["base_policy_optimal_after_shift"],
                "original": _solution_json(grid, aff["base"]),
                "shifted": {
                    "grid": _grid_json(aff["shifted_grid"]),
                    **_solution_json(aff["shifted_grid"], aff["shifted"]),
                },
            },
        },
        "chapter4": {
            "gamma": config.gamma,
            "policy_iteration": [
                {"step": e["step"], "stable": e["stable"], **_solution_json(grid, e)}
                for e in c4["sequence"]
            ],
            "convergence": {
                "v_star": _round(np.asarray(c4["v_star"]).reshape(grid.shape)),
                "iterations": config.num_iterations,
                "errors": {name: _sig(e) for name, e in c4["curves"].items()},
            },
        },
        "chapter5": {
            "gamma": config.gamma,
            "mc_basic": [
                {
                    "episode_length": e["episode_length"],
                    "policy_optimal": e["policy_optimal"],
                    "max_abs_error_to_v_star": float(f"{e['value_error']:.3g}"),
                    **_solution_json(grid, e),
                }
                for e in results["ch5"]["mc_basic"]
            ],
            "mc_iterations": config.mc_iterations,
            "epsilon_greedy": [
                {
                    "epsilon": e["epsilon"],
                    "non_optimal_greedy_states": e["non_optimal_greedy_states"],
                    **_solution_json(grid, e),
                }
                for e in results["ch5"]["epsilon_greedy"]
            ],
        },
        "chapter6": _chapter6_json(config, results["ch6"]),
        "chapter7": {
            **_chapter7_json(config, grid, results["ch7"]),
            "path_finding": _path_finding_json(config, results["pf"]),
        },
    }


def _checkpoints(num_steps: int) -> list[int]:
    """k = 1, 10, 100, ... below ``num_steps``, and ``num_steps``."""
    ks = [10**i for i in range(int(np.log10(num_steps)) + 1) if 10**i < num_steps]
    return [*ks, num_steps]


def _chapter6_json(config, c6) -> dict:
    ks = _checkpoints(len(c6["k"]))
    at = lambda x: _sig(np.asarray(x)[np.asarray(ks) - 1])  # noqa: E731
    return {
        "distribution": f"uniform on [{config.sa_low:g}, {config.sa_high:g}]",
        "true_mean": c6["true_mean"],
        "sigma": float(f"{c6['sigma']:.6g}"),
        "num_seeds": config.sa_num_seeds,
        "initial_estimate": config.sa_initial_estimate,
        "k": ks,
        "standard_error": at(c6["standard_error"]),
        "constant_spread_predicted": float(f"{c6['constant_spread']:.4g}"),
        "curves": {
            name: {
                "mean": at(c["mean"]),
                "ci_low": at(c["ci_low"]),
                "ci_high": at(c["ci_high"]),
                "std": at(c["std"]),
                "rmse": at(c["rmse"]),
                "final_estimates": _sig(c["estimates"][:, -1], 6),
            }
            for name, c in c6["curves"].items()
        },
    }


def _path_finding_json(config, pf) -> dict:
    return {
        "num_seeds": config.pf_num_seeds,
        "steps": [int(x) for x in pf["steps"]],
        "start": list(pf["start"]),
        "gamma": pf["gamma"],
        "grid": _grid_json(pf["grid"]),
        "optimal_length": pf["optimal_length"],
        "optimal_path": [list(c) for c in pf["optimal_path"]],
        "missing_configs": pf["missing"],
        "runs": {
            name: {
                "hparams": r["hparams"],
                "step_size": r["step_size"],
                "max_episode_steps": r["max_episode_steps"],
                "mean": _sig(r["mean"]),
                "ci_low": _sig(r["ci_low"]),
                "ci_high": _sig(r["ci_high"]),
                "final_lengths": [int(x) for x in r["lengths"][-1]],
                "optimal_fraction": float(np.mean(r["lengths"][-1] == pf["optimal_length"])),
                "path_seed0": [list(c) for c in r["path_seed0"]],
                "policy_seed0": _policy_json(pf["grid"], r["policy_seed0"])["actions"],
            }
            for name, r in pf["runs"].items()
        },
    }


def _chapter7_json(config, grid, c7) -> dict:
    off = c7["off_policy"]
    return {
        "gamma": config.gamma,
        "num_seeds": config.td_num_seeds,
        "steps": [int(x) for x in c7["steps"]],
        "curves": {
            name: {
                "truth": c["truth"],
                "metric": c["metric"],
                "hparams": c["hparams"],
                "step_size": c["step_size"],
                "mean": _sig(c["mean"]),
                "ci_low": _sig(c["ci_low"]),
                "ci_high": _sig(c["ci_high"]),
                "final_max_over_seeds": float(f"{c['errors'][-1].max():.4g}"),
            }
            for name, c in c7["curves"].items()
        },
        "off_policy_greedy": {
            **_solution_json(grid, off),
            "value_error_seed0": float(f"{off['value_error_seed0']:.3g}"),
            "final_value_error_max": float(f"{off['final_value_error_max']:.3g}"),
            "optimal_fraction": off["optimal_fraction"],
        },
    }


_CSS = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #444; margin-top: 0.4em; }
table.grid { border-collapse: collapse; margin: 0.5em 1.5em 1em 0; display: inline-table; }
table.grid td { border: 1px solid #888; width: 3.6em; text-align: center; padding: 2px;
  font-family: monospace; }
table.grid caption { font-size: 0.85em; padding-bottom: 0.2em; }
td.forbidden { background: #f5a623; } td.target { background: #4fd8f0; }
table.kv td { padding: 2px 10px; border-bottom: 1px solid #eee; }
"""


def _values_table(grid: gw.GridWorld, values, policy, caption: str) -> str:
    v = np.asarray(values).reshape(grid.shape)
    p = np.asarray(policy).reshape(*grid.shape, gw.NUM_ACTIONS)
    deterministic = np.allclose(p.max(-1), 1.0)
    forbidden = grid.forbidden_mask()
    rows = []
    for r in range(grid.shape[0]):
        cells = []
        for c in range(grid.shape[1]):
            cls = "target" if (r, c) == grid.target else ("forbidden" if forbidden[r, c] else "")
            arrow = ARROWS[int(p[r, c].argmax())] + " " if deterministic else ""
            cells.append(f'<td class="{cls}">{arrow}{v[r, c]:.1f}</td>')
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table class="grid"><caption>{html.escape(caption)}</caption>{"".join(rows)}</table>'


def _img(workdir: str, name: str, caption: str) -> str:
    with open(os.path.join(workdir, name), "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    return (
        f'<figure><img alt="{html.escape(name)}" src="data:image/png;base64,{data}">'
        f"<figcaption><b>{html.escape(name)}</b>: {html.escape(caption)}</figcaption></figure>"
    )


def report_html(config, results, figures, workdir: str) -> str:
    """A self-contained HTML page: one section per chapter, figures inline, value tables."""
    grid, c2, c3, c4 = results["grid"], results["ch2"], results["ch3"], results["ch4"]
    aff = c3["affine"]
    small = c2["small"]
    imgs = {ch: "".join(_img(workdir, n, cap) for n, cap in figs) for ch, figs in figures.items()}
    ch2_tables = "".join(
        _values_table(grid, e["values"], e["policy"], name) for name, e in c2["policies"].items()
    )
    ch2_tables += _values_table(small["grid"], small["values"], small["policy"], "2x2 example")
    ch3_tables = "".join(
        _values_table(grid, e["values"], e["policy"], f"optimal, gamma={e['gamma']:g}")
        for e in c3["gammas"]
    )
    ch3_tables += _values_table(
        c3["strong_grid"],
        c3["strong"]["values"],
        c3["strong"]["policy"],
        f"optimal, r_forbidden={c3['strong_grid'].reward_forbidden:g}",
    )
    ch3_tables += _values_table(
        aff["shifted_grid"],
        aff["shifted"]["values"],
        aff["shifted"]["policy"],
        f"optimal, rewards + {aff['shift']:g}",
    )
    affine_rows = [
        ("reward shift b", f"{aff['shift']:g}"),
        ("predicted value shift b/(1-gamma)", f"{aff['shift'] / (1 - config.gamma):.4g}"),
        ("max |v'* - (v* + b/(1-gamma))|", f"{aff['max_abs_value_error']:.2e}"),
        ("same greedy actions", str(aff["same_greedy_actions"])),
        ("original optimal policy still optimal", str(aff["base_policy_optimal_after_shift"])),
    ]
    affine_table = (
        '<table class="kv">'
        + "".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in affine_rows
        )
        + "</table>"
    )
    ch4_tables = "".join(
        _values_table(grid, e["values"], e["policy"], f"pi_{e['step']}") for e in c4["sequence"]
    )
    conv_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{e[0]:.3g}</td><td>{e[min(10, len(e) - 1)]:.3g}</td>"
        f"<td>{e[-1]:.3g}</td></tr>"
        for name, e in c4["curves"].items()
    )
    k_last = config.num_iterations
    conv_table = (
        '<table class="kv"><tr><th>method</th><th>k=0</th>'
        f"<th>k={min(10, k_last)}</th><th>k={k_last}</th></tr>{conv_rows}</table>"
    )
    c5, c7 = results["ch5"], results["ch7"]
    ch5_mc_tables = "".join(
        _values_table(grid, e["values"], e["policy"], f"MC basic, L={e['episode_length']}")
        for e in c5["mc_basic"]
    )
    ch5_eps_tables = "".join(
        _values_table(grid, e["values"], e["policy"], f"epsilon={e['epsilon']:g}")
        for e in c5["epsilon_greedy"]
    )
    td_rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(c['truth'])}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v:g}' for k, v in c['hparams'].items()))}"
        f"; step size {html.escape(c['step_size'])}</td>"
        f"<td>{c['mean'][0]:.3g} [{c['ci_low'][0]:.3g}, {c['ci_high'][0]:.3g}]</td>"
        f"<td>{c['mean'][-1]:.3g} [{c['ci_low'][-1]:.3g}, {c['ci_high'][-1]:.3g}]</td></tr>"
        for name, c in c7["curves"].items()
    )
    steps = c7["steps"]
    td_table = (
        '<table class="kv"><tr><th>algorithm</th><th>error against</th><th>hparams</th>'
        f"<th>after {steps[0]} steps</th><th>after {steps[-1]} steps</th></tr>{td_rows}</table>"
    )
    off = c7["off_policy"]
    off_table = _values_table(grid, off["values"], off["policy"], "off-policy Q-learning, seed 0")
    c6 = results["ch6"]
    ch6_rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        f"<td>{c['mean'][-1]:.3f} [{c['ci_low'][-1]:.3f}, {c['ci_high'][-1]:.3f}]</td>"
        f"<td>{c['std'][-1]:.3g}</td><td>{c['rmse'][-1]:.3g}</td></tr>"
        for name, c in c6["curves"].items()
    )
    kk = len(c6["k"])
    ch6_table = (
        '<table class="kv"><tr><th>step size</th><th>mean of w at k=' + str(kk) + " [95% CI]</th>"
        f"<th>std over seeds</th><th>RMS error</th></tr>{ch6_rows}"
        f"<tr><td>sigma/sqrt(k)</td><td></td><td>{c6['standard_error'][-1]:.3g}</td><td></td></tr>"
        f"<tr><td>sqrt(a Var/(2-a))</td><td></td><td>{c6['constant_spread']:.3g}</td><td></td>"
        "</tr></table>"
    )
    pf = results["pf"]
    pf_rows = "".join(
        f"<tr><td>{html.escape(name)}</td>"
        f"<td>{html.escape(', '.join(f'{k}={v:g}' for k, v in r['hparams'].items()))}; "
        f"step size {html.escape(r['step_size'])}</td>"
        f"<td>{r['mean'][-1]:.3g} [{r['ci_low'][-1]:.3g}, {r['ci_high'][-1]:.3g}]</td>"
        f"<td>{int(np.sum(r['lengths'][-1] == pf['optimal_length']))} of "
        f"{r['lengths'].shape[1]}</td><td>{len(r['path_seed0']) - 1}</td></tr>"
        for name, r in pf["runs"].items()
    )
    pf_table = (
        '<table class="kv"><tr><th>algorithm</th><th>hparams</th>'
        f"<th>path length after {pf['steps'][-1]} steps</th><th>seeds optimal</th>"
        f"<th>seed 0</th></tr>{pf_rows}</table>"
    )
    pf_missing = (
        "<p>Not run (config not found): " + html.escape(", ".join(pf["missing"])) + ".</p>"
        if pf["missing"]
        else ""
    )
    config_json = html.escape(json.dumps(config.to_dict(), indent=1))
    gamma = config.gamma
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>jaxrl: Zhao ch. 2-7</title>
<style>{_CSS}</style></head><body>
<h1>Examples of chapters 2-7</h1>
<p>S. Zhao, <i>Mathematical Foundations of Reinforcement Learning</i>. The 5x5 grid has the target
(cyan) at (3, 2) and forbidden cells (orange) at {html.escape(str(list(grid.forbidden)))}; cells
are (row, col), 0-based, row 0 at the top. Rewards: boundary {grid.reward_boundary:g}, forbidden
{grid.reward_forbidden:g}, target {grid.reward_target:g}, other {grid.reward_step:g}. Actions in
order up, right, down, left, stay (a circle). Generated by <code>python -m experiments.book</code>;
all numbers are in <code>values.json</code>.</p>
<h2>Chapter 2: state values and the Bellman equation</h2>
<p>Each policy is evaluated exactly, v<sub>&pi;</sub> = (I - &gamma; P<sub>&pi;</sub>)<sup>-1</sup>
r<sub>&pi;</sub>, with &gamma; = {gamma}.</p>
{imgs["ch2"]}
<h3>State values</h3><div>{ch2_tables}</div>
<h2>Chapter 3: the Bellman optimality equation</h2>
<p>Optimal values and greedy optimal policies by value iteration (tolerance {config.tol:g}).</p>
{imgs["ch3"]}
<h3>Optimal state values</h3><div>{ch3_tables}</div>
<h3>Affine reward invariance</h3>{affine_table}
<h2>Chapter 4: value iteration and policy iteration</h2>
{imgs["ch4"]}
<h3>Policy iteration: values of each policy</h3><div>{ch4_tables}</div>
<h3>||v<sub>k</sub> - v*||<sub>&infin;</sub></h3>{conv_table}
<h2>Chapter 5: Monte Carlo methods</h2>
<p>MC basic (Algorithm 5.1) replaces the model-based policy evaluation of policy iteration by the
return of one episode of length L from every state-action pair (one is enough: the grid is
deterministic), starting from "always up", {config.mc_iterations} iterations, &gamma; = {gamma}.
The second figure shows the best epsilon-greedy policies, the target of MC epsilon-greedy (and of
Sarsa) with a fixed &epsilon;: exploration costs value, the more the larger &epsilon;.</p>
{imgs["ch5"]}
<h3>MC basic: estimated state values max<sub>a</sub> q(s, a)</h3><div>{ch5_mc_tables}</div>
<h3>Best epsilon-greedy policies: exact state values</h3><div>{ch5_eps_tables}</div>
<h2>Chapter 6: stochastic approximation</h2>
<p>Mean estimation (ch. 6.1-6.2): from samples x<sub>k</sub> of X, uniform on
[{config.sa_low:g}, {config.sa_high:g}] (E[X] = {c6["true_mean"]:g}), the Robbins-Monro iteration
w<sub>k+1</sub> = w<sub>k</sub> - a<sub>k</sub> (w<sub>k</sub> - x<sub>k</sub>) with
a<sub>k</sub> = 1/k (the incremental sample mean), 1/k<sup>{config.sa_power:g}</sup> (both satisfy
&sum; a<sub>k</sub> = &infin;, &sum; a<sub>k</sub><sup>2</sup> &lt; &infin;) and the constant
{config.sa_constant_step:g} (it does not: the estimate keeps fluctuating);
{config.sa_num_seeds} seeds of {config.sa_steps} samples each.</p>
{imgs["ch6"]}
<h3>Estimates at k = {kk}</h3>{ch6_table}
<h2>Chapter 7: temporal-difference learning</h2>
<p>{config.td_num_seeds} seeds per algorithm, {config.td_steps} steps each on one long trajectory
(the continuing task), errors measured every {steps[0]} steps; every error is computed against the
exact dynamic-programming answer. Mean over seeds with the 95% t-interval in brackets.</p>
{imgs["ch7"]}
<h3>Value errors</h3>{td_table}
<h3>Off-policy Q-learning: the learned greedy policy</h3><div>{off_table}</div>
<h3>Path finding (the episodic task)</h3>
<p>The book's path-finding example: episodes from {html.escape(str(pf["start"]))} to the
(absorbing) target, r_step = {pf["grid"].reward_step:g}, r_forbidden = r_boundary =
{pf["grid"].reward_forbidden:g}, r_target = {pf["grid"].reward_target:g}, &gamma; =
{pf["gamma"]:g}; {config.pf_num_seeds} seeds x {config.pf_steps} steps per algorithm, run as
one compiled program (<code>jaxrl.run.train</code>). The optimal path (value iteration on the
same MDP) takes {pf["optimal_length"]} steps.</p>{pf_missing}
{imgs["ch7pf"]}
{pf_table}
<h2>Configuration</h2><pre>{config_json}</pre>
</body></html>
"""


# ---------------------------------------------------------------------------------------------
# The experiment.


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, str]:
    """Computes every example and writes figures, values.json and report.html into ``workdir``.

    Returns:
        ``{"values": path, "report": path, "figures": [paths]}``.
    """
    check_config(config)
    start = time.perf_counter()
    os.makedirs(workdir, exist_ok=True)
    grid = book_grid(config)
    results = {
        "gamma": config.gamma,
        "mc_iterations": config.mc_iterations,
        "epsilons": tuple(config.epsilons),
        "td_num_seeds": config.td_num_seeds,
        "td_steps": config.td_steps,
        "grid": grid,
        "ch2": chapter2(config, grid),
        "ch3": chapter3(config, grid),
        "ch4": chapter4(config, grid),
        "ch5": chapter5(config, grid),
    }
    results["ch6"] = chapter6(config)
    results["sa_range"] = (config.sa_low, config.sa_high)
    results["sa_initial_estimate"] = config.sa_initial_estimate
    results["ch7"] = chapter7(config, grid, results["ch4"]["v_star"])
    results["pf"] = path_finding(config)
    logging.info("computed all examples in %.1f s", time.perf_counter() - start)
    figures = write_figures(results, workdir, dpi=config.dpi)

    values_path = os.path.join(workdir, "values.json")
    with open(values_path, "w") as f:
        json.dump(values_json(config, results), f, indent=1)
    logging.info("wrote %s", values_path)
    report_path = os.path.join(workdir, "report.html")
    with open(report_path, "w") as f:
        f.write(report_html(config, results, figures, workdir))
    logging.info("wrote %s", report_path)
    logging.info("done in %.1f s", time.perf_counter() - start)
    return {
        "values": values_path,
        "report": report_path,
        "figures": [os.path.join(workdir, n) for figs in figures.values() for n, _ in figs],
    }


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = cli.config_value(_CONFIG)
    try:
        check_config(config)
        check_writable(_WORKDIR.value)
    except ValueError as e:
        cli.fail(str(e))
    run(config, _WORKDIR.value)


if __name__ == "__main__":
    cli.run(main)
