"""A reward model learned from preference pairs: the second stage of RLHF, on the preference bandit
of ``jaxrl.agents.dpo``.

The bandit (``jaxrl.envs.preferences``): ``X`` contexts, ``K`` responses each, rewards ``r[x, y]``
and a reference policy drawn from ``problem_seed``; a pair is two distinct responses drawn from the
reference and labelled by the Bradley-Terry model of ``r``. The reward model is a table ``r_phi[x,
y]`` (started at 0) taking full-batch optimizer steps on the Bradley-Terry loss
(``jaxrl.losses.bradley_terry_loss``, with the swept ``margin``) over the pairs, weighted as DPO
weights them (``preference_bandit.pair_weights``): ``pairs = 0`` weights every ordered pair by
its probability (the exact expected loss), ``pairs = n`` by its frequency among ``n`` pairs sampled
for the seed. Each seed samples the very pairs DPO's sampled bandit samples for the same seed (the
same key stream), so the two pipelines see the same data.

The expected loss is minimised exactly when ``r_phi[x, a] - r_phi[x, b] = r[x, a] - r[x, b]`` for
every pair the reference can draw: ``r_phi = r`` up to a constant per context, which neither the
loss nor the KL-regularised optimum ``pi_ref exp(r / beta) / Z(x)`` can see. Reported after every
chunk: ``reward_error``, the largest over contexts of the spread ``max_y - min_y`` of ``r_phi[x, y]
- r[x, y]`` (0 when ``r`` is recovered up to its per-context constants), its mean over contexts, and
the loss, accuracy and margin on the training pairs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import losses, optim
from jaxrl.agents import preference_bandit, sft
from jaxrl.envs import preferences
from jaxrl.run import POSITIVE, Experiment, fields, real

MODULE = "jaxrl.agents.reward_model"
TASKS = ("bandit",)
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    pairs=fields.static(fields.COUNT, "preference pairs sampled per seed (0: exact)"),
    **preference_bandit.bandit_fields(),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    margin=fields.swept(real(0.0), "how much a chosen response must win by"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    reward: jax.Array  # [X, K] r_phi
    opt_state: Any
    weight: jax.Array  # [M] the ordered pairs' weights (exact probabilities, or frequencies)
    key_data: jax.Array  # [2] uint32 the seed's raw key: an RL run on r_phi finds its seed by it


def reward_spread(reward_model: jax.Array, reward: jax.Array) -> jax.Array:
    """``[X]`` ``max_y - min_y`` of ``r_phi[x, y] - r[x, y]``: 0 where ``r_phi`` is ``r`` up to
    a constant of the context."""
    difference = reward_model - reward
    return jnp.max(difference, axis=-1) - jnp.min(difference, axis=-1)


def make_experiment(config) -> Experiment:
    """The runner's view of the reward model (``jaxrl/configs/reward_model_bandit.py``)."""
    SCHEMA.check(config)
    contexts, responses, num_pairs = config.contexts, config.responses, config.pairs
    bandit = preference_bandit.config_bandit(config)
    cells = preferences.bandit_pairs(bandit)
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams: Hparams):
        return sft.make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> Carry:
        reward = jnp.zeros((contexts, responses), jnp.float32)
        weight = preference_bandit.pair_weights(key, bandit, cells, num_pairs)  # DPO's pairs
        return Carry(reward, optimizer(hparams).init(reward), weight, jax.random.key_data(key))

    def loss_fn(reward, weight, hparams: Hparams):
        out = losses.bradley_terry_loss(
            reward[cells.context, cells.chosen],
            reward[cells.context, cells.rejected],
            margin=hparams.margin,
            weight=weight,
        )
        return out.metrics["loss"], out.metrics

    def train_step(carry: Carry, hparams: Hparams):
        grads, _ = jax.grad(loss_fn, has_aux=True)(carry.reward, carry.weight, hparams)
        updates, opt_state = optimizer(hparams).update(grads, carry.opt_state, carry.reward)
        return carry._replace(reward=carry.reward + updates, opt_state=opt_state), None

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, _ = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        _, report = loss_fn(carry.reward, carry.weight, hparams)
        spread = reward_spread(carry.reward, bandit.reward)
        metrics = {
            "reward_error": jnp.max(spread),
            "mean_reward_error": jnp.mean(spread),
            "loss": report["loss"],
            "accuracy": report["accuracy"],
            "margin": report["margin"],
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=sft.check_domains(config, SCHEMA),
        metrics=("reward_error", "mean_reward_error", "loss", "accuracy", "margin"),
        main_metric="reward_error",
        curve_metrics=("reward_error", "loss"),
        step_unit="gradient steps",
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )
