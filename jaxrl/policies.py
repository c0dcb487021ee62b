"""Action selection shared by the value-based learners: epsilon-greedy from action values."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def epsilon_greedy_action(q_s: jax.Array, u: jax.Array, epsilon: jax.Array) -> jax.Array:
    """An epsilon-greedy action from one uniform ``u``.

    Uniform over all actions when ``u < epsilon`` (then ``u / epsilon`` is uniform again and picks
    it), else the greedy one (lowest index on ties). This is the book's policy (Zhao, ch. 5.4):
    the greedy action has probability ``1 - epsilon (|A| - 1) / |A|``.
    """
    num_actions = q_s.shape[-1]
    explore = u < epsilon
    random_action = jnp.minimum(jnp.floor(num_actions * u / epsilon), num_actions - 1)
    return jnp.where(explore, random_action.astype(jnp.int32), jnp.argmax(q_s).astype(jnp.int32))


def epsilon_greedy_probs(q_s: jax.Array, epsilon: jax.Array) -> jax.Array:
    """``pi(. | s)`` of the epsilon-greedy policy of ``q_s`` (``[A]``; ties to the lowest index)."""
    num_actions = q_s.shape[-1]
    greedy = jax.nn.one_hot(jnp.argmax(q_s), num_actions, dtype=q_s.dtype)
    return greedy * (1.0 - epsilon) + epsilon / num_actions
