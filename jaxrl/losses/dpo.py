"""Direct preference optimization: sequence log-probabilities and the DPO loss family.

A preference pair is a prompt ``x`` with a chosen response ``y_w`` and a rejected one ``y_l``.
DPO (Rafailov et al. 2023, "Direct Preference Optimization: Your Language Model is Secretly a
Reward Model", https://arxiv.org/abs/2305.18290) fits the policy so that its implicit reward
``r_theta(x, y) = beta (log pi_theta(y|x) - log pi_ref(y|x))`` explains the preferences under the
Bradley-Terry model. With the log-ratio difference

    h = [log pi(y_w|x) - log pi_ref(y_w|x)] - [log pi(y_l|x) - log pi_ref(y_l|x)],

the per-pair losses are

* ``"sigmoid"`` (DPO, eq. 7): ``-(1 - eps) log sigma(beta h) - eps log sigma(-beta h)``; with
  label smoothing ``eps > 0`` the conservative DPO of Mitchell (2023), "A note on DPO with noisy
  preferences", which assumes each label is flipped with probability ``eps``;
* ``"robust"``: ``[(1 - eps)(-log sigma(beta h)) - eps (-log sigma(-beta h))] / (1 - 2 eps)``,
  the unbiased loss under label noise ``eps`` of Chowdhury et al. (2024), "Provably Robust DPO",
  https://arxiv.org/abs/2403.00409 (``eps = 0``: DPO);
* ``"hinge"``: ``max(0, 1 - beta h)``, the hinge loss on the reference-normalised log-ratios of
  RSO (Liu et al. 2023, https://arxiv.org/abs/2309.06657), after SLiC's calibration loss
  (Zhao et al. 2023, https://arxiv.org/abs/2305.10425; SLiC has no reference: use
  ``reference_free=True``);
* ``"ipo"``: ``(h - 1 / (2 beta))^2``, IPO's regression to a fixed margin (Azar et al. 2023,
  "A General Theoretical Paradigm to Understand Learning from Human Preferences",
  https://arxiv.org/abs/2310.12036, eq. 17; the paper uses length-averaged log-probabilities:
  ``sequence_log_probs(..., average=True)``).

``reference_free=True`` drops the reference (``log pi_ref = 0``, a uniform reference): the
implicit reward is then ``beta log pi(y|x)``. Every loss is written with ``log_sigmoid`` and
``relu``, never ``log(sigmoid(.))``, so losses and gradients stay finite for log-ratio differences
of ``1e4`` and more in float32.

At the optimum of the sigmoid loss over all pairs of a context, with preferences drawn from the
Bradley-Terry model of a reward ``r``, ``pi*(y|x) = pi_ref(y|x) exp(r(x, y) / beta) / Z(x)``
(DPO, sec. 4): the preference bandit of ``jaxrl.agents.dpo`` checks it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

LOSS_TYPES = ("sigmoid", "ipo", "hinge", "robust")
SMOOTHED = ("sigmoid", "robust")  # the loss types that take label_smoothing


def sequence_log_probs(
    logits: jax.typing.ArrayLike,
    tokens: jax.typing.ArrayLike,
    mask: jax.typing.ArrayLike,
    *,
    average: bool = False,
) -> jax.Array:
    """``sum_t mask_t log p(tokens_t | tokens_<t)`` of one sequence (or its mean over the mask).

    ``logits`` is a causal language model's output on ``tokens`` itself: ``logits[t]`` scores the
    NEXT token, ``tokens[t + 1]``; the shift happens here. ``mask[t] = 1`` marks the response's
    tokens (prompt and padding 0); position 0 has no prediction and is never counted, whatever
    ``mask[0]`` says. Log-probabilities come from ``log_softmax`` (never the log of a softmax).

    Args:
        logits: ``[T, V]`` float logits of one sequence (vmap for a batch).
        tokens: ``[T]`` integer tokens.
        mask: ``[T]`` 0/1 (bool or number) marking the tokens to score.
        average: divide by the number of scored tokens (IPO's length normalisation); a sequence
            with none scores 0.

    Returns:
        ``[]`` the summed (or averaged) log-probability.
    """
    logits, tokens, mask = jnp.asarray(logits), jnp.asarray(tokens), jnp.asarray(mask)
    if logits.ndim != 2 or tokens.ndim != 1 or mask.ndim != 1:
        raise ValueError(
            "sequence_log_probs takes one sequence: logits [T, V], tokens [T] and mask [T], got "
            f"shapes {logits.shape}, {tokens.shape} and {mask.shape} (vmap over a batch)"
        )
    if not (logits.shape[0] == tokens.shape[0] == mask.shape[0]):
        raise ValueError(
            f"logits, tokens and mask must have the same length T, got {logits.shape[0]}, "
            f"{tokens.shape[0]} and {mask.shape[0]}"
        )
    chex.assert_type(logits, float)
    chex.assert_type(tokens, int)
    log_p = jax.nn.log_softmax(logits[:-1], axis=-1)
    token_log_p = jnp.take_along_axis(log_p, tokens[1:, None], axis=-1)[:, 0]
    weights = mask[1:].astype(log_p.dtype)
    total = jnp.sum(weights * token_log_p)
    if average:
        total = total / jnp.maximum(jnp.sum(weights), 1.0)
    return total


class DPOLoss(NamedTuple):
    """Per-example losses and implicit rewards (the rewards carry no gradient)."""

    loss: jax.Array  # [B]
    chosen_reward: jax.Array  # [B] beta (log pi(y_w|x) - log pi_ref(y_w|x))
    rejected_reward: jax.Array  # [B] beta (log pi(y_l|x) - log pi_ref(y_l|x))


def _check_hyperparameters(beta, label_smoothing, loss_type, reference_free) -> None:
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"loss_type must be one of {LOSS_TYPES}, got {loss_type!r}")
    if not isinstance(reference_free, bool):
        raise ValueError(f"reference_free must be True or False, got {reference_free!r}")
    if not isinstance(beta, jax.core.Tracer):
        value = float(beta)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"beta must be a finite number > 0, got {beta!r}")
    if not isinstance(label_smoothing, jax.core.Tracer):
        value = float(label_smoothing)
        if not 0.0 <= value < 0.5:
            raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing!r}")
        if value > 0 and loss_type not in SMOOTHED:
            raise ValueError(
                f"label_smoothing applies to the loss types {SMOOTHED}, not {loss_type!r}; "
                f"got label_smoothing={label_smoothing!r}"
            )


def dpo_loss(
    policy_chosen_logps: jax.typing.ArrayLike,
    policy_rejected_logps: jax.typing.ArrayLike,
    reference_chosen_logps: jax.typing.ArrayLike | None,
    reference_rejected_logps: jax.typing.ArrayLike | None,
    *,
    beta: jax.typing.ArrayLike,
    label_smoothing: jax.typing.ArrayLike = 0.0,
    loss_type: str = "sigmoid",
    reference_free: bool = False,
) -> DPOLoss:
    """The per-pair preference losses of the DPO family (see the module docstring).

    The reference log-probabilities are constants (their gradient is stopped), so a reference
    computed by the same network cannot leak a gradient.

    Args:
        policy_chosen_logps: ``[B]`` ``log pi(y_w|x)`` (e.g. :func:`sequence_log_probs`),
            differentiable.
        policy_rejected_logps: ``[B]`` ``log pi(y_l|x)``.
        reference_chosen_logps: ``[B]`` ``log pi_ref(y_w|x)``; ``None`` only with
            ``reference_free``.
        reference_rejected_logps: ``[B]`` ``log pi_ref(y_l|x)``; likewise.
        beta: ``> 0``, the strength of the KL regularisation (may be traced: a swept beta).
        label_smoothing: the assumed label-flip probability in ``[0, 0.5)``, for ``"sigmoid"``
            (conservative DPO) and ``"robust"``.
        loss_type: one of ``"sigmoid"``, ``"ipo"``, ``"hinge"``, ``"robust"``.
        reference_free: use ``log pi_ref = 0`` (the reference arguments are ignored and may be
            ``None``).

    Returns:
        :class:`DPOLoss`: ``[B]`` losses (average them for the batch loss) and the ``[B]``
        implicit rewards of the chosen and rejected responses.
    """
    _check_hyperparameters(beta, label_smoothing, loss_type, reference_free)
    names = ["policy_chosen_logps", "policy_rejected_logps"]
    values = [policy_chosen_logps, policy_rejected_logps]
    if not reference_free:
        names += ["reference_chosen_logps", "reference_rejected_logps"]
        values += [reference_chosen_logps, reference_rejected_logps]
        missing = [n for n, v in zip(names, values, strict=True) if v is None]
        if missing:
            raise ValueError(f"{missing} may be None only with reference_free=True")
    arrays = [jnp.asarray(v) for v in values]
    for name, x in zip(names, arrays, strict=True):
        if x.ndim != 1 or not jnp.issubdtype(x.dtype, jnp.floating):
            raise ValueError(
                f"{name} must be a [B] float array (one log-probability per pair), got shape "
                f"{x.shape} and dtype {x.dtype}"
            )
    if len({x.shape for x in arrays}) > 1:
        shapes = ", ".join(f"{n} {x.shape}" for n, x in zip(names, arrays, strict=True))
        raise ValueError(f"the log-probabilities must have the same shape [B], got {shapes}")
    chosen, rejected = arrays[0], arrays[1]
    if reference_free:
        ref_chosen, ref_rejected = jnp.zeros_like(chosen), jnp.zeros_like(rejected)
    else:
        ref_chosen = jax.lax.stop_gradient(arrays[2])
        ref_rejected = jax.lax.stop_gradient(arrays[3])
    chosen_ratio, rejected_ratio = chosen - ref_chosen, rejected - ref_rejected
    h = chosen_ratio - rejected_ratio
    eps = label_smoothing
    if loss_type == "sigmoid":
        loss = -(1 - eps) * jax.nn.log_sigmoid(beta * h) - eps * jax.nn.log_sigmoid(-beta * h)
    elif loss_type == "robust":
        loss = (-(1 - eps) * jax.nn.log_sigmoid(beta * h) + eps * jax.nn.log_sigmoid(-beta * h)) / (
            1 - 2 * eps
        )
    elif loss_type == "hinge":
        loss = jax.nn.relu(1 - beta * h)
    else:  # "ipo"
        loss = jnp.square(h - 1 / (2 * beta))
    return DPOLoss(
        loss=loss,
        chosen_reward=jax.lax.stop_gradient(beta * chosen_ratio),
        rejected_reward=jax.lax.stop_gradient(beta * rejected_ratio),
    )


def preference_metrics(
    out: DPOLoss,
    policy_chosen_logps: jax.Array,
    policy_rejected_logps: jax.Array,
    *,
    weight: jax.Array | None = None,
) -> dict[str, jax.Array]:
    """What DPO training reports, each a mean over the pairs (weighted by ``weight`` ``[B]``,
    summing to 1, if given): the loss, the implicit rewards of chosen and rejected responses,
    the reward accuracy (the fraction of pairs whose chosen response has the larger implicit
    reward; a tie counts as incorrect), the margin (chosen minus rejected reward) and the policy's
    log-probabilities of both."""
    chosen, rejected = out.chosen_reward, out.rejected_reward
    if weight is None:
        weight = jnp.full(chosen.shape, 1.0 / chosen.shape[0], chosen.dtype)

    def mean(x):
        return jnp.sum(weight * x)

    return {
        "loss": mean(out.loss),
        "chosen_reward": mean(chosen),
        "rejected_reward": mean(rejected),
        "reward_accuracy": mean((chosen > rejected).astype(chosen.dtype)),
        "reward_margin": mean(chosen - rejected),
        "chosen_logp": mean(jax.lax.stop_gradient(policy_chosen_logps)),
        "rejected_logp": mean(jax.lax.stop_gradient(policy_rejected_logps)),
    }
