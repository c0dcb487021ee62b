"""The copy task's closed forms against enumeration and sampling, and the metrics built on them
(the SFT copy probability, the DPO sequence KL) against hand-built logits and loops."""

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.agents import dpo, sft
from jaxrl.envs import preferences

TASK = preferences.make_copy_task(vocab=3, length=2, noise=0.4)


def _reference(task):
    """The ideal SFT model's per-token distribution given the prompt token 0."""
    q = preferences.copy_probability(task)
    return np.array([q] + [task.noise / task.vocab] * (task.vocab - 1))


def test_copy_entropy_is_the_entropy_of_a_demonstration_token():
    p = _reference(TASK)
    np.testing.assert_allclose(p.sum(), 1.0)
    np.testing.assert_allclose(preferences.copy_entropy(TASK), -(p * np.log(p)).sum(), rtol=1e-12)


@pytest.mark.parametrize("beta", [0.01, 0.1, 1.0, 3.0])
def test_the_optimum_by_enumerating_every_response(beta):
    """pi* ∝ pi_ref exp(score / beta) over all V^P responses to one prompt, enumerated."""
    p = _reference(TASK)
    responses = list(itertools.product(range(TASK.vocab), repeat=TASK.length))
    ref = np.array([np.prod([p[y] for y in r]) for r in responses])
    score = np.array([sum(y == 0 for y in r) for r in responses], float)
    log_star = np.log(ref) + score / beta
    log_star -= np.logaddexp.reduce(log_star)
    star = np.exp(log_star)
    kl = float(np.sum(star * (log_star - np.log(ref))))
    got_kl, got_score = preferences.optimal_copy_tradeoff(TASK, beta)
    np.testing.assert_allclose(got_kl, kl, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_score, float(star @ score), rtol=1e-12)
    q_star = preferences.optimal_copy_probability(TASK, beta)
    np.testing.assert_allclose(q_star * TASK.length, float(star @ score), rtol=1e-12)


def test_demonstrations_copy_at_the_stated_rate_and_the_score_counts_copies():
    task = preferences.make_copy_task(vocab=16, length=6, noise=0.5)
    seqs = jax.jit(preferences.demonstrations, static_argnums=(1, 2))(
        jax.random.key(0), task, 20_000
    )
    assert seqs.shape == (20_000, 13)
    np.testing.assert_array_equal(seqs[:, 6], task.separator)
    copied = np.asarray(preferences.score(task, seqs)).sum() / (20_000 * 6)
    q = preferences.copy_probability(task)
    assert abs(copied - q) < 5 * math.sqrt(q * (1 - q) / (20_000 * 6))
    by_hand = jnp.array([[1, 2, 3, 16, 1, 0, 3], [1, 2, 3, 16, 0, 0, 0]])
    small = preferences.make_copy_task(vocab=16, length=3, noise=0.5)
    np.testing.assert_array_equal(preferences.score(small, by_hand), [2.0, 0.0])


def test_copy_probabilities_read_the_rows_that_predict_the_response():
    task = preferences.make_copy_task(vocab=4, length=3, noise=0.5)
    tokens = jnp.array([[2, 0, 3, 4, 1, 1, 1]])
    logits = np.full((1, 7, 5), -30.0, np.float32)
    for i in range(3):  # row P + i predicts response token i: put its mass on prompt token i
        logits[0, 3 + i, int(tokens[0, i])] = 30.0
    np.testing.assert_allclose(sft.copy_probabilities(task, jnp.asarray(logits), tokens), 1.0)
    shifted = np.roll(logits, 1, axis=1)  # one row late: rows 4 and 5 put mass on wrong tokens
    wrong = sft.copy_probabilities(task, jnp.asarray(shifted), tokens)
    np.testing.assert_allclose(wrong[0, 0], 1 / 5, rtol=1e-5)  # row 3 is now uniform
    assert float(jnp.max(wrong[0, 1:])) < 1e-6


def test_response_kl_against_a_per_position_loop():
    rng = np.random.default_rng(0)
    logits, ref = (rng.normal(size=(3, 7, 5)).astype(np.float32) for _ in range(2))
    mask = jnp.asarray([0, 0, 0, 0, 1, 1, 1], jnp.float32)  # a 3-token prompt, separator
    got = dpo.response_kl(jnp.asarray(logits), jnp.asarray(ref), mask)
    for m in range(3):
        total = 0.0
        for t in range(6):  # row t predicts token t + 1
            if mask[t + 1]:
                lp = logits[m, t] - np.logaddexp.reduce(logits[m, t].astype(np.float64))
                lq = ref[m, t] - np.logaddexp.reduce(ref[m, t].astype(np.float64))
                total += float(np.sum(np.exp(lp) * (lp - lq)))
        np.testing.assert_allclose(float(got[m]), total, rtol=1e-5)


@pytest.mark.parametrize("scale_std", [False, True])
def test_the_reverse_kl_optimum_is_a_stationary_point_of_its_objective(scale_std):
    """DeepSeek's GRPO objective ``E_pi[w r / s_x] - beta KL(pi_ref || pi)`` on DPO's bandit
    (4 contexts x 6 responses), for beta 0.1 and 1: its gradient in the logits, ``pi_y (q_y -
    E_pi q) + beta (pi_ref_y - pi_y)`` with ``q = w r / s``, computed here in float64, vanishes
    at the returned policy (to float32 rounding: the function computes in float32), where
    ``s_x`` is 1 or (``scale_std``) the std of ``r(x, .)`` under that very policy; and it is not
    DPO's ``pi*``."""
    bandit = preferences.make_bandit(
        jax.random.key(3), contexts=4, responses=6, reference_scale=0.5
    )
    reward = np.asarray(bandit.reward, np.float64)
    reference = np.exp(np.asarray(bandit.reference_logits, np.float64))
    weight = 1.0 - 1.0 / 64
    for beta in (0.1, 1.0):
        log_pi = preferences.reverse_kl_optimal_log_policy(
            bandit, beta, reward_weight=weight, scale_std=scale_std
        )
        pi = np.exp(np.asarray(log_pi, np.float64))
        np.testing.assert_allclose(pi.sum(-1), 1.0, atol=1e-6)
        scale = np.ones((4, 1))
        if scale_std:
            mean = (pi * reward).sum(-1, keepdims=True)
            scale = np.sqrt((pi * (reward - mean) ** 2).sum(-1, keepdims=True))
        q = weight * reward / scale
        gradient = pi * (q - (pi * q).sum(-1, keepdims=True)) + beta * (reference - pi)
        # float32's rounding, at the size of q (up to 60 where the std is 0.012)
        np.testing.assert_allclose(gradient, 0.0, atol=2e-6 * max(1.0, np.abs(q).max()))
        dpo_optimum = np.asarray(preferences.optimal_log_policy(bandit, beta), np.float64)
        assert np.max(np.abs(np.log(pi) - dpo_optimum)) > 0.05


def test_best_of_n_kl_by_enumerating_every_draw_with_ties():
    """Best-of-n from a reference of 4 responses with scores 0, 1, 1, 2 (two tie): every one of
    the ``4^n`` sequences of draws enumerated for n = 1..4, the best drawn score's draws tied
    for it chosen with equal chance; the KL over responses of that exact distribution equals
    ``best_of_n_kl`` of the score levels, and ties keep it below ``log n - (n - 1) / n``, which
    many levels of small probability reach. The copy task's point: n = 1 is the reference."""
    scores = [0, 1, 1, 2]
    reference = np.array([0.4, 0.2, 0.3, 0.1])
    levels = np.array([0.4, 0.5, 0.1])  # P(score = 0, 1, 2)
    for n in range(1, 5):
        chosen = np.zeros(4)
        for draws in itertools.product(range(4), repeat=n):
            weight = np.prod(reference[list(draws)])
            best = max(scores[d] for d in draws)
            tied = [d for d in draws if scores[d] == best]
            for d in tied:
                chosen[d] += weight / len(tied)
        kl = float(np.sum(chosen * np.log(chosen / reference)))
        assert preferences.best_of_n_kl(levels, n) == pytest.approx(kl, abs=1e-12)
        if n > 1:
            assert kl < math.log(n) - (n - 1) / n
    many = np.full(100_000, 1e-5)
    for n in (2, 8, 64):
        bound = math.log(n) - (n - 1) / n
        assert preferences.best_of_n_kl(many, n) == pytest.approx(bound, abs=1e-3)
    task = preferences.make_copy_task(vocab=4, length=6, noise=0.5)
    kl, score = preferences.best_of_n_copy_tradeoff(task, 1)
    assert kl == pytest.approx(0.0, abs=1e-12)
    assert score == pytest.approx(6 * preferences.copy_probability(task))
    kl8, score8 = preferences.best_of_n_copy_tradeoff(task, 8)
    assert 0 < kl8 < math.log(8) - 7 / 8 and score8 > score


def test_best_of_n_over_prompts_from_sampled_score_levels():
    """``score_levels`` counts each level of each prompt's sampled scores; ``best_of_n_frontier``
    averages each prompt's exact best-of-n KL and mean score (two prompts worked out by hand:
    best-of-2's levels are ``F_l^2 - F_{l-1}^2``)."""
    task = preferences.make_copy_task(vocab=4, length=2, noise=0.5)
    scores = np.array([[0, 0, 1, 2], [2, 2, 2, 1]])
    levels = preferences.score_levels(task, scores)
    np.testing.assert_allclose(levels, [[0.5, 0.25, 0.25], [0.0, 0.25, 0.75]])
    kl, mean = preferences.best_of_n_frontier(levels, [1, 2])
    np.testing.assert_allclose(kl[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(mean[0], (0.75 + 1.75) / 2)
    first = np.array([0.5**2, 0.75**2 - 0.5**2, 1 - 0.75**2])
    second = np.array([0.0, 0.25**2, 1 - 0.25**2])
    expected_kl = (
        np.sum(first * np.log(first / levels[0]))
        + np.sum(second[1:] * np.log(second[1:] / levels[1, 1:]))
    ) / 2
    np.testing.assert_allclose(kl[1], expected_kl, rtol=1e-12)
    np.testing.assert_allclose(mean[1], (first @ [0, 1, 2] + second @ [0, 1, 2]) / 2)
