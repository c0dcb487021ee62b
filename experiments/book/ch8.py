"""Chapter 8: value function approximation.

TD-linear (section 8.2) evaluating the uniform policy on the grid of the book's Figure 8.6, with
one-hot (the tabular case), polynomial (Figure 8.7) and Fourier (Figure 8.8) features: each
feature set is one compiled program over seeds (``jaxrl.approx.td_linear`` through
``common.run_seeds``), and its estimates are drawn next to the true ``v_pi`` (``jaxrl.dp``) and
next to ``Phi w*``, the projected Bellman fixed point TD-linear converges to (a float64 solve,
``jaxrl.approx.linear.projected_fixed_point``). Deep Q-learning (section 8.4) off-policy from a
uniform behaviour on the grid of Figure 8.11 (``jaxrl.agents.dqn`` with the ``dqn_grid`` library
config): seed 0's greedy policy and estimated values against the optimal ones, the learning
curves, and how many seeds end optimal. The algorithms' hyperparameters are their library
configs'; the book's config sets gamma, TD-linear's rewards and the budgets (``config.ch8``).
"""

from __future__ import annotations

import html

import ml_collections
import numpy as np

from experiments.book import ch8_dqn, common
from experiments.book.ch8_dqn import curve_json as _curve_json
from experiments.book.ch8_dqn import sig as _sig
from jaxrl import dp, plotting
from jaxrl.approx import features as feature_sets
from jaxrl.approx import linear, td_linear
from jaxrl.configs import dqn_grid as dqn_grid_config
from jaxrl.configs import td_linear as td_linear_config
from jaxrl.envs import gridworld as gw

TITLE = "Chapter 8: value function approximation"
VALUES_KEY = ("chapter8",)

# TD-linear's metrics (jaxrl.approx.td_linear): the error to Phi w*, and to v_pi (max and RMSE).
TD_METRICS = ("fixed_point_error", "value_error", "rmse")
# One value figure per kind of feature set: (name prefix, file, what it reproduces, heading).
FAMILIES = (
    (
        "onehot",
        "ch8_td_linear_onehot.png",
        "Figure 8.6 (the policy and v_pi) and the tabular case of section 8.2",
        "one-hot features",
    ),
    ("poly", "ch8_td_linear_polynomial.png", "Figure 8.7", "polynomial features"),
    ("fourier", "ch8_td_linear_fourier.png", "Figure 8.8", "Fourier features"),
)
# What our runs do differently from the book's, in the captions and the section.
TD_DIFFERENCES = (
    "The book runs 500 episodes of 500 steps, each from a uniformly drawn state-action pair, "
    "with w drawn from N(0, 1), and draws the estimates as surfaces; here each seed follows one "
    "long trajectory from a uniformly drawn cell with w = 0, and the estimates are heat maps."
)


def check(config) -> None:
    for name in ("ch8.td_linear", "ch8.dqn"):
        common.check_seed_block(config, name)
    if isinstance(config.ch8.features, str):
        raise ValueError(
            f"config.ch8.features must be a tuple of feature set names, got {config.ch8.features!r}"
        )
    names = common.check_nonempty("ch8.features", config.ch8.features, "feature set")
    if len(set(names)) != len(names):
        raise ValueError(f"config.ch8.features must not repeat a feature set, got {names!r}")
    shape = common.book_grid(config).shape
    for name in names:
        feature_sets.check_features(name, shape, field="config.ch8.features")
    learning_starts = dqn_grid_config.get_config().learning_starts
    if config.ch8.dqn.steps <= learning_starts:
        raise ValueError(
            f"config.ch8.dqn.steps must exceed the dqn_grid config's learning_starts = "
            f"{learning_starts} (no update before the buffer is full), got {config.ch8.dqn.steps}"
        )


def feature_title(name: str, num_states: int) -> str:
    """``poly2`` -> ``polynomial, order 2 (d = 6)``."""
    d = feature_sets.num_features(name, num_states)
    if name == "onehot":
        return f"one-hot (d = {d})"
    if name.startswith("poly"):
        return f"polynomial, order {name[len('poly') :]} (d = {d})"
    return f"Fourier, q = {name[len('fourier') :]} (d = {d})"


def td_config(config, name: str) -> ml_collections.ConfigDict:
    """The TD-linear library config with the book's features, grid, gamma and budget."""
    cfg = common.library_config(td_linear_config, config.ch8.td_linear)
    with cfg.unlocked():
        cfg.features = name
        cfg.hparams.gamma = config.gamma
        for field in common.REWARD_FIELDS:
            cfg.env[field] = config[field]
    return cfg


def td_step_size_text(hparams: dict) -> str:
    return (
        f"lr / (1 + t / {hparams['decay_steps']:g})^{hparams['step_power']:g} / "
        f"max_s ||phi(s)||^2, lr = {hparams['learning_rate']:g}"
    )


def compute_td_linear(config) -> dict:
    """Every feature set's TD-linear runs, its w* (float64) and its errors."""
    block, gamma = config.ch8.td_linear, config.gamma
    grid = common.book_grid(config)
    mdp = gw.to_mdp(grid)
    uniform = np.full((grid.num_states, gw.NUM_ACTIONS), 1.0 / gw.NUM_ACTIONS)
    v_pi = np.asarray(dp.evaluate_policy(mdp, uniform, gamma=gamma), np.float64)
    runs = {}
    for name in config.ch8.features:
        cfg = td_config(config, name)
        label = f"ch. 8 TD-linear, {name}"
        seeds, metrics = common.run_seeds(td_linear, cfg, block, metric=TD_METRICS, label=label)
        phi = feature_sets.check_features(name, grid.shape)  # float64 [S, d]
        w_star = linear.projected_fixed_point(mdp, uniform, phi, gamma=gamma)
        fixed_point = phi @ w_star
        estimates = np.asarray(seeds.carry.w, np.float64) @ phi.T  # [seeds, S]
        runs[name] = {
            "title": feature_title(name, grid.num_states),
            "num_features": phi.shape[1],
            "hparams": common.hparams_dict(cfg),
            "w_star": w_star,
            "fixed_point": fixed_point,
            "estimate_seed0": estimates[0],
            "estimate_mean": estimates.mean(axis=0),
            "bias_max": float(np.abs(fixed_point - v_pi).max()),
            "bias_rmse": float(np.sqrt(np.mean((fixed_point - v_pi) ** 2))),
            "metrics": {
                m: {"values": metrics[m], **common.summary(metrics[m], axis=1)} for m in TD_METRICS
            },
        }
    return {
        "grid": grid,
        "policy": uniform,
        "v_pi": v_pi,
        "steps": common.chunk_ends(block),
        "runs": runs,
    }


def compute(config) -> dict:
    return {"td_linear": compute_td_linear(config), "dqn": ch8_dqn.compute(config)}


# ---------------------------------------------------------------------------------------------
# Figures.


def _td_settings(config, td) -> dict:
    block = config.ch8.td_linear
    return {
        **common.grid_settings(td["grid"], config.gamma),
        "policy": "uniform",
        "seeds": block.num_seeds,
        "steps": block.steps,
    }


def _fmt_ci(stats: dict, index: int = -1) -> str:
    return (
        f"{stats['mean'][index]:.3g} [{stats['ci_low'][index]:.3g}, {stats['ci_high'][index]:.3g}]"
    )


def td_value_figures(config, td, out: common.Figures) -> None:
    grid, runs, block = td["grid"], td["runs"], config.ch8.td_linear
    settings = _td_settings(config, td)
    step_size = td_step_size_text(next(iter(runs.values()))["hparams"])
    for prefix, file, reproduces, heading in FAMILIES:
        names = [name for name in runs if name.startswith(prefix)]
        if not names:
            continue
        fig, axes = plotting.new_figure(2, 1 + len(names), panel_size=2.7)
        plotting.plot_grid(axes[0, 0], grid, values=td["v_pi"], title="true v_pi")
        plotting.plot_grid(axes[1, 0], grid, policy=td["policy"], title="the policy: uniform")
        for i, name in enumerate(names, start=1):
            run = runs[name]
            title = run["title"]
            plotting.plot_grid(axes[0, i], grid, values=run["estimate_seed0"], title=title)
            plotting.plot_grid(
                axes[1, i], grid, values=run["fixed_point"], title="Phi w* (its limit)"
            )
        errors = "; ".join(
            f"{runs[n]['title']}: "
            f"{runs[n]['metrics']['fixed_point_error']['values'][-1, 0]:.2g}, "
            f"{runs[n]['bias_max']:.2g} ({runs[n]['bias_rmse']:.2g})"
            for n in names
        )
        biases = [runs[n]["bias_max"] for n in names]
        if prefix == "onehot":
            remark = (
                " With one-hot features phi(s) = e_s, TD-linear is tabular TD(0) and w* = v_pi "
                "(the tabular case of section 8.2): no approximation error."
            )
        elif len(biases) > 1 and all(x > y for x, y in zip(biases, biases[1:], strict=False)):
            remark = (
                " Here each larger set leaves Phi w* closer to v_pi; TD-linear converges to "
                "Phi w*, not to v_pi, whatever the amount of data."
            )
        else:
            remark = " TD-linear converges to Phi w*, not to v_pi, whatever the amount of data."
        out.save(
            fig,
            file,
            reproduces=reproduces,
            settings={**settings, "features": ", ".join(names)},
            caption=f"TD-linear (section 8.2) with {heading}, evaluating the uniform policy "
            "(every action with probability 1/5). Left column: the true state values v_pi "
            "(exact policy evaluation) and the policy, as in Figure 8.6. Top row: seed 0's "
            f"estimate phi(s)^T w after {block.steps} steps of one trajectory (step size "
            f"{step_size}). Bottom row: Phi w*, the projected Bellman fixed point TD-linear "
            f"converges to (the solution of Phi^T D (I - gamma P_pi) Phi w = Phi^T D r_pi, "
            "float64). Seed 0's final largest error over the cells to Phi w*, then Phi w*'s own "
            f"to v_pi (its RMSE in brackets): {errors}.{remark} The book runs 500 episodes of "
            "500 steps with w drawn from N(0, 1) and draws surfaces; here one trajectory, w = 0.",
        )


def td_curves_figure(config, td, out: common.Figures) -> None:
    runs, block = td["runs"], config.ch8.td_linear
    names = list(runs)
    labels = [runs[n]["title"] for n in names]
    fig, axes = plotting.new_figure(1, 2, panel_size=4.6)
    panels = (
        ("fixed_point_error", "max_s |phi(s)^T (w - w*)|", "error to the projected fixed point"),
        ("rmse", "RMSE of phi^T w against v_pi", "error to v_pi (dashed: that of Phi w*)"),
    )
    for ax, (metric, ylabel, title) in zip(axes[0], panels, strict=True):
        stats = [runs[n]["metrics"][metric] for n in names]
        plotting.plot_learning_curves(
            ax,
            td["steps"],
            np.stack([s["mean"] for s in stats]),
            np.stack([s["ci_low"] for s in stats]),
            np.stack([s["ci_high"] for s in stats]),
            labels=labels,
            ylabel=ylabel,
            title=title,
        )
    plotting.log_scale_if_wide(axes[0, 0])
    right = axes[0, 1]
    for line, name in zip(list(right.get_lines()), names, strict=True):
        right.axhline(runs[name]["bias_rmse"], color=line.get_color(), linestyle="--", lw=1.0)
    right.set_ylim(bottom=0.0)
    out.save(
        fig,
        "ch8_td_linear_curves.png",
        reproduces="Figures 8.7-8.8 (their error curves)",
        settings={**_td_settings(config, td), "features": ", ".join(names)},
        caption=f"TD-linear's errors against environment steps, the mean over {block.num_seeds} "
        "seeds with its 95% t-interval (shaded), one line per feature set. Left (log scale): "
        "the largest error over the cells to Phi w*, which TD-linear converges to with its "
        "decaying step size. Right: the root mean square over the 25 cells of the error to the "
        "true v_pi, the book's 'state value error'; it levels off at that of Phi w* (dashed, "
        "same colour), the approximation's bias, not at 0. The x axis counts steps of one "
        "trajectory; the book's counts episodes (500 of 500 steps).",
    )


def figures(config, results, out: common.Figures) -> None:
    td_value_figures(config, results["td_linear"], out)
    td_curves_figure(config, results["td_linear"], out)
    ch8_dqn.figures(config, results["dqn"], out)


# ---------------------------------------------------------------------------------------------
# values.json and report.html.


def values(config, results) -> dict:
    td, dq = results["td_linear"], results["dqn"]
    grid = td["grid"]
    shape = grid.shape

    def final(stats: dict) -> dict:
        return {
            **{k: float(f"{stats[k][-1]:.4g}") for k in ("mean", "ci_low", "ci_high")},
            "per_seed": _sig(stats["values"][-1]),
        }

    return {
        "gamma": config.gamma,
        "td_linear": {
            "grid": common.grid_json(grid),
            "policy": "uniform",
            "num_seeds": config.ch8.td_linear.num_seeds,
            "steps": [int(x) for x in td["steps"]],
            "v_pi": common.round_list(td["v_pi"].reshape(shape)),
            "features": {
                name: {
                    "title": run["title"],
                    "num_features": run["num_features"],
                    "hparams": run["hparams"],
                    "step_size": td_step_size_text(run["hparams"]),
                    "w_star": _sig(run["w_star"]),
                    "fixed_point_values": common.round_list(run["fixed_point"].reshape(shape)),
                    "estimate_seed0": common.round_list(run["estimate_seed0"].reshape(shape)),
                    "estimate_mean": common.round_list(run["estimate_mean"].reshape(shape)),
                    "w_star_error": {
                        "max": float(f"{run['bias_max']:.4g}"),
                        "rmse": float(f"{run['bias_rmse']:.4g}"),
                    },
                    "final": {m: final(run["metrics"][m]) for m in TD_METRICS},
                    "curves": {m: _curve_json(run["metrics"][m]) for m in TD_METRICS},
                }
                for name, run in td["runs"].items()
            },
        },
        "dqn": ch8_dqn.values(config, dq),
    }


def section(config, results, figures_html: str) -> str:
    td, dq = results["td_linear"], results["dqn"]
    tb = config.ch8.td_linear
    rows = [
        (
            run["title"],
            _fmt_ci(run["metrics"]["fixed_point_error"]),
            _fmt_ci(run["metrics"]["value_error"]),
            _fmt_ci(run["metrics"]["rmse"]),
            f"{run['bias_max']:.3g}",
            f"{run['bias_rmse']:.3g}",
        )
        for run in td["runs"].values()
    ]
    header = (
        "features",
        "max_s |phi^T (w - w*)|",
        "max_s |phi^T w - v_pi|",
        "RMSE to v_pi",
        "w*: max_s |phi^T w* - v_pi|",
        "w*: RMSE",
    )
    td_table = common.kv_table(header, rows)
    v_pi_table = common.values_table(td["grid"], td["v_pi"], td["policy"], "v_pi, uniform policy")
    dqn_paragraph, dqn_tables = ch8_dqn.section_parts(config, dq)
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>TD-linear: {tb.num_seeds} seeds per feature set, {tb.steps} steps each on one trajectory of
the uniform policy (the setting of Figure 8.6: r_boundary = {td["grid"].reward_boundary:g},
r_forbidden = {td["grid"].reward_forbidden:g}, r_target = {td["grid"].reward_target:g}, gamma =
{config.gamma:g}). Final errors after {tb.steps} steps, mean over seeds with the 95% t-interval
in brackets; the last two columns are Phi w*'s own errors (exact): the bias of the features.
{html.escape(TD_DIFFERENCES)}</p>
{dqn_paragraph}
{figures_html}
<h3>TD-linear: final errors</h3>{td_table}
<div>{v_pi_table}</div>
{dqn_tables}
"""
