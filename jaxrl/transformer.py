"""A tiny causal decoder-only transformer (flax linen, float32), dense or mixture-of-experts.

Sized for preference-learning experiments on synthetic token sequences (a vocabulary of tens of
tokens, sequences of tens of positions, width 64, two layers): it compiles and runs in seconds on
a CPU. The block is the pre-LayerNorm decoder of GPT-2 (Radford et al. 2019, "Language Models are
Unsupervised Multitask Learners"): ``x <- x + attn(LN(x))``, ``x <- x + ff(LN(x))``, with causal
multi-head self-attention (Vaswani et al. 2017, "Attention Is All You Need",
https://arxiv.org/abs/1706.03762) and a final LayerNorm before the output projection.

The feed-forward sublayer is either a dense :class:`FeedForward` or a :class:`MoEFeedForward`,
a top-k routed mixture of experts as in Mixtral (Jiang et al. 2024, "Mixtral of Experts",
https://arxiv.org/abs/2401.04088) with the Switch Transformer's load-balancing loss (Fedus, Zoph
and Shazeer 2021, https://arxiv.org/abs/2101.03961).

Every initializer is a plain normal, truncated-normal or zero draw: no orthogonal initialisation,
hence no QR (or any other LAPACK call) in ``init``. Jitted LAPACK calls deadlock when sharded over
several CPU host devices with jax 0.10.2, and the runner compiles ``init`` into its programs.
"""

from __future__ import annotations

import math
from typing import Any

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp

EMBED_STD = 0.02  # the std of the token and positional embeddings (GPT-2)


def _check_positive(name: str, value: Any, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_top_k(top_k: Any, experts: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= experts:
        raise ValueError(f"top_k must be an integer in [1, experts={experts}], got {top_k!r}")


class FeedForward(nn.Module):
    """The position-wise feed-forward sublayer: ``down(gelu(up(x)))``.

    ``up`` is ``Dense(hidden)`` and ``down`` is ``Dense(width)`` (LeCun-normal kernels, zero
    biases); ``gelu`` is the tanh approximation (:func:`flax.linen.gelu`).

    Attributes:
        width: the model width (input and output features).
        hidden: the hidden width (4 x width in GPT-2).
    """

    width: int
    hidden: int

    def __post_init__(self) -> None:
        _check_positive("width", self.width)
        _check_positive("hidden", self.hidden)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """The sublayer on every position of ``x``.

        Args:
            x: ``[..., width]`` float.

        Returns:
            ``[..., width]``.
        """
        chex.assert_axis_dimension(x, -1, self.width)
        h = nn.gelu(nn.Dense(self.hidden, name="up")(x))
        return nn.Dense(self.width, name="down")(h)


def _check_capacity_factor(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(
            f"capacity_factor must be a number >= 0 (0: no token dropped), got {value!r}"
        )


def expert_capacity(tokens: int, experts: int, top_k: int, capacity_factor: float) -> int:
    """The slots of each expert for ``tokens`` tokens: ``ceil(capacity_factor * tokens * top_k
    / experts)``, at most ``tokens`` (a token never picks an expert twice, so ``tokens`` slots
    drop nothing); ``capacity_factor = 0`` gives ``tokens``."""
    if not capacity_factor:
        return tokens
    return max(1, min(tokens, math.ceil(capacity_factor * tokens * top_k / experts)))


def route_by_capacity(expert: jax.Array, experts: int, capacity: int):
    """Where each assignment goes in a GShard / Switch capacity dispatch.

    Args:
        expert: ``[A]`` int, the expert of each (token, slot) assignment, in priority order
            (earlier assignments keep their slot when an expert is full).
        experts: ``E``.
        capacity: ``C``, the slots of each expert.

    Returns:
        ``(source, filled, position, kept)``: ``source [E, C]`` the assignment in each expert's
        slot and ``filled [E, C]`` whether the slot holds one (an expert with fewer than ``C``
        assignments leaves slots empty); ``position [A]`` each assignment's rank among its
        expert's and ``kept [A]`` whether it got a slot (``position < C``). One stable sort by
        expert and one cumulative count, both O(A log A) or better: no ``[A, E, C]`` dispatch
        tensor.
    """
    size = expert.shape[0]
    onehot = jax.nn.one_hot(expert, experts, dtype=jnp.int32)  # [A, E]
    position = jnp.sum((jnp.cumsum(onehot, axis=0) - 1) * onehot, axis=1)  # [A]
    counts = jnp.sum(onehot, axis=0)  # [E]
    starts = jnp.cumsum(counts) - counts
    order = jnp.argsort(expert, stable=True)  # the assignments grouped by expert, in priority
    slot = jnp.arange(capacity)
    filled = slot[None, :] < counts[:, None]  # [E, C]
    source = order[jnp.minimum(starts[:, None] + slot[None, :], size - 1)]
    return source, filled, position, position < capacity


class MoEFeedForward(nn.Module):
    """A mixture of ``experts`` :class:`FeedForward` experts with top-k routing.

    For a token ``x`` the router gives logits ``l = W_r x`` (``W_r``: ``Dense(experts)`` without
    bias). The token goes to the ``top_k`` experts ``T(x)`` of largest logit and its output is

        y = sum_{e in T(x)} g_e(x) FF_e(x),    g_e(x) = exp(l_e) / sum_{j in T(x)} exp(l_j),

    a softmax over the chosen logits only (Mixtral), so ``experts = top_k = 1`` is exactly a
    :class:`FeedForward` (a test checks it with copied weights). Each ``FF_e`` has the same math as
    :class:`FeedForward`; their parameters are stacked along a leading ``[experts]`` axis.

    Dispatch computes only the chosen experts, in the style of GShard and the Switch Transformer
    (Lepikhin et al. 2020, https://arxiv.org/abs/2006.16668; Fedus et al. 2021): each expert has
    ``C = ceil(capacity_factor N k / E)`` slots for the ``N`` tokens of a call
    (:func:`expert_capacity`); the ``N k`` assignments are grouped by expert with one sort
    (:func:`route_by_capacity`), each expert's slots are gathered into ``[E, C, width]`` and run
    as one batched matmul per layer, and each token gathers its ``k`` outputs back. That costs
    ``capacity_factor`` times the FLOPs of the active experts. An assignment beyond its
    expert's ``C`` slots is dropped: that term of ``y`` is 0 (the residual stream carries the
    token on), and ``aux["dropped"]`` is the fraction of assignments dropped. Priority goes to
    earlier positions (axis -2 of ``x``), then to first choices, then to earlier sequences, so
    a token's output never depends on a later position's and the model stays causal.
    ``capacity_factor = 0`` (the default) gives ``C = N``: nothing is dropped, and the output is
    the exact top-k mixture at ``E / k`` times the active FLOPs (the decoder's one-token steps
    use it). ``BUILD-notes.md`` ("Fast language-model steps") measures this against a grouped
    matmul (``jax.lax.ragged_dot``) and against running every expert on every token.

    The auxiliary load-balancing loss is the Switch Transformer's (Fedus et al. 2021, eq. 4),
    generalised to top-k:

        L_bal = E sum_e f_e P_e,

    with ``f_e`` the fraction of the ``N k`` (token, slot) assignments that go to expert ``e``
    (kept or dropped) and ``P_e`` the mean over the ``N`` tokens of the full softmax router
    probability of ``e``. It is 1 under perfectly uniform routing (``f_e = P_e = 1 / E``, or any
    router when ``k = E``) and grows as tokens crowd onto the experts the router favours; its
    gradient flows through ``P`` only (``f`` comes from a top-k). The statistics are over all
    the tokens of one call, so the module is batched on purpose.

    Attributes:
        width: the model width.
        hidden: each expert's hidden width.
        experts: the number of experts ``E`` (>= 1).
        top_k: the number of experts per token ``k`` (``1 <= k <= E``).
        capacity_factor: the slots per expert over the tokens' mean share ``N k / E`` (>= 0;
            0: ``C = N``, no token dropped).
    """

    width: int
    hidden: int
    experts: int
    top_k: int
    capacity_factor: float = 0.0

    def __post_init__(self) -> None:
        _check_positive("width", self.width)
        _check_positive("hidden", self.hidden)
        _check_positive("experts", self.experts)
        _check_top_k(self.top_k, self.experts)
        _check_capacity_factor(self.capacity_factor)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
        """The mixture's output and its routing statistics.

        Args:
            x: ``[..., T, width]`` float: every position is a token; axis -2 is the position
                (earlier positions come first for the experts' slots).

        Returns:
            ``(y, aux)``: ``y`` is ``[..., T, width]``; ``aux["load_balancing"]`` is the scalar
            ``L_bal`` over all the tokens of ``x``; ``aux["expert_fraction"]`` is ``f``,
            ``[experts]``, summing to 1; ``aux["dropped"]`` the fraction of the ``N k``
            assignments that found their expert full.
        """
        chex.assert_axis_dimension(x, -1, self.width)
        chex.assert_rank(x, {2, 3, 4})
        num_experts, k, width = self.experts, self.top_k, self.width
        positions = x.shape[-2]
        # [T, S, D] -> [N, D] with N = T S: position-major, so priority follows the position
        tokens = jnp.moveaxis(x.reshape(-1, positions, width), 1, 0).reshape(-1, width)
        n = tokens.shape[0]

        kernel_init = nn.initializers.lecun_normal(in_axis=-2, out_axis=-1, batch_axis=(0,))
        up_kernel = self.param(
            "up_kernel", kernel_init, (num_experts, width, self.hidden), jnp.float32
        )
        up_bias = self.param("up_bias", nn.initializers.zeros, (num_experts, self.hidden))
        down_kernel = self.param(
            "down_kernel", kernel_init, (num_experts, self.hidden, width), jnp.float32
        )
        down_bias = self.param("down_bias", nn.initializers.zeros, (num_experts, width))

        logits = nn.Dense(num_experts, use_bias=False, name="router")(tokens)  # [N, E]
        top_logits, top_index = jax.lax.top_k(logits, k)  # [N, k]
        top_gate = jax.nn.softmax(top_logits, axis=-1)  # [N, k]

        # The assignments in priority order: position, then slot, then sequence.
        sequences = n // positions

        def by_priority(a):  # [N, k] (position-major rows) -> [A]
            return a.reshape(positions, sequences, k).transpose(0, 2, 1).reshape(-1)

        expert = by_priority(top_index)
        gate = by_priority(top_gate)
        token = by_priority(jnp.broadcast_to(jnp.arange(n)[:, None], (n, k)))
        capacity = expert_capacity(n, num_experts, k, self.capacity_factor)
        source, filled, position, kept = route_by_capacity(expert, num_experts, capacity)

        slots = tokens[token[source]] * filled[..., None]  # [E, C, D]
        h = jnp.einsum("ecd,edh->ech", slots, up_kernel) + up_bias[:, None, :]
        out = jnp.einsum("ech,ehd->ecd", nn.gelu(h), down_kernel) + down_bias[:, None, :]
        flat = out.reshape(num_experts * capacity, width)
        where = expert * capacity + jnp.minimum(position, capacity - 1)
        weighted = flat[where] * jnp.where(kept, gate, 0.0)[:, None]  # [A, D]
        y = jnp.sum(weighted.reshape(positions, k, sequences, width), axis=1)  # [T, S, D]
        y = jnp.moveaxis(y, 0, 1).reshape(x.shape)

        fraction = jnp.mean(jax.nn.one_hot(expert, num_experts), axis=0)  # f_e, [E]
        probability = jnp.mean(jax.nn.softmax(logits, axis=-1), axis=0)  # P_e, [E]
        aux = {
            "load_balancing": num_experts * jnp.sum(fraction * probability),
            "expert_fraction": fraction,
            "dropped": jnp.mean(jnp.logical_not(kept).astype(jnp.float32)),
        }
        return y, aux


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position ``t`` attends to positions ``<= t``.

    ``q, k, v = split(Dense(3 width)(x))`` into ``heads`` heads of ``d = width / heads``; per head
    ``A = softmax(q k^T / sqrt(d) + M)`` with ``M_ts = -inf`` for ``s > t`` (in practice the
    float32 minimum, whose weight underflows to exactly 0); the heads' ``A v`` are concatenated
    and projected by ``Dense(width)``.

    Attributes:
        width: the model width.
        heads: the number of heads (must divide ``width``).
    """

    width: int
    heads: int

    def __post_init__(self) -> None:
        _check_positive("width", self.width)
        _check_positive("heads", self.heads)
        if self.width % self.heads:
            raise ValueError(
                f"width must be a multiple of heads={self.heads}, got width={self.width}"
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Causal self-attention over each sequence of ``x``.

        Args:
            x: ``[B, T, width]`` float.

        Returns:
            ``[B, T, width]``.
        """
        chex.assert_rank(x, 3)
        chex.assert_axis_dimension(x, -1, self.width)
        batch, length, _ = x.shape
        head_dim = self.width // self.heads
        qkv = nn.Dense(3 * self.width, name="qkv")(x).reshape(
            batch, length, 3, self.heads, head_dim
        )
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # each [B, T, H, d]
        scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(head_dim)
        causal = jnp.tril(jnp.ones((length, length), dtype=bool))
        scores = jnp.where(causal[None, None, :, :], scores, jnp.finfo(scores.dtype).min)
        weights = jax.nn.softmax(scores, axis=-1)
        mixed = jnp.einsum("bhqk,bkhd->bqhd", weights, v).reshape(batch, length, self.width)
        return nn.Dense(self.width, name="out")(mixed)


class Transformer(nn.Module):
    """A causal decoder-only transformer: ``tokens [B, T] -> next-token logits [B, T, V]``.

    ``h_0 = E_tok[tokens] + E_pos[:T]`` (both normal with std 0.02); ``depth`` pre-LayerNorm
    blocks ``h <- h + attn(LN(h))``, ``h <- h + ff(LN(h))``; ``logits = Dense(V)(LN(h))`` (the
    output projection is not tied to ``E_tok``). ``logits[:, t]`` scores token ``t + 1`` and
    depends on ``tokens[:, :t + 1]`` only. With ``experts = 0`` the ``ff`` of every block is a
    :class:`FeedForward`; with ``experts >= 1`` a :class:`MoEFeedForward` routing each token to
    ``top_k`` experts.

    The call is batched on purpose: the mixture's load-balancing statistics are taken over all
    ``B T`` tokens of the batch, so apply it to ``[B, T]`` directly rather than vmapping over
    sequences (which would balance each sequence alone).

    Attributes:
        vocab_size: the number of token ids ``V``.
        max_len: the longest sequence ``T`` (rows of the positional embedding).
        width: the model width.
        depth: the number of blocks.
        heads: the attention heads per block (must divide ``width``).
        hidden: the feed-forward hidden width (of each expert in a mixture).
        experts: 0 for dense feed-forward sublayers, ``E >= 1`` for mixtures of ``E`` experts.
        top_k: the experts per token of a mixture (``1 <= top_k <= experts``; unused if dense).
        capacity_factor: a mixture's expert slots over the tokens' mean share (>= 0; 0: no
            token dropped; :class:`MoEFeedForward`).
    """

    vocab_size: int
    max_len: int
    width: int = 64
    depth: int = 2
    heads: int = 4
    hidden: int = 256
    experts: int = 0
    top_k: int = 1
    capacity_factor: float = 0.0

    def __post_init__(self) -> None:
        _check_capacity_factor(self.capacity_factor)
        for name in ("vocab_size", "max_len", "width", "depth", "heads", "hidden"):
            _check_positive(name, getattr(self, name))
        _check_positive("experts", self.experts, minimum=0)
        if self.width % self.heads:
            raise ValueError(
                f"width must be a multiple of heads={self.heads}, got width={self.width}"
            )
        if self.experts:
            _check_top_k(self.top_k, self.experts)
        super().__post_init__()

    @nn.compact
    def __call__(
        self, tokens: jax.Array, features: bool = False
    ) -> tuple[jax.Array, dict[str, jax.Array]]:
        """Next-token logits of a batch of sequences, and the mixtures' routing statistics.

        Args:
            tokens: ``[B, T]`` int token ids in ``[0, vocab_size)``, ``T <= max_len``.
            features: return the final LayerNorm's output ``[B, T, width]`` in place of the
                logits (what a scalar head reads: a reward model, a value head); the logits'
                ``head`` is then not used.

        Returns:
            ``(logits, aux)``: ``logits`` is ``[B, T, vocab_size]`` float32;
            ``aux["load_balancing"]`` is the mean over blocks of :class:`MoEFeedForward`'s
            ``L_bal`` (0.0 when dense); ``aux["expert_fraction"]`` is ``[depth, experts]``
            (``[depth, 0]`` when dense); ``aux["dropped"]`` the mean over blocks of the
            fraction of expert assignments dropped (0.0 when dense).
        """
        chex.assert_rank(tokens, 2)
        chex.assert_type(tokens, int)
        length = tokens.shape[1]
        if length > self.max_len:
            raise ValueError(f"tokens has length {length}, more than max_len={self.max_len}")

        embed = nn.Embed(
            self.vocab_size,
            self.width,
            embedding_init=nn.initializers.normal(EMBED_STD),
            name="token_embed",
        )
        positions = self.param(
            "pos_embed", nn.initializers.normal(EMBED_STD), (self.max_len, self.width)
        )
        h = embed(tokens) + positions[None, :length, :]

        balancing, fractions, dropped = [], [], []
        for i in range(self.depth):
            attn = CausalSelfAttention(self.width, self.heads, name=f"attn_{i}")
            h = h + attn(nn.LayerNorm(name=f"ln_attn_{i}")(h))
            normed = nn.LayerNorm(name=f"ln_ff_{i}")(h)
            if self.experts:
                moe = MoEFeedForward(
                    self.width,
                    self.hidden,
                    self.experts,
                    self.top_k,
                    self.capacity_factor,
                    name=f"ff_{i}",
                )
                out, aux = moe(normed)
                balancing.append(aux["load_balancing"])
                fractions.append(aux["expert_fraction"])
                dropped.append(aux["dropped"])
            else:
                out = FeedForward(self.width, self.hidden, name=f"ff_{i}")(normed)
            h = h + out
        h = nn.LayerNorm(name="ln_final")(h)
        out = h if features else nn.Dense(self.vocab_size, name="head")(h)

        if self.experts:
            aux = {
                "load_balancing": jnp.mean(jnp.stack(balancing)),
                "expert_fraction": jnp.stack(fractions),
                "dropped": jnp.mean(jnp.stack(dropped)),
            }
        else:
            aux = {
                "load_balancing": jnp.zeros((), jnp.float32),
                "expert_fraction": jnp.zeros((self.depth, 0), jnp.float32),
                "dropped": jnp.zeros((), jnp.float32),
            }
        return out, aux


def without_drops(model: Transformer) -> Transformer:
    """``model`` with no token dropped (``capacity_factor = 0``): the exact top-k mixture, the
    distribution the parameters define whatever else is in the batch. Training may drop tokens
    over capacity (an approximation that saves FLOPs); what measures or samples the model (held-out
    losses, a frozen reference's log-probabilities, KL, generation) uses this."""
    return model.clone(capacity_factor=0.0)


def sampling_setup(model: Transformer, prompts, length: int, temperature):
    """Checks a generation request (``prompts [B, P]`` int, ``P >= 1``, ``0 <= length``,
    ``P + length <= max_len``, ``temperature >= 0``) and returns ``(greedy, safe_temperature)``
    (traced: the temperature may be swept): what :func:`generate` and
    ``jaxrl.decoding.generate`` share."""
    chex.assert_rank(prompts, 2)
    chex.assert_type(prompts, int)
    prompt_len = prompts.shape[1]
    if prompt_len < 1:
        raise ValueError("prompts must hold at least one token per sequence, got P=0")
    _check_positive("length", length, minimum=0)
    if prompt_len + length > model.max_len:
        raise ValueError(
            f"length must satisfy P + length <= max_len={model.max_len}, "
            f"got P={prompt_len}, length={length}"
        )
    if isinstance(temperature, (int, float)) and temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    temperature = jnp.asarray(temperature, jnp.float32)
    greedy = temperature <= 0
    return greedy, jnp.where(greedy, 1.0, temperature)


def generate(
    model: Transformer,
    params: Any,
    key: jax.Array,
    prompts: jax.Array,
    length: int,
    *,
    temperature: float | jax.Array = 1.0,
) -> jax.Array:
    """Continues each prompt by ``length`` tokens sampled from ``model``, one at a time.

    Fixed shapes and no cache: a buffer ``[B, P + length]`` holds the prompts and zeros; step
    ``i`` runs the model on the whole buffer, whose positions ``>= P + i`` cannot change the
    logits at ``P - 1 + i`` under the causal mask, and writes token ``P + i`` drawn from
    ``softmax(logits / temperature)`` with key ``fold_in(key, i)`` (``temperature = 0``: the
    argmax, greedy decoding). ``T`` steps cost ``T`` full forward passes, negligible at these
    sizes, and the loop is one ``lax.fori_loop``: jit with ``model`` and ``length`` static
    (``temperature`` may be traced, e.g. swept). A mixture drops no token here
    (:func:`without_drops`).

    Args:
        model: the :class:`Transformer`.
        params: its parameters (``model.init(...)``).
        key: a PRNG key.
        prompts: ``[B, P]`` int token ids, ``P >= 1``.
        length: the number of new tokens (``P + length <= model.max_len``).
        temperature: ``>= 0``; 0 is greedy.

    Returns:
        ``[B, P + length]`` int32: the prompts followed by the generated tokens.
    """
    chex.assert_rank(prompts, 2)
    batch, prompt_len = prompts.shape
    greedy, safe_temperature = sampling_setup(model, prompts, length, temperature)
    buffer = jnp.zeros((batch, prompt_len + length), jnp.int32)
    buffer = buffer.at[:, :prompt_len].set(prompts.astype(jnp.int32))

    exact = without_drops(model)

    def step(i, buffer):
        logits, _ = exact.apply(params, buffer)
        logits = jax.lax.dynamic_index_in_dim(logits, prompt_len - 1 + i, axis=1, keepdims=False)
        sampled = jax.random.categorical(jax.random.fold_in(key, i), logits / safe_temperature)
        token = jnp.where(greedy, jnp.argmax(logits, axis=-1), sampled).astype(jnp.int32)
        return jax.lax.dynamic_update_index_in_dim(buffer, token, prompt_len + i, axis=1)

    return jax.lax.fori_loop(0, length, step, buffer)
