"""Preference data with known answers: a contextual bandit and a copy task for a language model.

Both judge responses by a known reward and draw preferences from the Bradley-Terry model of it,
``P(y_1 preferred to y_2 | x) = sigma(r(x, y_1) - r(x, y_2))`` (Bradley and Terry 1952; the
preference model of RLHF and DPO), so what preference optimization should learn is known:
``pi*(y|x) proportional to pi_ref(y|x) exp(r(x, y) / beta)`` (Rafailov et al. 2023, sec. 4).

**The preference bandit.** ``X`` contexts (uniform), ``K`` responses, rewards ``r[x, y]`` in
``[0, 1)`` and a reference policy ``pi_ref[x, .]``, both drawn once from a problem seed. A pair is
``y_1 ~ pi_ref(.|x)`` and ``y_2 ~ pi_ref(.|x)`` conditioned on ``y_2 != y_1`` (a pair of equal
responses carries no preference), labelled by Bradley-Terry. :func:`bandit_pairs` lists every
ordered pair with its probability, for the exact expected loss; :func:`sample_bandit_pairs` draws
a data set.

**The copy task.** A prompt is ``P`` tokens drawn uniformly from ``V`` content tokens; a sequence
is ``prompt, SEP, response`` with a response of ``P`` tokens. The score of a response is the
number of positions that copy the prompt, ``sum_i [y_i = x_i]``. Demonstrations for supervised
fine-tuning copy each token with probability ``1 - noise`` and draw it uniformly otherwise, so a
model that learned them copies with probability ``q = 1 - noise + noise / V`` and each response
token has the entropy :func:`copy_entropy`; DPO's optimum copies with probability
``q e^{1/beta} / (q e^{1/beta} + 1 - q)`` (:func:`optimal_copy_probability`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Bandit(NamedTuple):
    reward: jax.Array  # [X, K] r(x, y)
    reference_logits: jax.Array  # [X, K] log pi_ref(y|x) (normalised)


class Pairs(NamedTuple):
    """Preference pairs: ``chosen`` preferred to ``rejected`` in ``context``, with a weight
    (``1/n`` for a sample; the probability of the labelled pair for the exact list)."""

    context: jax.Array  # [N] int32
    chosen: jax.Array  # [N] int32
    rejected: jax.Array  # [N] int32
    weight: jax.Array  # [N] float32, summing to 1


def make_bandit(
    key: jax.Array, *, contexts: int, responses: int, reference_scale: float = 1.0
) -> Bandit:
    """Rewards uniform on ``[0, 1)`` and reference logits ``N(0, reference_scale^2)``,
    normalised (scale 0: a uniform reference)."""
    if contexts < 1 or responses < 2:
        raise ValueError(
            f"the bandit needs contexts >= 1 and responses >= 2, got {contexts} and {responses}"
        )
    reward_key, reference_key = jax.random.split(key)
    reward = jax.random.uniform(reward_key, (contexts, responses))
    logits = reference_scale * jax.random.normal(reference_key, (contexts, responses))
    return Bandit(reward, jax.nn.log_softmax(logits, axis=-1))


def optimal_log_policy(bandit: Bandit, beta: jax.typing.ArrayLike) -> jax.Array:
    """``log pi*(.|x)`` with ``pi* ∝ pi_ref exp(r / beta)``: ``[X, K]``."""
    return jax.nn.log_softmax(bandit.reference_logits + bandit.reward / beta, axis=-1)


def _second_logits(reference_logits: jax.Array, first: jax.Array) -> jax.Array:
    """Logits of ``y_2 ~ pi_ref`` given ``y_2 != first``."""
    taken = jnp.arange(reference_logits.shape[-1]) == first
    return jnp.where(taken, -jnp.inf, reference_logits)


def bandit_pairs(bandit: Bandit) -> Pairs:
    """Every ordered pair ``(chosen, rejected)`` with ``chosen != rejected`` of every context, with
    its probability: ``(1/X) pi_ref(y_1) pi_ref(y_2 | y_2 != y_1) P(y_1 preferred to y_2)`` summed
    over the two orders in which the pair can be drawn."""
    num_x, num_k = bandit.reward.shape
    x, a, b = jnp.meshgrid(jnp.arange(num_x), jnp.arange(num_k), jnp.arange(num_k), indexing="ij")
    x, a, b = x.ravel(), a.ravel(), b.ravel()
    keep = a != b
    x, a, b = x[keep], a[keep], b[keep]
    log_ref = bandit.reference_logits
    p_a, p_b = jnp.exp(log_ref[x, a]), jnp.exp(log_ref[x, b])
    # P(draw {a, b}) = p_a p_b / (1 - p_a) + p_b p_a / (1 - p_b)
    drawn = p_a * p_b * (1 / (1 - p_a) + 1 / (1 - p_b))
    prefer = jax.nn.sigmoid(bandit.reward[x, a] - bandit.reward[x, b])
    weight = drawn * prefer / num_x
    return Pairs(x.astype(jnp.int32), a.astype(jnp.int32), b.astype(jnp.int32), weight)


def sample_bandit_pairs(key: jax.Array, bandit: Bandit, n: int) -> Pairs:
    """``n`` pairs: a uniform context, ``y_1 ~ pi_ref``, ``y_2 ~ pi_ref`` given ``y_2 != y_1``, the
    Bradley-Terry label; weights ``1/n``."""
    context_key, first_key, second_key, label_key = jax.random.split(key, 4)
    num_x = bandit.reward.shape[0]
    x = jax.random.randint(context_key, (n,), 0, num_x)
    logits = bandit.reference_logits[x]
    a = jax.random.categorical(first_key, logits)
    b = jax.random.categorical(second_key, jax.vmap(_second_logits)(logits, a))
    prefer_a = jax.random.bernoulli(
        label_key, jax.nn.sigmoid(bandit.reward[x, a] - bandit.reward[x, b])
    )
    chosen, rejected = jnp.where(prefer_a, a, b), jnp.where(prefer_a, b, a)
    weight = jnp.full((n,), 1.0 / n, jnp.float32)
    return Pairs(x.astype(jnp.int32), chosen.astype(jnp.int32), rejected.astype(jnp.int32), weight)


def kl(log_p: jax.Array, log_q: jax.Array) -> jax.Array:
    """``KL(p || q)`` over the last axis, from log-probabilities (``0 log 0 = 0``)."""
    p = jnp.exp(log_p)
    return jnp.sum(jnp.where(p > 0, p * (log_p - log_q), 0.0), axis=-1)


# The copy task.


class CopyTask(NamedTuple):
    vocab: int  # V content tokens 0..V-1; the separator is token V
    length: int  # P, the prompt's and the response's length
    noise: float  # a demonstration token is uniform with this probability

    @property
    def separator(self) -> int:
        return self.vocab

    @property
    def vocab_size(self) -> int:  # content tokens and the separator
        return self.vocab + 1

    @property
    def sequence_length(self) -> int:
        return 2 * self.length + 1

    @property
    def response_mask(self) -> jax.Array:
        """``[2P + 1]`` 1 at the response's positions."""
        return (jnp.arange(self.sequence_length) > self.length).astype(jnp.float32)


def make_copy_task(*, vocab: int, length: int, noise: float) -> CopyTask:
    if isinstance(vocab, bool) or not isinstance(vocab, int) or vocab < 2:
        raise ValueError(f"vocab must be an integer >= 2, got {vocab!r}")
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be an integer >= 1, got {length!r}")
    if not 0.0 <= noise <= 1.0:
        raise ValueError(f"noise must be in [0, 1], got {noise!r}")
    return CopyTask(vocab, length, float(noise))


def prompts(key: jax.Array, task: CopyTask, n: int) -> jax.Array:
    """``[n, P + 1]`` uniform prompts followed by the separator."""
    tokens = jax.random.randint(key, (n, task.length), 0, task.vocab)
    return jnp.concatenate([tokens, jnp.full((n, 1), task.separator, tokens.dtype)], axis=1)


def demonstrations(key: jax.Array, task: CopyTask, n: int) -> jax.Array:
    """``[n, 2P + 1]`` supervised sequences: prompt, separator, a noisy copy of the prompt."""
    prompt_key, noise_key, token_key = jax.random.split(key, 3)
    prompt = prompts(prompt_key, task, n)
    source = prompt[:, : task.length]
    noisy = jax.random.bernoulli(noise_key, task.noise, source.shape)
    random = jax.random.randint(token_key, source.shape, 0, task.vocab)
    return jnp.concatenate([prompt, jnp.where(noisy, random, source)], axis=1)


def score(task: CopyTask, sequences: jax.Array) -> jax.Array:
    """``[...]`` the true score of ``[..., 2P + 1]`` sequences: positions copied from the prompt."""
    prompt, response = sequences[..., : task.length], sequences[..., task.length + 1 :]
    return jnp.sum(prompt == response, axis=-1).astype(jnp.float32)


def label(key: jax.Array, task: CopyTask, first: jax.Array, second: jax.Array):
    """Bradley-Terry labels of ``[n, 2P + 1]`` pairs by the score: ``(chosen, rejected)``."""
    prefer_first = jax.random.bernoulli(
        key, jax.nn.sigmoid(score(task, first) - score(task, second))
    )
    keep = prefer_first[:, None]
    return jnp.where(keep, first, second), jnp.where(keep, second, first)


def copy_probability(task: CopyTask) -> float:
    """The probability that a demonstration token copies the prompt: ``1 - noise + noise / V``."""
    return 1.0 - task.noise + task.noise / task.vocab


def copy_entropy(task: CopyTask) -> float:
    """The entropy (nats) of a demonstration's response token: the least per-token negative
    log-likelihood supervised fine-tuning can reach."""
    q, other = copy_probability(task), task.noise / task.vocab
    return -(q * math.log(q) + (task.vocab - 1) * (other * math.log(other) if other else 0.0))


def optimal_copy_probability(task: CopyTask, beta: float) -> float:
    """The copy probability of ``pi* ∝ pi_ref exp(score / beta)`` for the ideal reference: the
    score adds over positions, so ``pi*`` copies each token independently with this probability."""
    return math.exp(optimal_copy_log_probabilities(task, beta)[0])


def optimal_copy_log_probabilities(task: CopyTask, beta: float) -> tuple[float, float]:
    """``(log q*, log(1 - q*))`` of :func:`optimal_copy_probability`, exact for any ``beta > 0``
    (``q*`` rounds to 1 in float64 below ``beta`` of about 0.027)."""
    q = copy_probability(task)
    a, b = math.log(q) + 1.0 / beta, math.log(1.0 - q)
    z = max(a, b) + math.log1p(math.exp(-abs(a - b)))  # log(e^a + e^b)
    return a - z, b - z


def optimal_copy_tradeoff(task: CopyTask, beta: float) -> tuple[float, float]:
    """``(KL(pi* || pi_ref), E_pi* score)`` of the ideal reference's optimum: ``P`` independent
    positions, each a Bernoulli copy with ``q*`` against the reference's ``q``."""
    q = copy_probability(task)
    log_p, log_not = optimal_copy_log_probabilities(task, beta)
    p, not_p = math.exp(log_p), math.exp(log_not)
    kl = p * (log_p - math.log(q)) + not_p * (log_not - math.log(1.0 - q))
    return task.length * kl, task.length * p


def best_of_n_levels(probabilities, n: int) -> np.ndarray:
    """Best-of-``n`` sampling's distribution over score levels: ``q_l = F_l^n - F_{l-1}^n``.

    ``probabilities`` ``[L]`` are the reference's probabilities of the score levels in
    increasing order of score, ``F`` their cumulative sums: the best of ``n`` independent draws
    scores at most level ``l`` with probability ``F_l^n``. Ties among the best draws are broken
    uniformly at random (taking the first of them is the same: the draws are exchangeable), so
    given its level the chosen response is distributed as the reference conditioned on that
    level. Hence ``KL(best-of-n || pi_ref)`` over responses equals the KL between the level
    distributions (:func:`best_of_n_kl`)."""
    p = np.asarray(probabilities, np.float64)
    cumulative = np.cumsum(p) / np.sum(p)
    return np.diff(np.concatenate([[0.0], cumulative**n]))


def best_of_n_kl(probabilities, n: int) -> float:
    """``KL(best-of-n || pi_ref)``, exactly, from the reference's score-level probabilities
    (:func:`best_of_n_levels`). The often-quoted ``log n - (n - 1) / n`` is its value when no two
    responses tie (the limit of many levels, each of small probability) and an upper bound
    otherwise: scores that tie often (the copy task's 0 to ``P`` copies) give less."""
    p = np.asarray(probabilities, np.float64)
    p = p / np.sum(p)
    q = best_of_n_levels(p, n)
    kept = q > 0
    return float(np.sum(q[kept] * np.log(q[kept] / p[kept])))


def best_of_n_copy_tradeoff(task: CopyTask, n: int) -> tuple[float, float]:
    """``(KL(best-of-n || pi_ref), E score)`` of best-of-``n`` sampling from the ideal reference
    of the copy task, whose score is Binomial(``P``, ``q``) (``q`` = :func:`copy_probability`):
    the point of best-of-``n`` beside :func:`optimal_copy_tradeoff`'s curve."""
    q = copy_probability(task)
    levels = np.array(
        [
            math.comb(task.length, k) * q**k * (1 - q) ** (task.length - k)
            for k in range(task.length + 1)
        ]
    )
    chosen = best_of_n_levels(levels, n)
    return best_of_n_kl(levels, n), float(np.sum(chosen * np.arange(task.length + 1)))


def score_levels(task: CopyTask, scores) -> np.ndarray:
    """``[..., P + 1]`` the fraction of ``scores`` ``[..., M]`` (copy scores, integers 0 to ``P``)
    at each level: a reference's score distribution per prompt, from ``M`` sampled responses."""
    scores = np.asarray(scores)
    levels = np.arange(task.length + 1)
    return np.mean(scores[..., None] == levels, axis=-2)


def best_of_n_frontier(levels, ns) -> tuple[np.ndarray, np.ndarray]:
    """``(KL [len(ns)], E score [len(ns)])`` of best-of-``n`` sampling for each ``n`` in ``ns``,
    averaged over prompts: ``levels`` ``[X, L]`` the reference's score-level probabilities per
    prompt (scores ``0 .. L - 1``; :func:`score_levels`), each prompt's KL exact for its levels
    (:func:`best_of_n_kl`)."""
    levels = np.asarray(levels, np.float64)
    score = np.arange(levels.shape[-1])
    kl = [np.mean([best_of_n_kl(p, n) for p in levels]) for n in ns]
    mean = [np.mean([best_of_n_levels(p, n) @ score for p in levels]) for n in ns]
    return np.asarray(kl), np.asarray(mean)


def reverse_kl_optimal_log_policy(
    bandit: Bandit,
    beta: jax.typing.ArrayLike,
    *,
    reward_weight: jax.typing.ArrayLike = 1.0,
    scale_std: bool = False,
    iterations: int = 60,
) -> jax.Array:
    """``log pi(.|x)`` ``[X, K]`` at the stationary point of

        J(pi) = E_x [w E_{y ~ pi} r(x, y) / s_x - beta KL(pi_ref(.|x) || pi(.|x))],

    the objective whose gradient DeepSeek's GRPO follows (``jaxrl.agents.grpo``, the KL in the
    loss as ``k3``: its on-policy gradient is that of ``KL(pi_ref || pi)``, the reverse of
    DPO's). ``w`` is ``reward_weight``; ``s_x`` is 1, or (``scale_std``) the standard deviation of
    ``r(x, .)`` under ``pi`` itself (the group's std, in the limit of large groups).

    Stationarity in the logits, with ``q = w r / s``: ``pi_y (q_y - E_pi q) + beta (pi_ref_y -
    pi_y) = 0``, so ``pi_y = beta pi_ref_y / (c - q_y)`` with ``c = beta + E_pi q``. Summed over
    ``y`` that is ``sum_y beta pi_ref_y / (c - q_y) = 1``, whose left side falls from infinity to
    at most 1 as ``c`` goes from ``max q`` to ``max q + beta``: one root there, found by
    ``iterations`` bisections (every ``pi_y > 0``). With ``scale_std``, ``s_x`` is iterated to its
    fixed point ``s_x = std_pi(r)``, from the reference's std (``iterations`` times).
    """
    reference = jnp.exp(bandit.reference_logits)

    def solve(q):
        top = jnp.max(q, axis=-1, keepdims=True)

        def bisect(_, bounds):
            low, high = bounds
            mid = 0.5 * (low + high)
            above = jnp.sum(beta * reference / (mid - q), axis=-1, keepdims=True) > 1.0
            return jnp.where(above, mid, low), jnp.where(above, high, mid)

        _, c = jax.lax.fori_loop(0, iterations, bisect, (top, top + beta))
        pi = beta * reference / (c - q)
        return jnp.log(pi / jnp.sum(pi, axis=-1, keepdims=True))

    def std(log_pi):
        pi = jnp.exp(log_pi)
        mean = jnp.sum(pi * bandit.reward, axis=-1, keepdims=True)
        return jnp.sqrt(jnp.sum(pi * (bandit.reward - mean) ** 2, axis=-1, keepdims=True))

    q = reward_weight * bandit.reward
    if not scale_std:
        return solve(q)
    start = solve(q / std(bandit.reference_logits))
    return jax.lax.fori_loop(0, iterations, lambda _, log_pi: solve(q / std(log_pi)), start)
