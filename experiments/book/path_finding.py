"""Chapter 7, the episodic task: path finding by Q-learning and Sarsa (the book's Figures 7.2 and
7.3): seed 0's greedy policy and path, and the greedy path length against steps next to the
optimal 11 steps.

Each algorithm runs its library path-finding config (its learning rate, epsilon and gamma) for
``config.path_finding.num_seeds`` seeds x ``steps`` steps as one program (``jaxrl.run.train``);
the optimal path comes from value iteration on the same episodic MDP.
"""

from __future__ import annotations

import html

import numpy as np

from experiments.book import common
from experiments.book.common import S
from jaxrl import dp, plotting
from jaxrl.configs import q_learning_path_finding, sarsa_path_finding
from jaxrl.envs import gridworld as gw
from jaxrl.tabular import q_learning, sarsa

TITLE = "Path finding (the episodic task)"
VALUES_KEY = ("chapter7", "path_finding")

# (name, tabular module, library config, the book's figure).
ALGORITHMS = (
    ("Q-learning", q_learning, q_learning_path_finding, "Figure 7.3"),
    ("Sarsa", sarsa, sarsa_path_finding, "Figure 7.2"),
)


def check(config) -> None:
    common.check_seed_block(config, "path_finding")


def path_grid(cfg) -> gw.GridWorld:
    """The episodic grid of a path-finding config: its layout and rewards, the target absorbing."""
    env = cfg.env
    return gw.GridWorld(
        shape=tuple(env.shape),
        target=tuple(env.target),
        forbidden=tuple(tuple(c) for c in env.forbidden),
        **{name: env[name] for name in common.REWARD_FIELDS},
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


def compute(config) -> dict:
    """Q-learning and Sarsa on the book's episodic path-finding task (Zhao, ch. 7)."""
    block = config.path_finding
    runs = {}
    for name, module, library_module, book_figure in ALGORITHMS:
        cfg = common.library_config(library_module, block)
        label = f"ch. 7 path finding, {name}"
        seeds, lengths = common.run_seeds(module, cfg, block, metric="path_length", label=label)
        grid, start = path_grid(cfg), tuple(cfg.env.start)
        gamma, max_steps = float(cfg.hparams.gamma), int(cfg.max_episode_steps)
        actions = np.asarray(common.q_table(seeds.carry)[0]).argmax(-1)
        actions[grid.state_index(grid.target)] = S  # terminal: drawn as "stay"
        runs[name] = {
            "book_figure": book_figure,
            "hparams": common.hparams_dict(cfg),
            "step_size": common.step_size_text(cfg),
            "max_episode_steps": max_steps,
            "lengths": lengths,  # [chunks, seeds]
            **common.summary(lengths, axis=1),
            "policy_seed0": common.one_hot_policy(actions.reshape(grid.shape)),
            "path_seed0": greedy_path(grid, actions, start=start, max_steps=max_steps),
        }
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
        "num_seeds": block.num_seeds,
        "steps": common.chunk_ends(block),
        "runs": runs,
        "optimal_policy": common.one_hot_policy(actions.reshape(grid.shape)),
        "optimal_path": optimal_path,
        "optimal_length": len(optimal_path) - 1,
    }


def _settings(results) -> dict:
    """The figures' settings; the learning rates and epsilons are the algorithms' (per run)."""
    return {
        **common.grid_settings(results["grid"], results["gamma"]),
        "start": str(results["start"]),
        "steps": int(results["steps"][-1]),
        "seeds": results["num_seeds"],
    }


def figures(config, results, out: common.Figures) -> None:
    grid, runs, best = results["grid"], results["runs"], results["optimal_length"]
    panels = [(f"{n}, seed 0", r["policy_seed0"], r["path_seed0"]) for n, r in runs.items()]
    panels.append(("optimal (value iteration)", results["optimal_policy"], results["optimal_path"]))
    fig, axes = plotting.new_figure(1, len(panels), panel_size=3.3)
    for ax, (title, policy, path) in zip(axes[0], panels, strict=True):
        length = f"{len(path) - 1} steps" if tuple(path[-1]) == grid.target else "never arrives"
        plotting.plot_grid(ax, grid, policy=policy, title=f"{title}: {length}")
        common.draw_path(ax, path)
    reproduces = ", ".join(f"{r['book_figure']} ({n})" for n, r in runs.items())
    settings = _settings(results)
    out.save(
        fig,
        "ch7_path_finding_policy.png",
        reproduces=reproduces,
        settings=settings,
        caption=f"Path finding: episodes start at {results['start']} (S) and end at the target; "
        f"r_step = {grid.reward_step:g}, r_forbidden = r_boundary = {grid.reward_forbidden:g}, "
        f"r_target = {grid.reward_target:g}. The greedy policy of seed 0's estimates after "
        f"{results['steps'][-1]} steps (arrows) and the path it takes from the start (red line "
        "through the shaded cells), next to an optimal policy of the same episodic MDP by value "
        "iteration. States the agent never visited keep q = 0 and show the first action (up); "
        "the target is terminal (circle).",
    )
    fig, axes = plotting.new_figure(1, 1, panel_size=5.0)
    fig.set_size_inches(7.0, 4.4)
    ax, names = axes[0, 0], list(runs)
    plotting.plot_learning_curves(
        ax,
        results["steps"],
        np.stack([runs[n]["mean"] for n in names]),
        np.stack([runs[n]["ci_low"] for n in names]),
        np.stack([runs[n]["ci_high"] for n in names]),
        labels=names,
        ylabel="greedy path length from the start (steps)",
        title="path finding: greedy path length",
    )
    ax.axhline(best, color="black", linestyle="--", linewidth=1.0)
    ax.text(results["steps"][0], best, f"optimal: {best}", va="bottom", fontsize=9)
    plotting.log_scale_if_wide(ax)
    first = runs[names[0]]
    hparams = "; ".join(
        f"{n}: {r['step_size']}, lr = {r['hparams']['learning_rate']:g}, epsilon = "
        f"{r['hparams']['epsilon']:g}"
        for n, r in runs.items()
    )
    optimal = ", ".join(
        f"{int(np.sum(r['lengths'][-1] == best))} of {r['lengths'].shape[1]} ({n})"
        for n, r in runs.items()
    )
    out.save(
        fig,
        "ch7_path_finding_length.png",
        reproduces=f"{reproduces}: their episode-length panels",
        settings={**settings, "algorithms": hparams},
        caption="The number of steps the greedy policy takes from the start to the target, mean "
        f"over {first['lengths'].shape[1]} seeds with its 95% t-interval, against environment "
        f"steps (log y axis; {first['max_episode_steps']} means the greedy path loops and never "
        f"arrives). Dashed: the optimal {best} steps. Step sizes: {hparams}. Seeds with the "
        f"optimal length at the end: {optimal}.",
    )


def values(config, results) -> dict:
    return {
        "num_seeds": config.path_finding.num_seeds,
        "steps": [int(x) for x in results["steps"]],
        "start": list(results["start"]),
        "gamma": results["gamma"],
        "grid": common.grid_json(results["grid"]),
        "optimal_length": results["optimal_length"],
        "optimal_path": [list(c) for c in results["optimal_path"]],
        "runs": {
            name: {
                "hparams": r["hparams"],
                "step_size": r["step_size"],
                "max_episode_steps": r["max_episode_steps"],
                "mean": common.sig(r["mean"]),
                "ci_low": common.sig(r["ci_low"]),
                "ci_high": common.sig(r["ci_high"]),
                "final_lengths": [int(x) for x in r["lengths"][-1]],
                "optimal_fraction": float(np.mean(r["lengths"][-1] == results["optimal_length"])),
                "path_seed0": [list(c) for c in r["path_seed0"]],
                "policy_seed0": common.policy_json(results["grid"], r["policy_seed0"])["actions"],
            }
            for name, r in results["runs"].items()
        },
    }


def section(config, results, figures_html: str) -> str:
    block, grid, best = config.path_finding, results["grid"], results["optimal_length"]
    rows = [
        (
            name,
            ", ".join(f"{k}={v:g}" for k, v in r["hparams"].items())
            + f"; step size {r['step_size']}",
            f"{r['mean'][-1]:.3g} [{r['ci_low'][-1]:.3g}, {r['ci_high'][-1]:.3g}]",
            f"{int(np.sum(r['lengths'][-1] == best))} of {r['lengths'].shape[1]}",
            str(len(r["path_seed0"]) - 1),
        )
        for name, r in results["runs"].items()
    ]
    header = ("algorithm", "hparams", f"path length after {results['steps'][-1]} steps")
    table = common.kv_table((*header, "seeds optimal", "seed 0"), rows)
    return f"""<h3>{html.escape(TITLE)}</h3>
<p>The book's path-finding example: episodes from {html.escape(str(results["start"]))} to the
(absorbing) target, r_step = {grid.reward_step:g}, r_forbidden = r_boundary =
{grid.reward_forbidden:g}, r_target = {grid.reward_target:g}, &gamma; = {results["gamma"]:g};
{block.num_seeds} seeds x {block.steps} steps per algorithm, run as one compiled program
(<code>jaxrl.run.train</code>). The optimal path (value iteration on the same MDP) takes {best}
steps.</p>
{figures_html}
{table}
"""
