"""PPO-RLHF: a critic's baseline, PPO's clipped loss over several epochs, and a KL-shaped reward
whose fixed point is DPO's optimum; on the preference bandit (``config.task = "bandit"``) or the
language model (``"lm"``).

**The bandit**, on the scaffold of ``jaxrl.agents.bandit_rl`` (DPO's bandit, a tabular policy
started at the reference's). Every step draws ``samples`` responses per context from the policy,
shapes the reward as ``s = r(x, y) - beta k1(y)`` (``bandit_rl.shaped_rewards``; the per-token KL
penalty of Ziegler et al. 2019 and Ouyang et al. 2022, here one token per response), and takes
``epochs`` optimizer steps on

    L = clipped_surrogate(log pi, log pi_old, A) + value_coef mean 0.5 (s - V(x))^2,

``A = s - V(x)`` with the critic's value (gradient stopped) as the baseline: a separate critic,
a table ``V[x]`` trained by regression on ``s`` (``jaxrl.losses.squared_loss``). A baseline
that depends on the context alone leaves the expected policy gradient unchanged, so the
stationary point is GRPO's (``grpo.py`` derives it): ``pi* ∝ pi_ref exp(r / beta)``; the clip
bounds how far the later epochs move the policy from the one that drew the responses.

**The language model**, on the scaffold of ``jaxrl.agents.lm_rl`` (the policy and the frozen
reference from an SFT run, a value head on the policy). A response of ``P`` tokens is an episode
of ``P`` actions. Its per-token rewards are ``targets.kl_penalised_rewards``: ``-beta k_t`` at
every token (``k1`` or ``k3`` of the sampled token, ``kl_estimator``) and the score of the whole
response (the reward model's, or the true score) at the last; the advantages are GAE
(``targets.generalized_advantage_estimation``, discount 1, ``gae_lambda``, 0 after the last
token) on the value head's ``V`` before each token; and every epoch minimises the clipped
surrogate over all response tokens plus ``value_coef`` times the squared error of ``V`` against
the lambda-returns ``A + V``. With ``k1`` the expected return of a response is ``E_pi[score] -
beta KL(pi || pi_ref)``, whose maximiser is ``pi* ∝ pi_ref exp(score / beta)`` over whole
responses, the fixed point of the bandit's update with responses as actions.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import losses, optim, targets
from jaxrl.agents import bandit_rl, lm_rl, preference_bandit
from jaxrl.run import POSITIVE, Experiment, fields, real

MODULE = "jaxrl.agents.ppo_rlhf"
TASKS = ("bandit", "lm")


_bandit, _lm = preference_bandit.on_task("bandit"), preference_bandit.on_task("lm")


SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit, or the language model"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    samples=fields.static(
        fields.POSITIVE_INT, "responses drawn per context (bandit) or prompts (LM) and step"
    ),
    epochs=fields.static(fields.POSITIVE_INT, "optimizer steps per batch of responses"),
    reward_workdir=preference_bandit.REWARD_WORKDIR_FIELD,
    **preference_bandit.bandit_fields(when=_bandit),
    **lm_rl.lm_fields(when=_lm),
    kl_estimator=fields.static(
        fields.one_of(*targets.KL_ESTIMATORS), "the per-token KL penalty's estimator", when=_lm
    ),
    beta=fields.swept(POSITIVE, "the KL penalty's weight"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the clipped loss's range"),
    value_coef=fields.swept(real(0.0), "the critic's loss weight"),
    gae_lambda=fields.swept(real(0.0, 1.0), "GAE's lambda over a response's tokens (LM)"),
)
Hparams = SCHEMA.hparams_type


def ppo_loss(params, old_log_probs, responses, bandit, hparams):
    """The clipped policy loss with the critic's baseline plus the critic's regression."""
    log_pi, shaped = bandit_rl.shaped_rewards(params, responses, bandit, hparams.beta)
    values = jnp.broadcast_to(params.values[:, None], shaped.shape)
    advantage = jax.lax.stop_gradient(shaped - values)
    policy = losses.clipped_surrogate_loss(
        log_pi.ravel(), old_log_probs.ravel(), advantage.ravel(), epsilon=hparams.clip_epsilon
    )
    critic = jnp.mean(losses.squared_loss(jax.lax.stop_gradient(shaped) - values))
    return policy + hparams.value_coef * critic


def token_advantages(rollout: lm_rl.Rollout, hparams, *, estimator: str = "k1"):
    """``(A [B, P], lambda-returns [B, P])`` of a rollout's response tokens: the KL-penalised
    per-token rewards (the score at the last token) and GAE on the sampling policy's values,
    discount 1 and 0 after the last token."""
    tokens = rollout.log_probs.shape[1]
    mask = jnp.ones((tokens,), jnp.float32)

    def one(score, log_probs, reference_log_probs, values):
        rewards = targets.kl_penalised_rewards(
            score, log_probs, reference_log_probs, mask, beta=hparams.beta, estimator=estimator
        )
        discount = jnp.ones((tokens,), jnp.float32).at[-1].set(0.0)
        advantage = targets.generalized_advantage_estimation(
            rewards, discount, hparams.gae_lambda, jnp.append(values, 0.0)
        )
        return advantage, advantage + values

    return jax.vmap(one)(
        rollout.score, rollout.log_probs, rollout.reference_log_probs, rollout.values
    )


def make_lm_loss(model, task, estimator: str):
    """The language model's loss: ``(params, rollout, hparams) -> (loss, report)``."""

    def loss(params, rollout: lm_rl.Rollout, hparams):
        advantage, returns = token_advantages(rollout, hparams, estimator=estimator)
        log_probs, values = lm_rl.policy_outputs(model, params, task, rollout.sequences)
        policy = losses.clipped_surrogate_loss(
            log_probs.ravel(),
            rollout.log_probs.ravel(),
            advantage.ravel(),
            epsilon=hparams.clip_epsilon,
        )
        critic = jnp.mean(losses.squared_loss(returns - values))
        return policy + hparams.value_coef * critic, {
            "policy_loss": policy,
            "value_loss": critic,
        }

    return loss


def make_experiment(config) -> Experiment:
    """The runner's view of PPO-RLHF (``jaxrl/configs/ppo_rlhf_bandit.py``, and
    ``dpo_lm.py:ppo_rlhf`` on a language model)."""
    if config.get("task") == "lm":
        return lm_rl.make_experiment(
            config,
            SCHEMA,
            lambda model, task: make_lm_loss(model, task, config.kl_estimator),
            epochs=config.epochs,
            metrics=("policy_loss", "value_loss"),
        )
    experiment = bandit_rl.make_experiment(
        config, SCHEMA, ppo_loss, samples=config.samples, epochs=config.epochs
    )
    # A response of the bandit is one token: its advantage is s - V whatever lambda.
    return experiment._replace(domains={**experiment.domains, "gae_lambda": real(1.0, 1.0)})
