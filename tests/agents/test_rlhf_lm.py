"""RL fine-tuning of the language model, piece by piece (``jaxrl.agents.lm_rl`` and PPO-RLHF's
loss on it): the response tokens' log-probabilities and values of one pass, and PPO-RLHF's
per-token advantages against a plain Python loop. The pipeline through the runner (SFT, a reward
model, PPO-RLHF) is in tests/agents/test_dpo.py, which shares DPO's SFT run."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import transformer
from jaxrl.agents import lm_rl, ppo_rlhf
from jaxrl.envs import preferences


def _tiny():
    """The copy task of 3 tokens of 4 and a transformer of width 8: one block, 2 heads."""
    task = preferences.make_copy_task(vocab=4, length=3, noise=0.5)
    model = transformer.Transformer(
        vocab_size=task.vocab_size,
        max_len=task.sequence_length,
        width=8,
        depth=1,
        heads=2,
        hidden=16,
    )
    return task, model


def test_one_pass_gives_the_response_tokens_log_probs_and_values():
    """``policy_outputs`` (the final features, the logits' head applied by hand, a value head)
    against the model's own logits: row ``t`` scores token ``t + 1``, rows P..2P-1 the response;
    the values are ``w . h_t + b`` of the same rows."""
    task, model = _tiny()
    sequences = preferences.demonstrations(jax.random.key(0), task, 5)
    body = jax.jit(model.init)(jax.random.key(1), sequences)
    head, bias = jax.random.normal(jax.random.key(2), (8,)), jnp.float32(0.5)
    outputs = jax.jit(lambda params: lm_rl.policy_outputs(model, params, task, sequences))
    log_probs, values = outputs(lm_rl.Params(body, head, bias))

    logits = np.asarray(jax.jit(model.apply)(body, sequences)[0], np.float64)
    features = np.asarray(
        jax.jit(lambda p: model.apply(p, sequences, features=True))(body)[0], np.float64
    )
    tokens = np.asarray(sequences)
    for b in range(5):
        for i in range(task.length):
            row = task.length + i  # predicts response token i, at position P + 1 + i
            z = logits[b, row]
            log_p = z[tokens[b, row + 1]] - np.log(np.sum(np.exp(z - z.max()))) - z.max()
            np.testing.assert_allclose(log_probs[b, i], log_p, rtol=1e-5, atol=1e-6)
            value = features[b, row] @ np.asarray(head, np.float64) + 0.5
            np.testing.assert_allclose(values[b, i], value, rtol=1e-5, atol=1e-6)
    plain = jax.jit(lambda p: lm_rl.token_log_probs(model, p, task, sequences))(body)
    np.testing.assert_allclose(plain, log_probs, rtol=1e-5, atol=1e-6)


def test_ppo_rlhf_token_advantages_are_gae_of_the_kl_penalised_rewards():
    """Per token ``r_t = -beta k_t``, plus the score at the last token; ``A_t = delta_t +
    lambda A_{t+1}`` with ``delta_t = r_t + V_{t+1} - V_t`` and nothing after the last token,
    worked out in float64 for k1 and k3."""
    rng = np.random.default_rng(0)
    batch, tokens, beta, lam = 3, 4, 0.3, 0.9
    rollout = lm_rl.Rollout(
        sequences=jnp.zeros((batch, 2 * tokens + 1), jnp.int32),
        log_probs=jnp.asarray(-rng.uniform(0.1, 2.0, (batch, tokens)), jnp.float32),
        reference_log_probs=jnp.asarray(-rng.uniform(0.1, 2.0, (batch, tokens)), jnp.float32),
        values=jnp.asarray(rng.normal(size=(batch, tokens)), jnp.float32),
        score=jnp.asarray(rng.normal(size=(batch,)), jnp.float32),
    )
    hparams = type("H", (), {"beta": beta, "gae_lambda": lam})()
    for estimator in ("k1", "k3"):
        advantage, returns = ppo_rlhf.token_advantages(rollout, hparams, estimator=estimator)
        logp = np.asarray(rollout.log_probs, np.float64)
        ref = np.asarray(rollout.reference_log_probs, np.float64)
        values = np.asarray(rollout.values, np.float64)
        for b in range(batch):
            log_ratio = ref[b] - logp[b]
            k = -log_ratio if estimator == "k1" else np.expm1(log_ratio) - log_ratio
            rewards = -beta * k
            rewards[-1] += float(rollout.score[b])
            expected, following = np.zeros(tokens), 0.0
            for t in reversed(range(tokens)):
                next_value = values[b, t + 1] if t + 1 < tokens else 0.0
                following = rewards[t] + next_value - values[b, t] + lam * following
                expected[t] = following
            np.testing.assert_allclose(advantage[b], expected, rtol=1e-5, atol=1e-5)
            np.testing.assert_allclose(returns[b], expected + values[b], rtol=1e-5, atol=1e-5)


def test_grpo_on_the_lm_is_the_policy_gradient_of_group_relative_shaped_scores():
    """At the sampling policy (ratio 1), the gradient of GRPO's LM loss is ``-(1 / (B P))
    sum_b A_b grad log pi(y_b)``, ``A_b = s_b - mean of its group``, ``s_b = score_b - beta
    sum_t k1_t`` worked out in float64 from the rollout."""
    from jaxrl.agents import grpo

    task, model = _tiny()
    groups, size, beta = 2, 3, 0.5
    sequences = preferences.demonstrations(jax.random.key(0), task, groups * size)
    body = jax.jit(model.init)(jax.random.key(1), sequences)
    reference = jax.jit(model.init)(jax.random.key(2), sequences)
    params = lm_rl.Params(body, jnp.zeros((8,)), jnp.float32(0.0))

    @jax.jit
    def sampled(params, reference):
        log_probs, values = lm_rl.policy_outputs(model, params, task, sequences)
        reference_log_probs = lm_rl.token_log_probs(model, reference, task, sequences)
        score = preferences.score(task, sequences)
        return lm_rl.Rollout(sequences, log_probs, reference_log_probs, values, score)

    rollout = sampled(params, reference)
    hparams = type("H", (), {"beta": beta, "clip_epsilon": 0.2})()
    loss = grpo.make_lm_loss(model, task, group_size=size, scale_std=False, kl_penalty="reward")
    grads = jax.jit(jax.grad(lambda p: loss(p, rollout, hparams)[0]))(params)

    k1 = np.asarray(rollout.log_probs, np.float64) - np.asarray(
        rollout.reference_log_probs, np.float64
    )
    shaped = np.asarray(rollout.score, np.float64) - beta * k1.sum(axis=1)
    by_group = shaped.reshape(groups, size)
    advantage = (by_group - by_group.mean(axis=1, keepdims=True)).ravel()

    def surrogate(p):
        mine, _ = lm_rl.policy_outputs(model, p, task, sequences)
        return -jnp.sum(jnp.asarray(advantage, jnp.float32)[:, None] * mine) / mine.size

    expected = jax.jit(jax.grad(surrogate))(params)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    assert any(np.any(np.asarray(g) != 0) for g in jax.tree.leaves(grads))


def test_the_frontiers_least_kl_and_the_over_optimisation_verdict():
    """``lm_frontier.least_kl`` on a curve by hand (the per-beta means in any order, joined by
    straight lines in order of KL); ``lm_overoptimisation.verdict`` counts a seed as peaking and
    falling only when its last point is below its own highest by more than 5 noise bounds."""
    from experiments import lm_frontier, lm_overoptimisation

    kl, score = [2.0, 0.0, 1.0], [5.0, 3.0, 4.0]
    assert lm_frontier.least_kl(kl, score, 3.5) == 0.5
    assert lm_frontier.least_kl(kl, score, 2.0) == 0.0
    assert lm_frontier.least_kl(kl, score, 4.5) == 1.5
    assert lm_frontier.least_kl(kl, score, 5.5) is None
    kl = np.tile(np.arange(4.0)[:, None], (1, 2))
    score = np.array([[3.0, 3.0], [4.0, 4.0], [3.9, 3.5], [3.85, 3.0]])  # seed 0 dips 0.15
    line = lm_overoptimisation.verdict(kl, np.zeros_like(kl), score, noise=0.1)
    assert "peaks and falls (by more than 0.50) in 1 of 2 seeds" in line


def test_a_reward_workdir_that_is_not_an_lm_reward_model_is_one_line(tmp_path):
    """Refused from the run's config.json before anything is loaded: not a directory, a run of
    another module, and the bandit's reward model (not a language model's)."""
    import importlib

    import pytest

    from jaxrl.agents import reward_model
    from jaxrl.run import ConfigError

    config = importlib.import_module("jaxrl.configs.dpo_lm").get_config("ppo_rlhf")
    where = "config.reward_workdir"
    with pytest.raises(ConfigError, match="is not a directory"):
        reward_model.load_lm_reward_model(str(tmp_path / "none"), where, config)
    for name in ("dpo_bandit", "reward_model_bandit"):
        other = importlib.import_module(f"jaxrl.configs.{name}").get_config()
        workdir = tmp_path / name
        workdir.mkdir()
        (workdir / "config.json").write_text(other.to_json_best_effort(sort_keys=True))
        with pytest.raises(ConfigError, match=r"not of jaxrl.agents.reward_model on a language"):
            reward_model.load_lm_reward_model(str(workdir), where, config)
