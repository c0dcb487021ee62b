"""GRPO on the preference bandit: group-relative advantages, no critic, the clipped loss, and a
KL penalty whose fixed point is DPO's optimum.

The bandit is ``jaxrl.agents.dpo``'s (``jaxrl.envs.preferences``: ``X`` contexts, ``K``
responses, rewards ``r[x, y]``, a reference ``pi_ref``). The policy is a table of logits
``theta[x]``, started at the reference's. Every step draws a group of ``G`` responses
``y_1..y_G ~ pi(.|x)`` for every context, scores each with the true reward, shapes it with the
per-token KL estimate ``k1 = log pi(y|x) - log pi_ref(y|x)`` (``jaxrl.targets.kl_estimate``,
gradient stopped),

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

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import losses, optim, targets
from jaxrl.agents import dpo, sft
from jaxrl.envs import preferences, rng
from jaxrl.run import POSITIVE, Experiment, fields, integer, real

MODULE = "jaxrl.agents.grpo"
TASKS = ("bandit",)
SAMPLE_STREAM = 0  # counter stream of a seed's raw key: step t's groups
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    group_size=fields.static(integer(2), "responses drawn per context and step (G)"),
    scale_std=fields.static(fields.BOOLEAN, "divide the advantages by the group's std"),
    **dpo.bandit_fields(),
    beta=fields.swept(POSITIVE, "the KL penalty's weight"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the clipped loss's range"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    logits: jax.Array  # [X, K]
    opt_state: Any
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32


def group_loss(logits, groups, bandit: preferences.Bandit, hparams, *, scale_std: bool):
    """The clipped loss of one step's groups ``[X, G]`` (response ids per context) at ratio 1,
    with the KL-shaped rewards' group-relative advantages (module docstring)."""
    log_pi = jnp.take_along_axis(jax.nn.log_softmax(logits, axis=-1), groups, axis=1)
    reference = jnp.take_along_axis(bandit.reference_logits, groups, axis=1)
    reward = jnp.take_along_axis(bandit.reward, groups, axis=1)
    old = jax.lax.stop_gradient(log_pi)
    shaped = reward - hparams.beta * targets.kl_estimate(old, reference, "k1")
    advantage = targets.group_advantages(shaped, scale=scale_std)
    return losses.clipped_surrogate_loss(
        log_pi.ravel(), old.ravel(), advantage.ravel(), epsilon=hparams.clip_epsilon
    )


def make_experiment(config) -> Experiment:
    """The runner's view of GRPO (``jaxrl/configs/grpo_bandit.py``)."""
    SCHEMA.check(config)
    contexts, group = config.contexts, config.group_size
    bandit = dpo.config_bandit(config)
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams: Hparams):
        return sft.make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> Carry:
        logits = bandit.reference_logits
        key_data = jax.random.key_data(key)
        return Carry(logits, optimizer(hparams).init(logits), jnp.int32(0), key_data)

    def train_step(carry: Carry, hparams: Hparams):
        key = rng.counter_key(carry.key_data, carry.step, SAMPLE_STREAM)
        groups = jax.random.categorical(
            key, carry.logits[:, None, :], shape=(contexts, group)
        ).astype(jnp.int32)
        grads = jax.grad(group_loss)(
            carry.logits, groups, bandit, hparams, scale_std=config.scale_std
        )
        updates, opt_state = optimizer(hparams).update(grads, carry.opt_state, carry.logits)
        return Carry(carry.logits + updates, opt_state, carry.step + 1, carry.key_data), None

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, _ = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        return carry, dpo.bandit_metrics(bandit, bandit, carry.logits, hparams.beta)

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=sft.check_domains(config, SCHEMA),
        metrics=("kl_to_optimum", "max_kl_to_optimum", "kl_to_reference", "expected_reward"),
        main_metric="kl_to_optimum",
        curve_metrics=("kl_to_optimum", "kl_to_reference", "expected_reward"),
        step_unit="gradient steps",
        env_steps_per_step=contexts * group,
        figures=dpo.bandit_figures(bandit, bandit.reference_logits),
        policy=dpo.bandit_policy,
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )
