"""The textbook grid world as a pure, vectorized environment, and its exact finite MDP.

The layout (:class:`GridWorld`, :func:`book_grid`), the book's conventions and the MDP views
(:func:`to_mdp`, dense; :func:`to_grid_mdp`, the 5-point stencil that scales to 1000 x 1000
grids) are ``jaxrl.envs.grid_mdp``'s, exported here too, so ``gridworld.X`` names all of it.

This module is the environment: :func:`make_params` (or :func:`random_params`, a batch of random
layouts of one shape) with :func:`reset` / :func:`step`. Everything is an array in a pytree, so
``jax.vmap`` runs many agents, and many layouts of one shape, in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs import rng
from jaxrl.envs.grid_mdp import (  # noqa: F401 (re-exported: the grid world's one namespace)
    ACTION_DELTAS,
    ACTION_NAMES,
    DOWN,
    LEFT,
    MAX_DENSE_STATES,
    NUM_ACTIONS,
    OBSERVATIONS,
    RIGHT,
    STAY,
    UP,
    Cell,
    GridMDP,
    GridWorld,
    _check_cell,
    _move,
    book_grid,
    to_grid_mdp,
    to_mdp,
)

# ---------------------------------------------------------------------------------------------
# The environment.


@struct.dataclass
class EnvParams:
    """Everything ``reset`` and ``step`` need; a pytree, so it can be batched over layouts.

    Attributes:
        mdp: the :class:`GridMDP` (layout, rewards, slip, absorbing target).
        start_probs: ``[S]`` distribution of the start state.
        start_threshold, start_alias: ``[S]`` Walker alias tables of ``start_probs`` (float32 and
            int32), so that drawing a start cell costs O(1) per agent: slot ``k`` is drawn
            uniformly, then kept with probability ``start_threshold[k]``, else replaced by
            ``start_alias[k]``. Built by :func:`make_params` and :func:`random_params`.
        max_steps: ``[]`` int32; an episode is truncated after this many steps.
        observation: ``"index"`` (int32 state), ``"coords"`` (float32 ``[2]``, row and col
            scaled to [0, 1]) or ``"onehot"`` (float32 ``[S]``). Static.
        auto_reset: if True, ``step`` starts a new episode itself when one ends. It does what
            ``wrappers.auto_reset`` does, but the slip and the new start cell share one random
            draw instead of splitting the key, which makes a vectorized step about twice as
            cheap. Static.
    """

    mdp: GridMDP
    start_probs: jax.Array
    start_threshold: jax.Array
    start_alias: jax.Array
    max_steps: jax.Array
    observation: str = struct.field(pytree_node=False, default="index")
    auto_reset: bool = struct.field(pytree_node=False, default=False)


class EnvState(NamedTuple):
    """Environment state: the current state index and the steps taken in this episode."""

    position: jax.Array
    time: jax.Array


NO_TIME_LIMIT = np.iinfo(np.int32).max


def alias_tables(probs) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias tables of a distribution (Vose's O(S) construction, in NumPy, float64).

    Returns ``(threshold, alias)``: drawing slot ``k`` uniformly, keeping it with probability
    ``threshold[k]`` and taking ``alias[k]`` otherwise, draws index ``i`` with ``probs[i]``.
    """
    p = np.asarray(probs, np.float64)
    num = p.shape[0]
    scaled = p * (num / p.sum())
    threshold = np.ones(num)
    alias = np.arange(num)
    small = [i for i in range(num) if scaled[i] < 1.0]
    large = [i for i in range(num) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        threshold[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    # Leftovers are 1 up to rounding: they keep their own slot (threshold 1, alias itself).
    return threshold, alias


def _uniform_alias_tables(num_states: int, excluded: jax.Array | None):
    """Alias tables of the uniform distribution over all cells, or all but ``excluded``.

    In closed form, so it can be traced: with the cells other than ``excluded`` numbered
    ``j = 0 .. S - 2`` in index order, slot ``excluded`` always passes to cell ``j = 0``, and the
    slot of cell ``j`` keeps it with probability ``(j + 1) / (S - 1)`` and otherwise passes to
    cell ``j + 1``: every cell then gets ``1 / (S - 1)``.
    """
    cells = jnp.arange(num_states, dtype=jnp.int32)
    if excluded is None or num_states == 1:
        return jnp.ones((num_states,), jnp.float32), cells
    rank = cells - (cells > excluded)  # j, for the cells other than `excluded`
    successor = cells + 1 + (cells + 1 == excluded)
    first = jnp.where(excluded == 0, 1, 0).astype(jnp.int32)
    threshold = jnp.where(cells == excluded, 0.0, (rank + 1) / (num_states - 1))
    alias = jnp.where(cells == excluded, first, jnp.minimum(successor, num_states - 1))
    return threshold.astype(jnp.float32), alias.astype(jnp.int32)


def _start_probs(grid: GridWorld, start) -> np.ndarray:
    rows, cols = grid.shape
    num_states = rows * cols
    if start is None:
        probs = np.ones(num_states)
        if grid.absorbing_target:
            probs[grid.state_index(grid.target)] = 0.0
            if num_states == 1:
                raise ValueError("start: a 1-cell grid with an absorbing target has no start cell")
        return probs / probs.sum()
    arr = np.asarray(start, dtype=np.float64)
    if arr.shape == (2,) and np.issubdtype(np.asarray(start).dtype, np.integer):
        probs = np.zeros(num_states)
        probs[grid.state_index(_check_cell("start", start, grid.shape))] = 1.0
        return probs
    if arr.shape in ((rows, cols), (num_states,)):
        arr = arr.reshape(-1)
        if np.any(arr < 0) or not np.isfinite(arr).all() or arr.sum() <= 0:
            raise ValueError("start distribution must be non-negative with a positive sum")
        return arr / arr.sum()
    raise ValueError(
        f"start must be None (uniform), a (row, col) cell, or probabilities of shape "
        f"{(rows, cols)} or ({num_states},); got {start!r}"
    )


def _check_max_steps(max_steps) -> int:
    if max_steps is None:
        return NO_TIME_LIMIT
    if (
        isinstance(max_steps, (bool, np.bool_))
        or not isinstance(max_steps, (int, np.integer))
        or max_steps < 1
    ):
        raise ValueError(f"max_steps must be a positive integer or None, got {max_steps!r}")
    return int(max_steps)


def make_params(
    grid: GridWorld,
    *,
    start=None,
    max_steps: int | None = None,
    observation: str = "index",
    auto_reset: bool = False,
) -> EnvParams:
    """Environment parameters for a grid world.

    Args:
        grid: the validated layout.
        start: ``None`` (uniform over cells, the target excluded when it is absorbing), a
            ``(row, col)`` start cell, or start probabilities of shape ``[rows, cols]`` or ``[S]``.
        max_steps: episode length after which ``truncated`` is set; ``None`` for no limit (the
            book's continuing setting).
        observation: one of ``"index"``, ``"coords"``, ``"onehot"``.
        auto_reset: whether ``step`` starts a new episode when one ends (see :class:`EnvParams`).
    """
    if not isinstance(grid, GridWorld):
        raise ValueError(f"grid must be a GridWorld, got {type(grid).__name__}")
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
    max_steps = _check_max_steps(max_steps)
    probs = _start_probs(grid, start)
    threshold, alias = alias_tables(probs)
    return EnvParams(
        mdp=to_grid_mdp(grid),
        start_probs=jnp.asarray(probs, jnp.float32),
        start_threshold=jnp.asarray(threshold, jnp.float32),
        start_alias=jnp.asarray(alias, jnp.int32),
        max_steps=jnp.int32(max_steps),
        observation=observation,
        auto_reset=bool(auto_reset),
    )


def random_params(
    key: jax.Array,
    shape: Cell,
    *,
    forbidden_prob: float = 0.2,
    reward_boundary: float = -1.0,
    reward_forbidden: float = -1.0,
    reward_target: float = 1.0,
    reward_step: float = 0.0,
    slip: float = 0.0,
    absorbing_target: bool = False,
    max_steps: int | None = None,
    observation: str = "index",
) -> EnvParams:
    """A random layout: each cell forbidden with ``forbidden_prob``, the target uniform.

    Jit- and vmap-friendly: ``jax.vmap(lambda k: random_params(k, (8, 8)))(keys)`` makes a batch
    of layouts of one shape. The start distribution is uniform (over non-target cells when the
    target is absorbing).
    """
    GridWorld(  # validates the shape, the rewards and slip with the usual messages
        shape=shape,
        target=(0, 0),
        forbidden=(),
        reward_boundary=reward_boundary,
        reward_forbidden=reward_forbidden,
        reward_target=reward_target,
        reward_step=reward_step,
        slip=slip,
    )
    rows, cols = (int(x) for x in shape)
    max_steps = _check_max_steps(max_steps)
    if not 0.0 <= float(forbidden_prob) <= 1.0:
        raise ValueError(f"forbidden_prob must be in [0, 1], got {forbidden_prob!r}")
    if observation not in OBSERVATIONS:
        raise ValueError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
    num_states = rows * cols
    forbidden_key, target_key = jax.random.split(key)
    target = jax.random.randint(target_key, (), 0, num_states, dtype=jnp.int32)
    is_target = jnp.arange(num_states) == target
    forbidden = jax.random.bernoulli(forbidden_key, forbidden_prob, (num_states,))
    forbidden = jnp.logical_and(forbidden, jnp.logical_not(is_target)).reshape(rows, cols)
    f32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    mdp = GridMDP(
        forbidden=forbidden,
        target=target,
        reward_boundary=f32(reward_boundary),
        reward_forbidden=f32(reward_forbidden),
        reward_target=f32(reward_target),
        reward_step=f32(reward_step),
        slip=float(slip),
        absorbing=bool(absorbing_target),
    )
    start = jnp.ones((num_states,), jnp.float32)
    if absorbing_target and num_states > 1:
        start = jnp.where(is_target, 0.0, start)
    threshold, alias = _uniform_alias_tables(num_states, target if absorbing_target else None)
    return EnvParams(
        mdp=mdp,
        start_probs=start / jnp.sum(start),
        start_threshold=threshold,
        start_alias=alias,
        max_steps=jnp.int32(max_steps),
        observation=observation,
    )


def layout_of(params: EnvParams | GridMDP) -> GridWorld:
    """The :class:`GridWorld` of concrete (not traced) parameters, e.g. a random layout."""
    mdp = params.mdp if isinstance(params, EnvParams) else params
    rows, cols = mdp.shape
    forbidden = np.asarray(mdp.forbidden)
    return GridWorld(
        shape=(rows, cols),
        target=divmod(int(mdp.target), cols),
        forbidden=tuple((int(r), int(c)) for r, c in zip(*np.nonzero(forbidden), strict=True)),
        reward_boundary=float(mdp.reward_boundary),
        reward_forbidden=float(mdp.reward_forbidden),
        reward_target=float(mdp.reward_target),
        reward_step=float(mdp.reward_step),
        slip=float(mdp.slip),
        absorbing_target=bool(mdp.absorbing),
    )


def observe(position: jax.Array, params: EnvParams) -> jax.Array:
    """The observation of a state index, in the form ``params.observation`` names."""
    rows, cols = params.mdp.shape
    if params.observation == "index":
        return position.astype(jnp.int32)
    if params.observation == "coords":
        row, col = position // cols, position % cols
        scale = jnp.asarray([max(rows - 1, 1), max(cols - 1, 1)], jnp.float32)
        return jnp.stack([row, col]).astype(jnp.float32) / scale
    return jax.nn.one_hot(position, rows * cols, dtype=jnp.float32)


def _sample_start(u: jax.Array, params: EnvParams) -> jax.Array:
    """A start cell drawn from ``params.start_probs`` by the alias method, from one uniform ``u``.

    ``x = u * S`` picks slot ``floor(x)`` and its fractional part decides between the slot and its
    alias. ``u`` carries 23 random bits, so the fraction keeps ``23 - log2(S)`` of them: start
    probabilities are honoured to about ``S / 2^23`` (2e-5 on a 13 x 13 grid). Beyond ``2^15``
    states that is too coarse, and the exact inverse CDF (a binary search) is used instead.
    """
    num_states = params.start_probs.shape[-1]
    if num_states > 2**15:
        cdf = jnp.cumsum(params.start_probs)
        index = jnp.searchsorted(cdf, u * cdf[-1], side="right", method="scan_unrolled")
        return jnp.minimum(index, num_states - 1).astype(jnp.int32)
    x = u * num_states
    slot = jnp.minimum(jnp.floor(x), num_states - 1)
    keep = (x - slot) < params.start_threshold[slot.astype(jnp.int32)]
    slot = slot.astype(jnp.int32)
    return jnp.where(keep, slot, params.start_alias[slot])


def reset(key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
    """Starts an episode: the start state is drawn from ``params.start_probs``.

    Returns:
        ``(obs, state)``.
    """
    position = _sample_start(jax.random.uniform(key), params)
    state = EnvState(position=position, time=jnp.int32(0))
    return observe(state.position, params), state


def step(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict]:
    """One step of the grid world for one agent (vmap for many).

    With probability ``slip`` the action is replaced by a uniformly random one; then the
    deterministic move of the book applies. When the target is absorbing, entering it sets
    ``terminated`` (a step from the target itself stays there with reward 0, as in the MDP).
    ``truncated`` is set when the episode reaches ``max_steps`` without terminating. With
    ``params.auto_reset``, a step that ends an episode returns the reward and flags of that step
    but the observation and state of the next episode's start; the observation of the cell the
    move landed in is ``info["final_observation"]`` (what a learner bootstraps from on
    truncation; on termination it bootstraps nothing).

    Args:
        key: randomness for the slip (and the new start cell with ``auto_reset``).
        state: the current :class:`EnvState`.
        action: ``[]`` int in ``{0, ..., 4}`` (UP, RIGHT, DOWN, LEFT, STAY).
        params: :class:`EnvParams`.

    Returns:
        ``(obs, next_state, reward, terminated, truncated, info)``; reward float32, flags bool,
        ``info = {"final_observation": ...}`` the observation of the landing cell (equal to
        ``obs`` unless ``auto_reset`` started a new episode).
    """
    action = jnp.asarray(action, jnp.int32)
    chex.assert_rank(action, 0)
    mdp = params.mdp
    if params.auto_reset or mdp.slip:
        u, u_start = rng.uniform_pair(key)  # one Threefry block, fused with the step
    if mdp.slip:
        # One uniform u decides both: slip when u < slip, and then u / slip is again uniform on
        # [0, 1), which picks the replacement action.
        random_action = jnp.minimum(jnp.floor(NUM_ACTIONS * u / mdp.slip), NUM_ACTIONS - 1)
        action = jnp.where(u < mdp.slip, random_action.astype(jnp.int32), action)
    landed, reward = _move(state.position, action, mdp)
    if mdp.absorbing:
        at_terminal = state.position == mdp.target
        landed = jnp.where(at_terminal, state.position, landed)
        reward = jnp.where(at_terminal, 0.0, reward)
        terminated = landed == mdp.target
    else:
        terminated = jnp.zeros((), bool)
    time = state.time + 1
    truncated = jnp.logical_and(time >= params.max_steps, jnp.logical_not(terminated))
    final_observation = observe(landed, params)
    if params.auto_reset:
        done = jnp.logical_or(terminated, truncated)
        start = _sample_start(u_start, params)
        next_state = EnvState(
            position=jnp.where(done, start, landed), time=jnp.where(done, 0, time)
        )
        obs = observe(next_state.position, params)
    else:
        next_state = EnvState(position=landed, time=time)
        obs = final_observation
    info = {"final_observation": final_observation}
    return obs, next_state, reward, terminated, truncated, info


def environment(
    *,
    shape: Cell = (5, 5),
    target: Cell = (3, 2),
    forbidden: Sequence[Cell] = ((1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1)),
    reward_boundary: float = -1.0,
    reward_forbidden: float = -1.0,
    reward_target: float = 1.0,
    reward_step: float = 0.0,
    slip: float = 0.0,
    absorbing_target: bool = False,
    start=None,
    max_steps: int | None = None,
    observation: str = "index",
):
    """The grid world as a ``jaxrl.envs.Environment`` (registered as ``"grid"``), with the
    :class:`Finite` hook: its MDP and the observation of every state, so an agent's exact metrics
    (``jaxrl.exact``) need no knowledge of the grid.

    The options are the :class:`GridWorld` fields (the book's grid by default) and those of
    :func:`make_params`: ``start``, ``max_steps`` (``None``: the book's continuing task) and
    ``observation`` (``"index"``: a ``Discrete(S)`` observation space; ``"coords"`` and
    ``"onehot"``: boxes of 2 and ``S`` reals in [0, 1]). Actions: ``Discrete(5)``.
    """
    from jaxrl.envs import registry, rendering, spaces

    grid = GridWorld(
        shape=tuple(shape),
        target=tuple(target),
        forbidden=tuple(tuple(c) for c in forbidden),
        reward_boundary=reward_boundary,
        reward_forbidden=reward_forbidden,
        reward_target=reward_target,
        reward_step=reward_step,
        slip=slip,
        absorbing_target=absorbing_target,
    )
    start = tuple(start) if isinstance(start, (list, tuple)) and len(start) == 2 else start
    params = make_params(grid, start=start, max_steps=max_steps, observation=observation)
    num_states = grid.num_states
    if observation == "index":
        observation_space = spaces.Discrete(num_states)
    else:
        observation_space = spaces.box(0.0, 1.0, (2,) if observation == "coords" else (num_states,))
    observations = jax.vmap(lambda s: observe(s, params))(jnp.arange(num_states))
    return registry.Environment(
        name="grid",
        reset=reset,
        step=step,
        params=params,
        observation_space=observation_space,
        action_space=spaces.Discrete(NUM_ACTIONS),
        max_steps=None if max_steps is None else int(max_steps),
        auto_reset=lambda p: p.replace(auto_reset=True),
        finite=registry.Finite(mdp=params.mdp, observations=observations),
        draw=rendering.grid(grid.shape, grid.target, grid.forbidden),
    )
