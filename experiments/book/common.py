"""What the chapters of the main job share: the grid, config checks, solving, figure, JSON and
HTML helpers, and the seed sweeps through the runner's in-memory core.

A chapter module (``ch2`` .. ``ch8``, ``path_finding``) defines::

    TITLE: str                                # its heading in report.html
    VALUES_KEY: tuple[str, ...]               # where its block goes in values.json
    def check(config) -> None                 # ValueError naming the field; compiles nothing
    def compute(config) -> dict               # the numbers
    def figures(config, results, out: Figures) -> None
    def values(config, results) -> dict       # its values.json block (rounded)
    def section(config, results, figures_html: str) -> str   # its report.html section

and ``experiments/book/report.py`` runs them in order.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import os
import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import ml_collections
import numpy as np
from absl import logging
from matplotlib.patches import Rectangle

from jaxrl import dp, plotting
from jaxrl import run as runner
from jaxrl.envs import gridworld as gw
from jaxrl.run import stats
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular import control

U, R, D, L, S = gw.UP, gw.RIGHT, gw.DOWN, gw.LEFT, gw.STAY
ARROWS = ("\u2191", "\u2192", "\u2193", "\u2190", "\u25cb")  # up, right, down, left, stay
REWARD_FIELDS = ("reward_boundary", "reward_forbidden", "reward_target", "reward_step")


# ---------------------------------------------------------------------------------------------
# Config checks (one line naming the field).


def check_gamma(name: str, value) -> None:
    try:
        dp.check_gamma(value)
    except ValueError:
        raise ValueError(f"config.{name} must be in [0, 1), got {value!r}") from None


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"config.{name} must be a positive integer, got {value!r}")


def check_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"config.{name} must be an integer, got {value!r}")


def check_finite(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"config.{name} must be a finite number, got {value!r}")


def check_nonempty(name: str, values, what: str) -> tuple:
    values = tuple(values)
    if not values:
        raise ValueError(f"config.{name} must hold at least one {what}")
    return values


def check_algorithms(name: str, values, variants) -> tuple:
    """``config.<name>.algorithms``: a non-empty tuple of distinct names among ``variants``
    (``(name, label)`` pairs, in report order); returns the selected pairs in that order."""
    field = f"{name}.algorithms"
    known = tuple(v for v, _ in variants)
    if isinstance(values, str):
        raise ValueError(f"config.{field} must be a tuple of names among {known}, got {values!r}")
    names = check_nonempty(field, values, "algorithm")
    if len(set(names)) != len(names) or not set(names) <= set(known):
        raise ValueError(
            f"config.{field} must be distinct names among {known}, got {tuple(names)!r}"
        )
    return tuple((v, label) for v, label in variants if v in names)


def check_divides(block: str, steps: int, chunks: int) -> None:
    if steps % chunks:
        raise ValueError(
            f"config.{block}.chunks must divide config.{block}.steps, got steps={steps} and "
            f"chunks={chunks}"
        )


def check_grid(config, **overrides) -> None:
    """GridWorld validates the rewards (finite) and names the field."""
    try:
        book_grid(config, **overrides)
    except ValueError as e:
        raise ValueError(f"config: {e}") from None


def check_shared(config) -> None:
    """The fields every chapter reads: gamma, the rewards, value iteration's tolerance, dpi."""
    check_gamma("gamma", config.gamma)
    if not np.isfinite(config.tol) or config.tol <= 0:
        raise ValueError(f"config.tol must be a positive number, got {config.tol!r}")
    check_positive_int("max_iterations", config.max_iterations)
    check_positive_int("dpi", config.dpi)
    check_grid(config)


# ---------------------------------------------------------------------------------------------
# The grid and its solutions.


def book_grid(config: ml_collections.ConfigDict, **overrides) -> gw.GridWorld:
    """The book's 5x5 grid with the config's rewards (and any field overrides)."""
    rewards = {name: config[name] for name in REWARD_FIELDS}
    rewards.update(overrides)
    return gw.book_grid(**rewards)


def grid_settings(grid: gw.GridWorld, gamma: float) -> dict:
    """The book's names for the reward setting of a figure: r_boundary, r_forbidden, ..."""
    return {
        "r_boundary": grid.reward_boundary,
        "r_forbidden": grid.reward_forbidden,
        "r_target": grid.reward_target,
        "r_other": grid.reward_step,
        "gamma": gamma,
    }


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


def exact_optimal(grid: gw.GridWorld, *, gamma: float, config) -> dict:
    """:func:`solve`, with v* replaced by the exact linear solve of the greedy optimal policy
    (value iteration's own v* is only within tol * gamma / (1 - gamma) of it)."""
    optimal = solve(grid, gamma=gamma, config=config)
    optimal["values"] = np.asarray(
        dp.evaluate_policy(gw.to_mdp(grid), optimal["policy"], gamma=gamma)
    )
    return optimal


# ---------------------------------------------------------------------------------------------
# Seed sweeps of the tabular algorithms, through the runner's in-memory core.


def check_seed_block(config, name: str) -> None:
    """A block of seed sweeps: ``seed``, ``num_seeds``, ``steps`` and ``chunks`` (divides steps)."""
    block = config[name]
    check_int(f"{name}.seed", block.seed)
    for field in ("num_seeds", "steps", "chunks"):
        check_positive_int(f"{name}.{field}", block[field])
    check_divides(name, block.steps, block.chunks)


def library_config(library_module, block) -> ml_collections.ConfigDict:
    """A library config (``jaxrl/configs``) with the budget of a seed block: its hparams, step-size
    schedule and task stay the library's."""
    cfg = library_module.get_config()
    with cfg.unlocked():
        cfg.num_seeds = block.num_seeds
        cfg.total_steps = block.steps
        cfg.chunk_steps = block.steps // block.chunks
    return cfg


def summary(values, axis: int) -> dict[str, np.ndarray]:
    """``jaxrl.run.stats.summarize`` over the seeds (``axis``), except that a quantity with no
    negative value (an error, a length, a loss) gets the percentile-bootstrap interval of its
    mean, which cannot go below 0 as the t-interval can (``stats.bootstrap_interval``)."""
    out = stats.summarize(values, axis=axis)
    if np.all(np.isnan(values) | (np.asarray(values) >= 0)):
        out["ci_low"], out["ci_high"] = stats.bootstrap_interval(values, axis=axis)
    return out


def chunk_ends(block) -> np.ndarray:
    """The environment steps after each chunk: the x-axis of a block's learning curves."""
    return (block.steps // block.chunks) * np.arange(1, block.chunks + 1)


class Seeds(NamedTuple):
    """The seeds of one block, as :func:`run_seeds` returns them."""

    carry: Any  # the final carry, leaves [num_seeds, ...]
    policy: Callable  # (seed, mode="greedy") -> act(obs, key): the trained policy (run.policy)
    values: Callable  # seed -> values(obs): the trained value estimate (run.values)


def run_seeds(module, cfg, block, *, metric: str | tuple[str, ...], label: str):
    """``block.num_seeds`` runs of ``module.make_experiment(cfg)`` as one program
    (``jaxrl.run.train``), seed ``i`` from ``fold_in(key(block.seed), i)``.

    Returns:
        ``(seeds, values [chunks, num_seeds])``: the :class:`Seeds` (final carry and readouts)
        and ``metric`` after each chunk; for a tuple of metrics, ``values`` is a dict of them.
    """
    start = time.perf_counter()
    experiment = module.make_experiment(cfg)
    hparams = runner.make_settings(experiment, dict(cfg.hparams), {}).hparams  # one setting
    keys = seed_keys(block.seed, block.num_seeds)
    result = runner.train(experiment, hparams, keys, num_chunks=block.chunks)
    seeds = Seeds(
        carry=jax.tree.map(lambda x: x[0], result.carry),  # the one setting
        policy=lambda seed, mode="greedy": runner.policy(
            experiment, result.carry, hparams, seed=seed, mode=mode
        ),
        values=lambda seed: runner.values(experiment, result.carry, hparams, seed=seed),
    )
    logging.info("%s: %.1f s", label, time.perf_counter() - start)
    if isinstance(metric, str):
        return seeds, result.metrics[metric][:, 0]
    return seeds, {name: result.metrics[name][:, 0] for name in metric}


def q_table(carry):
    """The Q table of a tabular carry (the control scaffold keeps it as ``tables``)."""
    return carry.tables if isinstance(carry, control.Carry) else carry.q


def step_size_text(cfg) -> str:
    """The step-size schedule of a library config in words, e.g. ``lr / n(s, a)^0.6``."""
    n = "n(s)" if cfg.experiment == "jaxrl.tabular.td0" else "n(s, a)"
    if cfg.step_size == "constant":
        return "constant lr"
    if cfg.step_size == "harmonic":
        return f"lr / {n}"
    return f"lr / {n}^{cfg.step_power:g}"


def hparams_dict(cfg) -> dict[str, float]:
    return {k: float(v) for k, v in cfg.hparams.items()}


# ---------------------------------------------------------------------------------------------
# Figures.


@dataclasses.dataclass(frozen=True)
class Figure:
    """A written PNG, what in the book it reproduces, and the settings it was made with."""

    file: str
    caption: str
    reproduces: str
    settings: dict

    def to_json(self) -> dict:
        return {"file": self.file, "reproduces": self.reproduces, "settings": self.settings}


class Figures:
    """Saves a chapter's figures into the work directory and remembers them, in order."""

    def __init__(self, workdir: str, *, dpi: int):
        self.workdir, self.dpi, self.items = workdir, dpi, []

    def save(self, fig, name: str, *, caption: str, reproduces: str, settings: dict) -> None:
        plotting.save_figure(fig, os.path.join(self.workdir, name), dpi=self.dpi)
        self.items.append(Figure(name, caption, reproduces, dict(settings)))
        logging.info("wrote %s", os.path.join(self.workdir, name))

    def html(self) -> str:
        return "".join(_img(self.workdir, f) for f in self.items)


def pair_figure(grid, panels, *, panel_size=2.9):
    """One column per ``(title, policy, values)``: the policy above, the values below."""
    fig, axes = plotting.new_figure(2, len(panels), panel_size=panel_size)
    for i, (title, policy, values) in enumerate(panels):
        plotting.plot_grid(axes[0, i], grid, policy=policy, title=title)
        plotting.plot_grid(axes[1, i], grid, values=values)
    return fig


def pair_rows(grid, panels, *, per_row=4, panel_size=2.6):
    """Like :func:`pair_figure`, wrapped after ``per_row`` columns (two axes rows per row)."""
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
    return fig


def draw_path(ax, path) -> None:
    """Shades the cells of ``path`` (``[(row, col)]``) and draws a line through their centres."""
    for r, c in path:
        ax.add_patch(Rectangle((c, r), 1, 1, facecolor="#d62728", alpha=0.12, linewidth=0))
    rows = [r + 0.5 for r, _ in path]
    cols = [c + 0.5 for _, c in path]
    ax.plot(cols, rows, color="#d62728", linewidth=2.0, alpha=0.75, zorder=3)
    ax.plot(cols[:1], rows[:1], "o", color="#d62728", markersize=6, zorder=4)
    style = dict(color="#d62728", fontsize=10, weight="bold", ha="center", va="center", zorder=4)
    ax.text(cols[0] - 0.32, rows[0] - 0.3, "S", **style)


# ---------------------------------------------------------------------------------------------
# values.json.


def round_list(x, decimals=3):
    return np.round(np.asarray(x, np.float64), decimals).tolist()


def sig(x, digits=4):
    """Every entry to ``digits`` significant digits, as a flat list."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(x, np.float64).reshape(-1)]


def policy_json(grid: gw.GridWorld, policy) -> dict:
    p = np.asarray(policy).reshape(*grid.shape, gw.NUM_ACTIONS)
    actions = None
    if np.allclose(p.max(-1), 1.0):  # deterministic
        actions = [[gw.ACTION_NAMES[a] for a in row] for row in p.argmax(-1)]
    return {"actions": actions, "probabilities": round_list(p)}


def grid_json(grid: gw.GridWorld) -> dict:
    return {
        "shape": list(grid.shape),
        "target": list(grid.target),
        "forbidden": [list(c) for c in grid.forbidden],
        **{name: getattr(grid, name) for name in REWARD_FIELDS},
    }


def solution_json(grid, entry) -> dict:
    return {
        "values": round_list(np.asarray(entry["values"]).reshape(grid.shape)),
        "policy": policy_json(grid, entry["policy"]),
        **({"gamma": entry["gamma"]} if "gamma" in entry else {}),
        **({"iterations": entry["iterations"]} if "iterations" in entry else {}),
    }


# ---------------------------------------------------------------------------------------------
# report.html.


def values_table(grid: gw.GridWorld, values, policy, caption: str) -> str:
    """A grid of values (one decimal), with the action's arrow where the policy is
    deterministic; forbidden cells orange, the target cyan."""
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


def kv_table(header, rows) -> str:
    """A plain table: ``header`` cells (or ``None``), then one row per tuple of cells (text)."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header) if header else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table class="kv">{f"<tr>{head}</tr>" if head else ""}{body}</table>'


def settings_text(settings: dict) -> str:
    return ", ".join(
        f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}" for k, v in settings.items()
    )


def _img(workdir: str, figure: Figure) -> str:
    """The figure inline (a data URI), its caption cut to the first sentence, the rest of it
    folded under "more", and its settings on a compact line."""
    with open(os.path.join(workdir, figure.file), "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    name = html.escape(figure.file)
    first, rest = first_sentence(figure.caption)
    more = f"<details><summary>more</summary>{html.escape(rest)}</details>" if rest else ""
    settings = html.escape(f"reproduces {figure.reproduces}; {settings_text(figure.settings)}")
    return (
        f'<figure><img alt="{name}" src="data:image/png;base64,{data}"><figcaption><b>{name}</b>: '
        f'{html.escape(first)}<span class="settings">{settings}</span>{more}</figcaption></figure>'
    )


def first_sentence(text: str) -> tuple[str, str]:
    """``text`` split after its first sentence (a full stop followed by a space and a capital
    letter or an opening bracket): ``(first, rest)``, ``rest`` empty if there is none."""
    match = re.search(r"[.!?](?=\s+[A-Z(\[])", text)
    if match is None:
        return text.strip(), ""
    return text[: match.end()].strip(), text[match.end() :].strip()
