"""One value from an ensemble's estimates: the mean, or a pessimistic lower estimate.

An ensemble of ``K`` value functions gives ``K`` estimates of each action value. A target can
bootstrap from their mean (the bagged estimate), from their minimum (clipped double Q-learning
with ``K = 2``: Fujimoto et al. 2018, https://arxiv.org/abs/1802.09477; Lan et al. 2020, Maxmin
Q-learning, https://arxiv.org/abs/2002.06487), or from ``mean - k std``, a lower confidence bound
that penalises the actions the members disagree on (Osband et al. 2016, Bootstrapped DQN,
https://arxiv.org/abs/1602.04621, for the bagged ensemble; the ``k std`` penalty as in
pessimistic offline methods, e.g. An et al. 2021, https://arxiv.org/abs/2110.01548).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

ENSEMBLE_VALUES = ("mean", "min", "lcb")


def ensemble_value(
    q_members: jax.typing.ArrayLike, *, kind: str, pessimism: jax.typing.ArrayLike = 0.0
) -> jax.Array:
    """The members' estimates ``[K, A]`` of one state's action values combined into ``[A]``.

    ``"mean"``: ``mean_k q_k``; ``"min"``: ``min_k q_k``; ``"lcb"``: ``mean_k q_k - pessimism *
    std_k q_k`` (population standard deviation, so one member has std 0). Gradients are not
    stopped here: the TD functions of ``jaxrl.targets`` stop them at the target.

    Args:
        q_members: ``[K, A]`` float, member ``k``'s action values.
        kind: one of ``ENSEMBLE_VALUES``.
        pessimism: ``[]`` the ``k`` of ``"lcb"`` (>= 0; may be traced); ignored otherwise.

    Returns:
        ``[A]`` combined action values.
    """
    q_members = jnp.asarray(q_members)
    chex.assert_rank(q_members, 2)
    chex.assert_type(q_members, float)
    if kind == "mean":
        return jnp.mean(q_members, axis=0)
    if kind == "min":
        return jnp.min(q_members, axis=0)
    if kind == "lcb":
        pessimism = jnp.asarray(pessimism, q_members.dtype)
        chex.assert_rank(pessimism, 0)
        return jnp.mean(q_members, axis=0) - pessimism * jnp.std(q_members, axis=0)
    raise ValueError(f"kind must be one of {ENSEMBLE_VALUES}, got {kind!r}")
