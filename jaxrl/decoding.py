"""Generation from :class:`jaxrl.transformer.Transformer` with a key-value cache.

:func:`jaxrl.transformer.generate` runs the whole model on the whole buffer for every new token:
``T`` steps cost ``T`` forward passes over ``T`` positions. Here the prompt is run once (the
*prefill*), each block's keys and values of every position are kept in a cache, and each new
token runs the model on that one position only, attending to the cached keys and values: a
decode step costs O(T) (one query against the cache) instead of O(T^2).

Shapes are fixed, so it jits and vmaps: the cache is ``[depth, B, S, heads, head_dim]`` for keys
and for values, ``S = P + length``, filled position by position with
``lax.dynamic_update_slice``; a query at position ``t`` attends to the cache positions ``<= t``
(the others are masked exactly as the full model masks the future: their weight is 0). The
decode loop is one ``lax.fori_loop``: one program however many tokens are generated.

The computation is the full model's, block for block, on the same parameters (the same flax
modules applied to the same inputs): a token's logits equal the full recompute's up to float
rounding (the attention's sums run over ``S`` cached positions instead of ``t + 1``), so greedy
decoding gives the same tokens except at a near-tie of the two largest logits, and sampling
with the same keys the same tokens except at a near-tie of the Gumbel-perturbed logits
(``tests/test_decoding.py`` measures both).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxrl.transformer import (
    FeedForward,
    MoEFeedForward,
    Transformer,
    sampling_setup,
    without_drops,
)


class Cache(NamedTuple):
    """The keys and values of every block at every position so far: ``[depth, B, S, heads,
    head_dim]`` each (zeros where nothing is written yet)."""

    keys: jax.Array
    values: jax.Array


def init_cache(model: Transformer, batch: int, size: int) -> Cache:
    """An empty cache for ``batch`` sequences of up to ``size`` positions."""
    if size > model.max_len:
        raise ValueError(f"the cache holds at most max_len={model.max_len} positions, got {size}")
    shape = (model.depth, batch, size, model.heads, model.width // model.heads)
    return Cache(jnp.zeros(shape, jnp.float32), jnp.zeros(shape, jnp.float32))


def _dense(p, x):
    return nn.Dense(p["kernel"].shape[-1]).apply({"params": p}, x)


def _layer_norm(p, x):
    return nn.LayerNorm().apply({"params": p}, x)


def _attention(model: Transformer, p, x, keys, values, start):
    """Block attention for the positions ``start .. start + L - 1`` of ``x [B, L, width]`` (the
    block's normalised input), whose keys and values are written into ``keys``/``values``
    (``[B, S, H, d]``) first; each query attends to the cache positions up to its own."""
    batch, length, width = x.shape
    heads = model.heads
    head_dim = width // heads
    qkv = _dense(p["qkv"], x).reshape(batch, length, 3, heads, head_dim)
    q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
    keys = jax.lax.dynamic_update_slice_in_dim(keys, k, start, axis=1)
    values = jax.lax.dynamic_update_slice_in_dim(values, v, start, axis=1)
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, keys) / math.sqrt(head_dim)
    seen = jnp.arange(keys.shape[1])[None, :] <= (start + jnp.arange(length))[:, None]
    scores = jnp.where(seen[None, None], scores, jnp.finfo(scores.dtype).min)
    weights = jax.nn.softmax(scores, axis=-1)
    mixed = jnp.einsum("bhqk,bkhd->bqhd", weights, values).reshape(batch, length, width)
    return _dense(p["out"], mixed), keys, values


def forward(model: Transformer, params: Any, tokens: jax.Array, start, cache: Cache):
    """The model on the positions ``start .. start + L - 1`` of each sequence, given the cache of
    the positions before them: ``(logits [B, L, V], cache)`` with their keys and values added.
    ``start`` may be traced. The prefill is ``forward(..., prompts, 0, cache)``; a decode step
    ``forward(..., token[:, None], t, cache)``."""
    chex.assert_rank(tokens, 2)
    p = params["params"]
    length = tokens.shape[1]
    positions = jax.lax.dynamic_slice_in_dim(p["pos_embed"], start, length, axis=0)
    h = jnp.take(p["token_embed"]["embedding"], tokens, axis=0) + positions[None]
    keys, values = [], []
    for i in range(model.depth):
        out, k, v = _attention(
            model,
            p[f"attn_{i}"],
            _layer_norm(p[f"ln_attn_{i}"], h),
            cache.keys[i],
            cache.values[i],
            start,
        )
        h = h + out
        keys.append(k)
        values.append(v)
        normed = _layer_norm(p[f"ln_ff_{i}"], h)
        if model.experts:
            moe = MoEFeedForward(
                model.width, model.hidden, model.experts, model.top_k, model.capacity_factor
            )
            out, _ = moe.apply({"params": p[f"ff_{i}"]}, normed)
        else:
            out = FeedForward(model.width, model.hidden).apply({"params": p[f"ff_{i}"]}, normed)
        h = h + out
    logits = _dense(p["head"], _layer_norm(p["ln_final"], h))
    return logits, Cache(jnp.stack(keys), jnp.stack(values))


def generate(
    model: Transformer,
    params: Any,
    key: jax.Array,
    prompts: jax.Array,
    length: int,
    *,
    temperature: float | jax.Array = 1.0,
    return_logits: bool = False,
):
    """Continues each prompt by ``length`` tokens, as :func:`jaxrl.transformer.generate` does
    (token ``P + i`` drawn from ``softmax(logits / temperature)`` with key ``fold_in(key, i)``;
    ``temperature = 0`` greedy), with the prompt run once and a key-value cache after it.

    Args:
        model, params, key, prompts, length, temperature: as
            :func:`jaxrl.transformer.generate` (``model`` and ``length`` static under jit).
        return_logits: also return the logits each new token was drawn from, ``[B, length, V]``.

    Returns:
        ``[B, P + length]`` int32 (and the logits, with ``return_logits``).
    """
    batch, prompt_len = prompts.shape
    greedy, safe_temperature = sampling_setup(model, prompts, length, temperature)
    model = without_drops(model)  # a mixture samples from its exact top-k, one position a step
    size = prompt_len + length
    logits, cache = forward(
        model, params, prompts.astype(jnp.int32), 0, init_cache(model, batch, size)
    )
    buffer = jnp.zeros((batch, size), jnp.int32).at[:, :prompt_len].set(prompts.astype(jnp.int32))
    # The logits drawn from are kept only when asked for (none in a training step's sampling).
    drawn = jnp.zeros((batch, length if return_logits else 0, model.vocab_size), jnp.float32)

    def step(i, carry):
        buffer, last, cache, drawn = carry
        sampled = jax.random.categorical(jax.random.fold_in(key, i), last / safe_temperature)
        token = jnp.where(greedy, jnp.argmax(last, axis=-1), sampled).astype(jnp.int32)
        buffer = jax.lax.dynamic_update_index_in_dim(buffer, token, prompt_len + i, axis=1)
        if return_logits:
            drawn = jax.lax.dynamic_update_index_in_dim(drawn, last, i, axis=1)
        logits, cache = forward(model, params, token[:, None], prompt_len + i, cache)
        return buffer, logits[:, 0], cache, drawn

    buffer, _, _, drawn = jax.lax.fori_loop(0, length, step, (buffer, logits[:, -1], cache, drawn))
    return (buffer, drawn) if return_logits else buffer
