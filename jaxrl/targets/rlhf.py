"""Targets of RL fine-tuning from a reward model: per-token KL estimators, the KL-penalised
sequence reward, and GRPO's and RLOO's group-relative advantages.

**KL estimators** (Schulman 2020, "Approximating KL Divergence",
http://joschu.net/blog/kl-approx.html). For a token ``y`` drawn from the policy ``pi`` with
log-ratio ``l = log pi_ref(y) - log pi(y)``:

* ``k1 = -l``: unbiased for ``KL(pi || pi_ref)``, but negative on some samples;
* ``k2 = l^2 / 2``: biased (its expectation is ``KL`` only to second order), low variance;
* ``k3 = exp(l) - 1 - l``: unbiased (``E_pi[exp(l)] = 1``) and never negative.

**The KL-penalised reward** (Ziegler et al. 2019, https://arxiv.org/abs/1909.08593; Ouyang et
al. 2022, eq. 2): the reward model's score of the whole response, paid at its last token,
minus ``beta`` times the per-token KL estimate at every response token, so that the return of a
response is ``score - beta sum_t k_t``, whose expectation under ``pi`` (with ``k1`` or ``k3``) is
the KL-regularised objective ``E_pi[r] - beta KL(pi || pi_ref)``.

**Group-relative advantages.** For ``G`` responses to one prompt with rewards ``r_1..r_G``:
GRPO (Shao et al. 2024, "DeepSeekMath", https://arxiv.org/abs/2402.03300, sec. 4.1.2) uses
``(r_i - mean(r)) / (std(r) + eps)`` (``std`` over the group, ``ddof = 0``; the division is
optional: without it the advantage keeps the reward's scale); RLOO (Ahmadian et al. 2024, "Back
to Basics", https://arxiv.org/abs/2402.14740) uses the leave-one-out baseline
``r_i - mean_{j != i} r_j``, which is ``G / (G - 1)`` times the mean-baselined advantage and
independent of ``r_i``, hence an unbiased baseline.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

KL_ESTIMATORS = ("k1", "k2", "k3")
BASELINES = ("mean", "leave_one_out")


def kl_estimate(
    log_probs: jax.typing.ArrayLike, reference_log_probs: jax.typing.ArrayLike, estimator: str
) -> jax.Array:
    """The per-token estimate of ``KL(pi || pi_ref)`` at tokens sampled from ``pi``.

    Args:
        log_probs: ``[...]`` ``log pi(y_t)`` of the sampled tokens.
        reference_log_probs: ``[...]`` ``log pi_ref(y_t)`` of the same tokens.
        estimator: ``"k1"``, ``"k2"`` or ``"k3"`` (module docstring).

    Returns:
        ``[...]`` the estimate at each token.
    """
    if estimator not in KL_ESTIMATORS:
        raise ValueError(f"estimator must be one of {KL_ESTIMATORS}, got {estimator!r}")
    log_ratio = jnp.asarray(reference_log_probs) - jnp.asarray(log_probs)
    if estimator == "k1":
        return -log_ratio
    if estimator == "k2":
        return 0.5 * jnp.square(log_ratio)
    return jnp.expm1(log_ratio) - log_ratio


def kl_penalised_rewards(
    score: jax.typing.ArrayLike,
    log_probs: jax.typing.ArrayLike,
    reference_log_probs: jax.typing.ArrayLike,
    mask: jax.typing.ArrayLike,
    *,
    beta: jax.typing.ArrayLike,
    estimator: str = "k1",
) -> jax.Array:
    """Per-token rewards ``[T]`` of one response: ``-beta k_t`` at every response token
    (``mask_t = 1``), plus the reward model's ``score`` at the last of them; 0 elsewhere.

    Args:
        score: ``[]`` the reward model's score of the whole response.
        log_probs, reference_log_probs: ``[T]`` the policy's and the reference's log-probabilities
            of the tokens (only the masked ones are read).
        mask: ``[T]`` 1 at the response's tokens (at least one), 0 elsewhere.
        beta: ``>= 0``, the KL penalty's weight (may be traced: swept).
        estimator: :func:`kl_estimate`'s.

    Returns:
        ``[T]`` rewards, summing to ``score - beta sum_t mask_t k_t``.
    """
    mask = jnp.asarray(mask)
    if mask.ndim != 1 or jnp.shape(log_probs) != mask.shape:
        raise ValueError(
            f"log_probs, reference_log_probs and mask must be [T] alike, got "
            f"{jnp.shape(log_probs)}, {jnp.shape(reference_log_probs)} and {mask.shape}"
        )
    on = mask > 0
    penalty = jnp.where(on, -beta * kl_estimate(log_probs, reference_log_probs, estimator), 0.0)
    last = mask.shape[0] - 1 - jnp.argmax(on[::-1])  # the last response token
    return penalty + jnp.where(jnp.arange(mask.shape[0]) == last, score, 0.0)


def group_advantages(
    rewards: jax.typing.ArrayLike,
    *,
    baseline: str = "mean",
    scale: bool = True,
    eps: float = 1e-6,
) -> jax.Array:
    """Advantages of ``G`` responses per prompt from their rewards ``[..., G]`` (module
    docstring): ``r_i - mean(r)`` (``baseline="mean"``, GRPO) or ``r_i - mean_{j != i} r_j``
    (``"leave_one_out"``, RLOO), divided by ``std(r) + eps`` if ``scale`` (GRPO's; RLOO
    does not scale). ``G >= 2``.
    """
    rewards = jnp.asarray(rewards)
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if rewards.ndim < 1 or rewards.shape[-1] < 2:
        raise ValueError(f"rewards must be [..., G] with G >= 2 responses, got {rewards.shape}")
    size = rewards.shape[-1]
    centred = rewards - jnp.mean(rewards, axis=-1, keepdims=True)
    advantages = centred * size / (size - 1) if baseline == "leave_one_out" else centred
    if scale:
        advantages = advantages / (jnp.std(rewards, axis=-1, keepdims=True) + eps)
    return advantages
