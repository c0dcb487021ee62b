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
fixed point, unchanged (measured: BUILD-notes.md). (DeepSeek's GRPO also moves the KL out of
the reward into the loss as ``k3``, whose on-policy gradient is that of ``KL(pi_ref || pi)``:
another objective with another optimum; not offered yet.)

Reported after every chunk, as DPO's bandit: ``kl_to_optimum = E_x KL(pi* || pi)`` (and its
largest context), ``kl_to_reference``, ``expected_reward``.
"""

from __future__ import annotations

from jaxrl import losses, optim, targets
from jaxrl.agents import bandit_rl, preference_bandit
from jaxrl.run import POSITIVE, Experiment, fields, integer, real

MODULE = "jaxrl.agents.grpo"
TASKS = ("bandit",)
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    group_size=fields.static(integer(2), "responses drawn per context and step (G)"),
    scale_std=fields.static(fields.BOOLEAN, "divide the advantages by the group's std"),
    **preference_bandit.bandit_fields(),
    beta=fields.swept(POSITIVE, "the KL penalty's weight"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the clipped loss's range"),
)
Hparams = SCHEMA.hparams_type


def group_loss(params, old_log_probs, groups, bandit, hparams, *, scale_std: bool):
    """The clipped loss of one step's groups ``[X, G]`` (response ids per context), with the
    KL-shaped rewards' group-relative advantages (module docstring)."""
    log_pi, shaped = bandit_rl.shaped_rewards(params, groups, bandit, hparams.beta)
    advantage = targets.group_advantages(shaped, scale=scale_std)
    return losses.clipped_surrogate_loss(
        log_pi.ravel(), old_log_probs.ravel(), advantage.ravel(), epsilon=hparams.clip_epsilon
    )


def make_experiment(config) -> Experiment:
    """The runner's view of GRPO (``jaxrl/configs/grpo_bandit.py``), on the scaffold of
    ``jaxrl.agents.bandit_rl``: no critic, one optimizer step per group."""

    def loss(params, old, groups, bandit, hparams):
        return group_loss(params, old, groups, bandit, hparams, scale_std=config.scale_std)

    return bandit_rl.make_experiment(config, SCHEMA, loss, samples=config.group_size, epochs=1)
