"""Chapter 8's deep Q-learning (section 8.4): off-policy from a uniform behaviour on the grid of
Figure 8.11 (``jaxrl.agents.dqn`` with the ``dqn_grid`` library config): seed 0's greedy policy
and estimated values against the optimal ones, the learning curves, and how many seeds end
optimal. Part of ``ch8``, which calls it."""

from __future__ import annotations

import html

import jax
import ml_collections
import numpy as np

from experiments.book import common
from jaxrl import dp, envs, plotting
from jaxrl.agents import dqn
from jaxrl.configs import dqn_grid as dqn_grid_config
from jaxrl.envs import gridworld as gw
from jaxrl.exact import OPTIMAL_TOL

# DQN's: the RMSE of max_a q(s, a) against v* (Figure 8.11(e)), the exact error of the greedy
# policy's values, and the minibatch loss (Figure 8.11(d)).
DQN_METRICS = ("value_rmse", "value_error", "loss")
DQN_DIFFERENCES = (
    "The book's network has one hidden layer of 100 units and takes (row, column, action) to "
    "one value; ours is the variant the book names, (row, column) to five values, with two "
    "hidden layers of 64 units. The book collects one episode of 1,000 steps and replays it; "
    "here the uniform behaviour keeps acting and the buffer keeps its last 1,000 transitions "
    "(learning starts once it is full), so every minibatch is still a uniform draw from 1,000 "
    "uniform-behaviour samples."
)


def config_of(config) -> ml_collections.ConfigDict:
    """The dqn_grid library config (its grid, network and hparams) with the book's gamma and
    budget; the learning rate still decays to 0 over the updates of the run (the library
    config's ``decay_steps = 0``: the agent counts them from the run's steps)."""
    block = config.ch8.dqn
    cfg = common.library_config(dqn_grid_config, block)
    with cfg.unlocked():
        cfg.hparams.gamma = config.gamma
    return cfg


def compute(config) -> dict:
    """DQN's seeds, and seed 0's Q-network read back on every cell."""
    block, gamma = config.ch8.dqn, config.gamma
    cfg = config_of(config)
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
        "metrics": {m: common.summary(metrics[m], axis=1) for m in DQN_METRICS},
    }


def _settings(config, dq) -> dict:
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


def figures(config, dq, out: common.Figures) -> None:
    grid, block, cfg = dq["grid"], config.ch8.dqn, dq["cfg"]
    settings = _settings(config, dq)
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
        caption="The greedy policy of off-policy deep Q-learning (section 8.4, left) beside an "
        "optimal one (right). The behaviour picks each action with "
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
        if metric == "loss":
            plotting.log_scale_if_wide(ax)
        else:
            ax.set_ylim(bottom=0.0)
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


def sig(x, digits=4) -> list:
    """:func:`common.sig`, with NaN (a metric undefined in a chunk) as ``None``."""
    return [None if np.isnan(v) else v for v in common.sig(x, digits)]


def curve_json(stats: dict) -> dict:
    return {k: sig(stats[k]) for k in ("mean", "ci_low", "ci_high")}


def values(config, dq) -> dict:
    """values.json's ``chapter8.dqn`` block."""
    cfg, shape = dq["cfg"], dq["grid"].shape
    return {
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
        "final_value_error": sig(dq["final_value_error"]),
        "final_value_rmse": sig(dq["final_value_rmse"]),
        "curves": {m: curve_json(dq["metrics"][m]) for m in DQN_METRICS},
        "greedy_seed0": {
            **common.solution_json(dq["grid"], dq["greedy"]),
            "estimated_values": common.round_list(dq["estimated_values_seed0"].reshape(shape)),
            "value_error": float(f"{dq['value_error_seed0']:.3g}"),
        },
        "optimal": common.solution_json(dq["grid"], dq["optimal"]),
    }


def section_parts(config, dq) -> tuple[str, str]:
    """The report's DQN paragraph and its tables."""
    db = config.ch8.dqn
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
    paragraph = f"""<p>DQN: {n} seeds x {db.steps} steps off-policy on the grid of Figure 8.11
(r_boundary = {dq["grid"].reward_boundary:g}, r_forbidden = {dq["grid"].reward_forbidden:g},
r_target = {dq["grid"].reward_target:g}); the greedy policy is optimal (max_s |v_greedy(s) -
v*(s)| &lt; {OPTIMAL_TOL:g}) in <b>{k} of {n} seeds</b>. {html.escape(DQN_DIFFERENCES)}</p>"""
    tables = f"<h3>DQN: every seed's final errors</h3>{dqn_table}\n<div>{q_table}</div>"
    return paragraph, tables
