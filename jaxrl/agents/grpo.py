"""GRPO on the preference bandit: group-relative advantages, no critic, the clipped loss, and a
KL penalty whose fixed point is DPO's optimum.

The bandit is ``jaxrl.agents.dpo``'s (``jaxrl.envs.preferences``: ``X`` contexts, ``K``
responses, rewards ``r[x, y]``, a reference ``pi_ref``). The policy is a table of logits
``theta[x]``, started at the reference's. Every step draws a group of ``G`` responses
``y_1..y_G ~ pi(.|x)`` for every context, scores each with the true reward, shapes it with the
per-token KL estimate ``k1 = log pi(y|x) - log pi_ref(y|x)`` (``jaxrl.targets.kl_estimate``,
gradient stopped; ``jaxrl.agents.bandit_rl.shaped_rewards``),

    s_i = r(x, y_i) - beta k1(y_i),

takes group-relative advantages ``A_i = s_i - mean_j s_j`` (``jaxrl.targets.group_advantages``;
``scale_std`` divides by the group's std, DeepSeek's form) and one optimizer step on PPO's
clipped loss (``jaxrl.losses.clipped_surrogate_loss``) at ratio 1: one update per group, so the
clip never binds and the step is the policy gradient with these advantages.

**The fixed point is pi*.** The KL-regularised objective
``J(pi) = E_x [E_{y ~ pi} r(x, y) - beta KL(pi(.|x) || pi_ref(.|x))]`` has the gradient

    grad J = E_x E_{y ~ pi}[grad log pi(y|x) (r(x, y) - beta log(pi(y|x) / pi_ref(y|x)))],

because the derivative of the ``log pi`` inside the KL contributes ``E_pi[grad log pi] = 0``: so
``s`` is exactly the score-function weight of ``grad J``. The group mean is a baseline that
includes ``s_i`` itself: ``A_i = (1 - 1/G) s_i - (1/G) sum_{j != i} s_j``, and the ``j != i``
terms are independent of ``y_i``, whose score has mean 0, so ``E[grad log pi(y_i) A_i] = (1 -
1/G) grad J``: the same direction, the same stationary points. On the simplex ``grad J = 0``
where ``r(x, y) - beta log(pi / pi_ref)`` is constant in ``y``, i.e. ``pi = pi_ref exp(r /
beta) / Z(x) = pi*``, DPO's optimum. With ``scale_std`` each context's step is divided by its
group's std of ``s``, a positive factor per context, which leaves that condition, hence the
fixed point, unchanged (measured: BUILD-notes.md).

**DeepSeek's form** (``kl_penalty = "loss"``). The advantages are the group-relative ones of the
reward alone (``scale_std`` as above), and the KL leaves the reward for the loss, as ``beta`` times
the mean ``k3 = pi_ref / pi - log(pi_ref / pi) - 1`` of the sampled responses, differentiated
through ``log pi``. Its gradient at responses drawn from ``pi`` has the mean ``sum_y (pi - pi_ref)
grad log pi = grad KL(pi_ref || pi)``: the reverse KL, not DPO's. The group mean is a baseline
that includes ``y_i`` itself, which scales the reward's gradient by ``(1 - 1/G)`` and leaves the
KL's alone, and dividing by the group's std divides each context's reward by its std ``s_x``
under ``pi``. So the update climbs ``E_pi[(1 - 1/G) r / s_x] - beta KL(pi_ref || pi)``, whose
stationary point ``jaxrl.envs.preferences.reverse_kl_optimal_log_policy`` computes: the
``kl_to_fixed_point`` metric measures against it (exactly the fixed point without the std; with
it, ``s_x`` is the std under ``pi``, where the update divides by a group's sample std, a
different scale by ``O(1/G)``). ``kl_to_optimum`` still measures against DPO's ``pi*``.

Reported after every chunk, as DPO's bandit: ``kl_to_optimum = E_x KL(pi* || pi)`` (and its
largest context), ``kl_to_fixed_point``, ``kl_to_reference``, ``expected_reward``
(``jaxrl.agents.bandit_rl``).

**The language model** (``config.task = "lm"``), on the scaffold of ``jaxrl.agents.lm_rl`` (the
policy and the frozen reference from an SFT run; the value head unused). Every step draws
``samples`` prompts and a group of ``G`` responses to each; a response is one action whose
log-probability is the sum of its tokens', so the bandit's derivation holds with responses for
``y``: ``s_i = score_i - beta sum_t k1_t`` (the sampling policy's per-token ``k1``), the
group-relative advantage of ``s`` given to every token of the response, one update of the
clipped loss over the tokens (which scales the policy gradient by ``1 / P``), and the fixed
point ``pi* ∝ pi_ref exp(score / beta)`` over whole responses. DeepSeek's form puts ``beta``
times the mean per-token ``k3`` in the loss instead. Reported as PPO-RLHF's (``lm_rl``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import losses, optim, targets
from jaxrl.agents import bandit_rl, lm_rl, preference_bandit
from jaxrl.envs import preferences
from jaxrl.run import POSITIVE, Experiment, fields, integer, real

MODULE = "jaxrl.agents.grpo"
TASKS = ("bandit", "lm")


_bandit, _lm = preference_bandit.on_task("bandit"), preference_bandit.on_task("lm")


KL_PENALTIES = ("reward", "loss")
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit, or the language model"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    group_size=fields.static(integer(2), "responses drawn per context (or prompt) and step (G)"),
    scale_std=fields.static(fields.BOOLEAN, "divide the advantages by the group's std"),
    kl_penalty=fields.static(
        fields.one_of(*KL_PENALTIES), "k1 in the reward, or k3 in the loss (DeepSeek's)"
    ),
    reward_workdir=preference_bandit.REWARD_WORKDIR_FIELD,
    **preference_bandit.bandit_fields(when=_bandit),
    **lm_rl.lm_fields(when=_lm),
    samples=fields.static(fields.POSITIVE_INT, "prompts per step, a group each", when=_lm),
    beta=fields.swept(POSITIVE, "the KL penalty's weight"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the clipped loss's range"),
)
Hparams = SCHEMA.hparams_type


def group_loss(params, old_log_probs, groups, bandit, hparams, *, scale_std: bool, kl_penalty):
    """The clipped loss of one step's groups ``[X, G]`` (response ids per context), with the
    group-relative advantages of the KL-shaped rewards (``kl_penalty = "reward"``), or of the
    rewards plus ``beta`` times the mean ``k3`` (``"loss"``; module docstring)."""
    if kl_penalty == "reward":
        log_pi, shaped = bandit_rl.shaped_rewards(params, groups, bandit, hparams.beta)
        penalty = 0.0
    else:
        log_pi = jnp.take_along_axis(jax.nn.log_softmax(params.logits, axis=-1), groups, axis=1)
        shaped = jnp.take_along_axis(bandit.reward, groups, axis=1)
        reference = jnp.take_along_axis(bandit.reference_logits, groups, axis=1)
        penalty = hparams.beta * jnp.mean(targets.kl_estimate(log_pi, reference, "k3"))
    advantage = targets.group_advantages(shaped, scale=scale_std)
    return penalty + losses.clipped_surrogate_loss(
        log_pi.ravel(), old_log_probs.ravel(), advantage.ravel(), epsilon=hparams.clip_epsilon
    )


def fixed_point(bandit, hparams, *, group_size: int, scale_std: bool, kl_penalty: str):
    """``log pi [X, K]`` where the update settles (module docstring)."""
    if kl_penalty == "reward":
        return preferences.optimal_log_policy(bandit, hparams.beta)
    return preferences.reverse_kl_optimal_log_policy(
        bandit, hparams.beta, reward_weight=1.0 - 1.0 / group_size, scale_std=scale_std
    )


def make_lm_loss(model, task, *, group_size: int, scale_std: bool, kl_penalty: str):
    """The language model's loss (module docstring): ``(params, rollout, hparams) -> (loss,
    report)``, the rollout's responses in groups of ``group_size`` consecutive rows."""

    def loss(params, rollout: lm_rl.Rollout, hparams):
        log_probs, _ = lm_rl.policy_outputs(model, params, task, rollout.sequences)
        if kl_penalty == "reward":
            kl = targets.kl_estimate(rollout.log_probs, rollout.reference_log_probs, "k1")
            shaped, penalty = rollout.score - hparams.beta * jnp.sum(kl, axis=-1), 0.0
        else:
            k3 = targets.kl_estimate(log_probs, rollout.reference_log_probs, "k3")
            shaped, penalty = rollout.score, hparams.beta * jnp.mean(k3)
        advantage = targets.group_advantages(shaped.reshape(-1, group_size), scale=scale_std)
        per_token = jnp.broadcast_to(advantage.reshape(-1, 1), log_probs.shape)
        policy = losses.clipped_surrogate_loss(
            log_probs.ravel(),
            rollout.log_probs.ravel(),
            per_token.ravel(),
            epsilon=hparams.clip_epsilon,
        )
        return policy + penalty, {"policy_loss": policy}

    return loss


def make_experiment(config) -> Experiment:
    """The runner's view of GRPO (``jaxrl/configs/grpo_bandit.py``, and ``dpo_lm.py:grpo`` on a
    language model), on the scaffold of ``jaxrl.agents.bandit_rl`` or ``lm_rl``: no critic, one
    optimizer step per group."""
    options = {"scale_std": config.get("scale_std"), "kl_penalty": config.get("kl_penalty")}
    if config.get("task") == "lm":
        return lm_rl.make_experiment(
            config,
            SCHEMA,
            lambda model, task: make_lm_loss(model, task, group_size=config.group_size, **options),
            epochs=1,
            group_size=config.get("group_size"),
            metrics=("policy_loss",),
        )

    def loss(params, old, groups, bandit, hparams):
        return group_loss(params, old, groups, bandit, hparams, **options)

    def settles_at(bandit, hparams):
        return fixed_point(bandit, hparams, group_size=config.group_size, **options)

    return bandit_rl.make_experiment(
        config, SCHEMA, loss, samples=config.get("group_size"), epochs=1, fixed_point=settles_at
    )
