"""The tiny causal transformer: the mixture of experts against a brute-force per-token loop and
against the dense feed-forward it reduces to, the load-balancing loss by hand, causality, and
generation against a Python loop over prefixes.

Compiling is most of the cost here, so parameters are mostly random fills of the tree that
``init`` would make (``jax.eval_shape``, nothing compiled) and each shape is compiled once.
"""

import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import transformer

WIDTH, HIDDEN, VOCAB, MAX_LEN, BATCH = 8, 16, 11, 12, 3
SIZES = dict(vocab_size=VOCAB, max_len=MAX_LEN, width=16, depth=2, heads=4, hidden=32)
TOKENS = jax.random.randint(jax.random.key(0), (BATCH, MAX_LEN), 0, VOCAB, dtype=jnp.int32)


def _random_params(module, *example, seed=0, scale=0.5):
    """Normal draws in the shapes of ``module.init(key, *example)``, none of them zero."""
    shapes = jax.eval_shape(module.init, jax.random.key(0), *example)
    rng = np.random.default_rng(seed)
    return jax.tree.map(lambda s: jnp.asarray(scale * rng.normal(size=s.shape), s.dtype), shapes)


@functools.cache
def _initialised(model):
    return jax.jit(model.init)(jax.random.key(1), TOKENS)


@functools.cache
def _apply(module):
    return jax.jit(module.apply)


def _gelu(x):  # the tanh approximation, as flax.linen.gelu
    return 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))


def _moe_by_hand(params, x, top_k):
    """The mixture one token at a time: the top-k by argsort, a softmax of the chosen logits,
    and each chosen expert's feed-forward computed on its own (float64)."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params["params"])
    out = []
    for token in np.asarray(x, np.float64):
        logits = token @ p["router"]["kernel"]
        chosen = np.argsort(-logits)[:top_k]
        gate = np.exp(logits[chosen] - logits[chosen].max())
        gate /= gate.sum()
        y = np.zeros(token.shape)
        for g, e in zip(gate, chosen, strict=True):
            h = _gelu(token @ p["up_kernel"][e] + p["up_bias"][e])
            y += g * (h @ p["down_kernel"][e] + p["down_bias"][e])
        out.append(y)
    return np.stack(out)


def _as_expert(ff, router):
    """A FeedForward's "up" and "down" as the one expert of a MoEFeedForward."""
    return {
        "router": router,
        "up_kernel": ff["up"]["kernel"][None],
        "up_bias": ff["up"]["bias"][None],
        "down_kernel": ff["down"]["kernel"][None],
        "down_bias": ff["down"]["bias"][None],
    }


def test_init_makes_the_documented_tree():
    model = transformer.Transformer(**SIZES, experts=3, top_k=2)
    params = _initialised(model)["params"]
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes["token_embed"] == {"embedding": (VOCAB, 16)}
    assert shapes["pos_embed"] == (MAX_LEN, 16)
    assert shapes["attn_1"] == {
        "qkv": {"kernel": (16, 48), "bias": (48,)},
        "out": {"kernel": (16, 16), "bias": (16,)},
    }
    assert shapes["ff_1"] == {
        "router": {"kernel": (16, 3)},
        "up_kernel": (3, 16, 32),
        "up_bias": (3, 32),
        "down_kernel": (3, 32, 16),
        "down_bias": (3, 16),
    }
    assert shapes["head"] == {"kernel": (16, VOCAB), "bias": (VOCAB,)}
    assert set(shapes) == {
        "token_embed", "pos_embed", "head", "ln_final",
        *(f"{name}_{i}" for name in ("attn", "ln_attn", "ln_ff", "ff") for i in range(2)),
    }  # fmt: skip
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree.leaves(params))
    assert 0.01 < float(jnp.std(params["token_embed"]["embedding"])) < 0.03
    # Each expert is initialised on its own fan-in, as a FeedForward's Dense would be.
    up = params["ff_0"]["up_kernel"]
    assert 0.5 / np.sqrt(16) < float(jnp.std(up[2])) < 1.5 / np.sqrt(16)
    assert not np.allclose(up[0], up[1])


def test_one_expert_is_the_dense_feed_forward():
    x = jax.random.normal(jax.random.key(2), (2, 5, WIDTH))
    dense = transformer.FeedForward(WIDTH, HIDDEN)
    dense_params = _random_params(dense, x)
    moe = transformer.MoEFeedForward(WIDTH, HIDDEN, experts=1, top_k=1)
    router = {"kernel": jnp.ones((WIDTH, 1))}
    moe_params = {"params": _as_expert(dense_params["params"], router)}
    # The tree built here is the tree init makes.
    assert jax.tree.map(jnp.shape, moe_params) == jax.tree.map(
        jnp.shape, jax.eval_shape(moe.init, jax.random.key(0), x)
    )
    y, aux = _apply(moe)(moe_params, x)
    assert y.shape == x.shape
    np.testing.assert_allclose(y, _apply(dense)(dense_params, x), rtol=0, atol=1e-6)
    np.testing.assert_allclose(aux["load_balancing"], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(aux["expert_fraction"], [1.0])


def test_one_expert_transformer_is_the_dense_transformer():
    dense_model = transformer.Transformer(**SIZES)
    moe_model = transformer.Transformer(**SIZES, experts=1, top_k=1)
    dense_params = _random_params(dense_model, TOKENS, scale=0.3)["params"]
    copied = dict(dense_params)
    for i in range(dense_model.depth):
        router = {"kernel": jnp.full((16, 1), 0.1 * i)}
        copied[f"ff_{i}"] = _as_expert(dense_params[f"ff_{i}"], router)
    expected = jax.eval_shape(moe_model.init, jax.random.key(0), TOKENS)
    assert jax.tree.map(jnp.shape, {"params": copied}) == jax.tree.map(jnp.shape, expected)

    dense_logits, dense_aux = _apply(dense_model)({"params": dense_params}, TOKENS)
    moe_logits, moe_aux = _apply(moe_model)({"params": copied}, TOKENS)
    assert dense_logits.shape == (BATCH, MAX_LEN, VOCAB)
    np.testing.assert_allclose(moe_logits, dense_logits, rtol=0, atol=1e-5)
    assert dense_aux["load_balancing"] == 0.0
    assert dense_aux["expert_fraction"].shape == (2, 0)
    np.testing.assert_allclose(moe_aux["load_balancing"], 1.0, rtol=1e-6)
    np.testing.assert_array_equal(moe_aux["expert_fraction"], [[1.0], [1.0]])


def test_each_token_mixes_exactly_its_top_k_experts():
    """Nothing dropped (capacity factor 0, the default): the brute-force loop's output, and the
    gradient in every parameter and the input is the finite differences' (float32, a step
    of 1e-3 away from any tie of the router's top 2)."""
    tokens = 16
    x = jax.random.normal(jax.random.key(3), (tokens, WIDTH))
    moe = transformer.MoEFeedForward(WIDTH, HIDDEN, experts=4, top_k=2)
    params = _random_params(moe, x)  # biases non-zero: a wrong expert's bias would show
    y, aux = _apply(moe)(params, x)
    np.testing.assert_allclose(y, _moe_by_hand(params, x, top_k=2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.sum(aux["expert_fraction"]), 1.0, rtol=1e-6)
    assert aux["dropped"] == 0.0
    mixture = jax.jit(lambda p, x: moe.apply(p, x)[0])
    jax.test_util.check_grads(mixture, (params, x), order=1, modes=["rev"], eps=1e-3)

    # Perturb expert e: exactly the tokens that choose it change.
    logits = np.asarray(x) @ np.asarray(params["params"]["router"]["kernel"])
    chosen = np.argsort(-logits, axis=1)[:, :2]
    for e in range(4):
        users = np.any(chosen == e, axis=1)
        assert 0 < users.sum() < tokens  # some tokens choose e, some don't
        perturbed = {"params": dict(params["params"])}
        for name in ("up_kernel", "up_bias", "down_kernel", "down_bias"):
            perturbed["params"][name] = params["params"][name].at[e].add(1.0)
        y_perturbed, _ = _apply(moe)(perturbed, x)
        np.testing.assert_array_equal(y_perturbed[~users], y[~users])
        assert not np.any(np.all(np.isclose(y_perturbed[users], y[users]), axis=1))


def test_load_balancing_by_hand():
    """Two experts, top-1, router logits equal to the token: tokens (ln 3, 0), (0, ln 3),
    (ln 3, 0) have router probabilities (3/4, 1/4), (1/4, 3/4), (3/4, 1/4) and go to experts
    0, 1, 0. So f = (2/3, 1/3), P = (7/12, 5/12) and L = 2 (2/3 7/12 + 1/3 5/12) = 19/18."""
    ln3 = float(np.log(3.0))
    x = jnp.array([[ln3, 0.0], [0.0, ln3], [ln3, 0.0]])
    moe = transformer.MoEFeedForward(width=2, hidden=4, experts=2, top_k=1)
    params = _random_params(moe, x)
    params["params"]["router"]["kernel"] = jnp.eye(2)
    _, aux = _apply(moe)(params, x)
    np.testing.assert_allclose(aux["expert_fraction"], [2 / 3, 1 / 3], rtol=1e-6)
    np.testing.assert_allclose(aux["load_balancing"], 19 / 18, rtol=1e-6)


@pytest.mark.parametrize("top_k", [2, 4])
def test_load_balancing_is_one_under_uniform_routing(top_k):
    """With k = E every expert takes 1/E of the assignments whatever the router; a zero router
    gives every probability 1/E (its ties go to the first k experts, f = 1/k each): L = 1."""
    x = jax.random.normal(jax.random.key(4), (2, 6, WIDTH))
    moe = transformer.MoEFeedForward(WIDTH, HIDDEN, experts=4, top_k=top_k)
    params = _random_params(moe, x)
    _, aux = _apply(moe)(params, x)
    np.testing.assert_allclose(np.sum(aux["expert_fraction"]), 1.0, rtol=1e-6)
    if top_k == 4:
        np.testing.assert_allclose(aux["expert_fraction"], np.full(4, 0.25), rtol=1e-6)
        np.testing.assert_allclose(aux["load_balancing"], 1.0, rtol=1e-6)
    else:
        assert aux["load_balancing"] > 1.0  # a random router is not balanced on 12 tokens
    params["params"]["router"]["kernel"] = jnp.zeros((WIDTH, 4))
    _, aux = _apply(moe)(params, x)
    np.testing.assert_allclose(aux["load_balancing"], 1.0, rtol=1e-6)


def test_a_full_expert_drops_the_later_positions_first():
    """Two experts, top-1, every token routed to expert 0 (router logits ``(x_0, -x_0)``, all
    ``x_0 > 0``), 2 sequences of 3 positions: at capacity factor 1 each expert has
    ``ceil(6 / 2) = 3`` slots, taken by position 0 of both sequences, then position 1 of the
    first; the other three assignments are dropped (output exactly 0) and ``dropped`` is 1/2. At
    factor 2 (6 slots) nothing is dropped and every token is its expert's output."""
    x = jnp.abs(jax.random.normal(jax.random.key(5), (2, 3, 2))) + 0.1
    full = transformer.MoEFeedForward(width=2, hidden=4, experts=2, top_k=1, capacity_factor=2.0)
    params = _random_params(full, x)
    params["params"]["router"]["kernel"] = jnp.array([[1.0, -1.0], [0.0, 0.0]])
    expected = _moe_by_hand(params, x.reshape(6, 2), top_k=1).reshape(2, 3, 2)
    assert transformer.expert_capacity(6, 2, 1, 1.0) == 3
    for factor, kept in ((2.0, np.ones((2, 3), bool)), (1.0, [[1, 1, 0], [1, 0, 0]])):
        moe = transformer.MoEFeedForward(2, 4, experts=2, top_k=1, capacity_factor=factor)
        y, aux = _apply(moe)(params, x)
        kept = np.asarray(kept, bool)
        np.testing.assert_allclose(y[kept], expected[kept], rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(y[~kept], 0.0)
        np.testing.assert_allclose(aux["dropped"], 1.0 - kept.mean(), rtol=1e-6)
        np.testing.assert_allclose(aux["expert_fraction"], [1.0, 0.0])  # dropped or not


@pytest.mark.parametrize("experts, capacity_factor", [(0, 0.0), (3, 0.5)])
def test_logits_depend_on_the_past_only(experts, capacity_factor):
    """With a mixture whose experts are full (capacity factor 0.5: half the assignments find no
    slot), a token is never dropped for a later position's sake: the model stays causal."""
    model = transformer.Transformer(
        **SIZES, experts=experts, top_k=2 if experts else 1, capacity_factor=capacity_factor
    )
    params = _initialised(model) if experts else _random_params(model, TOKENS, scale=0.3)
    logits, aux = _apply(model)(params, TOKENS)
    assert logits.shape == (BATCH, MAX_LEN, VOCAB) and logits.dtype == jnp.float32
    assert aux["expert_fraction"].shape == (2, experts)
    assert aux["dropped"] >= 0.5 if experts else aux["dropped"] == 0.0
    for t in (0, 4, MAX_LEN - 2):
        changed = TOKENS.at[:, t + 1 :].set((TOKENS[:, t + 1 :] + 1) % VOCAB)
        changed_logits, _ = _apply(model)(params, changed)
        np.testing.assert_array_equal(changed_logits[:, : t + 1], logits[:, : t + 1])
        assert not np.allclose(changed_logits[:, t + 1 :], logits[:, t + 1 :])


def test_generate_keeps_the_prompt_and_greedy_is_the_argmax_loop():
    model = transformer.Transformer(**SIZES, experts=3, top_k=2)
    params = _initialised(model)
    prompt_len, length = 4, 3
    prompts = TOKENS[:, :prompt_len]
    generate = jax.jit(transformer.generate, static_argnames=("model", "length"))
    greedy = generate(model, params, jax.random.key(5), prompts, length, temperature=0.0)
    assert greedy.shape == (BATCH, prompt_len + length) and greedy.dtype == jnp.int32
    sequence = prompts
    for _ in range(length):  # the model on the prefix alone, a new shape each time
        logits, _ = _apply(model)(params, sequence)
        next_token = jnp.argmax(logits[:, -1], axis=-1).astype(jnp.int32)
        sequence = jnp.concatenate([sequence, next_token[:, None]], axis=1)
    np.testing.assert_array_equal(greedy, sequence)

    # The same compiled program samples (temperature is traced).
    sample = lambda seed: generate(model, params, jax.random.key(seed), prompts, length)
    sampled = sample(6)
    np.testing.assert_array_equal(sampled[:, :prompt_len], prompts)
    assert np.all((sampled >= 0) & (sampled < VOCAB))
    np.testing.assert_array_equal(sample(6), sampled)
    draws = np.stack([sample(seed) for seed in range(7, 12)])
    assert not np.all(draws == sampled[None])


def _primitives(jaxpr) -> set[str]:
    names = set()
    for eqn in jaxpr.eqns:
        names.add(eqn.primitive.name)
        for value in eqn.params.values():
            for sub in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(sub, jax.extend.core.ClosedJaxpr):
                    names |= _primitives(sub.jaxpr)
                elif isinstance(sub, jax.extend.core.Jaxpr):
                    names |= _primitives(sub)
    return names


def test_no_lapack_in_init_apply_or_generate():
    """Jitted LAPACK calls deadlock when sharded over several CPU host devices (jax 0.10.2)."""
    model = transformer.Transformer(**SIZES, experts=3, top_k=2)
    key = jax.random.key(7)
    params = jax.eval_shape(model.init, key, TOKENS)
    programs = [
        jax.make_jaxpr(model.init)(key, TOKENS),
        jax.make_jaxpr(model.apply)(params, TOKENS),
        jax.make_jaxpr(lambda p, k: transformer.generate(model, p, k, TOKENS[:, :2], 4))(
            params, key
        ),
    ]
    linalg = {"qr", "householder_product", "eigh", "lu", "cholesky", "triangular_solve", "svd"}
    for program in programs:
        names = _primitives(program.jaxpr)
        assert "dot_general" in names
        assert not names & linalg


def test_bad_arguments_raise_naming_the_field():
    def raises(pattern, make):
        with pytest.raises(ValueError, match=pattern):
            make()

    make = lambda **kwargs: transformer.Transformer(**(SIZES | kwargs))
    raises(r"width must be a multiple of heads=4, got width=30", lambda: make(width=30))
    raises(r"vocab_size must be an integer >= 1, got 0", lambda: make(vocab_size=0))
    raises(r"depth must be an integer >= 1, got 0", lambda: make(depth=0))
    raises(r"experts must be an integer >= 0, got -1", lambda: make(experts=-1))
    raises(r"top_k must be an integer in \[1, experts=2\], got 3", lambda: make(experts=2, top_k=3))
    raises(
        r"experts must be an integer >= 1, got 0",
        lambda: transformer.MoEFeedForward(WIDTH, HIDDEN, experts=0, top_k=1),
    )
    raises(
        r"top_k must be an integer in \[1, experts=4\], got 0",
        lambda: transformer.MoEFeedForward(WIDTH, HIDDEN, experts=4, top_k=0),
    )
    raises(r"hidden must be an integer >= 1, got 0", lambda: transformer.FeedForward(WIDTH, 0))

    model = make()
    params = jax.eval_shape(model.init, jax.random.key(0), TOKENS)
    too_long = jnp.zeros((1, MAX_LEN + 1), jnp.int32)
    raises(
        re.escape(f"tokens has length {MAX_LEN + 1}, more than max_len={MAX_LEN}"),
        lambda: jax.eval_shape(model.apply, params, too_long),
    )
    key, prompts = jax.random.key(8), TOKENS[:, :4]
    raises(
        re.escape(f"length must satisfy P + length <= max_len={MAX_LEN}, got P=4, length=9"),
        lambda: transformer.generate(model, params, key, prompts, 9),
    )
    raises(
        r"temperature must be >= 0, got -1.0",
        lambda: transformer.generate(model, params, key, prompts, 2, temperature=-1.0),
    )
