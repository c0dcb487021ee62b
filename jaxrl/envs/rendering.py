"""Episodes as pictures: one frame per step, drawn with matplotlib, written to an animated GIF.

An environment may carry a drawing hook, ``Environment.draw(ax, state, obs)``, which draws one
step (its state and observation, NumPy leaves of one environment) on a matplotlib ``Axes``. The
built-in environments have one (:func:`grid`, :func:`cartpole`, :func:`pendulum`), gymnax's
adapter gives CartPole, Pendulum and Acrobot the same drawings of gymnax's own states and draws
an image observation (MinAtar's 10x10xC grids) channel by channel (:func:`image`), and Brax's
adapter draws its bodies' positions (:func:`bodies`); an environment without one (a fork's that
defines none) cannot be rendered, and says so.

:func:`rollout` plays one episode of a policy (one jitted scan, the states of every step kept)
and :func:`write_gif` draws it: matplotlib's Agg canvas renders each frame, Pillow (a dependency
of matplotlib) writes the GIF. Nothing here runs inside a compiled program but :func:`rollout`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

FRAME_INCHES = (4.0, 4.0)
FRAME_DPI = 80  # 320 x 320 pixels a frame


def grid(shape, target, forbidden) -> Callable:
    """The grid world's drawing: forbidden cells orange, the target blue, the agent a circle.
    ``shape`` is ``(rows, cols)``; ``target`` a cell; ``forbidden`` a collection of cells."""
    rows, cols = int(shape[0]), int(shape[1])
    target = tuple(int(v) for v in target)
    forbidden = tuple(tuple(int(v) for v in cell) for cell in forbidden)

    def draw(ax, state, obs):
        from matplotlib.patches import Circle, Rectangle

        for r, c in forbidden:
            ax.add_patch(Rectangle((c, r), 1, 1, color="#f4a261"))
        ax.add_patch(Rectangle((target[1], target[0]), 1, 1, color="#8ecae6"))
        row, col = divmod(int(state.position), cols)
        ax.add_patch(Circle((col + 0.5, row + 0.5), 0.3, color="#1d3557"))
        ax.set_xticks(range(cols + 1))
        ax.set_yticks(range(rows + 1))
        ax.tick_params(labelbottom=False, labelleft=False, length=0)
        ax.grid(True, color="0.6")
        ax.set_xlim(0, cols)
        ax.set_ylim(rows, 0)  # row 0 at the top, as the book draws it
        ax.set_aspect("equal")

    return draw


def cartpole(x_threshold: float = 2.4, half_length: float = 0.5) -> Callable:
    """The cart-pole's drawing from its state's ``x`` and ``theta`` (ours and gymnax's): the
    track to the thresholds, the cart, and the pole (twice ``half_length`` long)."""

    def draw(ax, state, obs):
        from matplotlib.patches import Rectangle

        x, theta = float(state.x), float(state.theta)
        ax.plot([-x_threshold, x_threshold], [0, 0], color="0.3", lw=1)
        ax.add_patch(Rectangle((x - 0.25, -0.075), 0.5, 0.15, color="#1d3557"))
        tip = (x + 2 * half_length * math.sin(theta), 2 * half_length * math.cos(theta))
        ax.plot([x, tip[0]], [0, tip[1]], color="#e76f51", lw=4, solid_capstyle="round")
        ax.set_xlim(-x_threshold - 0.3, x_threshold + 0.3)
        ax.set_ylim(-0.6, 2 * half_length + 0.3)
        ax.set_aspect("equal")
        ax.set_yticks([])

    return draw


def pendulum(length: float = 1.0) -> Callable:
    """The pendulum's drawing from its state's ``theta`` (0 upright; ours and gymnax's)."""

    def draw(ax, state, obs):
        theta = float(state.theta)
        tip = (length * math.sin(theta), length * math.cos(theta))
        ax.plot([0, tip[0]], [0, tip[1]], color="#e76f51", lw=6, solid_capstyle="round")
        ax.plot([0], [0], "o", color="#1d3557")
        _square(ax, 1.2 * length)

    return draw


def acrobot() -> Callable:
    """gymnax's Acrobot from its state's two joint angles (0, 0: hanging down), with the line
    the tip must cross."""

    def draw(ax, state, obs):
        a1, a2 = float(state.joint_angle1), float(state.joint_angle2)
        p1 = (math.sin(a1), -math.cos(a1))
        p2 = (p1[0] + math.sin(a1 + a2), p1[1] - math.cos(a1 + a2))
        ax.plot([-2.2, 2.2], [1, 1], color="0.5", lw=1, ls="--")
        ax.plot([0, p1[0], p2[0]], [0, p1[1], p2[1]], color="#e76f51", lw=5, marker="o")
        _square(ax, 2.2)

    return draw


def bodies(parents, centres, frames: Callable) -> Callable:
    """An articulated body (Brax's) from its links' frames ``frames(state) -> (pos [L, 3], rot
    [L, 4])`` (world positions and unit quaternions ``w, x, y, z``): each link a rod from its
    frame's origin (its joint) through its centre of mass (``centres [L, 3]``, in the link's
    frame) to twice as far, the far end of a uniform rod; a link whose centre is its origin (a
    cart, a target) a dot; a line from each link's joint to its parent's (``parents[i]``, -1 for
    the world). Seen from the side (x, z), or from above (x, y) where every point is at one
    height (a planar task such as Brax's reacher). The view is square, centred on the origin,
    and grows with the body in steps of 0.5 only, so that an episode's frames share a scale."""
    parents = [int(p) for p in parents]
    centres = np.asarray(centres, np.float64)

    def draw(ax, state, obs):
        pos, rot = (np.asarray(a, np.float64) for a in frames(state))
        ends = pos + 2.0 * _rotate(rot, centres)
        plane = [0, 1] if np.ptp(np.concatenate([pos, ends])[:, 2]) < 1e-6 else [0, 2]
        pos, ends = pos[:, plane], ends[:, plane]
        for child, parent in enumerate(parents):
            if parent >= 0:
                joint = np.stack([pos[parent], pos[child]])
                ax.plot(joint[:, 0], joint[:, 1], color="0.4", lw=1.5)
        for start, end in zip(pos, ends, strict=True):
            rod = np.stack([start, end])
            ax.plot(rod[:, 0], rod[:, 1], color="#e76f51", lw=5, solid_capstyle="round")
        ax.plot(pos[:, 0], pos[:, 1], "o", color="#1d3557")
        ax.axhline(0.0, color="0.6", lw=1)
        reach = float(np.max(np.abs(np.concatenate([pos, ends]))))
        _square(ax, 0.5 * math.ceil(2.0 * max(0.5, 1.2 * reach)))
        ax.set_xlabel("x", fontsize=8)
        ax.set_ylabel("y (from above)" if plane == [0, 1] else "z", fontsize=8)

    return draw


def _rotate(quaternions: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``[L, 3]``: each vector rotated by its unit quaternion ``(w, x, y, z)``."""
    w, u = quaternions[:, :1], quaternions[:, 1:]
    twice = 2.0 * np.cross(u, vectors)
    return vectors + w * twice + np.cross(u, twice)


def image(channels: int) -> Callable:
    """An image observation ``[H, W, C]`` (MinAtar's): each cell coloured by the highest
    channel that is on (black where none is)."""

    def draw(ax, state, obs):
        from matplotlib import colormaps
        from matplotlib.colors import ListedColormap

        obs = np.asarray(obs)
        layer = np.max(np.where(obs > 0.5, np.arange(1, channels + 1), 0), axis=-1)
        palette = colormaps["tab10"](np.arange(channels) % 10)
        cmap = ListedColormap(np.concatenate([[[0.0, 0.0, 0.0, 1.0]], palette]))
        ax.imshow(layer, cmap=cmap, vmin=-0.5, vmax=channels + 0.5, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])

    return draw


def _square(ax, half: float) -> None:
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


class Episode:
    """One played episode on the host: ``states`` and ``observations`` (leaves ``[T + 1, ...]``,
    the start first), ``rewards`` ``[T]``, and ``length`` T (the steps until it terminated or
    was truncated, at most the steps played)."""

    def __init__(self, states, observations, rewards, length: int):
        self.states, self.observations = states, observations
        self.rewards, self.length = rewards, int(length)

    def frame(self, t: int):
        """The state and observation after ``t`` steps, and the return so far."""
        pick = lambda leaf: leaf[t]  # noqa: E731
        ret = float(np.sum(self.rewards[:t]))
        return jax.tree.map(pick, self.states), pick(self.observations), ret


def rollout(env, act, key: jax.Array, *, max_steps: int) -> Episode:
    """One episode of ``act(obs [1, ...], key) -> actions [1, ...]`` on ``env`` from a fresh
    start (``reset`` with ``split(key)[0]``; step ``t``'s action key ``fold_in(split(key)[1],
    t)`` and its environment key ``fold_in(fold_in(key, 2), t)``), played for ``max_steps``
    steps in one jitted scan; the steps after it ended are cut off on the host."""

    def play(key):
        reset_key, act_key = jax.random.split(key)
        env_key = jax.random.fold_in(key, 2)
        obs, state = env.reset(reset_key, env.params)

        def body(carry, t):
            obs, state, alive = carry
            action = act(obs[None], jax.random.fold_in(act_key, t))[0]
            obs, state, reward, terminated, truncated, _ = env.step(
                jax.random.fold_in(env_key, t), state, action, env.params
            )
            ended = jnp.logical_or(terminated, truncated)
            return (obs, state, alive & ~ended), (obs, state, jnp.where(alive, reward, 0.0), alive)

        _, (observations, states, rewards, alive) = jax.lax.scan(
            body, (obs, state, jnp.asarray(True)), jnp.arange(max_steps)
        )
        first = lambda x, xs: jnp.concatenate([jnp.asarray(x)[None], xs])  # noqa: E731
        return (
            jax.tree.map(first, state, states),
            first(obs, observations),
            rewards,
            jnp.sum(alive),
        )

    states, observations, rewards, length = jax.device_get(jax.jit(play)(key))
    keep = lambda leaf: np.asarray(leaf)[: int(length) + 1]  # noqa: E731
    return Episode(
        jax.tree.map(keep, states), keep(observations), np.asarray(rewards)[: int(length)], length
    )


def write_gif(draw: Callable, episode: Episode, path: str, *, title: str = "", fps: int = 20):
    """Draws every step of ``episode`` with ``draw(ax, state, obs)`` and writes the frames to
    the GIF ``path`` (looping, ``fps`` frames a second). Returns the number of frames."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=FRAME_INCHES, dpi=FRAME_DPI)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    frames = []
    for t in range(episode.length + 1):
        ax.clear()
        state, obs, ret = episode.frame(t)
        draw(ax, state, obs)
        ax.set_title(f"{title}  step {t}  return {ret:.1f}".strip(), fontsize=9)
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    frames[0].save(
        path,
        save_all=True,
        append_images=frames[1:],
        duration=max(1, round(1000 / fps)),
        loop=0,
    )
    return len(frames)
