"""A reward model learned from preference pairs: the second stage of RLHF, on the preference bandit
of ``jaxrl.agents.dpo`` (``config.task = "bandit"``) or on its language model (``"lm"``).

**The bandit.** The bandit (``jaxrl.envs.preferences``): ``X`` contexts, ``K`` responses each,
rewards ``r[x, y]`` and a reference policy drawn from ``problem_seed``; a pair is two distinct
responses drawn from the reference and labelled by the Bradley-Terry model of ``r``. The reward
model is a table ``r_phi[x, y]`` (started at 0) taking full-batch optimizer steps on the
Bradley-Terry loss (``jaxrl.losses.bradley_terry_loss``, with the swept ``margin``) over the
pairs, weighted as DPO weights them (``preference_bandit.pair_weights``): ``pairs = 0`` weights
every ordered pair by its probability (the exact expected loss), ``pairs = n`` by its frequency
among ``n`` pairs sampled for the seed. Each seed samples the very pairs DPO's sampled bandit
samples for the same seed (the same key stream), so the two pipelines see the same data.

The expected loss is minimised exactly when ``r_phi[x, a] - r_phi[x, b] = r[x, a] - r[x, b]`` for
every pair the reference can draw: ``r_phi = r`` up to a constant per context, which neither the
loss nor the KL-regularised optimum ``pi_ref exp(r / beta) / Z(x)`` can see. Reported after every
chunk: ``reward_error``, the largest over contexts of the spread ``max_y - min_y`` of ``r_phi[x, y]
- r[x, y]`` (0 when ``r`` is recovered up to its per-context constants), its mean over contexts, and
the loss, accuracy and margin on the training pairs.

**The language model.** ``config.sft_workdir`` names a finished run of ``jaxrl.agents.sft``, read
back with ``run.load`` as DPO reads it (``dpo.load_reference``, seed ``sft_seed``). The reward
model is that transformer with a scalar head on its last token, the response's last: ``r_phi(x,
y) = w . h_T(x, y) + b``, ``h_T`` the final LayerNorm's output at the last position
(``Transformer(..., features=True)``), which the causal model computes from the whole sequence.
The body starts at the SFT parameters and the head at 0, so every reward starts at 0 and the
first loss is exactly ``ln 2``. Each seed trains on the very pairs DPO's LM run draws for the same
seed (``dpo.lm_pairs``: responses sampled from the reference, labelled by the Bradley-Terry model
of the true score), ``batch_size`` pairs per step, on the Bradley-Terry loss plus
``load_balancing_coef`` times a mixture's load-balancing loss. The model is the exact mixture
throughout (``transformer.without_drops``). Reported after every chunk on the ``eval_pairs``
held-out pairs: the accuracy and margin, ``score_accuracy`` (the true score's accuracy on the same
pairs, ties counted one half: the ceiling the labels' noise allows), the held-out loss, and
``reward_error``, the root mean square over the held-out pairs of ``(r_phi(y_w) - r_phi(y_l)) -
(score(y_w) - score(y_l))``: 0 for a model that is the true score up to a constant per prompt
(the labels' Bradley-Terry logit is the score difference); and the training loss.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import losses, optim, transformer
from jaxrl.agents import dpo, preference_bandit, sft
from jaxrl.envs import preferences, rng
from jaxrl.run import POSITIVE, ConfigError, Experiment, fields, real

MODULE = "jaxrl.agents.reward_model"
TASKS = ("bandit", "lm")
BATCH_STREAM = dpo.BATCH_STREAM  # counter stream of a seed's raw key: step t's minibatch


_bandit, _lm = preference_bandit.on_task("bandit"), preference_bandit.on_task("lm")


SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit, or the language model"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    pairs=fields.static(fields.COUNT, "preference pairs sampled per seed (bandit 0: exact)"),
    **preference_bandit.bandit_fields(when=_bandit),
    sft_workdir=fields.static(dpo.SFT_WORKDIR, "the run the reward model starts from", when=_lm),
    sft_seed=fields.static(fields.COUNT, "the SFT run's seed to start from", when=_lm),
    batch_size=fields.static(fields.POSITIVE_INT, "pairs per optimizer step", when=_lm),
    eval_pairs=fields.static(fields.POSITIVE_INT, "held-out pairs per evaluation", when=_lm),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    margin=fields.swept(real(0.0), "how much a chosen response must win by"),
    load_balancing_coef=fields.swept(real(0.0), "a mixture's load-balancing weight (LM only)"),
)
Hparams = SCHEMA.hparams_type


def _domains(config) -> dict:
    domains = sft.check_domains(config, SCHEMA)
    if config.task == "bandit":
        domains["load_balancing_coef"] = real(0.0, 0.0)
    return domains


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
    """The runner's view of the reward model (``jaxrl/configs/reward_model_bandit.py``, and
    ``dpo_lm.py:reward_model`` on a language model)."""
    SCHEMA.check(config)
    if config.task == "lm":
        return make_lm_experiment(config)
    return make_bandit_experiment(config)


def make_bandit_experiment(config) -> Experiment:
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
        domains=_domains(config),
        metrics=("reward_error", "mean_reward_error", "loss", "accuracy", "margin"),
        main_metric="reward_error",
        curve_metrics=("reward_error", "loss"),
        step_unit="gradient steps",
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )


# The reward model of a language model.


class LMParams(NamedTuple):
    body: Any  # the transformer's parameters (the SFT run's at the start)
    head: jax.Array  # [W] the scalar head's weights (0 at the start)
    bias: jax.Array  # [] its bias (0 at the start)


class LMCarry(NamedTuple):
    params: LMParams
    opt_state: Any
    data: dpo.LMData  # the seed's pairs: DPO's for the same seed
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32


def sequence_rewards(model, params: LMParams, sequences: jax.Array):
    """``([B] r_phi, routing statistics)`` of ``[B, T]`` whole sequences: the scalar head on the
    final features at the last position."""
    features, aux = model.apply(params.body, sequences, features=True)
    reward = features[:, -1, :] @ params.head + params.bias
    return reward, {"load_balancing": aux["load_balancing"], "dropped": aux["dropped"]}


def load_lm_reward_model(workdir: str, where: str, config):
    """``(model, task, LearnedReward)`` of a finished LM reward-model run: its transformer (the
    exact mixture), its task, and its parameters by seed key; refused in one line (naming
    ``where``) unless it is one of this module on a language model that covers ``config``'s
    seeds (``preference_bandit.finished_reward_run``): what an RL run reads to score its
    responses (``jaxrl.agents.lm_rl``)."""
    import os

    from jaxrl import run

    if not os.path.isdir(workdir):
        raise ConfigError(f"{where} = {workdir!r} is not a directory")
    theirs = run.load_config(workdir)
    if theirs.get("experiment") != MODULE or theirs.get("task") != "lm":
        raise ConfigError(
            f"{where} = {workdir!r} holds a run of {theirs.get('experiment')!r} (task "
            f"{theirs.get('task')!r}), not of {MODULE} on a language model"
        )
    loaded = preference_bandit.finished_reward_run(workdir, where, theirs, config)
    model, task, _ = dpo.load_reference(theirs)
    carry = jax.tree.map(lambda leaf: jnp.asarray(leaf[0]), loaded.carry)  # the one setting
    learned = preference_bandit.LearnedReward(carry.key_data, carry.params)
    return transformer.without_drops(model), task, learned


def make_lm_experiment(config) -> Experiment:
    num_pairs, batch_size, eval_pairs = config.pairs, config.batch_size, config.eval_pairs
    if num_pairs < 1:
        raise ConfigError(f"config.pairs must be a positive integer for the LM, got {num_pairs}")
    model, task, reference = dpo.load_reference(config)
    exact = transformer.without_drops(model)
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams: Hparams):
        return sft.make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> LMCarry:
        data = dpo.lm_pairs(model, task, reference, key, num_pairs, eval_pairs)
        width = exact.width
        params = LMParams(reference, jnp.zeros((width,), jnp.float32), jnp.float32(0.0))
        return LMCarry(
            params, optimizer(hparams).init(params), data, jnp.int32(0), jax.random.key_data(key)
        )

    def loss_fn(params: LMParams, chosen, rejected, hparams: Hparams):
        rewards, routing = sequence_rewards(exact, params, jnp.concatenate([chosen, rejected]))
        n = chosen.shape[0]
        out = losses.bradley_terry_loss(rewards[:n], rewards[n:], margin=hparams.margin)
        loss = out.metrics["loss"] + hparams.load_balancing_coef * routing["load_balancing"]
        return loss, (out.metrics, rewards[:n] - rewards[n:])

    def train_step(carry: LMCarry, hparams: Hparams):
        batch_key = rng.counter_key(carry.key_data, carry.step, BATCH_STREAM)
        index = jax.random.randint(batch_key, (batch_size,), 0, num_pairs)
        grads, (report, _) = jax.grad(loss_fn, has_aux=True)(
            carry.params, carry.data.chosen[index], carry.data.rejected[index], hparams
        )
        updates, opt_state = optimizer(hparams).update(grads, carry.opt_state, carry.params)
        params = jax.tree.map(jnp.add, carry.params, updates)
        carry = carry._replace(params=params, opt_state=opt_state, step=carry.step + 1)
        return carry, report["loss"]

    def train_chunk(carry: LMCarry, hparams: Hparams):
        carry, train_loss = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        data = carry.data
        _, (report, difference) = loss_fn(
            carry.params, data.eval_chosen, data.eval_rejected, hparams
        )
        gap = preferences.score(task, data.eval_chosen) - preferences.score(
            task, data.eval_rejected
        )
        metrics = {
            "reward_error": jnp.sqrt(jnp.mean(jnp.square(difference - gap))),
            "accuracy": report["accuracy"],
            "score_accuracy": jnp.mean((gap > 0) + 0.5 * (gap == 0)),
            "margin": report["margin"],
            "eval_loss": report["loss"],
            "loss": jnp.mean(train_loss),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=_domains(config),
        metrics=("reward_error", "accuracy", "score_accuracy", "margin", "eval_loss", "loss"),
        main_metric="reward_error",
        env_steps_per_step=batch_size,
        curve_metrics=("reward_error", "accuracy", "eval_loss"),
        step_unit="preference pairs",
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )
