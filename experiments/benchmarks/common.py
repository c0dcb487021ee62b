"""Shared helpers for benchmarks: interleaved timing and the closing JSON line.

Machines are shared and noisy, so each benchmark times our code and its peer in the same process,
alternating them round by round, and reports the best (minimum) time of each: the minimum is the
run least disturbed by other load. Every benchmark prints, as its last line, one JSON object with
at least ``benchmark``, ``ours``, ``peer``, ``peer_value``, ``unit`` and ``ratio``.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp

from experiments import launch
from jaxrl.run import Program, seed_keys, settings_from_config


def block(x):
    """Waits for every array in ``x`` (a pytree, or NumPy results) to be computed."""
    return jax.block_until_ready(x)


def best_times(fns: dict[str, Callable[[], object]], *, rounds: int) -> dict[str, float]:
    """Calls each function once per round, alternating, after one warm-up; the minimum seconds."""
    for fn in fns.values():
        block(fn())
    best = {name: float("inf") for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            block(fn())
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def device_description() -> str:
    devices = jax.devices()
    kind = devices[0].device_kind
    return f"{len(devices)}x {kind} ({jax.default_backend()}), {platform.machine()}"


def emit(result: dict) -> None:
    """Prints the closing JSON line (it must be the last line of output)."""
    for key in ("benchmark", "ours", "peer", "peer_value", "unit", "ratio"):
        if key not in result:
            raise ValueError(f"benchmark result lacks the field {key!r}")
    print(json.dumps(result), flush=True)


def seeds_summary(result: dict) -> str:
    """The human line of a seeds benchmark (ours for many seeds, one after another, the peer)."""
    return (
        f"ours {result['ours']:,.0f} env steps/s ({result['num_seeds']} seeds), sequential "
        f"{result['sequential']:,.0f}, peer {result['peer_value']:,.0f}: ratio "
        f"{result['ratio']:.1f}x, vmap gain {result['vmap_ratio']:.1f}x"
    )


def compiled_chunk(experiment, config, num_seeds: int, *, warm_calls: int = 0):
    """The runner's compiled ``train_chunk`` of ``experiment`` for ``num_seeds`` seeds, on the
    launcher's device layout, as ``call() -> metrics``; called ``warm_calls`` times first (e.g.
    to pass ``learning_starts``, so that every timed step learns)."""
    settings = settings_from_config(experiment, config)
    devices, _ = launch.choose_devices(num_seeds)
    program = Program(experiment, settings.hparams, seed_keys(0, num_seeds), devices)
    state = {"carry": block(program.init())}

    def call():
        state["carry"], metrics = program.chunk(state["carry"])
        return metrics

    for _ in range(warm_calls):
        block(call())
    return call


def forward_flops_per_token(model, length: int) -> float:
    """A ``jaxrl.transformer.Transformer``'s forward FLOPs per token over sequences of
    ``length`` (multiply-adds count 2), active experts only: per block ``8 d^2`` (the
    projections), ``4 T d`` (scores and values over the T positions), ``4 d h k`` (the
    feed-forward, ``k`` experts of width ``h``; dense ``k = 1``) and ``2 d E`` (the router),
    plus ``2 d V`` (the output head)."""
    d, h = model.width, model.hidden
    k = model.top_k if model.experts else 1
    per_block = 8 * d * d + 4 * length * d + 4 * d * h * k + 2 * d * model.experts
    return model.depth * per_block + 2 * d * model.vocab_size


def matmul_peer(n: int):
    """``(call, flops)``: a compiled ``n x n`` float32 matrix product (random operands) and its
    ``2 n^3`` FLOPs, the peer the transformer benchmarks' FLOP/s are measured against."""
    a = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(2), (n, n), jnp.float32)
    product = jax.jit(jnp.matmul).lower(a, b).compile()
    return (lambda: product(a, b)), 2.0 * n**3
