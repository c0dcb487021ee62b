"""The Bradley-Terry reward-model loss: the second stage of RLHF, learned from preference pairs.

Under the Bradley-Terry model a response ``y_w`` is preferred to ``y_l`` for a prompt ``x`` with
probability ``sigma(r(x, y_w) - r(x, y_l))``. A reward model ``r_phi`` is fitted by maximum
likelihood on labelled pairs (Christiano et al. 2017, https://arxiv.org/abs/1706.03741;
Ouyang et al. 2022, "Training language models to follow instructions with human feedback",
https://arxiv.org/abs/2203.02155, eq. 1):

    loss = -log sigma(r_phi(x, y_w) - r_phi(x, y_l) - m),

with an optional margin ``m >= 0`` (Llama 2's, Touvron et al. 2023,
https://arxiv.org/abs/2307.09288, eq. 2: the pair must be won by at least ``m``). The loss sees
only reward differences within a prompt, so ``r_phi`` is identified up to a constant per prompt,
which the KL-regularised optimum ``pi_ref exp(r / beta) / Z(x)`` does not see either. Written
with ``log_sigmoid``: finite for reward differences of ``1e4`` and more in float32.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class RewardModelLoss(NamedTuple):
    """Per-pair losses and what training reports (means over the pairs, weighted if asked)."""

    loss: jax.Array  # [B]
    metrics: dict  # loss, accuracy, margin: scalars


def bradley_terry_loss(
    chosen_rewards: jax.typing.ArrayLike,
    rejected_rewards: jax.typing.ArrayLike,
    *,
    margin: jax.typing.ArrayLike = 0.0,
    weight: jax.typing.ArrayLike | None = None,
) -> RewardModelLoss:
    """``-log sigma(r_w - r_l - margin)`` per pair, and the reward model's report.

    Args:
        chosen_rewards: ``[B]`` ``r_phi(x, y_w)``, differentiable.
        rejected_rewards: ``[B]`` ``r_phi(x, y_l)``.
        margin: ``>= 0`` (scalar or ``[B]``): how much the chosen response must win by.
        weight: ``[B]`` summing to 1 for the report's means (default: uniform).

    Returns:
        :class:`RewardModelLoss`: ``loss [B]``; ``metrics["loss"]`` the (weighted) mean loss,
        ``metrics["accuracy"]`` the fraction of pairs whose chosen response has the larger
        reward (a tie counts one half), ``metrics["margin"]`` the mean ``r_w - r_l``.
    """
    chosen, rejected = jnp.asarray(chosen_rewards), jnp.asarray(rejected_rewards)
    if chosen.ndim != 1 or chosen.shape != rejected.shape:
        raise ValueError(
            f"chosen_rewards and rejected_rewards must both be [B], got {chosen.shape} and "
            f"{rejected.shape}"
        )
    if not isinstance(margin, jax.core.Tracer) and bool(np.any(np.asarray(margin) < 0)):
        raise ValueError(f"margin must be >= 0, got {margin!r}")
    difference = chosen - rejected
    loss = -jax.nn.log_sigmoid(difference - margin)
    if weight is None:
        weight = jnp.full(chosen.shape, 1.0 / chosen.shape[0], chosen.dtype)

    def mean(x):
        return jnp.sum(weight * x)

    won = jax.lax.stop_gradient(difference)
    metrics = {
        "loss": mean(loss),
        "accuracy": mean((won > 0) + 0.5 * (won == 0)),
        "margin": mean(won),
    }
    return RewardModelLoss(loss, metrics)
