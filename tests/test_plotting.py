"""Tests for jaxrl.plotting: PNG output, the book's conventions and input validation."""

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.patches import Circle, FancyArrow, Rectangle

from jaxrl import plotting
from jaxrl.envs import gridworld as gw

GRID = gw.book_grid()
S = GRID.num_states


def _deterministic(actions):
    return np.eye(gw.NUM_ACTIONS)[np.asarray(actions).reshape(-1)]


def _check_png(path, size):
    assert path.exists() and path.stat().st_size > 1000
    assert plotting.figure_size_pixels(path) == size


def test_values_and_policy_png(tmp_path):
    fig, axes = plotting.new_figure(1, 2, panel_size=3.0)
    policy = _deterministic(np.arange(S) % gw.NUM_ACTIONS)
    values = np.linspace(-5.0, 10.0, S)
    plotting.plot_grid(axes[0, 0], GRID, policy=policy, title="policy")
    plotting.plot_grid(axes[0, 1], GRID, values=values.reshape(5, 5), policy=policy)
    path = tmp_path / "grid.png"
    assert plotting.save_figure(fig, path, dpi=50) == str(path)
    _check_png(path, (300, 150))


def test_book_conventions():
    fig, axes = plotting.new_figure()
    ax = axes[0, 0]
    policy = _deterministic(np.full(S, gw.STAY)).reshape(5, 5, gw.NUM_ACTIONS)
    plotting.plot_grid(ax, GRID, values=np.arange(S, dtype=float), policy=policy)
    assert ax.get_ylim() == (5.0, 0.0)  # row 0 at the top
    colors = [to_hex(p.get_facecolor()) for p in ax.patches if isinstance(p, Rectangle)]
    assert colors.count(plotting.FORBIDDEN_COLOR) == len(GRID.forbidden)
    assert colors.count(plotting.TARGET_COLOR) == 1
    # The target (3, 2) is the rectangle whose lower-left corner is (col, row) = (2, 3).
    target = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_xy() == (2, 3)]
    assert to_hex(target[0].get_facecolor()) == plotting.TARGET_COLOR
    assert sum(isinstance(p, Circle) for p in ax.patches) == S  # one STAY circle per cell
    texts = {t.get_text() for t in ax.texts}
    assert {"0.0", "24.0"} <= texts


def test_stochastic_policy_png(tmp_path):
    fig, axes = plotting.new_figure(1, 1, panel_size=4.0)
    rng = np.random.default_rng(0)
    policy = 0.5 * rng.dirichlet(np.ones(gw.NUM_ACTIONS), size=S) + 0.1  # every pi(a|s) > 0.1
    plotting.plot_grid(axes[0, 0], GRID, policy=policy, title="stochastic")
    arrows = [p for p in axes[0, 0].patches if isinstance(p, FancyArrow)]
    assert len(arrows) == 4 * S  # every move has positive probability
    alphas = sorted(a.get_alpha() for a in arrows)
    assert alphas[0] < alphas[-1]  # opacity follows the probability
    path = tmp_path / "stochastic.png"
    plotting.save_figure(fig, path, dpi=40)
    _check_png(path, (160, 160))


def test_uniform_policy_draws_every_action():
    fig, axes = plotting.new_figure()
    plotting.plot_grid(axes[0, 0], GRID, policy=np.full((S, gw.NUM_ACTIONS), 0.2))
    patches = axes[0, 0].patches
    assert sum(isinstance(p, FancyArrow) for p in patches) == 4 * S
    assert sum(isinstance(p, Circle) for p in patches) == S


def test_small_grid_and_negative_zero():
    grid = gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=((0, 1),))
    fig, axes = plotting.new_figure()
    plotting.plot_grid(axes[0, 0], grid, values=[-1e-4, 1.0, 2.0, 3.0])
    assert [t.get_text() for t in axes[0, 0].texts] == ["0.0", "1.0", "2.0", "3.0"]


def test_convergence_png(tmp_path):
    fig, axes = plotting.new_figure(1, 1, panel_size=4.0)
    k = np.arange(30)
    curves = {"value iteration": 10 * 0.9**k, "truncated PI, j=3": np.maximum(10 * 0.5**k, 0.0)}
    curves["policy iteration"] = np.where(k < 5, 10.0 * 0.1**k, 0.0)  # zeros are not drawn
    plotting.plot_convergence(
        axes[0, 0], curves, title="convergence", styles={"value iteration": {"linestyle": "--"}}
    )
    ax = axes[0, 0]
    assert ax.get_yscale() == "log"
    assert [line.get_label() for line in ax.get_lines()] == list(curves)
    assert ax.get_lines()[0].get_linestyle() == "--"
    path = tmp_path / "convergence.png"
    plotting.save_figure(fig, path, dpi=50)
    _check_png(path, (200, 200))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"values": np.zeros(24)}, "values must have shape"),
        ({"values": np.zeros((5, 4))}, "values must have shape"),
        ({"values": np.full(S, np.nan)}, "finite"),
        ({"policy": np.full((S, 4), 0.25)}, "policy must have shape"),
        ({"policy": np.full((S,), 1.0)}, "policy must have shape"),
        ({"policy": np.ones((S, gw.NUM_ACTIONS))}, "probability vectors"),
    ],
)
def test_plot_grid_rejects_bad_inputs(kwargs, match):
    fig, axes = plotting.new_figure()
    with pytest.raises(ValueError, match=match):
        plotting.plot_grid(axes[0, 0], GRID, **kwargs)


def test_plot_grid_rejects_bad_grid():
    fig, axes = plotting.new_figure()
    with pytest.raises(ValueError, match="grid must be"):
        plotting.plot_grid(axes[0, 0], (5, 5), values=np.zeros(S))


@pytest.mark.parametrize(
    "curves, styles, match",
    [
        ({}, None, "at least one"),
        ({"a": np.ones((3, 2))}, None, r"non-empty \[K\]"),
        ({"a": np.array([])}, None, r"non-empty \[K\]"),
        ({"a": np.array([1.0, -1.0])}, None, "non-negative"),
        ({"a": np.array([1.0, np.inf])}, None, "finite"),
        ({"a": np.ones(3)}, {"b": {"color": "k"}}, "not curves"),
    ],
)
def test_plot_convergence_rejects_bad_inputs(curves, styles, match):
    fig, axes = plotting.new_figure()
    with pytest.raises(ValueError, match=match):
        plotting.plot_convergence(axes[0, 0], curves, styles=styles)


def test_save_figure_and_new_figure_validate(tmp_path):
    fig, _ = plotting.new_figure()
    with pytest.raises(ValueError, match=r"\.png"):
        plotting.save_figure(fig, tmp_path / "figure.pdf")
    with pytest.raises(ValueError, match="nrows"):
        plotting.new_figure(0, 1)
    with pytest.raises(ValueError, match="not a PNG"):
        (tmp_path / "fake.png").write_bytes(b"not a png at all, clearly" * 2)
        plotting.figure_size_pixels(tmp_path / "fake.png")


def test_learning_curves_read_well():
    """Counts label the step axis (20k, 1.5M: no 1e5 offset), each setting's line has its own
    dash pattern (two equal curves both stay visible), and a log axis is chosen only for data
    spanning two decades or more."""
    assert [plotting.count_label(v) for v in (0, 300, 20_000, 1_500_000, 2e9)] == [
        "0",
        "300",
        "20k",
        "1.5M",
        "2G",
    ]
    fig, axes = plotting.new_figure(1, 2)
    ax = axes[0, 0]
    steps = np.array([10_000, 20_000, 30_000])
    same = np.array([[40.0, 10.0, 6.0], [40.0, 10.0, 6.0]])
    plotting.plot_learning_curves(ax, steps, same, same - 1, same + 1, labels=["a", "b"])
    first, second = ax.get_lines()
    assert first.get_linestyle() != second.get_linestyle()
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    assert "20k" in labels and ax.xaxis.get_offset_text().get_text() == ""
    assert not plotting.log_scale_if_wide(ax) and ax.get_yscale() == "linear"  # 6 to 41
    errors = axes[0, 1]
    errors.plot([1, 2, 3], [1.0, 1e-2, 1e-4])
    assert plotting.log_scale_if_wide(errors) and errors.get_yscale() == "log"
