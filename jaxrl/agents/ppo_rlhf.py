"""PPO-RLHF on the preference bandit: a critic's baseline, PPO's clipped loss over several
epochs, and the same KL-shaped reward as GRPO, whose fixed point is DPO's optimum.

On the scaffold of ``jaxrl.agents.bandit_rl`` (DPO's bandit, a tabular policy started at the
reference's). Every step draws ``samples`` responses per context from the policy, shapes the true
reward as ``s = r(x, y) - beta k1(y)`` (``bandit_rl.shaped_rewards``; the per-token KL penalty of
Ziegler et al. 2019 and Ouyang et al. 2022, here one token per response), and takes ``epochs``
optimizer steps on

    L = clipped_surrogate(log pi, log pi_old, A) + value_coef mean 0.5 (s - V(x))^2,

``A = s - V(x)`` with the critic's value (gradient stopped) as the baseline: a separate critic,
a table ``V[x]`` trained by regression on ``s`` (``jaxrl.losses.squared_loss``). A baseline
that depends on the context alone leaves the expected policy gradient unchanged, so the
stationary point is GRPO's (``grpo.py`` derives it): ``pi* ∝ pi_ref exp(r / beta)``; the clip
bounds how far the later epochs move the policy from the one that drew the responses.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import losses, optim
from jaxrl.agents import bandit_rl, preference_bandit
from jaxrl.run import POSITIVE, Experiment, fields, real

MODULE = "jaxrl.agents.ppo_rlhf"
TASKS = ("bandit",)
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    samples=fields.static(fields.POSITIVE_INT, "responses drawn per context and step"),
    epochs=fields.static(fields.POSITIVE_INT, "optimizer steps per batch of responses"),
    reward_workdir=preference_bandit.REWARD_WORKDIR_FIELD,
    **preference_bandit.bandit_fields(),
    beta=fields.swept(POSITIVE, "the KL penalty's weight"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the clipped loss's range"),
    value_coef=fields.swept(real(0.0), "the critic's loss weight"),
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


def make_experiment(config) -> Experiment:
    """The runner's view of PPO-RLHF (``jaxrl/configs/ppo_rlhf_bandit.py``)."""
    return bandit_rl.make_experiment(
        config, SCHEMA, ppo_loss, samples=config.samples, epochs=config.epochs
    )
