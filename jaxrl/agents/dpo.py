"""Direct preference optimization: a preference bandit with a closed-form optimum, and DPO of a
tiny language model from its supervised run.

Rafailov et al. (2023), "Direct Preference Optimization: Your Language Model is Secretly a Reward
Model", https://arxiv.org/abs/2305.18290. Both experiments minimise ``losses.dpo_loss`` (any of
its loss types) on preference pairs drawn from the Bradley-Terry model of a known reward
(``jaxrl.envs.preferences``), and ``beta`` is a swept hyperparameter: a sweep over beta is one
compiled program.

**The bandit** (``config.task = "bandit"``). The policy is a table of logits ``theta[x, y]``
started at the reference's, ``pi = softmax(theta)``. Every step is one full-batch optimizer step
on the weighted DPO loss over the ordered pairs of every context: with ``config.pairs = 0`` the
weights are the pairs' probabilities (the exact expected loss), otherwise the frequencies of
``config.pairs`` pairs sampled once per seed (the empirical loss of that data set). The minimiser
of the expected sigmoid loss is ``pi*(y|x) ∝ pi_ref(y|x) exp(r(x, y) / beta)`` (DPO, sec. 4), so
the metric is ``kl_to_optimum = E_x KL(pi*(.|x) || pi(.|x))`` (pi* is the minimiser for the
sigmoid loss without label smoothing, the configs' loss; the other losses and label smoothing
have other minimisers, so for them the metric is a distance, not an error), with the trade-off
DPO makes: the expected reward ``E_x E_pi r`` and ``kl_to_reference = E_x KL(pi || pi_ref)``.
``tradeoff.png`` draws the last two at the end of training for each beta and seed over the
exact curve of ``pi*`` as beta varies.

**The language model** (``config.task = "lm"``). ``config.sft_workdir`` names a finished run of
``jaxrl.agents.sft``; its parameters (seed ``sft_seed``) are both the initial policy and the frozen
reference, and its config gives the model and the copy task. Each seed samples ``config.pairs``
pairs of responses from the reference for fresh prompts and labels them by the Bradley-Terry model
of the true score (tokens copied from the prompt), with the frozen reference's response
log-probabilities of every pair (computed once, at the start), then takes optimizer steps on
minibatches of ``batch_size`` pairs: the policy's forward pass on the chosen and rejected sequences,
their response log-probabilities (``losses.sequence_log_probs``), the DPO loss (with summed
log-probabilities: responses all have ``P`` tokens, so IPO's length averaging would only rescale its
margin), plus ``load_balancing_coef`` times the mixture's load-balancing loss (``dropped``: the
fraction of its expert assignments over capacity, ``jaxrl.transformer.MoEFeedForward``). After every
chunk, on ``eval_pairs`` held-out pairs and prompts: the implicit-reward accuracy and margin
(``losses.preference_metrics``; ``score_accuracy`` is the true score's own accuracy on the same
pairs, for comparison), the win rate of the policy's sampled responses against the reference's under
the true score (ties count one half), their mean score, and ``kl_to_reference``, the sequence KL
``KL(pi || pi_ref)`` estimated on the policy's samples as the sum over response positions of the
exact per-token KL (:func:`response_kl`).
"""

from __future__ import annotations

import math
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import losses, optim, run, transformer
from jaxrl.agents import preference_bandit, sft
from jaxrl.envs import preferences, rng
from jaxrl.losses import dpo as dpo_losses
from jaxrl.run import POSITIVE, ConfigError, Experiment, fields, real

MODULE = "jaxrl.agents.dpo"
TASKS = ("bandit", "lm")
# Counter streams of a seed's raw key (jaxrl.envs.rng).
DATA_STREAM, BATCH_STREAM, SAMPLE_STREAM = 0, 1, 2


SFT_WORKDIR = fields.kind(
    lambda v: isinstance(v, str) and bool(v),
    "the work directory of a finished SFT run "
    "(python -m experiments.train --config=jaxrl/configs/dpo_lm.py:sft --workdir=DIR)",
)


_bandit, _lm = preference_bandit.on_task("bandit"), preference_bandit.on_task("lm")


SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the preference bandit, or the language model"),
    loss_type=fields.static(fields.one_of(*dpo_losses.LOSS_TYPES), "the preference loss"),
    reference_free=fields.static(fields.BOOLEAN, "a uniform reference in the loss"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    pairs=fields.static(fields.COUNT, "preference pairs sampled per seed (bandit 0: exact)"),
    **preference_bandit.bandit_fields(when=_bandit),
    sft_workdir=fields.static(SFT_WORKDIR, "the run DPO starts from", when=_lm),
    sft_seed=fields.static(fields.COUNT, "the SFT run's seed to start from", when=_lm),
    batch_size=fields.static(fields.POSITIVE_INT, "pairs per optimizer step", when=_lm),
    eval_pairs=fields.static(fields.POSITIVE_INT, "held-out pairs per evaluation", when=_lm),
    beta=fields.swept(POSITIVE, "the KL regularisation's strength"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    label_smoothing=fields.swept(
        real(0.0, 0.5, high_open=True), "assumed label-flip probability (sigmoid and robust)"
    ),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    load_balancing_coef=fields.swept(real(0.0), "a mixture's load-balancing weight (LM only)"),
)
Hparams = SCHEMA.hparams_type


def _domains(config) -> dict:
    """The domains, with the values a setting cannot use pinned to 0: label smoothing for the
    loss types without it, weight decay unless adamw, load balancing for the bandit."""
    domains = SCHEMA.domains
    if config.loss_type not in dpo_losses.SMOOTHED:
        domains["label_smoothing"] = real(0.0, 0.0)
    if config.optimizer.name != "adamw":
        domains["weight_decay"] = real(0.0, 0.0)
    if config.task == "bandit":
        domains["load_balancing_coef"] = real(0.0, 0.0)
    return domains


def preference_loss(policy_logps, reference_logps, weight, hparams: Hparams, *, config):
    """The weighted DPO loss of pairs and its report.

    Args:
        policy_logps, reference_logps: ``(chosen, rejected)``, each ``[N]``.
        weight: ``[N]`` weights summing to 1 (``1/N``: the minibatch mean).

    Returns:
        ``(loss, metrics)``: the weighted loss and ``losses.preference_metrics`` of the pairs.
    """
    out = losses.dpo_loss(
        policy_logps[0],
        policy_logps[1],
        reference_logps[0],
        reference_logps[1],
        beta=hparams.beta,
        label_smoothing=hparams.label_smoothing,
        loss_type=config.loss_type,
        reference_free=config.reference_free,
    )
    report = losses.preference_metrics(out, *policy_logps, weight=weight)
    return report["loss"], report


# The preference bandit (jaxrl.agents.preference_bandit).


class BanditCarry(NamedTuple):
    logits: jax.Array  # [X, K]
    opt_state: Any
    weight: jax.Array  # [M] the pairs' weights (exact probabilities, or sample frequencies)


def make_bandit_experiment(config) -> Experiment:
    responses, num_pairs = config.responses, config.pairs
    bandit = preference_bandit.config_bandit(config)
    reference = bandit.reference_logits
    if config.reference_free:  # the loss's reference is uniform: so is the optimum's
        reference = jnp.full_like(reference, -math.log(responses))
    optimum_bandit = preferences.Bandit(bandit.reward, reference)
    cells = preferences.bandit_pairs(bandit)
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams: Hparams):
        return sft.make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> BanditCarry:
        logits = bandit.reference_logits
        weight = preference_bandit.pair_weights(key, bandit, cells, num_pairs)
        return BanditCarry(logits, optimizer(hparams).init(logits), weight)

    def loss_fn(logits, weight, hparams: Hparams):
        log_pi = jax.nn.log_softmax(logits, axis=-1)
        policy = (log_pi[cells.context, cells.chosen], log_pi[cells.context, cells.rejected])
        ref = (
            bandit.reference_logits[cells.context, cells.chosen],
            bandit.reference_logits[cells.context, cells.rejected],
        )
        return preference_loss(policy, ref, weight, hparams, config=config)

    def train_step(carry: BanditCarry, hparams: Hparams):
        grads, _ = jax.grad(loss_fn, has_aux=True)(carry.logits, carry.weight, hparams)
        updates, opt_state = optimizer(hparams).update(grads, carry.opt_state, carry.logits)
        return carry._replace(logits=carry.logits + updates, opt_state=opt_state), None

    def train_chunk(carry: BanditCarry, hparams: Hparams):
        carry, _ = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        _, report = loss_fn(carry.logits, carry.weight, hparams)
        metrics = {
            **preference_bandit.bandit_metrics(optimum_bandit, bandit, carry.logits, hparams.beta),
            "loss": report["loss"],
            "reward_accuracy": report["reward_accuracy"],
            "reward_margin": report["reward_margin"],
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=_domains(config),
        metrics=(
            "kl_to_optimum",
            "max_kl_to_optimum",
            "kl_to_reference",
            "expected_reward",
            "loss",
            "reward_accuracy",
            "reward_margin",
        ),
        main_metric="kl_to_optimum",
        curve_metrics=("kl_to_optimum", "kl_to_reference", "expected_reward"),
        step_unit="gradient steps",
        figures=preference_bandit.bandit_figures(optimum_bandit, bandit.reference_logits),
        policy=preference_bandit.bandit_policy,
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )


# DPO of a language model.


class LMData(NamedTuple):
    chosen: jax.Array  # [N, T]
    rejected: jax.Array  # [N, T]
    reference_logps: tuple  # ([N], [N]) the frozen reference's of chosen and rejected
    eval_chosen: jax.Array  # [M, T] held-out pairs
    eval_rejected: jax.Array  # [M, T]
    eval_reference_logps: tuple  # ([M], [M])
    eval_reference: jax.Array  # [M, T] a reference response to each held-out prompt


class LMCarry(NamedTuple):
    params: Any
    opt_state: Any
    data: LMData
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32


def load_reference(config):
    """The SFT run's model, task and seed ``sft_seed``'s parameters, refused in one line when
    ``config.sft_workdir`` is not a finished SFT run."""
    workdir = config.sft_workdir
    if not os.path.isdir(workdir):
        raise ConfigError(f"config.sft_workdir = {workdir!r} is not a directory")
    sft_config = run.load_config(workdir)
    if sft_config.get("experiment") != sft.MODULE:
        raise ConfigError(
            f"config.sft_workdir = {workdir!r} holds a run of "
            f"{sft_config.get('experiment')!r}, not of {sft.MODULE}"
        )
    sft_settings = run.config_settings(sft.make_experiment(sft_config), sft_config)
    if len(sft_settings.values) != 1:
        raise ConfigError(
            f"the SFT run in {workdir!r} swept {len(sft_settings.values)} settings: run DPO from "
            f"a run of one setting, so its parameters are unambiguous"
        )
    seed = config.sft_seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < sft_config.num_seeds:
        raise ConfigError(
            f"config.sft_seed must be an integer in [0, {sft_config.num_seeds}) (the SFT run's "
            f"seeds), got {seed!r}"
        )
    loaded = run.load(workdir)
    if loaded.chunks_done * loaded.config.chunk_steps < loaded.config.total_steps:
        raise ConfigError(f"the SFT run in {workdir!r} has not finished")
    params = jax.tree.map(lambda leaf: jnp.asarray(leaf[0, seed]), loaded.carry.params)
    return sft.make_model(sft_config), sft.make_task(sft_config), params


def response_kl(logits: jax.Array, reference_logits: jax.Array, mask: jax.Array) -> jax.Array:
    """``[M]`` ``sum_t mask[t + 1] KL(pi(.|y_<=t) || pi_ref(.|y_<=t))``: the per-token KL of two
    causal models' ``[M, T, V]`` logits on the same sequences, summed over the positions that
    predict a response token (row ``t`` predicts token ``t + 1``). On sequences sampled from
    ``pi`` its mean is an unbiased estimate of the sequence KL, with less variance than the
    samples' log-ratio."""
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    log_ref = jax.nn.log_softmax(reference_logits, axis=-1)
    per_position = preferences.kl(log_pi, log_ref)[:, :-1]
    return jnp.sum(per_position * mask[None, 1:], axis=-1)


def response_pair_log_probs(model, task, params, chosen, rejected):
    """``((chosen, rejected) [B] response log-probabilities, routing statistics)`` from one
    forward pass over the ``2B`` sequences (a mixture's balance is taken over the batch;
    ``sft.response_log_probs``)."""
    both = jnp.concatenate([chosen, rejected], axis=0)
    values, routing = sft.response_log_probs(model, params, task, both, average=False)
    n = chosen.shape[0]
    return (values[:n], values[n:]), routing


def lm_pairs(model, task, reference, key: jax.Array, num_pairs: int, eval_pairs: int) -> LMData:
    """A seed's preference pairs of the language model (DPO's, and the reward model's: the same
    for the same seed key): pairs of responses sampled from the reference for fresh prompts,
    Bradley-Terry labelled by the true score, with the reference's log-probabilities of both
    (the exact mixture, ``transformer.without_drops``): ``num_pairs`` to train on,
    ``eval_pairs`` held out, and a third reference response to each held-out prompt (one
    sampling loop for all), drawn from the counter stream ``DATA_STREAM`` of ``key``."""
    key = rng.counter_key(jax.random.key_data(key), 0, DATA_STREAM)
    prompt_key, sample_key, label_key = jax.random.split(key, 3)
    n = num_pairs + eval_pairs
    prompts = preferences.prompts(prompt_key, task, n)
    both = jnp.concatenate([prompts, prompts, prompts[num_pairs:]], axis=0)
    sampled = sft.sample_responses(model, reference, task, sample_key, both)
    first, second, third = sampled[:n], sampled[n : 2 * n], sampled[2 * n :]
    chosen, rejected = preferences.label(label_key, task, first, second)
    exact = transformer.without_drops(model)
    logps, _ = response_pair_log_probs(exact, task, reference, chosen, rejected)
    return LMData(
        chosen[:num_pairs],
        rejected[:num_pairs],
        (logps[0][:num_pairs], logps[1][:num_pairs]),
        chosen[num_pairs:],
        rejected[num_pairs:],
        (logps[0][num_pairs:], logps[1][num_pairs:]),
        third,
    )


def lm_loss(model, task, params, reference_logps, chosen, rejected, hparams: Hparams, *, config):
    """The minibatch DPO loss of a language model, plus ``load_balancing_coef`` times its
    mixture's load-balancing loss: the policy's forward pass on ``[B, 2P + 1]`` chosen and
    rejected sequences, their response log-probabilities (``losses.sequence_log_probs``) and
    ``losses.dpo_loss`` against the frozen reference's ``reference_logps`` (``([B], [B])``,
    :func:`response_pair_log_probs` of the reference: it never changes, so the run computes it
    once per pair, not once per step).

    Returns:
        ``(loss, (report, routing))``: ``report`` is ``losses.preference_metrics``, ``routing``
        the mixture's ``{"load_balancing", "dropped"}``.
    """
    policy, routing = response_pair_log_probs(model, task, params, chosen, rejected)
    weight = jnp.full((chosen.shape[0],), 1.0 / chosen.shape[0])
    loss, report = preference_loss(policy, reference_logps, weight, hparams, config=config)
    return loss + hparams.load_balancing_coef * routing["load_balancing"], (report, routing)


def lm_update(
    model,
    task,
    optimizer,
    params,
    opt_state,
    reference_logps,
    chosen,
    rejected,
    hparams,
    *,
    config,
):
    """One DPO training step of a language model: :func:`lm_loss`, its gradient in the policy's
    parameters and the optimizer's step (the benchmark times this function).

    Returns:
        ``(params, opt_state, (report, routing))``.
    """
    grads, aux = jax.grad(lm_loss, argnums=2, has_aux=True)(
        model, task, params, reference_logps, chosen, rejected, hparams, config=config
    )
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return jax.tree.map(jnp.add, params, updates), opt_state, aux


def copy_tradeoff_figures(task):
    """A language model's ``figures`` on the copy task (DPO's, PPO-RLHF's, GRPO's):
    ``tradeoff.png``, each setting's and seed's final mean score against ``kl_to_reference``,
    over the curve of ``pi*`` for the ideal SFT model (``preferences.optimal_copy_tradeoff``)."""
    return preference_bandit.tradeoff_figures(
        lambda betas: np.array([preferences.optimal_copy_tradeoff(task, float(b)) for b in betas]),
        "score",
        ylabel="mean score of sampled responses (tokens copied)",
        curve_label="pi* for the ideal SFT model",
    )


def make_lm_experiment(config) -> Experiment:
    num_pairs, batch_size, eval_pairs = config.pairs, config.batch_size, config.eval_pairs
    if num_pairs < 1:
        raise ConfigError(f"config.pairs must be a positive integer for the LM, got {num_pairs}")
    model, task, reference = load_reference(config)
    # Training drops a mixture's tokens over capacity; the reference's log-probabilities and the
    # held-out measures use the exact mixture (transformer.without_drops; the same for dense).
    exact = transformer.without_drops(model)
    mask = task.response_mask
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams: Hparams):
        return sft.make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> LMCarry:
        data = lm_pairs(model, task, reference, key, num_pairs, eval_pairs)
        params = reference
        return LMCarry(
            params,
            optimizer(hparams).init(params),
            data,
            jnp.int32(0),
            jax.random.key_data(key),
        )

    def train_step(carry: LMCarry, hparams: Hparams):
        batch_key = rng.counter_key(carry.key_data, carry.step, BATCH_STREAM)
        index = jax.random.randint(batch_key, (batch_size,), 0, num_pairs)
        data = carry.data
        params, opt_state, (report, routing) = lm_update(
            model,
            task,
            optimizer(hparams),
            carry.params,
            carry.opt_state,
            jax.tree.map(lambda logps: logps[index], data.reference_logps),
            data.chosen[index],
            data.rejected[index],
            hparams,
            config=config,
        )
        carry = carry._replace(params=params, opt_state=opt_state, step=carry.step + 1)
        return carry, (report["loss"], routing)

    def sequence_kl(params, sequences):
        """``[M]`` the policy's sequence KL from the reference on its own samples."""
        return response_kl(
            exact.apply(params, sequences)[0], exact.apply(reference, sequences)[0], mask
        )

    def train_chunk(carry: LMCarry, hparams: Hparams):
        carry, (train_loss, routing) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        data = carry.data
        _, (report, _) = lm_loss(
            exact,
            task,
            carry.params,
            data.eval_reference_logps,
            data.eval_chosen,
            data.eval_rejected,
            hparams,
            config=config,
        )
        prompts = data.eval_reference[:, : task.length + 1]
        sample_key = rng.counter_key(carry.key_data, carry.step, SAMPLE_STREAM)
        sampled = sft.sample_responses(model, carry.params, task, sample_key, prompts)
        mine = preferences.score(task, sampled)
        theirs = preferences.score(task, data.eval_reference)
        gap = preferences.score(task, data.eval_chosen) - preferences.score(
            task, data.eval_rejected
        )
        metrics = {
            "reward_accuracy": report["reward_accuracy"],
            "reward_margin": report["reward_margin"],
            "win_rate": jnp.mean((mine > theirs) + 0.5 * (mine == theirs)),
            "kl_to_reference": jnp.mean(sequence_kl(carry.params, sampled)),
            "score": jnp.mean(mine),
            # The accuracy of the true score itself as the implicit reward, ties broken at
            # random: what the labels' Bradley-Terry noise allows, for comparison.
            "score_accuracy": jnp.mean((gap > 0) + 0.5 * (gap == 0)),
            "chosen_reward": report["chosen_reward"],
            "rejected_reward": report["rejected_reward"],
            "eval_loss": report["loss"],
            "train_loss": jnp.mean(train_loss),
            "load_balancing": jnp.mean(routing["load_balancing"]),
            "dropped": jnp.mean(routing["dropped"]),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=_domains(config),
        metrics=(
            "reward_accuracy",
            "reward_margin",
            "win_rate",
            "kl_to_reference",
            "score",
            "score_accuracy",
            "chosen_reward",
            "rejected_reward",
            "eval_loss",
            "train_loss",
            "load_balancing",
            "dropped",
        ),
        main_metric="win_rate",
        env_steps_per_step=batch_size,
        curve_metrics=("reward_accuracy", "reward_margin", "win_rate", "kl_to_reference"),
        step_unit="preference pairs",
        figures=copy_tradeoff_figures(task),
        depends_on_total_steps=sft.depends_on_total_steps(config),
        policy=sft.sampler(model, task),
    )


def make_experiment(config) -> Experiment:
    """The runner's view of DPO (see ``jaxrl/configs/dpo_bandit.py`` and ``dpo_lm.py:dpo``)."""
    SCHEMA.check(config)
    if config.task == "bandit":
        return make_bandit_experiment(config)
    return make_lm_experiment(config)
