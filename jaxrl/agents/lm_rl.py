"""On-policy RL fine-tuning of the language model of ``jaxrl.agents.dpo``: the scaffold PPO-RLHF
(``ppo_rlhf.py``) and GRPO (``grpo.py``) share on it, as ``bandit_rl.py`` is theirs on the
bandit.

``config.sft_workdir`` names a finished run of ``jaxrl.agents.sft``, read back as DPO reads it
(``dpo.load_reference``, seed ``sft_seed``): its parameters are the initial policy and the frozen
reference. The policy carries a value head, ``V(y_<=t) = w . h_t + b`` on the transformer's final
features (``Transformer(..., features=True)``; one pass gives the logits and the values), started
at 0; an agent without a critic never reads it, so it stays 0. The model is the exact mixture
throughout (``transformer.without_drops``) and has no load-balancing term.

Every step draws ``samples`` prompts, ``group_size`` copies of each (a group for GRPO; 1 for
PPO-RLHF), and a response to each from the policy with the key-value cache
(``sft.sample_responses``); scores each whole response with the reward it is handed; and takes
``epochs`` optimizer steps of the agent's ``loss(params, rollout, hparams)`` on the
:class:`Rollout` (the sampling policy's token log-probabilities and values, the reference's, the
score). Keys: ``counter_key(seed, step)`` of :data:`SAMPLE_STREAM`.

**The reward** is the true score (tokens copied from the prompt), or, with
``config.reward_workdir`` naming a finished LM run of ``jaxrl.agents.reward_model`` on the same
task, ``r_phi`` of that run's seed with this seed's key (each seed's reward model learned from
the pairs of the same seed key), whose parameters the carry holds.

Reported after every chunk, on ``eval_prompts`` held-out prompts (the same ones every chunk, a
response sampled to each from the policy): ``score``, the mean true score; ``reward``, the mean
of the reward the agent is handed; ``kl_to_reference``, the sequence KL ``KL(pi || pi_ref)``
estimated on the samples as the sum of the exact per-token KLs (``dpo.response_kl``); and the
training's ``policy_loss`` and ``value_loss``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import transformer
from jaxrl.agents import dpo, reward_model, sft
from jaxrl.envs import preferences, rng
from jaxrl.run import ConfigError, Experiment, fields

# Counter streams of a seed's raw key: step t's prompts and responses, and the held-out ones.
# Streams 0-2 are DPO's and the reward model's (dpo.DATA_STREAM, BATCH_STREAM, SAMPLE_STREAM),
# whose pairs for the same seed an RL run on a learned reward must not draw again.
SAMPLE_STREAM, EVAL_STREAM = 3, 4


def lm_fields(when) -> dict:
    """The LM's static fields, for the schemas of the agents on it (``when``: the LM task)."""
    return {
        "sft_workdir": fields.static(
            dpo.SFT_WORKDIR, "the policy's start and reference", when=when
        ),
        "sft_seed": fields.static(fields.COUNT, "the SFT run's seed to start from", when=when),
        "eval_prompts": fields.static(
            fields.POSITIVE_INT, "held-out prompts per evaluation", when=when
        ),
    }


class Params(NamedTuple):
    body: Any  # the transformer's parameters (the SFT run's at the start)
    value_head: jax.Array  # [W] (0 at the start)
    value_bias: jax.Array  # [] (0 at the start)


class Carry(NamedTuple):
    params: Params
    opt_state: Any
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32
    reward: Any  # the reward model's parameters of this seed (reward_model.LMParams), or ()


class Rollout(NamedTuple):
    """One step's responses and what the agents' losses read; ``P`` response tokens each."""

    sequences: jax.Array  # [B, 2P + 1] prompts, separators and sampled responses
    log_probs: jax.Array  # [B, P] the sampling policy's log-probabilities of the response
    reference_log_probs: jax.Array  # [B, P] the reference's
    values: jax.Array  # [B, P] the sampling policy's V before each response token
    score: jax.Array  # [B] the reward handed to the agent, of each whole response


def policy_outputs(model, params: Params, task, sequences):
    """``([B, P] log pi of the response tokens, [B, P] V before each)`` in one pass: row ``t`` of
    the ``[B, T]`` features predicts token ``t + 1`` and values the sequence up to ``t``, so rows
    ``P .. 2P - 1`` (the separator and the response but its last token) score the response."""
    features, _ = model.apply(params.body, sequences, features=True)
    head = params.body["params"]["head"]
    logits = features @ head["kernel"] + head["bias"][None, None]
    rows = slice(task.length, 2 * task.length)
    values = features[:, rows] @ params.value_head + params.value_bias
    return _response_log_probs(logits, task, sequences), values


def token_log_probs(model, params, task, sequences):
    """``[B, P]`` log-probabilities of the response tokens under a plain transformer."""
    return _response_log_probs(model.apply(params, sequences)[0], task, sequences)


def _response_log_probs(logits, task, sequences):
    """``[B, P]``: rows ``P .. 2P - 1`` of ``[B, T, V]`` logits at the response tokens."""
    log_pi = jax.nn.log_softmax(logits[:, task.length : 2 * task.length], axis=-1)
    return jnp.take_along_axis(log_pi, sequences[:, task.length + 1 :, None], axis=-1)[..., 0]


def rollout(
    model, task, params: Params, reference, key, *, samples: int, group_size: int, score
) -> Rollout:
    """One step's :class:`Rollout` (gradients stopped): ``samples`` prompts drawn with ``key``,
    ``group_size`` copies of each, a response sampled to each from the policy with the
    key-value cache, the policy's and the reference's log-probabilities of the responses, the
    policy's values, and ``score(sequences) -> [B]``."""
    prompt_key, sample_key = jax.random.split(key)
    prompts = jnp.repeat(preferences.prompts(prompt_key, task, samples), group_size, axis=0)
    sequences = sft.sample_responses(model, params.body, task, sample_key, prompts)
    log_probs, values = policy_outputs(model, params, task, sequences)
    batch = Rollout(
        sequences,
        log_probs,
        token_log_probs(model, reference, task, sequences),
        values,
        score(sequences),
    )
    return jax.lax.stop_gradient(batch)


def update(loss, optimizer, params: Params, opt_state, batch: Rollout, hparams, *, epochs: int):
    """``epochs`` optimizer steps of ``loss(params, batch, hparams) -> (scalar, report)`` on one
    rollout: ``(params, opt_state, report)``, the report averaged over the epochs."""

    def epoch(state, _):
        params, opt_state = state
        grads, report = jax.grad(loss, has_aux=True)(params, batch, hparams)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (jax.tree.map(jnp.add, params, updates), opt_state), report

    (params, opt_state), report = jax.lax.scan(epoch, (params, opt_state), None, length=epochs)
    return params, opt_state, jax.tree.map(jnp.mean, report)


def learned_reward(config, task):
    """``(model, preference_bandit.LearnedReward of its parameters by seed)`` of
    ``config.reward_workdir``, or ``(None, None)`` for ``''`` (the true score); refused in one
    line unless it is a finished LM reward-model run on this task with this run's ``seed`` and
    at least its seeds."""
    workdir = config.reward_workdir
    if not workdir:
        return None, None
    where = "config.reward_workdir"
    model, theirs, learned = reward_model.load_lm_reward_model(workdir, where, config)
    if theirs != task:
        raise ConfigError(
            f"{where} = {workdir!r}: its reward model scores another task ({theirs}), not this "
            f"run's ({task})"
        )
    return model, learned


def make_experiment(config, schema, make_loss, *, epochs: int, group_size: int = 1, metrics=()):
    """An agent's ``Experiment`` on the language model of ``config`` (checked against ``schema``,
    which declares :func:`lm_fields`, ``samples`` and ``reward_workdir``).

    Args:
        make_loss: ``(model, task) -> loss``, ``loss(params, rollout, hparams) -> (scalar,
            {name: scalar})``: the agent's loss and its report (averaged over the chunk's
            updates).
        epochs: optimizer steps per batch of responses.
        group_size: responses per prompt and step (``samples`` prompts each step).
        metrics: the names of the loss's report.
    """
    schema.check(config)
    model, task, reference = dpo.load_reference(config)
    model = transformer.without_drops(model)
    scorer, learned = learned_reward(config, task)
    loss = make_loss(model, task)
    samples, eval_prompts = config.samples, config.eval_prompts
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams):
        return sft.make_optimizer(config, hparams, updates_per_step=epochs)

    def init(key, hparams) -> Carry:
        width = model.width
        params = Params(reference, jnp.zeros((width,), jnp.float32), jnp.float32(0.0))
        reward = () if learned is None else learned.of_key(key)
        return Carry(
            params, optimizer(hparams).init(params), jnp.int32(0), jax.random.key_data(key), reward
        )

    def scores(carry: Carry, sequences):
        if learned is None:
            return preferences.score(task, sequences)
        return reward_model.sequence_rewards(scorer, carry.reward, sequences)[0]

    def train_step(carry: Carry, hparams):
        key = rng.counter_key(carry.key_data, carry.step, SAMPLE_STREAM)
        batch = rollout(
            model,
            task,
            carry.params,
            reference,
            key,
            samples=samples,
            group_size=group_size,
            score=lambda sequences: scores(carry, sequences),
        )
        params, opt_state, report = update(
            loss, optimizer(hparams), carry.params, carry.opt_state, batch, hparams, epochs=epochs
        )
        carry = carry._replace(params=params, opt_state=opt_state, step=carry.step + 1)
        return carry, report

    def train_chunk(carry: Carry, hparams):
        carry, report = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        eval_key = rng.counter_key(carry.key_data, 0, EVAL_STREAM)
        prompt_key, _ = jax.random.split(eval_key)
        prompts = preferences.prompts(prompt_key, task, eval_prompts)
        sample_key = rng.counter_key(carry.key_data, carry.step, EVAL_STREAM)
        sampled = sft.sample_responses(model, carry.params.body, task, sample_key, prompts)
        kl = dpo.response_kl(
            model.apply(carry.params.body, sampled)[0],
            model.apply(reference, sampled)[0],
            task.response_mask,
        )
        out = {
            "score": jnp.mean(preferences.score(task, sampled)),
            "reward": jnp.mean(scores(carry, sampled)),
            "kl_to_reference": jnp.mean(kl),
        }
        out.update(jax.tree.map(jnp.mean, report))
        return carry, out

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=schema.hparams_type,
        domains=sft.check_domains(config, schema),
        metrics=("score", "reward", "kl_to_reference", *metrics),
        main_metric="score",
        env_steps_per_step=samples * group_size,
        curve_metrics=("score", "reward", "kl_to_reference"),
        step_unit="responses",
        figures=dpo.copy_tradeoff_figures(task),
        policy=sft.sampler(model, task, params_of=lambda carry: carry.params.body),
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )
