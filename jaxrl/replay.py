"""A fixed-capacity replay buffer held in a pytree: the experience replay of DQN.

The buffer is a ring of ``capacity`` slots. Every leaf of ``ReplayState.data`` is an array
``[capacity, ...]`` whose row ``i`` is slot ``i``; items are written at ``position``, which then
advances by one modulo ``capacity``, so once the buffer is full each new item overwrites the
oldest one (first in, first out) and the buffer holds the last ``capacity`` items added. Slots are
filled from ``0`` upwards, so the filled slots are always ``0, ..., size - 1``, and sampling draws
slot indices uniformly from them, with replacement.

The functions follow the house pattern: ``init`` builds a state, ``add``/``add_batch`` return a new
one, ``sample`` reads it. All are pure and jittable; the item layout (leaf shapes and dtypes) and
the capacity are static, the position and size are int32 arrays, so a state per seed stacks into
a batched state and ``jax.vmap(add)`` / ``jax.vmap(sample)`` run many seeds at once.

Reference: Lin (1992), "Self-improving reactive agents based on reinforcement learning, planning
and teaching", Machine Learning 8; Mnih et al. (2015), "Human-level control through deep
reinforcement learning", Nature 518, https://doi.org/10.1038/nature14236 (DQN's replay memory
keeps the last N transitions and samples minibatches uniformly from it).
"""

from __future__ import annotations

import operator
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np


class ReplayState(NamedTuple):
    """A replay buffer.

    Attributes:
        data: a pytree shaped like one item, every leaf ``[capacity, ...]``; row ``i`` of every
            leaf is slot ``i``. Slots not yet written hold zeros.
        position: ``int32 []``, the slot the next item is written to.
        size: ``int32 []``, the number of filled slots, ``<= capacity``. While the buffer is not
            full, ``position == size``.
    """

    data: Any
    position: jax.Array
    size: jax.Array


def _positive_int(name: str, value: Any) -> int:
    """``value`` as an int if it is a positive Python (or numpy) integer; ``ValueError`` if not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} = {value!r}: it must be a positive Python int")
    if value < 1:
        raise ValueError(f"{name} = {value!r}: it must be a positive Python int")
    return operator.index(value)


def capacity_of(state: ReplayState) -> int:
    """The capacity of a buffer (static: the leading size of its leaves).

    Under ``jax.vmap`` this is the capacity of each buffer; called on a stacked state outside
    ``vmap`` it reads the second axis instead, so call it inside the vmapped function.
    """
    return jax.tree.leaves(state.data)[0].shape[0]


def init(capacity: int, example: Any) -> ReplayState:
    """An empty buffer of ``capacity`` slots for items shaped like ``example``.

    Args:
        capacity: the number of slots, a positive Python int (``ValueError`` otherwise).
        example: one item, a pytree of arrays or scalars with at least one leaf. Only its
            structure, leaf shapes and leaf dtypes are used (Python floats become float32 and
            Python ints int32 unless 64-bit mode is on).

    Returns:
        A ``ReplayState`` whose leaves are zeros ``[capacity, *leaf.shape]`` of the leaf's dtype,
        with ``position = size = 0``.
    """
    capacity = _positive_int("capacity", capacity)
    if not jax.tree.leaves(example):
        raise ValueError(f"example = {example!r} has no leaves: it must hold at least one array")

    def empty(leaf):
        leaf = jnp.asarray(leaf)
        return jnp.zeros((capacity, *leaf.shape), leaf.dtype)

    data = jax.tree.map(empty, example)
    zero = jnp.zeros((), jnp.int32)
    return ReplayState(data=data, position=zero, size=zero)


def _checked(data: Any, items: Any, lead: tuple[int, ...]) -> Any:
    """``items`` as arrays, after checking them against the buffer's layout.

    Each leaf must have the shape ``lead + slot shape`` and a dtype that casts to the buffer's
    without changing kind downwards (an int or a bool may go into a float slot; a float may not go
    into an int slot): ``AssertionError`` (chex) for structure and shapes, ``TypeError`` for dtypes.
    """
    chex.assert_trees_all_equal_structs(data, items)
    paths_and_buffers = jax.tree_util.tree_flatten_with_path(data)[0]
    leaves = [jnp.asarray(leaf) for leaf in jax.tree.leaves(items)]
    for (path, buffer), leaf in zip(paths_and_buffers, leaves, strict=True):
        name = "item" + jax.tree_util.keystr(path)
        chex.assert_shape(leaf, (*lead, *buffer.shape[1:]), custom_message=name)
        if not np.can_cast(leaf.dtype, buffer.dtype, casting="same_kind"):
            raise TypeError(
                f"{name} has dtype {leaf.dtype}, which does not cast safely to the buffer's "
                f"{buffer.dtype}"
            )
    return jax.tree.unflatten(jax.tree.structure(data), leaves)


def add(state: ReplayState, item: Any) -> ReplayState:
    """Writes one item at ``position`` and advances it, overwriting the oldest item when full.

    ``data[:, position] <- item``, ``position <- (position + 1) mod capacity``,
    ``size <- min(size + 1, capacity)``.

    Args:
        state: the buffer.
        item: a pytree with the structure of the buffer's items, each leaf of the slot's shape.

    Returns:
        The new buffer.
    """
    item = _checked(state.data, item, ())
    capacity = capacity_of(state)
    data = jax.tree.map(lambda buffer, leaf: buffer.at[state.position].set(leaf), state.data, item)
    return ReplayState(
        data=data,
        position=(state.position + 1) % capacity,
        size=jnp.minimum(state.size + 1, capacity),
    )


def add_batch(state: ReplayState, items: Any) -> ReplayState:
    """Writes ``B`` items, in order, as ``B`` consecutive calls of :func:`add` would.

    Item ``b`` goes to slot ``(position + b) mod capacity``; then ``position`` advances by ``B``
    modulo ``capacity`` and ``size <- min(size + B, capacity)``. As ``B <= capacity`` the ``B``
    slots are distinct, so one scatter writes them all.

    Args:
        state: the buffer.
        items: a pytree with the structure of the buffer's items, each leaf ``[B, *slot shape]``.
            ``B`` is static and must be at most the capacity (``ValueError`` at trace time).

    Returns:
        The new buffer.
    """
    leaves = jax.tree.leaves(items)
    batch = jnp.shape(leaves[0])[0] if leaves and jnp.ndim(leaves[0]) else None
    if batch is None:
        raise ValueError("add_batch needs items with a leading batch axis [B, ...]")
    capacity = capacity_of(state)
    if batch > capacity:
        raise ValueError(
            f"add_batch got B = {batch} items: it must be at most the capacity {capacity} "
            f"(a larger batch would overwrite its own items)"
        )
    items = _checked(state.data, items, (batch,))
    slots = (state.position + jnp.arange(batch, dtype=jnp.int32)) % capacity
    data = jax.tree.map(
        lambda buffer, leaf: buffer.at[slots].set(leaf, unique_indices=True), state.data, items
    )
    return ReplayState(
        data=data,
        position=(state.position + batch) % capacity,
        size=jnp.minimum(state.size + batch, capacity),
    )


def sample_indices(state: ReplayState, key: jax.Array, batch_size: int) -> jax.Array:
    """The slots :func:`sample` reads: ``batch_size`` draws, uniform with replacement.

    Each index is drawn independently and uniformly from ``{0, ..., size - 1}``, the filled
    slots, with ``jax.random.randint``. Callers that need the same minibatch twice (bootstrapped
    or bagged ensembles, priorities) keep these and call :func:`gather`.

    Sampling an empty buffer (``size = 0``) is undefined: the caller samples only once ``size``
    has reached its minimum (a warm-up of at least one item).

    Args:
        state: the buffer.
        key: a PRNG key.
        batch_size: the number of draws, a static positive Python int.

    Returns:
        ``int32 [batch_size]`` slot indices in ``[0, size)``.
    """
    batch_size = _positive_int("batch_size", batch_size)
    chex.assert_rank(state.size, 0)
    return jax.random.randint(key, (batch_size,), 0, state.size, dtype=jnp.int32)


def gather(state: ReplayState, indices: jax.typing.ArrayLike) -> Any:
    """The items at the given slots.

    Args:
        state: the buffer.
        indices: integer slot indices of any shape ``[...]``, each in ``[0, capacity)`` (JAX
            clamps a larger index to the last slot and a negative one counts from the end).

    Returns:
        A pytree of the buffer's structure, each leaf ``[..., *slot shape]``.
    """
    indices = jnp.asarray(indices)
    chex.assert_type(indices, int)
    return jax.tree.map(lambda buffer: buffer[indices], state.data)


def sample(state: ReplayState, key: jax.Array, batch_size: int) -> Any:
    """A minibatch drawn uniformly with replacement from the filled slots.

    ``gather(state, sample_indices(state, key, batch_size))``: every item stored has probability
    ``1 / size`` at each draw. Sampling an empty buffer is undefined (see
    :func:`sample_indices`).

    Args:
        state: the buffer.
        key: a PRNG key.
        batch_size: the minibatch size, a static positive Python int.

    Returns:
        A pytree of the buffer's structure, each leaf ``[batch_size, *slot shape]``.
    """
    return gather(state, sample_indices(state, key, batch_size))


def items_in_order(state: ReplayState) -> Any:
    """The stored items oldest first, for tests and debugging (not jittable).

    The oldest item sits at slot ``(position - size) mod capacity``, so the items in order of
    insertion are the slots ``(position - size + k) mod capacity`` for ``k = 0, ..., size - 1``.
    The output's leading size is ``size``, which must therefore be concrete: call this on one
    unbatched state outside ``jit``/``vmap``. It reads the buffer on the host with numpy, so it
    compiles nothing.

    Args:
        state: one concrete buffer.

    Returns:
        A pytree of the buffer's structure, each leaf a numpy array ``[size, *slot shape]``.
    """
    size, position = int(state.size), int(state.position)
    slots = (position - size + np.arange(size)) % capacity_of(state)
    return jax.tree.map(lambda buffer: np.asarray(buffer)[slots], state.data)
