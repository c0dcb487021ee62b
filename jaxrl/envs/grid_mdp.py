"""The textbook grid world's layout and its exact finite MDP.

Conventions are those of S. Zhao, "Mathematical Foundations of Reinforcement Learning", ch. 1-4:

* cells are ``(row, col)``, 0-based, row 0 at the top; state index ``s = row * cols + col``;
* five actions, in this order: ``UP = 0``, ``RIGHT = 1``, ``DOWN = 2``, ``LEFT = 3``, ``STAY = 4``;
* moves are deterministic; a move off the grid leaves the agent in place and pays
  ``reward_boundary``;
* the reward depends on the cell the move lands in: the target pays ``reward_target``, a forbidden
  cell ``reward_forbidden`` (forbidden cells can be entered, and staying in one pays again), any
  other cell ``reward_step``; staying counts as landing in the current cell;
* the target is not absorbing by default: the agent may leave it.

Options beyond the book: ``slip`` (with that probability the chosen action is replaced by one drawn
uniformly from all five, so the MDP becomes stochastic) and ``absorbing_target`` (entering the
target ends the episode: in the MDP the target then loops to itself with reward 0).

Two MDP views of one validated :class:`GridWorld`:

* :func:`to_mdp` gives the dense :class:`jaxrl.dp.FiniteMDP` (``[S, A, S]``), for small grids;
* :func:`to_grid_mdp` gives :class:`GridMDP`, the same MDP whose Bellman backup is a 5-point
  stencil on the ``[rows, cols]`` array: it scales to 1000 x 1000 grids and ``jaxrl.dp`` accepts
  it wherever it accepts a ``FiniteMDP``.

The environment on them (``reset``, ``step``) is ``jaxrl.envs.gridworld``, which also exports
every name of this module.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.dp import FiniteMDP

UP, RIGHT, DOWN, LEFT, STAY = 0, 1, 2, 3, 4
NUM_ACTIONS = 5
ACTION_NAMES = ("up", "right", "down", "left", "stay")
# (row, col) displacement of each action, in action order.
ACTION_DELTAS = ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))
OBSERVATIONS = ("index", "coords", "onehot")

# Dense [S, A, S] transitions are built only up to this many states (2,500 states is 125 MB).
MAX_DENSE_STATES = 2_500

Cell = tuple[int, int]


def _int_pair(name: str, pair, what: str) -> Cell:
    """A pair of Python or NumPy integers (no floats, no bools), else ValueError naming ``name``."""
    try:
        a, b = pair
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a {what} pair of integers, got {pair!r}") from None
    for x in (a, b):
        if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, np.integer)):
            raise ValueError(f"{name} must be a {what} pair of integers, got {pair!r}")
    return int(a), int(b)


def _check_cell(name: str, cell, shape: Cell) -> Cell:
    r, c = _int_pair(name, cell, "(row, col)")
    if not (0 <= r < shape[0] and 0 <= c < shape[1]):
        raise ValueError(
            f"{name} {cell!r} is outside the grid of shape {shape}: rows 0..{shape[0] - 1}, "
            f"cols 0..{shape[1] - 1}"
        )
    return (r, c)


def _check_real(name: str, value) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


@dataclasses.dataclass(frozen=True)
class GridWorld:
    """A validated grid-world layout with its rewards (plain Python, hashable).

    Attributes:
        shape: ``(rows, cols)``, both positive.
        target: the target cell ``(row, col)``.
        forbidden: the forbidden cells; none may be the target.
        reward_boundary: reward for a move that would leave the grid.
        reward_forbidden: reward for landing in (or staying in) a forbidden cell.
        reward_target: reward for landing in (or staying in) the target.
        reward_step: reward for landing in any other cell.
        slip: probability in [0, 1] that the action is replaced by a uniformly random one.
        absorbing_target: if True the target is terminal (episodes end on entering it).

    Raises:
        ValueError: naming the field, for an empty shape, a cell outside the grid, the target on
            a forbidden cell, a non-finite reward or a slip outside [0, 1].
    """

    shape: Cell = (5, 5)
    target: Cell = (3, 2)
    forbidden: tuple[Cell, ...] = ((1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1))
    reward_boundary: float = -1.0
    reward_forbidden: float = -1.0
    reward_target: float = 1.0
    reward_step: float = 0.0
    slip: float = 0.0
    absorbing_target: bool = False

    def __post_init__(self):
        rows, cols = _int_pair("shape", self.shape, "(rows, cols)")
        if rows < 1 or cols < 1:
            raise ValueError(f"shape must have rows >= 1 and cols >= 1, got {self.shape!r}")
        shape = (rows, cols)
        object.__setattr__(self, "shape", shape)
        target = _check_cell("target", self.target, shape)
        object.__setattr__(self, "target", target)
        if isinstance(self.forbidden, (str, bytes)) or not isinstance(self.forbidden, Sequence):
            raise ValueError(
                f"forbidden must be a sequence of (row, col) cells, got {self.forbidden!r}"
            )
        forbidden = tuple(_check_cell("forbidden cell", c, shape) for c in self.forbidden)
        if target in forbidden:
            raise ValueError(f"target {target} is also listed in forbidden; a cell cannot be both")
        object.__setattr__(self, "forbidden", tuple(dict.fromkeys(forbidden)))
        for name in ("reward_boundary", "reward_forbidden", "reward_target", "reward_step"):
            object.__setattr__(self, name, _check_real(name, getattr(self, name)))
        slip = _check_real("slip", self.slip)
        if not 0.0 <= slip <= 1.0:
            raise ValueError(f"slip must be in [0, 1], got {self.slip!r}")
        object.__setattr__(self, "slip", slip)
        object.__setattr__(self, "absorbing_target", bool(self.absorbing_target))

    @property
    def num_states(self) -> int:
        return self.shape[0] * self.shape[1]

    def state_index(self, cell: Cell) -> int:
        """``row * cols + col``."""
        r, c = _check_cell("cell", cell, self.shape)
        return r * self.shape[1] + c

    def cell(self, state: int) -> Cell:
        """The ``(row, col)`` of a state index."""
        return divmod(int(state), self.shape[1])

    def forbidden_mask(self) -> np.ndarray:
        """``[rows, cols]`` boolean mask of forbidden cells."""
        mask = np.zeros(self.shape, bool)
        for r, c in self.forbidden:
            mask[r, c] = True
        return mask


def book_grid(**overrides) -> GridWorld:
    """The book's 5x5 grid (target (3, 2); six forbidden cells), with optional field overrides."""
    return GridWorld(**overrides)


# ---------------------------------------------------------------------------------------------
# The structured MDP: arrays only, so it can be batched over layouts.


@struct.dataclass
class GridMDP:
    """A grid world as arrays; a ``jaxrl.dp`` MDP whose backup is a 5-point stencil.

    Attributes:
        forbidden: ``[rows, cols]`` bool.
        target: ``[]`` int32 state index of the target.
        reward_boundary, reward_forbidden, reward_target, reward_step: ``[]`` float32.
        slip: probability of a uniformly random action. Static (a Python float): it selects the
            code path (no randomness and the fast backup when it is 0), and changing it recompiles.
        absorbing: whether the target is terminal. Static (a Python bool), likewise.

    The layout and the rewards are arrays, so a batch of layouts of one shape (same ``slip`` and
    ``absorbing``) is one pytree, for ``jax.vmap``.
    """

    forbidden: jax.Array
    target: jax.Array
    reward_boundary: jax.Array
    reward_forbidden: jax.Array
    reward_target: jax.Array
    reward_step: jax.Array
    slip: float = struct.field(pytree_node=False, default=0.0)
    absorbing: bool = struct.field(pytree_node=False, default=False)

    @property
    def shape(self) -> Cell:
        return tuple(self.forbidden.shape[-2:])

    @property
    def num_states(self) -> int:
        return self.shape[0] * self.shape[1]

    @property
    def num_actions(self) -> int:
        return NUM_ACTIONS

    def cell_rewards(self) -> jax.Array:
        """``[rows, cols]`` reward for landing in each cell (boundary bumps excluded)."""
        rows, cols = self.shape
        is_target = (jnp.arange(rows * cols) == self.target).reshape(rows, cols)
        r = jnp.where(self.forbidden, self.reward_forbidden, self.reward_step)
        return jnp.where(is_target, self.reward_target, r)

    def q_values(self, v: jax.Array, gamma: jax.typing.ArrayLike) -> jax.Array:
        """``q(s, a)`` for every state and action, ``[S, 5]``, by shifting arrays (no gathers).

        With ``w = r_cell + gamma * v`` the value of landing in a cell and
        ``b = r_boundary + gamma * v`` the value of bumping into the wall, ``q(s, UP)`` is ``w``
        of the cell above, or ``b(s)`` in the top row; and so on for each direction.
        """
        rows, cols = self.shape
        v2 = v.reshape(rows, cols)
        w = self.cell_rewards() + gamma * v2
        b = self.reward_boundary + gamma * v2
        up = jnp.concatenate([b[:1], w[:-1]], axis=0)
        down = jnp.concatenate([w[1:], b[-1:]], axis=0)
        left = jnp.concatenate([b[:, :1], w[:, :-1]], axis=1)
        right = jnp.concatenate([w[:, 1:], b[:, -1:]], axis=1)
        q = jnp.stack([up, right, down, left, w], axis=-1)
        if self.slip:
            q = (1.0 - self.slip) * q + self.slip * jnp.mean(q, axis=-1, keepdims=True)
        if self.absorbing:
            is_target = (jnp.arange(rows * cols) == self.target).reshape(rows, cols, 1)
            q = jnp.where(is_target, gamma * v2[..., None], q)
        return q.reshape(rows * cols, NUM_ACTIONS)

    @property
    def value_shape(self) -> Cell:
        """Solvers carry values as a ``[rows, cols]`` array (flattened row-major to ``[S]``)."""
        return self.shape

    def optimality_backup_fn(self, gamma: jax.typing.ArrayLike):
        """``v -> max_a q(s, a)`` on ``[rows, cols]`` values: the hot loop of value iteration.

        Loop invariants (cell rewards, the border) are computed once, when this is called, so
        build the function outside the loop.

        Without slip, bumping into a wall and staying both keep ``v(s)``, so the best of them is
        ``max(r_cell(s), r_boundary) + gamma * v(s)`` on the border and ``r_cell(s) + gamma * v(s)``
        inside; the four moves are shifted copies of ``w = r_cell + gamma * v`` padded with
        ``-inf``. That is one padded array and one fused pass, with no ``[S, 5]`` intermediate.
        With slip it falls back to ``max(q_values)``.
        """
        if self.slip:
            return lambda v: jnp.max(self.q_values(v.reshape(-1), gamma), axis=-1).reshape(v.shape)
        stencil = self._discounted_max_fn()
        return lambda v: stencil(gamma * v)

    def optimality_sweeps_fn(self, gamma: jax.typing.ArrayLike):
        """``(v, n) -> T^n v`` on ``[rows, cols]`` values, ``n >= 1`` sweeps, no convergence test.

        The loop carries the discounted values ``u = gamma * v`` rather than ``v``: the result is
        the same arithmetic (each sweep computes ``gamma * v`` once either way), but multiplying
        the stencil's output by a traced ``gamma``, instead of its input, lets XLA's CPU code
        vectorize the pass (measured about 1.7x faster per sweep on the 1000 x 1000 grid).
        """
        if self.slip:
            backup = self.optimality_backup_fn(gamma)
            return lambda v, n: jax.lax.fori_loop(0, n, lambda _, u: backup(u), v)
        stencil = self._discounted_max_fn()

        def sweeps(v, n):
            u = jax.lax.fori_loop(0, n - 1, lambda _, u: gamma * stencil(u), gamma * v)
            return stencil(u)

        return sweeps

    def _discounted_max_fn(self):
        """``gv -> max_a q(s, a)`` given the discounted values ``gv = gamma * v`` (no slip)."""
        rows, cols = self.shape
        cell_r = self.cell_rewards()
        row = jax.lax.broadcasted_iota(jnp.int32, (rows, cols), 0)
        col = jax.lax.broadcasted_iota(jnp.int32, (rows, cols), 1)
        border = (row == 0) | (row == rows - 1) | (col == 0) | (col == cols - 1)
        stay_r = jnp.where(border, jnp.maximum(cell_r, self.reward_boundary), cell_r)
        terminal = row * cols + col == self.target

        def stencil(gv):
            wp = jnp.pad(cell_r + gv, 1, constant_values=-jnp.inf)
            moves = jnp.maximum(
                jnp.maximum(wp[:-2, 1:-1], wp[2:, 1:-1]), jnp.maximum(wp[1:-1, :-2], wp[1:-1, 2:])
            )
            best = jnp.maximum(moves, stay_r + gv)
            return jnp.where(terminal, gv, best) if self.absorbing else best

        return stencil

    def deterministic_tables(self) -> tuple[jax.Array, jax.Array]:
        """``(next_state, reward)``, each ``[S, 5]``, of the slip-free, non-absorbing moves."""
        states = jnp.arange(self.num_states, dtype=jnp.int32)
        actions = jnp.arange(NUM_ACTIONS, dtype=jnp.int32)
        move = jax.vmap(jax.vmap(_move, (None, 0, None)), (0, None, None))
        return move(states, actions, self)

    def to_dense(self) -> FiniteMDP:
        """The dense ``[S, 5, S]`` :class:`jaxrl.dp.FiniteMDP` of this grid."""
        num_states = self.num_states
        if num_states > MAX_DENSE_STATES:
            raise ValueError(
                f"grid has {num_states} states; dense transitions are built for at most "
                f"{MAX_DENSE_STATES}: use the GridMDP (to_grid_mdp) with value iteration or "
                f"truncated policy iteration instead"
            )
        next_state, reward = self.deterministic_tables()
        p_det = jax.nn.one_hot(next_state, num_states, dtype=jnp.float32)  # [S, A, S]
        p = (1.0 - self.slip) * p_det + self.slip * jnp.mean(p_det, axis=1, keepdims=True)
        r = (1.0 - self.slip) * reward + self.slip * jnp.mean(reward, axis=1, keepdims=True)
        if self.absorbing:
            terminal = jnp.arange(num_states) == self.target
            loop = jax.nn.one_hot(self.target, num_states, dtype=jnp.float32)
            p = jnp.where(terminal[:, None, None], loop, p)
            r = jnp.where(terminal[:, None], 0.0, r)
        return FiniteMDP(transitions=p, rewards=r)


def _move(state: jax.Array, action: jax.Array, mdp: GridMDP) -> tuple[jax.Array, jax.Array]:
    """The deterministic move of the book: ``(next_state, reward)`` for one state and action."""
    rows, cols = mdp.shape
    row, col = state // cols, state % cols
    # ACTION_DELTAS as arithmetic rather than a table lookup (a gather per agent under vmap).
    new_row = row + (action == DOWN).astype(jnp.int32) - (action == UP).astype(jnp.int32)
    new_col = col + (action == RIGHT).astype(jnp.int32) - (action == LEFT).astype(jnp.int32)
    inside = (new_row >= 0) & (new_row < rows) & (new_col >= 0) & (new_col < cols)
    landed = jnp.where(inside, new_row * cols + new_col, state).astype(jnp.int32)
    cell_reward = jnp.where(
        landed == mdp.target,
        mdp.reward_target,
        jnp.where(mdp.forbidden.reshape(-1)[landed], mdp.reward_forbidden, mdp.reward_step),
    )
    reward = jnp.where(inside, cell_reward, mdp.reward_boundary)
    return landed, reward.astype(jnp.float32)


def to_grid_mdp(grid: GridWorld) -> GridMDP:
    """The structured (stencil) MDP of a grid world: any size, consumed by ``jaxrl.dp``."""
    if isinstance(grid, GridMDP):
        return grid
    if isinstance(getattr(grid, "mdp", None), GridMDP):  # the environment's EnvParams
        return grid.mdp
    if not isinstance(grid, GridWorld):
        raise ValueError(
            f"grid must be a GridWorld, GridMDP or EnvParams, got {type(grid).__name__}"
        )
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return GridMDP(
        forbidden=jnp.asarray(grid.forbidden_mask()),
        target=jnp.int32(grid.state_index(grid.target)),
        reward_boundary=f32(grid.reward_boundary),
        reward_forbidden=f32(grid.reward_forbidden),
        reward_target=f32(grid.reward_target),
        reward_step=f32(grid.reward_step),
        slip=grid.slip,
        absorbing=grid.absorbing_target,
    )


def to_mdp(grid: GridWorld) -> FiniteMDP:
    """The dense finite MDP of a grid world: ``transitions [S, 5, S]`` and ``rewards [S, 5]``.

    ``rewards[s, a]`` is the expected immediate reward (it differs from the sampled reward only
    when ``slip > 0``). Accepts a :class:`GridWorld`, or a :class:`GridMDP` /
    ``gridworld.EnvParams`` (possibly traced, e.g. under ``vmap`` over layouts). At most
    ``MAX_DENSE_STATES`` states.
    """
    return to_grid_mdp(grid).to_dense()
