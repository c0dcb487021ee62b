"""Chapter 7: temporal-difference learning on the continuing task.

Learning curves (mean and 95% interval over seeds) of TD(0), Q-learning on and off policy, Double
Q-learning, Sarsa and expected Sarsa against the dynamic-programming answers, each run as one
compiled program over seeds (``jaxrl.run.train``, through ``common.run_seeds``), and off-policy
Q-learning's learned policy (the book's Figure 7.4). The algorithms' hyperparameters are their
library configs'; the book's config sets the grid, gamma and the budget (``config.ch7``). The
episodic path-finding task is ``experiments/book/path_finding.py``.
"""

from __future__ import annotations

import html

import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.book import common
from jaxrl import dp, plotting
from jaxrl.configs import double_q_learning as double_q_learning_config
from jaxrl.configs import expected_sarsa as expected_sarsa_config
from jaxrl.configs import q_learning as q_learning_config
from jaxrl.configs import q_learning_off_policy as q_learning_off_policy_config
from jaxrl.configs import sarsa as sarsa_config
from jaxrl.configs import td0 as td0_config
from jaxrl.envs import gridworld as gw
from jaxrl.tabular import double_q_learning, q_learning, sarsa, td0

TITLE = "Chapter 7: temporal-difference learning"
VALUES_KEY = ("chapter7",)
OFF_POLICY = "Q-learning (off-policy)"

# (name, module, library config, what the error is measured against, metric).
TD_ALGORITHMS = (
    ("TD(0)", td0, td0_config, "v_pi (uniform policy)", "value_error"),
    ("Q-learning (on-policy)", q_learning, q_learning_config, "v*", "value_error"),
    (OFF_POLICY, q_learning, q_learning_off_policy_config, "v*", "value_error"),
    ("Double Q-learning", double_q_learning, double_q_learning_config, "v*", "value_error"),
    ("Sarsa", sarsa, sarsa_config, "v_eps* (best eps-greedy)", "value_gap"),
    ("expected Sarsa", sarsa, expected_sarsa_config, "v_eps* (best eps-greedy)", "value_gap"),
)
# The panels of the learning-curve figure: (title, algorithms).
PANELS = (
    ("TD(0): max_s |v(s) - v_pi(s)|", ("TD(0)",)),
    (
        "Q-learning: max_s |v_greedy(s) - v*(s)|",
        ("Q-learning (on-policy)", OFF_POLICY, "Double Q-learning"),
    ),
    ("Sarsa: max_s v_eps*(s) - v_pi(s)", ("Sarsa", "expected Sarsa")),
)


def check(config) -> None:
    common.check_seed_block(config, "ch7")


def td_config(config, library_config) -> ml_collections.ConfigDict:
    """A library config with the book's grid, gamma and budget (the hparams stay the library's)."""
    cfg = common.library_config(library_config, config.ch7)
    with cfg.unlocked():
        cfg.hparams.gamma = config.gamma
        for name in common.REWARD_FIELDS:
            cfg.env[name] = config[name]
    return cfg


def compute(config) -> dict:
    """Learning curves of every TD algorithm, and off-policy Q-learning's greedy policy."""
    block, gamma = config.ch7, config.gamma
    curves, off_policy_q = {}, None
    for name, module, library_config, truth, metric in TD_ALGORITHMS:
        cfg = td_config(config, library_config)
        label = f"ch. 7 {name}"
        seeds, errors = common.run_seeds(module, cfg, block, metric=metric, label=label)
        curves[name] = {
            "truth": truth,
            "metric": metric,
            "hparams": common.hparams_dict(cfg),
            "step_size": common.step_size_text(cfg),
            "restart_every": int(cfg.get("restart_every", 0)),
            "errors": errors,
            **common.summary(errors, axis=1),  # over the seeds
        }
        if name == OFF_POLICY:
            off_policy_q = np.asarray(common.q_table(seeds.carry))
    # The greedy policy of seed 0's off-policy estimates, and its exact values.
    grid = common.book_grid(config)
    optimal = common.exact_optimal(grid, gamma=gamma, config=config)
    greedy = np.asarray(dp.greedy_policy(jnp.asarray(off_policy_q[0])))
    greedy_values = np.asarray(dp.evaluate_policy(gw.to_mdp(grid), greedy, gamma=gamma))
    final = curves[OFF_POLICY]["errors"][-1]
    return {
        "grid": grid,
        "optimal": optimal,
        "steps": common.chunk_ends(block),
        "curves": curves,
        "off_policy": {
            "policy": greedy,
            "values": greedy_values,
            "value_error_seed0": float(np.abs(greedy_values - optimal["values"]).max()),
            "final_value_error_max": float(final.max()),
            "optimal_fraction": float(np.mean(final < 1e-4)),
        },
    }


def figures(config, results, out: common.Figures) -> None:
    block, grid, curves = config.ch7, results["grid"], results["curves"]
    fig, axes = plotting.new_figure(1, len(PANELS), panel_size=4.2)
    for ax, (title, names) in zip(axes[0], PANELS, strict=True):
        plotting.plot_learning_curves(
            ax,
            results["steps"],
            np.stack([curves[n]["mean"] for n in names]),
            np.stack([curves[n]["ci_low"] for n in names]),
            np.stack([curves[n]["ci_high"] for n in names]),
            labels=list(names),
            ylabel="value error",
            title=title,
        )
        ax.set_ylim(bottom=0.0)
    hp = {n: c["hparams"] for n, c in curves.items()}
    settings = common.grid_settings(grid, config.gamma)
    runs = {"seeds": block.num_seeds, "steps": block.steps}
    out.save(
        fig,
        "ch7_learning_curves.png",
        reproduces="sections 7.1-7.4 (the book prints no learning curves of these)",
        settings={**settings, **runs},
        caption="Temporal-difference learning on the 5x5 grid, one long trajectory per seed: the "
        f"mean over {block.num_seeds} seeds and its 95% t-interval (shaded) of the error after "
        "every chunk, against dynamic programming's answer. Left: TD(0) evaluating the uniform "
        f"random policy (step size {curves['TD(0)']['step_size']}, lr = "
        f"{hp['TD(0)']['learning_rate']:g}), error against its exact v_pi. Middle: Q-learning "
        "with an epsilon-greedy behaviour (epsilon = "
        f"{hp['Q-learning (on-policy)']['epsilon']:g}), "
        f"off-policy from a uniform behaviour (step size {curves[OFF_POLICY]['step_size']}, lr = "
        f"{hp[OFF_POLICY]['learning_rate']:g}) and Double Q-learning, epsilon-greedy in the sum "
        f"of its two tables (epsilon = {hp['Double Q-learning']['epsilon']:g}, lr = "
        f"{hp['Double Q-learning']['learning_rate']:g}); the error is that of the greedy "
        "policy's exact values against v*, 0 once the greedy policy is optimal. Right: Sarsa "
        f"and expected Sarsa with epsilon = {hp['Sarsa']['epsilon']:g} (step size "
        f"{curves['Sarsa']['step_size']}, lr = {hp['Sarsa']['learning_rate']:g}, a random "
        f"restart every {curves['Sarsa']['restart_every']} steps), the gap of the learned "
        "epsilon-greedy policy's exact values to the best epsilon-greedy policy's.",
    )
    off, optimal = results["off_policy"], results["optimal"]
    panels = [
        ("off-policy Q-learning, seed 0", off["policy"], off["values"]),
        ("optimal (value iteration)", optimal["policy"], optimal["values"]),
    ]
    verdict = "is optimal" if off["value_error_seed0"] < 1e-3 else "is not yet optimal"
    out.save(
        common.pair_figure(grid, panels),
        "ch7_off_policy.png",
        reproduces="Figure 7.4 (the book: one 100,000-step episode, alpha = 0.1)",
        settings={
            **settings,
            "behaviour": "uniform",
            "steps": block.steps,
            "lr": hp[OFF_POLICY]["learning_rate"],
            "step size": curves[OFF_POLICY]["step_size"],
        },
        caption="Off-policy Q-learning (section 7.4.2): the behaviour picks each action with "
        f"probability 1/5 and never looks at the estimates. After {block.steps} steps the greedy "
        f"policy of seed 0's estimates (left, with its exact values) {verdict}: max_s "
        f"|v_greedy(s) - v*(s)| = {off['value_error_seed0']:.1e} (largest over all "
        f"{block.num_seeds} seeds: {off['final_value_error_max']:.1e}; optimal in "
        f"{100 * off['optimal_fraction']:.0f}% of the seeds). Right: an optimal policy by value "
        "iteration; where several actions are optimal the two may pick different ones.",
    )


def values(config, results) -> dict:
    off = results["off_policy"]
    return {
        "gamma": config.gamma,
        "num_seeds": config.ch7.num_seeds,
        "steps": [int(x) for x in results["steps"]],
        "curves": {
            name: {
                "truth": c["truth"],
                "metric": c["metric"],
                "hparams": c["hparams"],
                "step_size": c["step_size"],
                "mean": common.sig(c["mean"]),
                "ci_low": common.sig(c["ci_low"]),
                "ci_high": common.sig(c["ci_high"]),
                "final_max_over_seeds": float(f"{c['errors'][-1].max():.4g}"),
            }
            for name, c in results["curves"].items()
        },
        "off_policy_greedy": {
            **common.solution_json(results["grid"], off),
            "value_error_seed0": float(f"{off['value_error_seed0']:.3g}"),
            "final_value_error_max": float(f"{off['final_value_error_max']:.3g}"),
            "optimal_fraction": off["optimal_fraction"],
        },
    }


def section(config, results, figures_html: str) -> str:
    block, steps, off = config.ch7, results["steps"], results["off_policy"]
    rows = [
        (
            name,
            c["truth"],
            ", ".join(f"{k}={v:g}" for k, v in c["hparams"].items())
            + f"; step size {c['step_size']}",
            f"{c['mean'][0]:.3g} [{c['ci_low'][0]:.3g}, {c['ci_high'][0]:.3g}]",
            f"{c['mean'][-1]:.3g} [{c['ci_low'][-1]:.3g}, {c['ci_high'][-1]:.3g}]",
        )
        for name, c in results["curves"].items()
    ]
    header = ("algorithm", "error against", "hparams", f"after {steps[0]} steps")
    table = common.kv_table((*header, f"after {steps[-1]} steps"), rows)
    caption = "off-policy Q-learning, seed 0"
    off_table = common.values_table(results["grid"], off["values"], off["policy"], caption)
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>{block.num_seeds} seeds per algorithm, {block.steps} steps each on one long trajectory
(the continuing task), errors measured every {steps[0]} steps; every error is computed against the
exact dynamic-programming answer. Mean over seeds with the 95% t-interval in brackets.</p>
{figures_html}
<h3>Value errors</h3>{table}
<h3>Off-policy Q-learning: the learned greedy policy</h3><div>{off_table}</div>
"""
