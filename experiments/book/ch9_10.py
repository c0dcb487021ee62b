"""Chapters 9-10: policy gradient and actor-critic with a tabular softmax policy on the grid.

REINFORCE with and without a baseline (ch. 9.4), QAC (ch. 10.1), A2C with the TD error as the
advantage (ch. 10.2) and off-policy actor-critic from the uniform behaviour (ch. 10.4), each one
compiled program over seeds (its agent module, ``jaxrl.agents.reinforce``, ``qac``, ``a2c`` or
``off_policy_ac``, with the ``actor_critic_grid`` library config of its variant, through
``common.run_seeds``). The policy is ``softmax(theta[s])`` and
its values are computed exactly (``jaxrl.dp``) after every chunk, so the curves show how far the
policy itself, not an estimate, is from the optimum. The algorithms' settings are their library
configs'; the book's config sets gamma, the rewards and the budget (``config.ch9_10``).
"""

from __future__ import annotations

import html
import importlib

import jax
import ml_collections
import numpy as np

from experiments.book import common
from jaxrl import dp, plotting
from jaxrl.configs import actor_critic_grid
from jaxrl.envs import gridworld as gw

TITLE = "Chapters 9-10: policy gradient and actor-critic"
VALUES_KEY = ("chapter9_10",)

# (library variant, label) of each algorithm, in the order of the figures.
VARIANTS = (
    ("reinforce_no_baseline", "REINFORCE"),
    ("reinforce", "REINFORCE with baseline"),
    ("qac", "QAC"),
    ("a2c", "A2C (TD-error advantage)"),
    ("off_policy", "off-policy AC (uniform behaviour)"),
)
METRICS = ("value_error", "greedy_value_error", "mean_value")
# A policy within this of v* at every state counts as near-optimal (1% of v*'s largest value on
# the book's grid; see jaxrl/configs/actor_critic_grid.py).
NEAR_OPTIMAL = 0.1
POLICY_VARIANT = "a2c"  # whose seed-0 policy the policy figure draws (else the first run's)


def check(config) -> None:
    common.check_seed_block(config, "ch9_10")
    common.check_algorithms("ch9_10", config.ch9_10.algorithms, VARIANTS)


def library_config(config, variant: str) -> ml_collections.ConfigDict:
    """The variant's library config with the book's gamma, rewards and budget (``steps`` counts
    updates, one per rollout)."""
    block = config.ch9_10
    cfg = actor_critic_grid.get_config(variant)
    with cfg.unlocked():
        cfg.num_seeds = block.num_seeds
        cfg.total_steps = block.steps
        cfg.chunk_steps = block.steps // block.chunks
        cfg.hparams.gamma = config.gamma
        for field in common.REWARD_FIELDS:
            cfg.env[field] = config[field]
    return cfg


def compute(config) -> dict:
    block = config.ch9_10
    grid = common.book_grid(config)
    optimal = common.exact_optimal(grid, gamma=config.gamma, config=config)
    runs = {}
    for variant, label in common.check_algorithms("ch9_10", block.algorithms, VARIANTS):
        cfg = library_config(config, variant)
        module = importlib.import_module(cfg.experiment)
        seeds, metrics = common.run_seeds(
            module, cfg, block, metric=METRICS, label=f"ch. 9-10 {label}"
        )
        # Seed 0's softmax policy, read from the agent's own network (the policy readout acts;
        # the figure draws the probabilities).
        agent = module.make_agent(cfg)
        actor0 = jax.tree.map(lambda leaf: leaf[0], seeds.carry.params.actor)
        pi0 = agent.nets.policy(actor0, np.arange(grid.num_states))
        policy0 = np.asarray(pi0.probs, np.float64)
        values0 = np.asarray(dp.evaluate_policy(gw.to_mdp(grid), policy0, gamma=config.gamma))
        final = np.asarray(metrics["value_error"][-1], np.float64)
        runs[variant] = {
            "label": label,
            "cfg": cfg,
            "env_steps": cfg.num_envs * cfg.rollout_length * common.chunk_ends(block),
            "policy_seed0": policy0,
            "values_seed0": values0,
            "final_value_error": final,
            "near_optimal_seeds": int(np.sum(final < NEAR_OPTIMAL)),
            "metrics": {
                m: {"values": metrics[m], **common.summary(metrics[m], axis=1)} for m in METRICS
            },
        }
    return {"grid": grid, "optimal": optimal, "runs": runs}


# ---------------------------------------------------------------------------------------------
# Figures.


def _settings(config, results) -> dict:
    block = config.ch9_10
    return {
        **common.grid_settings(results["grid"], config.gamma),
        "policy": "tabular softmax",
        "seeds": block.num_seeds,
        "updates": block.steps,
    }


def _algorithm_text(cfg) -> str:
    return (
        f"{cfg.num_envs} environments x episodes of {cfg.rollout_length} steps per update, adam, "
        f"actor step {float(cfg.hparams.actor_lr):g}, critic step {float(cfg.hparams.critic_lr):g}"
        f", entropy bonus {float(cfg.hparams.entropy_coef):g}"
    )


def figures(config, results, out: common.Figures) -> None:
    runs, block = results["runs"], config.ch9_10
    settings = _settings(config, results)
    fig, axes = plotting.new_figure(1, 2, panel_size=4.6)
    for variant in runs:  # one line per algorithm, against its own environment steps
        run = runs[variant]
        for ax, metric in zip(axes[0], ("value_error", "mean_value"), strict=True):
            stats = run["metrics"][metric]
            plotting.plot_learning_curves(
                ax,
                run["env_steps"],
                stats["mean"][None],
                stats["ci_low"][None],
                stats["ci_high"][None],
                labels=[run["label"]],
            )
    v_star_mean = float(np.mean(results["optimal"]["values"]))
    plotting.log_scale_if_wide(axes[0, 0])
    axes[0, 0].set_ylabel("max_s |v*(s) - v_pi(s)|")
    axes[0, 0].set_title("the softmax policy's exact error")
    axes[0, 0].axhline(NEAR_OPTIMAL, color="0.5", linestyle=":", lw=1.0)
    axes[0, 1].axhline(v_star_mean, color="k", linestyle="--", lw=1.0)
    axes[0, 1].set_ylabel("J(theta) = mean_s v_pi(s)")
    axes[0, 1].set_title("the objective (dashed: its maximum, mean v*)")
    counts = "; ".join(
        f"{run['label']}: {run['near_optimal_seeds']} of {block.num_seeds}" for run in runs.values()
    )
    setups = "; ".join(f"{run['label']}: {_algorithm_text(run['cfg'])}" for run in runs.values())
    out.save(
        fig,
        "ch9_10_curves.png",
        reproduces="sections 9.4 and 10.1-10.4 (learning curves)",
        settings=settings,
        caption=f"Policy gradient and actor-critic with the tabular softmax policy pi(a|s) = "
        f"softmax(theta[s]) from theta = 0, the mean over {block.num_seeds} seeds with its 95% "
        f"t-interval (shaded), after every chunk of {block.steps // block.chunks} updates, "
        "against environment steps. Episodes start in a uniformly drawn cell (so J is the mean "
        "of v_pi) and are cut after a fixed number of steps, where the returns bootstrap from "
        "the critic (REINFORCE without a baseline has none: its returns stop there). Left (log "
        "scale): the largest error over the cells of the policy's exact values (jaxrl.dp) to "
        f"v*; dotted: {NEAR_OPTIMAL:g}, the near-optimal line. Seeds below it at the end: "
        f"{counts}. Right: the objective J(theta). Settings: {setups}.",
    )
    run = runs.get(POLICY_VARIANT, next(iter(runs.values())))
    optimal = results["optimal"]
    panels = [
        (f"{run['label']}, seed 0: pi and v_pi", run["policy_seed0"], run["values_seed0"]),
        ("optimal (value iteration): v*", optimal["policy"], optimal["values"]),
    ]
    error0 = float(np.max(np.abs(run["values_seed0"] - optimal["values"])))
    out.save(
        common.pair_figure(results["grid"], panels),
        "ch9_10_policy.png",
        reproduces="section 10.2 (the learned policy)",
        settings={**settings, "algorithm": run["label"]},
        caption=f"Left: seed 0's softmax policy after {block.steps} updates of "
        f"{run['label']} (arrow length and opacity grow with pi(a|s)) and its exact values; "
        f"max_s |v_pi(s) - v*(s)| = {error0:.2g}. Right: an optimal policy and v*. Where two "
        "actions are optimal the softmax policy may split between them at no cost.",
    )


# ---------------------------------------------------------------------------------------------
# values.json and report.html.


def values(config, results) -> dict:
    block = config.ch9_10

    def curve(stats):
        return {k: common.sig(stats[k]) for k in ("mean", "ci_low", "ci_high")}

    return {
        "gamma": config.gamma,
        "grid": common.grid_json(results["grid"]),
        "num_seeds": block.num_seeds,
        "updates": block.steps,
        "near_optimal_tol": NEAR_OPTIMAL,
        "optimal": common.solution_json(results["grid"], results["optimal"]),
        "algorithms": {
            variant: {
                "label": run["label"],
                "hparams": common.hparams_dict(run["cfg"]),
                "num_envs": run["cfg"].num_envs,
                "episode_steps": run["cfg"].rollout_length,
                "env_steps": [int(x) for x in run["env_steps"]],
                "final_value_error": common.sig(run["final_value_error"]),
                "near_optimal_seeds": run["near_optimal_seeds"],
                "curves": {m: curve(run["metrics"][m]) for m in METRICS},
                "policy_seed0": common.round_list(run["policy_seed0"]),
                "values_seed0": common.round_list(run["values_seed0"]),
            }
            for variant, run in results["runs"].items()
        },
    }


def section(config, results, figures_html: str) -> str:
    block = config.ch9_10
    rows = [
        (
            run["label"],
            f"{run['near_optimal_seeds']} of {block.num_seeds}",
            ", ".join(f"{e:.2g}" for e in run["final_value_error"]),
        )
        for run in results["runs"].values()
    ]
    table = common.kv_table(
        ("algorithm", f"seeds within {NEAR_OPTIMAL:g} of v*", "every seed's final error"), rows
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>{block.num_seeds} seeds per algorithm, {block.steps} updates each, on the book's grid (gamma
= {config.gamma:g}). The error is max_s |v*(s) - v_pi(s)| for the softmax policy itself,
evaluated exactly; a softmax policy reaches v* only in the limit, so {NEAR_OPTIMAL:g} (1% of the
largest v*) counts as near-optimal. The full-size results (16 seeds, the library configs'
budgets) are in BUILD-notes.md.</p>
{figures_html}
<h3>Final errors</h3>{table}
"""
