"""Figures people look at: the book's grid-world figure and convergence curves.

The grid figure follows S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 1-4:
row 0 at the top, forbidden cells orange, the target cyan, each cell's state value printed and the
policy drawn as arrows (``UP = 0``, ``RIGHT = 1``, ``DOWN = 2``, ``LEFT = 3``) and a circle for
``STAY = 4``. For a stochastic policy each arrow's length and opacity grow with the probability of
its action, so a uniform policy shows four short faint arrows and a small faint circle.

Everything here takes explicit arrays and keyword arguments and reads no flags. Figures are built
with :class:`matplotlib.figure.Figure` on the Agg canvas, never through ``pyplot``: no screen is
needed, no global backend is switched and no figure outlives its reference.

Typical use::

    fig, axes = new_figure(1, 2)
    plot_grid(axes[0, 0], grid, policy=result.policy, title="optimal policy")
    plot_grid(axes[0, 1], grid, values=result.values, title="optimal values")
    save_figure(fig, "optimal.png")
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import jax
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrow, Rectangle

from jaxrl.envs import gridworld

FORBIDDEN_COLOR = "#f5a623"  # orange, as in the book
TARGET_COLOR = "#4fd8f0"  # cyan, as in the book
FREE_COLOR = "#ffffff"
ARROW_COLOR = "#1a9e3a"  # green arrows, as in the book
GRID_LINE_COLOR = "#404040"

# (d_col, d_row) per action in data coordinates; the y axis is inverted so row 0 is at the top.
_ARROW_DIRECTIONS = tuple((dc, dr) for dr, dc in gridworld.ACTION_DELTAS[: gridworld.STAY])
_MAX_ARROW = 0.38  # arrow length of a probability-one action, in cells
_MIN_PROB = 1e-3  # actions below this probability are not drawn


def new_figure(
    nrows: int = 1, ncols: int = 1, *, panel_size: float = 3.2
) -> tuple[Figure, np.ndarray]:
    """A figure with a ``[nrows, ncols]`` array of axes, on the Agg canvas (no screen).

    Args:
        nrows, ncols: positive numbers of panel rows and columns.
        panel_size: width and height of each panel, in inches.

    Returns:
        ``(fig, axes)``; ``axes`` is always a 2-D object array, ``axes[i, j]``.
    """
    for name, n in (("nrows", nrows), ("ncols", ncols)):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"{name} must be a positive integer, got {n!r}")
    if not panel_size > 0:
        raise ValueError(f"panel_size must be positive, got {panel_size!r}")
    fig = Figure(figsize=(panel_size * ncols, panel_size * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def save_figure(fig: Figure, path: str | os.PathLike, *, dpi: int = 100) -> str:
    """Writes ``fig`` as a PNG file at ``path`` (which must end in ``.png``); returns the path.

    The parent directory must exist: this function creates nothing but the file.
    """
    path = os.fspath(path)
    if not path.lower().endswith(".png"):
        raise ValueError(f"path must end in .png, got {path!r}")
    if not isinstance(dpi, (int, np.integer)) or dpi < 1:
        raise ValueError(f"dpi must be a positive integer, got {dpi!r}")
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    fig.savefig(path, format="png", dpi=dpi)
    return path


def _layout(grid) -> gridworld.GridWorld:
    if isinstance(grid, gridworld.GridWorld):
        return grid
    if isinstance(grid, (gridworld.GridMDP, gridworld.EnvParams)):
        return gridworld.layout_of(grid)
    raise ValueError(f"grid must be a GridWorld, GridMDP or EnvParams, got {type(grid).__name__}")


def _as_numpy(name: str, x: jax.typing.ArrayLike) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got non-finite entries: {arr.reshape(-1)}")
    return arr


def _check_values(values, shape) -> np.ndarray:
    rows, cols = shape
    arr = _as_numpy("values", values)
    if arr.shape not in ((rows * cols,), (rows, cols)):
        raise ValueError(
            f"values must have shape [S] = [{rows * cols}] or [rows, cols] = [{rows}, {cols}], "
            f"got {list(arr.shape)}"
        )
    return arr.reshape(rows, cols)


def _check_policy(policy, shape) -> np.ndarray:
    rows, cols = shape
    num_actions = gridworld.NUM_ACTIONS
    arr = _as_numpy("policy", policy)
    if arr.shape not in ((rows * cols, num_actions), (rows, cols, num_actions)):
        raise ValueError(
            f"policy must have shape [S, A] = [{rows * cols}, {num_actions}] or "
            f"[rows, cols, A] = [{rows}, {cols}, {num_actions}], got {list(arr.shape)}"
        )
    arr = arr.reshape(rows, cols, num_actions)
    if np.any(arr < -1e-6) or not np.allclose(arr.sum(-1), 1.0, atol=1e-3):
        raise ValueError("policy rows must be probability vectors (non-negative, summing to 1)")
    return np.clip(arr, 0.0, 1.0)


def _auto_fontsize(ax, shape) -> float:
    """About a quarter of a cell's side, in points."""
    fig_w, fig_h = ax.figure.get_size_inches()
    pos = ax.get_position()
    cell_inches = min(pos.width * fig_w / shape[1], pos.height * fig_h / shape[0])
    return float(np.clip(0.26 * 72 * cell_inches, 5.0, 14.0))


def _draw_action(ax, row: int, col: int, action: int, prob: float, *, offset: float) -> None:
    """One action of one cell: an arrow (or the STAY circle) sized and shaded by ``prob``.

    A probability-one action is drawn centred in the cell, as in the book; actions of a
    stochastic policy radiate from the centre, with length and opacity growing with ``prob``.
    """
    alpha = 0.3 + 0.7 * prob
    x, y = col + 0.5, row + 0.5 + offset
    if action == gridworld.STAY:
        radius = 0.06 + 0.08 * prob
        ax.add_patch(
            Circle((x, y), radius, fill=False, edgecolor=ARROW_COLOR, linewidth=1.6, alpha=alpha)
        )
        return
    dx, dy = _ARROW_DIRECTIONS[action]
    if prob >= 1.0 - 1e-6:
        length = 2 * _MAX_ARROW * 0.85
        x, y = x - dx * length / 2, y - dy * length / 2
    else:  # radiate from just outside the STAY circle
        gap = 0.07
        length = (_MAX_ARROW - gap) * (0.45 + 0.55 * prob)
        x, y = x + dx * gap, y + dy * gap
    ax.add_patch(
        FancyArrow(
            x,
            y,
            dx * length,
            dy * length,
            width=0.035,
            head_width=0.15 if prob >= 1.0 - 1e-6 else 0.12,
            head_length=min(0.14, 0.5 * length),
            length_includes_head=True,
            color=ARROW_COLOR,
            alpha=alpha,
            linewidth=0,
        )
    )


def _format_value(value_format: str, value: float) -> str:
    text = value_format.format(value)
    try:
        if float(text) == 0.0:  # no "-0.0" for a tiny negative value
            return value_format.format(0.0)
    except ValueError:
        pass
    return text


def plot_grid(
    ax,
    grid,
    *,
    values: jax.typing.ArrayLike | None = None,
    policy: jax.typing.ArrayLike | None = None,
    title: str | None = None,
    value_format: str = "{:.1f}",
    fontsize: float | None = None,
    show_indices: bool = True,
) -> None:
    """Draws the book's grid figure on ``ax``: cells, values and policy arrows.

    Row 0 is at the top and column 0 at the left (cells are ``(row, col)``, state
    ``s = row * cols + col``). Forbidden cells are orange and the target cyan. With ``values``
    each cell shows its value; with ``policy`` each action ``a`` with ``pi(a | s) > 0`` is an arrow
    (UP, RIGHT, DOWN, LEFT) or a circle (STAY) whose length and opacity grow with ``pi(a | s)``.
    With both, the arrows sit in the upper part of each cell and the value below them.

    Args:
        ax: a matplotlib ``Axes``.
        grid: the layout, a :class:`jaxrl.envs.gridworld.GridWorld` (or ``GridMDP`` /
            ``EnvParams`` with concrete arrays).
        values: ``[S]`` or ``[rows, cols]`` state values, finite; ``None`` to print none.
        policy: ``[S, 5]`` or ``[rows, cols, 5]`` action probabilities; ``None`` for no arrows.
        title: the axes title.
        value_format: format of each printed value.
        fontsize: size of the printed values in points; ``None`` sizes them to the cell.
        show_indices: label rows and columns with their 0-based indices.

    Raises:
        ValueError: for a wrong shape, non-finite entries or rows of ``policy`` that are not
            probability vectors.
    """
    layout = _layout(grid)
    rows, cols = layout.shape
    v = None if values is None else _check_values(values, layout.shape)
    pi = None if policy is None else _check_policy(policy, layout.shape)
    if fontsize is None:
        fontsize = _auto_fontsize(ax, layout.shape)

    forbidden = layout.forbidden_mask()
    for r in range(rows):
        for c in range(cols):
            if (r, c) == layout.target:
                color = TARGET_COLOR
            elif forbidden[r, c]:
                color = FORBIDDEN_COLOR
            else:
                color = FREE_COLOR
            ax.add_patch(
                Rectangle((c, r), 1, 1, facecolor=color, edgecolor=GRID_LINE_COLOR, linewidth=1.0)
            )

    both = v is not None and pi is not None
    if pi is not None:
        arrow_offset = -0.12 if both else 0.0
        for r in range(rows):
            for c in range(cols):
                for a in range(gridworld.NUM_ACTIONS):
                    if pi[r, c, a] >= _MIN_PROB:
                        _draw_action(ax, r, c, a, float(pi[r, c, a]), offset=arrow_offset)
    if v is not None:
        text_y = 0.78 if both else 0.5
        size = 0.8 * fontsize if both else fontsize
        for r in range(rows):
            for c in range(cols):
                ax.text(
                    c + 0.5,
                    r + text_y,
                    _format_value(value_format, float(v[r, c])),
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="black",
                )

    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)  # row 0 at the top
    ax.set_aspect("equal")
    if show_indices:
        ax.xaxis.tick_top()
        ax.set_xticks(np.arange(cols) + 0.5, [str(c) for c in range(cols)])
        ax.set_yticks(np.arange(rows) + 0.5, [str(r) for r in range(rows)])
        ax.tick_params(length=0, labelsize=max(6.0, 0.75 * fontsize))
    else:
        ax.set_xticks([])
        ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title is not None:
        ax.set_title(title, fontsize=max(7.0, 0.85 * fontsize + 2))


def plot_convergence(
    ax,
    curves: Mapping[str, jax.typing.ArrayLike],
    *,
    title: str | None = None,
    xlabel: str = "iteration k",
    ylabel: str = r"$\|v_k - v^*\|_\infty$",
    first_iteration: int = 0,
    styles: Mapping[str, Mapping] | None = None,
) -> None:
    """Lines of an error (e.g. ``||v_k - v*||_inf``) against the iteration, log y axis.

    Zhao, ch. 4.3 (value iteration against truncated policy iteration). Entries that are exactly
    zero (an error at the float floor) are not drawn, since a log axis cannot show them.

    Args:
        ax: a matplotlib ``Axes``.
        curves: ``{label: [K] errors}``, non-negative and finite; lengths may differ. Curve
            ``i`` is drawn in matplotlib's colour cycle, in the mapping's order.
        title, xlabel, ylabel: text.
        first_iteration: the iteration index of each curve's first entry.
        styles: optional ``{label: {matplotlib line keyword: value}}`` per curve, e.g.
            ``{"value iteration": {"linestyle": "--"}}``; labels not in ``curves`` are errors.

    Raises:
        ValueError: for no curves, a curve that is not 1-D and non-empty, or negative or
            non-finite entries.
    """
    if not curves:
        raise ValueError("curves must hold at least one {label: [K] errors} entry")
    styles = dict(styles or {})
    unknown = sorted(set(styles) - set(curves))
    if unknown:
        raise ValueError(f"styles has labels that are not curves: {unknown}")
    for label, curve in curves.items():
        y = _as_numpy(f"curve {label!r}", curve)
        if y.ndim != 1 or y.size == 0:
            raise ValueError(f"curve {label!r} must be a non-empty [K] array, got {list(y.shape)}")
        if np.any(y < 0):
            raise ValueError(f"curve {label!r} must be non-negative")
        x = first_iteration + np.arange(y.size)
        style = {"linewidth": 1.6, **styles.get(label, {})}
        ax.plot(x, np.where(y > 0, y, np.nan), label=str(label), **style)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)


def plot_learning_curves(
    ax,
    steps: jax.typing.ArrayLike,
    means: jax.typing.ArrayLike,
    lows: jax.typing.ArrayLike,
    highs: jax.typing.ArrayLike,
    *,
    labels: list[str],
    xlabel: str = "environment steps per seed",
    ylabel: str = "",
    title: str | None = None,
    allow_nan: bool = False,
) -> None:
    """Learning curves: one line per setting (the mean over seeds) with a shaded interval.

    Args:
        ax: a matplotlib ``Axes``.
        steps: ``[K]`` x positions.
        means, lows, highs: ``[H, K]`` mean and interval bounds per setting.
        labels: ``H`` legend labels.
        allow_nan: accept NaN points (a metric undefined at some steps); they show as gaps.

    Raises:
        ValueError: for shapes that do not match or non-finite values (infinite ones, and NaN
            unless ``allow_nan``).
    """
    x = _as_numpy("steps", steps)
    arrays = [
        _as_numpy(n, np.where(np.isnan(a), 0.0, a) if allow_nan else a)
        for n, a in (("means", means), ("lows", lows), ("highs", highs))
    ]
    if allow_nan:
        arrays = [np.asarray(a, np.float64) for a in (means, lows, highs)]
    shape = (len(labels), x.size)
    for name, a in zip(("means", "lows", "highs"), arrays, strict=True):
        if a.shape != shape:
            raise ValueError(f"{name} must have shape [H, K] = {list(shape)}, got {list(a.shape)}")
    mean, low, high = arrays
    for h, label in enumerate(labels):
        # A dash pattern of its own per line: where two means coincide, both stay visible.
        style = LINESTYLES[h % len(LINESTYLES)]
        (line,) = ax.plot(x, mean[h], label=label, linewidth=1.6, linestyle=style)
        ax.fill_between(x, low[h], high[h], color=line.get_color(), alpha=0.2, linewidth=0)
    count_axis(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small")
    if title is not None:
        ax.set_title(title)


LINESTYLES = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (5, 2, 1, 2)))  # solid, dashed, dotted, dash-dot


def count_label(value: float) -> str:
    """A count as an axis label: ``20k``, ``1.5M``, ``300`` (no ``1e5`` offset above the axis)."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def count_axis(ax, axis: str = "x") -> None:
    """Labels ``axis`` of ``ax`` with :func:`count_label` (environment steps, episodes)."""
    from matplotlib.ticker import FuncFormatter

    getattr(ax, f"{axis}axis").set_major_formatter(FuncFormatter(lambda v, _: count_label(v)))


def log_scale_if_wide(ax, values=None, *, axis: str = "y", decades: float = 2.0) -> bool:
    """A log scale on ``axis`` only if the positive finite ``values`` (default: the lines
    already drawn) span at least ``decades`` decades (an error falling from 1 to 1e-4), a
    linear one otherwise (a length from 40 to 6 reads better on a linear axis). Returns whether
    the scale is logarithmic."""
    if values is None:
        data = [line.get_ydata() if axis == "y" else line.get_xdata() for line in ax.get_lines()]
        values = np.concatenate([np.asarray(d, np.float64).ravel() for d in data] or [[]])
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    wide = v.size > 0 and np.log10(v.max() / v.min()) >= decades
    getattr(ax, f"set_{axis}scale")("log" if wide else "linear")
    return bool(wide)


def figure_size_pixels(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of a PNG file, read from its header."""
    with open(path, "rb") as f:
        header = f.read(24)
    if header[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{os.fspath(path)!r} is not a PNG file")
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


__all__ = [
    "ARROW_COLOR",
    "FORBIDDEN_COLOR",
    "TARGET_COLOR",
    "figure_size_pixels",
    "new_figure",
    "plot_convergence",
    "plot_grid",
    "save_figure",
]
