"""Benchmark: one RL fine-tuning step of the tiny transformer, PPO-RLHF's and GRPO's, stage by
stage: tokens per second and the model FLOP/s as a fraction of a large matrix multiplication's on
the same machine, as the DPO benchmark (``experiments/benchmarks/dpo.py``) reports its step.

The step is ``jaxrl.agents.lm_rl``'s, as the runs take it, at the sizes of
``jaxrl/configs/dpo_lm.py`` (the dense model: width 64, 2 blocks, 4 heads, feed-forward 256;
prompts of 6 tokens, a separator, responses of 6: ``T = 13``) and the DPO benchmark's batch:
``--batch`` responses a step (PPO-RLHF: that many prompts, 4 epochs; GRPO: ``batch / 4``
prompts x groups of 4, one update). A reward model of the same transformer scores them. The
parameters are a fresh initialisation (the time does not depend on their values). Stages, each
compiled alone and timed alternately with the others (the best of ``--rounds``):

* ``generation``: ``--batch`` responses of 6 tokens with the key-value cache
  (``sft.sample_responses``); its tokens are the generated ones;
* ``reward``: the reward model's forward pass on the ``batch x T`` tokens
  (``reward_model.sequence_rewards``);
* ``reference``: the frozen reference's log-probabilities of the responses
  (``lm_rl.token_log_probs``);
* ``policy``: the sampling policy's log-probabilities and values (``lm_rl.policy_outputs``);
* ``update``: the agent's epochs of loss, gradient and AdamW step on the rollout
  (``lm_rl.update``);
* ``step``: the whole step in one program (``lm_rl.train_step``), which XLA may fuse across
  stages.

Model FLOPs, from the architecture as the DPO benchmark counts them (its
``forward_flops_per_token``): one forward pass per token for the reward, the reference and the
policy; 3 per token and epoch for the update; for the generation, the prompt's forward pass and
one position a generated token (attention over the cache's 13 positions). ``fraction`` is a
stage's model FLOP/s over the jitted ``--matmul`` product's.

    python -m experiments.benchmarks.rlhf [--batch=64] [--matmul=2048] [--rounds=20]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from absl import flags

from experiments import cli
from experiments.benchmarks import common
from jaxrl import transformer
from jaxrl.agents import grpo, lm_rl, ppo_rlhf, reward_model, sft
from jaxrl.configs import dpo_lm

_BATCH = flags.DEFINE_integer("batch", 64, "Responses per step (GRPO: in groups of 4).")
_MATMUL = flags.DEFINE_integer("matmul", 2048, "Size n of the peer's n x n matrix product.")
_ROUNDS = flags.DEFINE_integer("rounds", 20, "Timing rounds; the best round counts.")
cli.at_least("batch", 4)  # GRPO's one group at least
cli.at_least("matmul")
cli.at_least("rounds")
GROUP = 4  # GRPO's responses per prompt
STAGES = ("generation", "reward", "reference", "policy", "update", "step")


def agent(name: str, model, task, batch: int):
    """``(hparams, optimizer, loss, samples, group_size, epochs)`` of an agent's LM config."""
    cfg = dpo_lm.get_config(name)
    module = ppo_rlhf if name == "ppo_rlhf" else grpo
    hparams = module.Hparams(**{k: jnp.float32(v) for k, v in cfg.hparams.items()})
    optimizer = sft.make_optimizer(cfg, hparams)
    if name == "ppo_rlhf":
        loss = ppo_rlhf.make_lm_loss(model, task, cfg.kl_estimator)
        return hparams, optimizer, loss, batch, 1, cfg.epochs
    loss = grpo.make_lm_loss(
        model, task, group_size=GROUP, scale_std=cfg.scale_std, kl_penalty=cfg.kl_penalty
    )
    return hparams, optimizer, loss, batch // GROUP, GROUP, 1


def stages(name: str, batch: int):
    """The stages' compiled calls, their model FLOPs and tokens, and XLA's FLOPs of the update."""
    cfg = dpo_lm.get_config("sft")
    task, model = sft.make_task(cfg), transformer.without_drops(sft.make_model(cfg))
    length = task.sequence_length
    example = jnp.zeros((1, length), jnp.int32)
    body = jax.jit(model.init)(jax.random.key(0), example)
    reference = jax.jit(model.init)(jax.random.key(1), example)
    zero_head = (jnp.zeros((model.width,), jnp.float32), jnp.float32(0.0))
    params = lm_rl.Params(body, *zero_head)
    scorer = reward_model.LMParams(jax.jit(model.init)(jax.random.key(2), example), *zero_head)
    hparams, optimizer, loss, samples, group_size, epochs = agent(name, model, task, batch)
    opt_state = optimizer.init(params)

    def score(sequences):
        return reward_model.sequence_rewards(model, scorer, sequences)[0]

    def rollout(params, key):
        return lm_rl.rollout(
            model,
            task,
            params,
            reference,
            key,
            samples=samples,
            group_size=group_size,
            score=score,
        )

    def update(params, opt_state, rollout_):
        return lm_rl.update(loss, optimizer, params, opt_state, rollout_, hparams, epochs=epochs)

    key = jax.random.key(3)
    rollout_ = jax.jit(rollout)(params, key)
    sequences = rollout_.sequences
    prompts = sequences[:, : task.length + 1]
    programs = {
        "generation": (
            lambda p, k: sft.sample_responses(model, p.body, task, k, prompts),
            (params, key),
        ),
        "reward": (score, (sequences,)),
        "reference": (lambda s: lm_rl.token_log_probs(model, reference, task, s), (sequences,)),
        "policy": (lambda p, s: lm_rl.policy_outputs(model, p, task, s), (params, sequences)),
        "update": (update, (params, opt_state, rollout_)),
        "step": (lambda p, o, k: update(p, o, rollout(p, k)), (params, opt_state, key)),
    }
    calls, xla_flops = {}, {}
    for stage, (fn, args) in programs.items():
        compiled = jax.jit(fn).lower(*args).compile()
        analysis = compiled.cost_analysis()
        xla_flops[stage] = float(analysis.get("flops", 0.0)) if analysis else 0.0
        calls[stage] = lambda compiled=compiled, args=args: compiled(*args)
    per_token = common.forward_flops_per_token(model, length)
    responses = samples * group_size  # GRPO: batch // 4 groups of 4
    tokens = responses * length
    forward = per_token * tokens
    model_flops = {
        "generation": forward,  # the prompt at once, then a position a token
        "reward": forward,
        "reference": forward,
        "policy": forward,
        "update": 3 * epochs * forward,
    }
    model_flops["step"] = sum(model_flops.values())
    counted = {stage: tokens for stage in STAGES}
    counted["generation"] = responses * task.length  # the generated tokens
    return calls, model_flops, counted, xla_flops, epochs


def run(batch: int, matmul: int, rounds: int) -> dict:
    product, product_flops = common.matmul_peer(matmul)
    agents, calls = {}, {"matmul": product}
    for name in ("ppo_rlhf", "grpo"):
        stage_calls, flops, counted, xla, epochs = stages(name, batch)
        agents[name] = {"model_flops": flops, "tokens": counted, "xla_flops": xla, "epochs": epochs}
        calls.update({f"{name}/{stage}": call for stage, call in stage_calls.items()})
    best = common.best_times(calls, rounds=rounds)
    matmul_flops = product_flops / best["matmul"]
    for name, figures in agents.items():
        figures["ms"] = {s: 1e3 * best[f"{name}/{s}"] for s in STAGES}
        figures["tokens_per_s"] = {s: figures["tokens"][s] / best[f"{name}/{s}"] for s in STAGES}
        figures["fraction"] = {
            s: figures["model_flops"][s] / best[f"{name}/{s}"] / matmul_flops for s in STAGES
        }
    ppo = agents["ppo_rlhf"]
    return {
        "benchmark": "rlhf_step",
        "ours": ppo["model_flops"]["step"] / best["ppo_rlhf/step"],
        "peer": f"jitted {matmul}x{matmul} float32 matmul",
        "peer_value": matmul_flops,
        "unit": "FLOP/s",
        "ratio": ppo["fraction"]["step"],
        "agents": agents,
        "batch_responses": batch,
        "device": common.device_description(),
    }


def main(argv) -> None:
    del argv
    result = run(_BATCH.value, _MATMUL.value, _ROUNDS.value)
    for name, figures in result["agents"].items():
        parts = "; ".join(
            f"{stage} {figures['ms'][stage]:.2f} ms, {figures['tokens_per_s'][stage]:,.0f} "
            f"tokens/s, {figures['fraction'][stage]:.1%}"
            for stage in STAGES
        )
        print(
            f"{name} step of {result['batch_responses']} responses ({figures['epochs']} "
            f"epoch(s)): {parts} of the matmul's {result['peer_value'] / 1e9:,.1f} GFLOP/s",
            flush=True,
        )
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
