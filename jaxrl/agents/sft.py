"""Supervised fine-tuning of a tiny causal transformer on the copy task: the start of DPO.

Ouyang et al. (2022), "Training language models to follow instructions with human feedback"
(step 1, supervised fine-tuning), https://arxiv.org/abs/2203.02155; Rafailov et al. (2023), DPO,
sec. 4: the reference policy is the SFT model.

Each training step draws ``batch_size`` fresh demonstrations of the copy task
(``jaxrl.envs.preferences``: a prompt, a separator, a copy of the prompt whose tokens are each
replaced by a uniform token with probability ``noise``) and takes one optimizer step on the
negative log-likelihood of the response tokens (``losses.sequence_log_probs`` averaged over the
response; the prompt is not a target), plus ``load_balancing_coef`` times the mixture's
load-balancing loss when the feed-forward blocks are mixtures of experts (``jaxrl.transformer``).

The least reachable loss is known: the entropy of a demonstration token,
``preferences.copy_entropy``; the metric ``nll_gap`` is the held-out response NLL above it, and
``copy_probability`` the model's mean probability of copying the prompt's token at a response
position of a held-out demonstration (the demonstrations' is ``1 - noise + noise / V``).

The model's parameters of a finished run are the initial policy and the frozen reference of a
DPO run (``jaxrl.agents.dpo``, ``config.sft_workdir``), which rebuilds the model and the task
from this run's config with :func:`make_model` and :func:`make_task`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import decoding, losses, optim, transformer
from jaxrl.envs import preferences, rng
from jaxrl.run import POSITIVE, Experiment, fields, integer, real

MODULE = "jaxrl.agents.sft"
TASKS = ("copy",)
# Counter streams of a seed's raw key (jaxrl.envs.rng).
TRAIN_STREAM, EVAL_STREAM = 0, 1
SCHEMA = fields.Schema(
    MODULE,
    task=fields.static(fields.one_of(*TASKS), "the demonstrations' task"),
    vocab=fields.static(integer(2), "the tokens a prompt draws from"),
    length=fields.static(fields.POSITIVE_INT, "tokens per prompt, and per response"),
    noise=fields.static(
        real(0.0, 1.0, low_open=True, high_open=True), "chance a copied token is replaced"
    ),
    width=fields.static(fields.POSITIVE_INT, "the transformer's width"),
    depth=fields.static(fields.POSITIVE_INT, "its blocks"),
    heads=fields.static(fields.POSITIVE_INT, "attention heads (dividing the width)"),
    hidden=fields.static(fields.POSITIVE_INT, "the feed-forward (or each expert's) width"),
    experts=fields.static(fields.COUNT, "experts per feed-forward block (0: dense)"),
    top_k=fields.static(fields.POSITIVE_INT, "experts per token (mixtures only)"),
    capacity_factor=fields.static(
        real(0.0),
        "a mixture's slots per expert over the tokens' mean share (0: none dropped)",
        when=lambda config: config.experts > 0,
    ),
    batch_size=fields.static(fields.POSITIVE_INT, "demonstrations per step"),
    eval_size=fields.static(fields.POSITIVE_INT, "held-out demonstrations per evaluation"),
    optimizer=fields.static(optim.BLOCK, "the optimizer"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
    load_balancing_coef=fields.swept(real(0.0), "weight of the mixture's load-balancing loss"),
)
Hparams = SCHEMA.hparams_type


class Carry(NamedTuple):
    params: Any
    opt_state: Any
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32


def make_task(config) -> preferences.CopyTask:
    """The copy task of a checked SFT config (also read back by DPO from the SFT run's
    config)."""
    vocab, length, noise = config.vocab, config.length, float(config.noise)
    return preferences.make_copy_task(vocab=vocab, length=length, noise=noise)


def make_model(config) -> transformer.Transformer:
    """The transformer of a checked SFT config: its sizes, dense (``experts = 0``) or a
    mixture."""
    task = make_task(config)
    experts, top_k = config.experts, config.top_k
    if experts and top_k > experts:
        raise ValueError(f"config.top_k = {top_k} exceeds config.experts = {experts}")
    if config.width % config.heads:
        raise ValueError(
            f"config.width = {config.width} must be a multiple of config.heads = {config.heads}"
        )
    return transformer.Transformer(
        vocab_size=task.vocab_size,
        max_len=task.sequence_length,
        width=config.width,
        depth=config.depth,
        heads=config.heads,
        hidden=config.hidden,
        experts=experts,
        top_k=top_k if experts else 1,
        capacity_factor=float(config.capacity_factor) if experts else 0.0,
    )


def response_log_probs(model, params, task, tokens: jax.Array, *, average: bool):
    """``[B]`` log-probabilities of the responses of ``[B, 2P + 1]`` sequences, and the model's
    routing statistics on them: ``{"load_balancing", "dropped"}`` (``jaxrl.transformer``)."""
    logits, aux = model.apply(params, tokens)
    mask = task.response_mask
    logps = jax.vmap(lambda z, y: losses.sequence_log_probs(z, y, mask, average=average))(
        logits, tokens
    )
    return logps, {"load_balancing": aux["load_balancing"], "dropped": aux["dropped"]}


def copy_probabilities(task, logits: jax.Array, tokens: jax.Array) -> jax.Array:
    """``[B, P]`` the model's probability of copying the prompt's token at each response
    position of ``[B, 2P + 1]`` sequences, given their earlier tokens: row ``P + i`` of the
    ``[B, 2P + 1, V]`` logits predicts response token ``i``, the copy of prompt token ``i``."""
    log_p = jax.nn.log_softmax(logits[:, task.length : 2 * task.length], axis=-1)
    source = tokens[:, : task.length, None]
    return jnp.exp(jnp.take_along_axis(log_p, source, axis=-1)[..., 0])


def sample_responses(model, params, task, key: jax.Array, prompts: jax.Array) -> jax.Array:
    """``[B, 2P + 1]`` sequences: the prompts (with separator) and sampled responses (with a
    key-value cache, ``jaxrl.decoding.generate``)."""
    return decoding.generate(model, params, key, prompts, task.length)


def sampler(model, task, params_of=lambda carry: carry.params):
    """The readout of a language model's run: ``(carry, hparams, mode) -> act(prompts, key)``,
    ``prompts [B, P]`` token ids (with the separator) to ``[B, length]`` response tokens, sampled
    (``mode = "sample"``) or greedy (the argmax at every position). ``params_of(carry)``: the
    transformer's parameters in the carry."""

    def policy(carry, hparams, mode: str):
        temperature = 0.0 if mode == "greedy" else 1.0

        def act(prompts, key):
            tokens = decoding.generate(
                model, params_of(carry), key, prompts, task.length, temperature=temperature
            )
            return tokens[:, prompts.shape[1] :]

        return act

    return policy


def make_optimizer(config, hparams, updates_per_step: int = 1):
    """The config's optimizer at the swept ``learning_rate`` and ``weight_decay``, a decay over
    the whole run lasting its ``total_steps * updates_per_step`` updates (SFT's and DPO's: one
    update a step; PPO-RLHF's: its epochs)."""
    block, _ = optim.over_the_run(config.optimizer, int(config.total_steps) * updates_per_step)
    return optim.make_optimizer(
        block, learning_rate=hparams.learning_rate, weight_decay=hparams.weight_decay
    )


def depends_on_total_steps(config) -> bool:
    """Whether the config's schedule decays over the whole run (``optim.over_the_run``)."""
    return optim.over_the_run(config.optimizer, int(config.total_steps))[1]


def check_domains(config, schema: fields.Schema = SCHEMA) -> dict:
    """``schema``'s domains, with ``weight_decay`` pinned to 0 unless the optimizer is adamw
    (the preference agents' optimizers are all :func:`make_optimizer`)."""
    domains = schema.domains
    if config.optimizer.name != "adamw":
        domains["weight_decay"] = real(0.0, 0.0)
    return domains


def make_experiment(config) -> Experiment:
    """The runner's view of SFT (see ``jaxrl/configs/dpo_lm.py:sft``)."""
    SCHEMA.check(config)
    task, model = make_task(config), make_model(config)
    batch_size, eval_size = config.batch_size, config.eval_size
    chunk_steps = int(config.chunk_steps)
    floor = preferences.copy_entropy(task)
    mask = task.response_mask

    def optimizer(hparams: Hparams):
        return make_optimizer(config, hparams)

    def init(key, hparams: Hparams) -> Carry:
        init_key, key = jax.random.split(key)
        example = jnp.zeros((1, task.sequence_length), jnp.int32)
        params = model.init(init_key, example)
        return Carry(
            params, optimizer(hparams).init(params), jnp.int32(0), jax.random.key_data(key)
        )

    def loss_fn(params, tokens, hparams: Hparams):
        logps, routing = response_log_probs(model, params, task, tokens, average=True)
        nll = -jnp.mean(logps)
        return nll + hparams.load_balancing_coef * routing["load_balancing"], (nll, routing)

    def train_step(carry: Carry, hparams: Hparams):
        key = rng.counter_key(carry.key_data, carry.step, TRAIN_STREAM)
        tokens = preferences.demonstrations(key, task, batch_size)
        grads, (nll, routing) = jax.grad(loss_fn, has_aux=True)(carry.params, tokens, hparams)
        updates, opt_state = optimizer(hparams).update(grads, carry.opt_state, carry.params)
        params = jax.tree.map(jnp.add, carry.params, updates)
        return Carry(params, opt_state, carry.step + 1, carry.key_data), (nll, routing)

    def train_chunk(carry: Carry, hparams: Hparams):
        carry, (nll, routing) = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        # Held out: the same demonstrations after every chunk, from a stream training never uses.
        tokens = preferences.demonstrations(
            rng.counter_key(carry.key_data, 0, EVAL_STREAM), task, eval_size
        )
        logits, _ = transformer.without_drops(model).apply(carry.params, tokens)
        logps = jax.vmap(lambda z, y: losses.sequence_log_probs(z, y, mask, average=True))(
            logits, tokens
        )
        copy = copy_probabilities(task, logits, tokens)
        metrics = {
            "nll_gap": -jnp.mean(logps) - floor,
            "train_nll": jnp.mean(nll),
            "copy_probability": jnp.mean(copy),
            "load_balancing": jnp.mean(routing["load_balancing"]),
            "dropped": jnp.mean(routing["dropped"]),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=check_domains(config),
        metrics=("nll_gap", "train_nll", "copy_probability", "load_balancing", "dropped"),
        main_metric="nll_gap",
        env_steps_per_step=batch_size,
        curve_metrics=("nll_gap", "copy_probability"),
        step_unit="sequences",
        policy=sampler(model, task),
        depends_on_total_steps=depends_on_total_steps(config),
    )
