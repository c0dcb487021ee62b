"""Feature vectors of grid cells for linear value functions (Zhao, ch. 8.2; Sutton and Barto, 9.5).

A linear value function is ``v(s) = phi(s)^T w`` with a fixed feature map ``phi``; an action
value is ``q(s, a) = phi(s, a)^T w``. The features here are pure functions of one cell, batched
by the caller (``jax.vmap``); :func:`feature_matrix` stacks them into ``Phi [S, d]``, row ``s``
being ``phi(s)`` for the state ``s = row * cols + col`` of ``jaxrl.envs.gridworld``.

Coordinates (the book's): ``x`` is the column and ``y`` the row of the cell, normalized to
[0, 1]: ``x = col / (cols - 1)``, ``y = row / (rows - 1)`` (0 for a single column or row), so
``(x, y) = (0, 0)`` is the top-left cell. ``gridworld.observe`` with ``"coords"`` gives the same
two numbers in the order ``(y, x)``.

* ``"onehot"``: ``phi(s) = e_s``, ``S`` features. Tabular values as a special case of linear ones:
  with these features every linear method here is its tabular counterpart.
* ``"poly1"``, ``"poly2"``, ``"poly3"``: the monomials of total degree at most 1, 2, 3 of the
  centred coordinates ``u = 2x - 1``, ``v = 2y - 1`` in [-1, 1]: ``[1, u, v]`` (3 features),
  ``+ [u^2, v^2, uv]`` (6), ``+ [u^3, v^3, u^2 v, u v^2]`` (10). An affine change of ``x`` and
  ``y`` maps these spans onto themselves, so the values they can represent, the projected fixed
  point and TD's limit ``Phi w*`` are the same as with ``x, y`` themselves; only the weights and
  the conditioning differ. Centred, the mean TD update on the book's grid has its slowest mode
  126 times faster for ``poly3`` (the smallest real part of the eigenvalues of
  ``Phi^T D (I - gamma P) Phi`` is 1.2e-2 instead of 9.4e-5), so TD converges in a test's budget.
* ``"fourier<q>"`` (``q`` = 1 to 8): ``cos(pi (c1 x + c2 y))`` for all ``c1, c2`` in
  ``{0, ..., q}``, ``(q + 1)^2`` features, feature ``c1 (q + 1) + c2``; on [0, 1] as the Fourier
  basis requires (Konidaris, Osentoski and Thomas, 2011, "Value function approximation in
  reinforcement learning using the Fourier basis", AAAI). On the 5 x 5 grid ``fourier4`` spans
  every function of the cells (25 features, a discrete cosine basis), like ``onehot``.

For control, :func:`state_action` places a state's features in the block of the action,
``phi(s, a) = e_a (x) phi(s)`` (size ``A d``): ``q(s, a) = phi(s)^T w_a`` with one weight block
per action, the book's choice of separate weights per action.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np

POLYNOMIAL_ORDERS = (1, 2, 3)
FOURIER_ORDERS = tuple(range(1, 9))
FEATURE_SETS = (
    ("onehot",)
    + tuple(f"poly{order}" for order in POLYNOMIAL_ORDERS)
    + tuple(f"fourier{q}" for q in FOURIER_ORDERS)
)


def cell_coordinates(shape: tuple[int, int]) -> tuple[jax.Array, jax.Array]:
    """``(x, y)``, both ``[S]`` float32 in [0, 1]: the normalized column and row of each state."""
    rows, cols = shape
    row, col = jnp.divmod(jnp.arange(rows * cols), cols)
    x = col.astype(jnp.float32) / max(cols - 1, 1)
    y = row.astype(jnp.float32) / max(rows - 1, 1)
    return x, y


def one_hot(s: jax.typing.ArrayLike, *, num_states: int) -> jax.Array:
    """``e_s``, ``[S]`` float32: the tabular representation."""
    s = jnp.asarray(s)
    chex.assert_rank(s, 0)
    chex.assert_type(s, int)
    return jax.nn.one_hot(s, num_states, dtype=jnp.float32)


def polynomial(x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, order: int) -> jax.Array:
    """The monomials of ``u = 2x - 1``, ``v = 2y - 1`` of total degree at most ``order``.

    ``order`` 1: ``[1, u, v]``; 2: ``+ [u^2, v^2, uv]``; 3: ``+ [u^3, v^3, u^2 v, u v^2]``.

    Args:
        x: ``[]`` the normalized column, in [0, 1].
        y: ``[]`` the normalized row, in [0, 1].
        order: 1, 2 or 3.

    Returns:
        ``[3]``, ``[6]`` or ``[10]`` float32.
    """
    if order not in POLYNOMIAL_ORDERS:
        raise ValueError(f"order must be one of {POLYNOMIAL_ORDERS}, got {order!r}")
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    chex.assert_rank([x, y], 0)
    u, v = 2.0 * x - 1.0, 2.0 * y - 1.0
    terms = [jnp.ones_like(u), u, v]
    if order >= 2:
        terms += [u * u, v * v, u * v]
    if order >= 3:
        terms += [u * u * u, v * v * v, u * u * v, u * v * v]
    return jnp.stack(terms)


def fourier(x: jax.typing.ArrayLike, y: jax.typing.ArrayLike, *, q: int) -> jax.Array:
    """The Fourier cosine features ``cos(pi (c1 x + c2 y))``, ``c1, c2`` in ``{0, ..., q}``.

    Feature ``c1 (q + 1) + c2``; the first (``c1 = c2 = 0``) is the constant 1.

    Args:
        x: ``[]`` the normalized column, in [0, 1].
        y: ``[]`` the normalized row, in [0, 1].
        q: a positive integer, the highest frequency along each axis.

    Returns:
        ``[(q + 1)^2]`` float32.
    """
    if isinstance(q, bool) or not isinstance(q, (int, np.integer)) or q < 1:
        raise ValueError(f"q must be a positive integer, got {q!r}")
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    chex.assert_rank([x, y], 0)
    c1 = jnp.repeat(jnp.arange(q + 1), q + 1)  # 0, 0, .., 1, 1, ..
    c2 = jnp.tile(jnp.arange(q + 1), q + 1)  # 0, 1, .., 0, 1, ..
    return jnp.cos(jnp.pi * (c1 * x + c2 * y))


def state_action(phi_s: jax.Array, a: jax.typing.ArrayLike, *, num_actions: int) -> jax.Array:
    """``phi(s, a) = e_a (x) phi(s)``: the state's ``d`` features in block ``a`` of ``A d`` zeros.

    Args:
        phi_s: ``[d]`` the state's features.
        a: ``[]`` int, the action.
        num_actions: ``A``.

    Returns:
        ``[A d]``; entries ``a d`` to ``(a + 1) d - 1`` are ``phi_s``.
    """
    a = jnp.asarray(a)
    chex.assert_rank([phi_s, a], [1, 0])
    chex.assert_type(a, int)
    return (jax.nn.one_hot(a, num_actions, dtype=phi_s.dtype)[:, None] * phi_s[None, :]).reshape(-1)


def num_features(name: str, num_states: int) -> int:
    """``d``, the length of ``phi(s)`` for the feature set ``name``."""
    kind, order = _parse(name)
    if kind == "onehot":
        return num_states
    if kind == "poly":
        return {1: 3, 2: 6, 3: 10}[order]
    return (order + 1) ** 2


def _parse(name: str) -> tuple[str, int]:
    if name not in FEATURE_SETS:
        raise ValueError(f"features must be one of {FEATURE_SETS}, got {name!r}")
    if name == "onehot":
        return "onehot", 0
    if name.startswith("poly"):
        return "poly", int(name[len("poly") :])
    return "fourier", int(name[len("fourier") :])


def feature_matrix(name: str, shape: tuple[int, int]) -> jax.Array:
    """``Phi [S, d]`` float32 for the feature set ``name`` on a grid of ``shape = (rows, cols)``.

    Row ``s`` is ``phi(s)`` of the cell ``divmod(s, cols)``. Raises ``ValueError`` naming the
    allowed sets for an unknown ``name``.
    """
    kind, order = _parse(name)
    num_states = shape[0] * shape[1]
    if kind == "onehot":
        return jax.vmap(lambda s: one_hot(s, num_states=num_states))(jnp.arange(num_states))
    x, y = cell_coordinates(shape)
    if kind == "poly":
        return jax.vmap(lambda a, b: polynomial(a, b, order=order))(x, y)
    return jax.vmap(lambda a, b: fourier(a, b, q=order))(x, y)


def state_action_matrix(phi: jax.Array, num_actions: int) -> jax.Array:
    """``Phi_sa [S, A, A d]``: ``Phi_sa[s, a] = e_a (x) phi(s)`` for every state and action, so
    that ``q(s, .) = Phi_sa[s] @ w``."""
    chex.assert_rank(phi, 2)
    actions = jnp.arange(num_actions)
    per_state = jax.vmap(
        lambda p: jax.vmap(lambda a: state_action(p, a, num_actions=num_actions))(actions)
    )
    return per_state(phi)


def check_features(name: str, shape: tuple[int, int], *, field: str = "features") -> np.ndarray:
    """Validates a feature set for a grid; returns its ``Phi`` as float64 NumPy ``[S, d]``.

    Raises ``ValueError`` (one line, naming ``field``) for an unknown name, and for features
    that are linearly dependent on this grid (rank of ``Phi`` below ``d``, e.g. ``fourier5`` on
    the 5 x 5 grid, 36 features on 25 cells): their weights, and so the projected fixed point,
    would not be determined.
    """
    if name not in FEATURE_SETS:
        raise ValueError(f"{field} must be one of {FEATURE_SETS}, got {name!r}")
    phi = np.asarray(feature_matrix(name, shape), np.float64)
    rank = int(np.linalg.matrix_rank(phi))
    if rank < phi.shape[1]:
        raise ValueError(
            f"{field} = {name!r} gives {phi.shape[1]} features of rank {rank} on the grid of "
            f"shape {tuple(shape)}: the weights are not determined; choose fewer features"
        )
    return phi
