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

import jax
import ml_collections
import numpy as np

from experiments.book import common
from jaxrl import dp, envs, plotting
from jaxrl.agents import dqn
from jaxrl.approx import features as feature_sets
from jaxrl.approx import linear, td_linear
from jaxrl.configs import dqn_grid as dqn_grid_config
from jaxrl.configs import td_linear as td_linear_config
from jaxrl.envs import gridworld as gw
from jaxrl.exact import OPTIMAL_TOL
from jaxrl.run.stats import summarize

TITLE = "Chapter 8: value function approximation"
VALUES_KEY = ("chapter8",)

# TD-linear's metrics (jaxrl.approx.td_linear): the error to Phi w*, and to v_pi (max and RMSE).
TD_METRICS = ("fixed_point_error", "value_error", "rmse")
# DQN's: the RMSE of max_a q(s, a) against v* (Figure 8.11(e)), the exact error of the greedy
# policy's values, and the minibatch loss (Figure 8.11(d)).
DQN_METRICS = ("value_rmse", "value_error", "loss")
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
DQN_DIFFERENCES = (
    "The book's network has one hidden layer of 100 units and takes (row, column, action) to "
    "one value; ours is the variant the book names, (row, column) to five values, with two "
    "hidden layers of 64 units. The book collects one episode of 1,000 steps and replays it; "
    "here the uniform behaviour keeps acting and the buffer keeps its last 1,000 transitions "
    "(learning starts once it is full), so every minibatch is still a uniform draw from 1,000 "
    "uniform-behaviour samples."
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


def dqn_config(config) -> ml_collections.ConfigDict:
    """The dqn_grid library config (its grid, network and hparams) with the book's gamma and
    budget; the learning rate still decays to 0 over the updates of the run."""
    block = config.ch8.dqn
    cfg = common.library_config(dqn_grid_config, block)
    with cfg.unlocked():
        cfg.hparams.gamma = config.gamma
        cfg.optimizer.decay_steps = block.steps - cfg.learning_starts
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
                m: {"values": metrics[m], **summarize(metrics[m], axis=1)} for m in TD_METRICS
            },
        }
    return {
        "grid": grid,
        "policy": uniform,
        "v_pi": v_pi,
        "steps": common.chunk_ends(block),
        "runs": runs,
    }


def compute_dqn(config) -> dict:
    """DQN's seeds, and seed 0's Q-network read back on every cell."""
    block, gamma = config.ch8.dqn, config.gamma
    cfg = dqn_config(config)
    seeds, metrics = common.run_seeds(dqn, cfg, block, metric=DQN_METRICS, label="ch. 8 DQN")
    finite = envs.make(cfg.environment, cfg.env).finite  # the grid's MDP and observations
    grid = gw.layout_of(finite.mdp)
    q = np.asarray(seeds.values(0)(finite.observations))  # seed 0's (ensemble-mean) q(s, a)
    act = seeds.policy(0)  # its greedy policy, acting on every cell's observation
    greedy = common.one_hot_policy(act(finite.observations, jax.random.key(0)))
    greedy_values = np.asarray(dp.evaluate_policy(gw.to_mdp(grid), greedy, gamma=gamma))
    optimal = common.exact_optimal(grid, gamma=gamma, config=config)
    final_error = np.asarray(metrics["value_error"][-1], np.float64)
    return {
        "grid": grid,
        "cfg": cfg,
        "steps": common.chunk_ends(block),
        "optimal": optimal,
        "q_seed0": q,
        "greedy": {"policy": greedy, "values": greedy_values},
        "estimated_values_seed0": q.max(axis=-1),
        "value_error_seed0": float(np.abs(greedy_values - optimal["values"]).max()),
        "final_value_error": final_error,
        "final_value_rmse": np.asarray(metrics["value_rmse"][-1], np.float64),
        "optimal_seeds": int(np.sum(final_error < OPTIMAL_TOL)),
        "metrics": {m: summarize(metrics[m], axis=1) for m in DQN_METRICS},
    }


def compute(config) -> dict:
    return {"td_linear": compute_td_linear(config), "dqn": compute_dqn(config)}


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


def _dqn_settings(config, dq) -> dict:
    cfg = dq["cfg"]
    return {
        **common.grid_settings(dq["grid"], config.gamma),
        "behaviour": "uniform",
        "seeds": config.ch8.dqn.num_seeds,
        "steps": config.ch8.dqn.steps,
        "hidden": "-".join(str(w) for w in cfg.hidden),
        "buffer": cfg.buffer_capacity,
        "batch": cfg.batch_size,
        "lr": float(cfg.hparams.learning_rate),
        "target period": int(cfg.hparams.target_period),
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
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    axes[0, 0].set_yscale("log")
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


def dqn_figures(config, dq, out: common.Figures) -> None:
    grid, block, cfg = dq["grid"], config.ch8.dqn, dq["cfg"]
    settings = _dqn_settings(config, dq)
    n, k = block.num_seeds, dq["optimal_seeds"]
    optimal = dq["optimal"]
    panels = [
        ("DQN seed 0: greedy, max_a q(s, a)", dq["greedy"]["policy"], dq["estimated_values_seed0"]),
        ("optimal (value iteration): v*", optimal["policy"], optimal["values"]),
    ]
    verdict = "is optimal" if dq["value_error_seed0"] < OPTIMAL_TOL else "is not optimal"
    rmse0 = float(np.sqrt(np.mean((dq["estimated_values_seed0"] - optimal["values"]) ** 2)))
    lr_text = (
        f"adam, learning rate {float(cfg.hparams.learning_rate):g} decayed linearly to 0 over "
        f"the updates, the target network copied every {int(cfg.hparams.target_period)} updates"
    )
    out.save(
        common.pair_figure(grid, panels),
        "ch8_dqn_policy.png",
        reproduces="Figure 8.11 (the learned policy)",
        settings=settings,
        caption="Deep Q-learning (section 8.4) off-policy: the behaviour picks each action with "
        f"probability 1/5, and every step after the first {cfg.learning_starts} takes one "
        f"gradient step on a minibatch of {cfg.batch_size} drawn uniformly from the replay "
        f"buffer of {cfg.buffer_capacity} transitions ({lr_text}). After {block.steps} steps "
        f"the greedy policy of seed 0's network (left; the values are the network's estimates "
        f"max_a q(s, a), RMSE {rmse0:.2g} against v*) {verdict}: max_s |v_greedy(s) - v*(s)| = "
        f"{dq['value_error_seed0']:.1e}. Greedy policies optimal (that error below "
        f"{OPTIMAL_TOL:g}) in {k} of {n} seeds. Right: an optimal policy by value iteration "
        f"and its exact values; where several actions are optimal the two may pick different "
        f"ones. {DQN_DIFFERENCES}",
    )
    fig, axes = plotting.new_figure(1, 3, panel_size=4.0)
    panels = (
        ("value_rmse", "RMSE of max_a q(s, a) against v*", "state value error (Fig. 8.11(e))"),
        ("value_error", "max_s |v_greedy(s) - v*(s)|", "the greedy policy's exact error"),
        ("loss", "minibatch mean of delta^2 / 2", "loss (Fig. 8.11(d))"),
    )
    for ax, (metric, ylabel, title) in zip(axes[0], panels, strict=True):
        stats = dq["metrics"][metric]
        plotting.plot_learning_curves(
            ax,
            dq["steps"],
            stats["mean"][None],
            stats["ci_low"][None],
            stats["ci_high"][None],
            labels=[f"DQN, {n} seeds"],
            ylabel=ylabel,
            title=title,
            allow_nan=True,
        )
        ax.set_yscale("log" if metric == "loss" else "linear")
        if metric != "loss":
            ax.set_ylim(bottom=0.0)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
    out.save(
        fig,
        "ch8_dqn_curves.png",
        reproduces="Figure 8.11(d)-(e)",
        settings=settings,
        caption=f"DQN's learning curves, the mean over {n} seeds with its 95% t-interval "
        "(shaded), after every chunk of environment steps (one update per step once learning "
        "starts). Left: the RMSE over the cells of the estimated state values max_a q(s, a) "
        "against v*, the book's Figure 8.11(e). Middle: the exact error of the greedy policy's "
        f"values (0 once it is optimal): optimal in {k} of {n} seeds at the end, final errors "
        f"{', '.join(f'{e:.2g}' for e in dq['final_value_error'])}. Right (log scale): the "
        "minibatch loss, the mean of delta^2 / 2 over the minibatch (half the book's mean squared "
        "TD error) averaged over the chunk: the book's Figure 8.11(d). The book trains on one "
        "1,000-step episode with a one-layer network (see ch8_dqn_policy.png).",
    )


def figures(config, results, out: common.Figures) -> None:
    td_value_figures(config, results["td_linear"], out)
    td_curves_figure(config, results["td_linear"], out)
    dqn_figures(config, results["dqn"], out)


# ---------------------------------------------------------------------------------------------
# values.json and report.html.


def _sig(x, digits=4) -> list:
    """:func:`common.sig`, with NaN (a metric undefined in a chunk) as ``None``."""
    return [None if np.isnan(v) else v for v in common.sig(x, digits)]


def _curve_json(stats: dict) -> dict:
    return {k: _sig(stats[k]) for k in ("mean", "ci_low", "ci_high")}


def values(config, results) -> dict:
    td, dq = results["td_linear"], results["dqn"]
    grid, cfg = td["grid"], dq["cfg"]
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
        "dqn": {
            "grid": common.grid_json(dq["grid"]),
            "behaviour": "uniform",
            "num_seeds": config.ch8.dqn.num_seeds,
            "steps": [int(x) for x in dq["steps"]],
            "hparams": common.hparams_dict(cfg),
            "hidden": list(cfg.hidden),
            "buffer_capacity": cfg.buffer_capacity,
            "batch_size": cfg.batch_size,
            "learning_starts": cfg.learning_starts,
            "optimal_tol": OPTIMAL_TOL,
            "optimal_seeds": dq["optimal_seeds"],
            "final_value_error": _sig(dq["final_value_error"]),
            "final_value_rmse": _sig(dq["final_value_rmse"]),
            "curves": {m: _curve_json(dq["metrics"][m]) for m in DQN_METRICS},
            "greedy_seed0": {
                **common.solution_json(dq["grid"], dq["greedy"]),
                "estimated_values": common.round_list(dq["estimated_values_seed0"].reshape(shape)),
                "value_error": float(f"{dq['value_error_seed0']:.3g}"),
            },
            "optimal": common.solution_json(dq["grid"], dq["optimal"]),
        },
    }


def section(config, results, figures_html: str) -> str:
    td, dq = results["td_linear"], results["dqn"]
    tb, db = config.ch8.td_linear, config.ch8.dqn
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
    n, k = db.num_seeds, dq["optimal_seeds"]
    dqn_rows = [
        (f"seed {i}", f"{e:.2g}", f"{r:.3g}")
        for i, (e, r) in enumerate(
            zip(dq["final_value_error"], dq["final_value_rmse"], strict=True)
        )
    ]
    dqn_table = common.kv_table(
        ("seed", "max_s |v_greedy(s) - v*(s)|", "RMSE of max_a q(s, a) against v*"), dqn_rows
    )
    q_table = common.values_table(
        dq["grid"], dq["estimated_values_seed0"], dq["greedy"]["policy"], "DQN seed 0: max_a q"
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>TD-linear: {tb.num_seeds} seeds per feature set, {tb.steps} steps each on one trajectory of
the uniform policy (the setting of Figure 8.6: r_boundary = {td["grid"].reward_boundary:g},
r_forbidden = {td["grid"].reward_forbidden:g}, r_target = {td["grid"].reward_target:g}, gamma =
{config.gamma:g}). Final errors after {tb.steps} steps, mean over seeds with the 95% t-interval
in brackets; the last two columns are Phi w*'s own errors (exact): the bias of the features.
{html.escape(TD_DIFFERENCES)}</p>
<p>DQN: {n} seeds x {db.steps} steps off-policy on the grid of Figure 8.11 (r_boundary =
{dq["grid"].reward_boundary:g}, r_forbidden = {dq["grid"].reward_forbidden:g}, r_target =
{dq["grid"].reward_target:g}); the greedy policy is optimal (max_s |v_greedy(s) - v*(s)| &lt;
{OPTIMAL_TOL:g}) in <b>{k} of {n} seeds</b>. {html.escape(DQN_DIFFERENCES)}</p>
{figures_html}
<h3>TD-linear: final errors</h3>{td_table}
<div>{v_pi_table}</div>
<h3>DQN: every seed's final errors</h3>{dqn_table}
<div>{q_table}</div>
"""
