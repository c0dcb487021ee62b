"""Networks shared by the deep agents (flax linen), and ensembles of them held as one pytree.

An ensemble of ``K`` networks is not a Python list: its parameters are ONE pytree whose leaves
have a leading ``[K]`` axis, made by vmapping ``module.init`` over ``K`` keys and applied by
vmapping ``module.apply`` over that axis. A ``K``-member forward pass is then one batched program
(no Python loop over members), and the whole ensemble trains with one optimizer step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    """A multilayer perceptron: ReLU hidden layers, then a linear output layer.

    Attributes:
        hidden: widths of the hidden layers (may be empty: a linear map).
        out: width of the output (e.g. the number of actions of a Q-network).
    """

    hidden: Sequence[int]
    out: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


def q_network(hidden: Sequence[int], num_actions: int) -> MLP:
    """A Q-network ``obs [..., D] -> q [..., A]``: an :class:`MLP` with one output per action.

    Raises ``ValueError`` for a non-positive width or number of actions.
    """
    hidden = tuple(hidden)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
        raise ValueError(f"hidden must be a tuple of positive integers, got {hidden!r}")
    if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 1:
        raise ValueError(f"num_actions must be a positive integer, got {num_actions!r}")
    return MLP(hidden=hidden, out=num_actions)


def ensemble_init(module: nn.Module, key: jax.Array, example: jax.Array, size: int) -> Any:
    """Parameters of ``size`` independently initialised copies of ``module``, stacked.

    Member ``k`` is initialised with ``jax.random.split(key, size)[k]``, so it equals
    ``module.init(that_key, example)`` (the ensemble equals ``size`` separate networks).

    Returns:
        A parameter pytree whose leaves have a leading ``[size]`` axis.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return jax.vmap(module.init, in_axes=(0, None))(jax.random.split(key, size), example)


def ensemble_apply(module: nn.Module, params: Any, x: jax.Array) -> jax.Array:
    """Every member applied to the same input: ``[K, ...]`` outputs (one vmapped program)."""
    return jax.vmap(module.apply, in_axes=(0, None))(params, x)


def ensemble_apply_each(module: nn.Module, params: Any, xs: jax.Array) -> jax.Array:
    """Member ``k`` applied to its own input ``xs[k]`` (e.g. its own bootstrap minibatch)."""
    return jax.vmap(module.apply)(params, xs)


def member(params: Any, k: int) -> Any:
    """The parameters of member ``k`` of an ensemble."""
    return jax.tree.map(lambda leaf: leaf[k], params)


def stack(members: Sequence[Any]) -> Any:
    """Separate networks' parameters stacked into one ensemble pytree."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
