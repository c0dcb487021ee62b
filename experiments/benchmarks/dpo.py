"""Benchmark: one DPO training step of the tiny transformer, tokens per second and its model
FLOP/s as a fraction of a large matrix multiplication's FLOP/s on the same machine.

The step is ``jaxrl.agents.dpo.lm_update``, jitted, exactly as the DPO run takes it: the policy's
forward and backward passes on ``--batch`` chosen and ``--batch`` rejected sequences (prompt,
separator, response: 13 tokens at the config's sizes), the sigmoid DPO loss against the frozen
reference's log-probabilities (computed once per pair by the run, outside the step) plus the
mixture's load-balancing loss, and an AdamW step. The models are ``jaxrl/configs/dpo_lm.py``'s:
dense (width 64, 2 blocks, 4 heads, feed-forward 256) and the mixture of 4 experts of width 128
with top-2 routing (the same active width) and capacity factor 1.25.

* tokens per second: ``2 * batch * T`` tokens per step over the best step time;
* model FLOPs per step: 3x the policy's forward FLOPs (forward and backward), counted from the
  architecture: per token and block ``8 d^2`` (projections), ``4 T d`` (scores and values over
  all T positions), ``4 d h k`` (the active feed-forward: ``k`` experts of width ``h``; dense:
  ``k = 1``) and ``2 d E`` (the router), plus ``2 d V`` (the output head); ``xla_flops`` is
  XLA's count of what the compiled step executes (the mixture's capacity dispatch runs
  ``capacity_factor`` times the active experts' FLOPs);
* the mixture's dispatch, one feed-forward layer's forward and backward pass on the step's
  ``2 * batch * T`` tokens, four ways (``moe_dispatch`` in the JSON line: milliseconds, XLA's
  FLOPs, and the largest difference from ``dense``): ``dense`` runs every expert on every token
  and keeps the top k by a gate matrix (the library's dispatch before issue 22); ``ragged``
  sorts the assignments by expert and runs ``jax.lax.ragged_dot``, a grouped matmul whose CPU
  lowering in jax 0.10.2 computes every group for every row; ``capacity`` is the library's
  (``jaxrl.transformer.MoEFeedForward``) at the config's factor, and ``capacity_0`` with no
  token dropped;
* the peer: a jitted ``--matmul x --matmul`` float32 matrix product, ``2 n^3`` FLOPs, timed in
  the same process, alternating with the steps; ``ratio`` is the dense step's model FLOP/s over
  the peer's (how close the step runs to what this machine's matmul reaches), and
  ``moe_fraction`` the mixture's.

And the generation that DPO's pair sampling and evaluation need: tokens per second of sampling
``--generation_batch`` responses of each length in ``--responses`` after an 8-token prompt from
the dense model with 136 positions, recomputing the whole buffer each step
(``jaxrl.transformer.generate``) and with a key-value cache (``jaxrl.decoding.generate``);
``generation_tokens_per_s`` in the JSON line, per length: ``full``, ``cached`` and ``speedup``.

    python -m experiments.benchmarks.dpo [--batch=64] [--matmul=2048] [--rounds=20] \
        [--responses=8,32,128] [--generation_batch=64]
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from absl import flags

from experiments import cli
from experiments.benchmarks import common
from jaxrl import optim
from jaxrl.agents import dpo, sft
from jaxrl.configs import dpo_lm

_BATCH = flags.DEFINE_integer("batch", 64, "Preference pairs per step.")
_MATMUL = flags.DEFINE_integer("matmul", 2048, "Size n of the peer's n x n matrix product.")
_ROUNDS = flags.DEFINE_integer("rounds", 20, "Timing rounds; the best round counts.")
_STEPS = flags.DEFINE_integer("steps", 5, "DPO steps per timed call (a compiled call each).")
_RESPONSES = flags.DEFINE_list(
    "responses", ["8", "32", "128"], "Generated tokens per sequence of the generation timing."
)
_GENERATION_BATCH = flags.DEFINE_integer("generation_batch", 64, "Sequences generated at once.")
_GENERATION_ROUNDS = flags.DEFINE_integer("generation_rounds", 3, "Rounds of generation timing.")

cli.at_least("batch")
cli.at_least("matmul")
cli.at_least("rounds")
cli.at_least("steps")
cli.positive_int_list("responses")
cli.at_least("generation_batch")
cli.at_least("generation_rounds")
PROMPT, MAX_LEN = 8, 136  # the generation timing's prompt and the model's positions


def generation_rates(responses, batch: int, rounds: int) -> dict:
    """Tokens per second of sampling ``batch`` responses of each length after a prompt of 8
    tokens from the config's dense model (``max_len`` 136): the full recompute
    (``jaxrl.transformer.generate``, every step a forward pass over the whole buffer) against
    the key-value cache (``jaxrl.decoding.generate``, the prompt once, then one position a step),
    each compiled once per length and timed alternately (the best of ``rounds``)."""
    from jaxrl import decoding, transformer

    cfg = dpo_lm.get_config("sft")
    model = transformer.Transformer(
        vocab_size=cfg.vocab + 1,
        max_len=MAX_LEN,
        width=cfg.width,
        depth=cfg.depth,
        heads=cfg.heads,
        hidden=cfg.hidden,
    )
    prompts = jax.random.randint(jax.random.key(0), (batch, PROMPT), 0, cfg.vocab)
    params = jax.jit(model.init)(jax.random.key(1), prompts)
    out = {}
    for length in responses:
        fns = {}
        for name, module in (("full", transformer), ("cached", decoding)):
            program = jax.jit(
                lambda key, module=module, length=length: module.generate(
                    model, params, key, prompts, length, temperature=1.0
                )
            )
            program = program.lower(jax.random.key(2)).compile()
            fns[name] = lambda program=program: program(jax.random.key(2))
        best = common.best_times(fns, rounds=rounds)
        full, cached = batch * length / best["full"], batch * length / best["cached"]
        out[str(length)] = {"full": full, "cached": cached, "speedup": cached / full}
    return out


def make_step(variant: str, batch: int, steps: int):
    """``steps`` calls of the compiled DPO update of the config's model, its tokens per step,
    its model FLOPs per step and XLA's count of the FLOPs the compiled step executes."""
    sft_config = dpo_lm.get_config(variant)
    dpo_config = dpo_lm.get_config("dpo")
    model, task = sft.make_model(sft_config), sft.make_task(sft_config)
    length = task.sequence_length
    key = jax.random.key(0)
    params_key, reference_key, data_key = jax.random.split(key, 3)
    example = jnp.zeros((1, length), jnp.int32)
    params = jax.jit(model.init)(params_key, example)
    reference = jax.jit(model.init)(reference_key, example)
    chosen, rejected = (
        jax.random.randint(k, (batch, length), 0, task.vocab_size)
        for k in jax.random.split(data_key)
    )
    reference_logps, _ = jax.jit(lambda p, c, r: dpo.response_pair_log_probs(model, task, p, c, r))(
        reference, chosen, rejected
    )
    hparams = dpo.Hparams(
        beta=jnp.float32(0.1),
        learning_rate=jnp.float32(1e-4),
        label_smoothing=jnp.float32(0.0),
        weight_decay=jnp.float32(0.01),
        load_balancing_coef=jnp.float32(0.01),
    )
    optimizer = optim.make_optimizer(
        dpo_config.optimizer, learning_rate=hparams.learning_rate, weight_decay=0.01
    )

    def step(state):
        params, opt_state = state
        params, opt_state, _ = dpo.lm_update(
            model,
            task,
            optimizer,
            params,
            opt_state,
            reference_logps,
            chosen,
            rejected,
            hparams,
            config=dpo_config,
        )
        return params, opt_state

    opt_state = jax.jit(optimizer.init)(params)
    compiled = jax.jit(step).lower((params, opt_state)).compile()
    # XLA's count of the FLOPs the compiled step executes.
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
    xla_flops = float(analysis.get("flops", 0.0)) if analysis else 0.0
    state = {"value": (params, opt_state)}

    def call():
        for _ in range(steps):
            state["value"] = compiled(state["value"])
        return state["value"]

    tokens = 2 * batch * length
    model_flops = 3 * common.forward_flops_per_token(model, length) * tokens
    return call, tokens, model_flops, xla_flops


def _dense_dispatch(p, x, top_k: int):
    """Every expert on every token, the top k kept by a ``[N, E]`` gate matrix."""
    experts = p["up_kernel"].shape[0]
    tokens = x.reshape(-1, x.shape[-1])
    top_logits, top_index = jax.lax.top_k(tokens @ p["router"]["kernel"], top_k)
    assigned = jax.nn.one_hot(top_index, experts)
    gates = jnp.einsum("nk,nke->ne", jax.nn.softmax(top_logits, axis=-1), assigned)
    h = jnp.einsum("nd,edh->neh", tokens, p["up_kernel"]) + p["up_bias"][None]
    out = jnp.einsum("neh,ehd->ned", nn.gelu(h), p["down_kernel"]) + p["down_bias"][None]
    return jnp.einsum("ne,ned->nd", gates, out).reshape(x.shape)


def _ragged_dispatch(p, x, top_k: int):
    """The assignments sorted by expert, each expert's rows a group of ``jax.lax.ragged_dot``."""
    experts = p["up_kernel"].shape[0]
    tokens = x.reshape(-1, x.shape[-1])
    top_logits, top_index = jax.lax.top_k(tokens @ p["router"]["kernel"], top_k)
    gate = jax.nn.softmax(top_logits, axis=-1).reshape(-1)
    expert = top_index.reshape(-1)
    order = jnp.argsort(expert, stable=True)
    sizes = jnp.bincount(expert, length=experts).astype(jnp.int32)
    grouped = expert[order]
    h = jax.lax.ragged_dot(tokens[order // top_k], p["up_kernel"], sizes) + p["up_bias"][grouped]
    out = jax.lax.ragged_dot(nn.gelu(h), p["down_kernel"], sizes) + p["down_bias"][grouped]
    back = jnp.zeros_like(out).at[order].set(out) * gate[:, None]
    return jnp.sum(back.reshape(-1, top_k, tokens.shape[-1]), axis=1).reshape(x.shape)


def dispatch_timings(batch: int, rounds: int) -> dict:
    """One mixture layer of the ``sft_moe`` config, forward and backward, on ``2 * batch``
    sequences of the step's length, per dispatch: best milliseconds, XLA's FLOPs and the largest
    output difference from ``dense``."""
    from jaxrl import transformer

    cfg = dpo_lm.get_config("sft_moe")
    task = sft.make_task(cfg)
    factor = float(cfg.capacity_factor)
    x = jax.random.normal(jax.random.key(0), (2 * batch, task.sequence_length, cfg.width))

    def library(capacity_factor):
        module = transformer.MoEFeedForward(
            cfg.width, cfg.hidden, cfg.experts, cfg.top_k, capacity_factor
        )
        return lambda p, x: module.apply({"params": p}, x)[0]

    module = transformer.MoEFeedForward(cfg.width, cfg.hidden, cfg.experts, cfg.top_k)
    params = jax.jit(module.init)(jax.random.key(1), x)["params"]
    dispatches = {
        "dense": lambda p, x: _dense_dispatch(p, x, cfg.top_k),
        "ragged": lambda p, x: _ragged_dispatch(p, x, cfg.top_k),
        "capacity": library(factor),
        "capacity_0": library(0.0),
    }
    programs, out, outputs = {}, {}, {}
    for name, fn in dispatches.items():

        def forward_backward(p, x, fn=fn):  # the output, and the gradient of its squared sum
            y, pullback = jax.vjp(fn, p, x)
            return y, pullback(2.0 * y)

        compiled = jax.jit(forward_backward).lower(params, x).compile()
        analysis = compiled.cost_analysis()
        analysis = analysis[0] if isinstance(analysis, (list, tuple)) else analysis
        outputs[name] = compiled(params, x)[0]
        out[name] = {"xla_flops": float(analysis["flops"])}
        programs[name] = lambda compiled=compiled: compiled(params, x)
    for name in dispatches:
        out[name]["max_diff"] = float(jnp.max(jnp.abs(outputs[name] - outputs["dense"])))
    best = common.best_times(programs, rounds=rounds)
    for name in dispatches:
        out[name]["ms"] = 1e3 * best[name]
    out["capacity_factor"] = factor
    return out


def run(batch: int, matmul: int, rounds: int, steps: int, generation=None, dispatch=None) -> dict:
    dense, tokens, dense_flops, dense_xla = make_step("sft", batch, steps)
    moe, _, moe_flops, moe_xla = make_step("sft_moe", batch, steps)
    product, product_flops = common.matmul_peer(matmul)
    best = common.best_times({"dense": dense, "moe": moe, "matmul": product}, rounds=rounds)
    matmul_flops = product_flops / best["matmul"]
    dense_rate = dense_flops * steps / best["dense"]
    moe_rate = moe_flops * steps / best["moe"]
    return {
        "benchmark": "dpo_step",
        "ours": dense_rate,
        "peer": f"jitted {matmul}x{matmul} float32 matmul",
        "peer_value": matmul_flops,
        "unit": "FLOP/s",
        "ratio": dense_rate / matmul_flops,
        "moe_fraction": moe_rate / matmul_flops,
        "tokens_per_s_dense": tokens * steps / best["dense"],
        "tokens_per_s_moe": tokens * steps / best["moe"],
        "step_ms_dense": 1e3 * best["dense"] / steps,
        "step_ms_moe": 1e3 * best["moe"] / steps,
        "model_flops_per_step_dense": dense_flops,
        "model_flops_per_step_moe": moe_flops,
        "xla_flops_per_step_dense": dense_xla,
        "xla_flops_per_step_moe": moe_xla,
        "batch_pairs": batch,
        "tokens_per_step": tokens,
        "generation_tokens_per_s": generation or {},
        "moe_dispatch": dispatch or {},
        "generation_batch": _GENERATION_BATCH.value,
        "generation_prompt": PROMPT,
        "max_len": MAX_LEN,
        "device": common.device_description(),
    }


def main(argv) -> None:
    del argv
    responses = [int(r) for r in _RESPONSES.value]
    generation = generation_rates(responses, _GENERATION_BATCH.value, _GENERATION_ROUNDS.value)
    dispatch = dispatch_timings(_BATCH.value, _ROUNDS.value)
    result = run(_BATCH.value, _MATMUL.value, _ROUNDS.value, _STEPS.value, generation, dispatch)
    for name in ("dense", "ragged", "capacity", "capacity_0"):
        figures = dispatch[name]
        print(
            f"MoE layer dispatch {name}: {figures['ms']:.2f} ms forward and backward, "
            f"{figures['xla_flops'] / 1e6:,.1f} MFLOP, {figures['max_diff']:.1e} from dense",
            flush=True,
        )
    for length, rates in generation.items():
        print(
            f"generation of {length} tokens after {PROMPT} (batch {_GENERATION_BATCH.value}): "
            f"{rates['full']:,.0f} tokens/s recomputing, {rates['cached']:,.0f} with the cache "
            f"({rates['speedup']:.1f}x)",
            flush=True,
        )
    print(
        f"DPO step at batch {result['batch_pairs']} pairs ({result['tokens_per_step']} tokens): "
        f"dense {result['tokens_per_s_dense']:,.0f} tokens/s ({result['step_ms_dense']:.1f} ms), "
        f"MoE {result['tokens_per_s_moe']:,.0f} tokens/s ({result['step_ms_moe']:.1f} ms); "
        f"model FLOP/s {result['ratio']:.1%} (dense) and {result['moe_fraction']:.1%} (MoE) of "
        f"the matmul's {result['peer_value'] / 1e9:,.1f} GFLOP/s",
        flush=True,
    )
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
