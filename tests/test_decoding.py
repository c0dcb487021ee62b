"""Generation with a key-value cache (``jaxrl.decoding``) against the full recompute
(``jaxrl.transformer.generate``), on a dense and a mixture-of-experts model: the same tokens,
greedy and sampled with the same keys (a token may differ only at a near-tie, and none does
here), the logits each token was drawn from equal to the full model's on the finished sequence
within 1e-5 in probability, the shapes, and one compiled program for every decode step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import decoding, transformer

PROMPT, LENGTH = 4, 10


@pytest.mark.parametrize("experts", [0, 3])
def test_the_cache_gives_the_full_recomputes_tokens_and_distributions(experts):
    model = transformer.Transformer(
        vocab_size=13,
        max_len=16,
        width=32,
        depth=1 if experts else 2,  # one mixture block: a compile fewer blocks long
        heads=4,
        hidden=48,
        experts=experts,
        top_k=2,
    )
    prompts = jax.random.randint(jax.random.key(1), (6, PROMPT), 0, 13)
    params = jax.jit(model.init)(jax.random.key(0), prompts)
    reference = jax.jit(lambda tokens: model.apply(params, tokens)[0])
    traces = []

    def cached(key, temperature):
        traces.append(1)  # counts the traces of the whole generation (one per compile)
        return decoding.generate(
            model, params, key, prompts, LENGTH, temperature=temperature, return_logits=True
        )

    cached = jax.jit(cached)
    full = jax.jit(
        lambda k, t: transformer.generate(model, params, k, prompts, LENGTH, temperature=t)
    )
    for temperature, seed in ((0.0, 3), (1.0, 4), (0.7, 5)):
        key = jax.random.key(seed)
        tokens, drawn = cached(key, temperature)
        assert tokens.shape == (6, PROMPT + LENGTH) and tokens.dtype == jnp.int32
        assert drawn.shape == (6, LENGTH, 13)
        np.testing.assert_array_equal(tokens[:, :PROMPT], prompts)
        # The full model on the finished sequences: the logits of positions P-1 .. P+L-2.
        expected = reference(tokens)[:, PROMPT - 1 : PROMPT - 1 + LENGTH]
        gap = np.abs(jax.nn.softmax(expected) - jax.nn.softmax(drawn)).max()
        assert gap <= 1e-5, gap
        if not experts:  # the tokens of the full recompute (whose logits the line above checks)
            np.testing.assert_array_equal(tokens, full(key, temperature))
    assert len(traces) == 1  # one program for every key, temperature and decode step


def test_bad_requests_are_refused():
    model = transformer.Transformer(vocab_size=5, max_len=8, width=16, depth=1, heads=2, hidden=16)
    params = None  # refused before the parameters are read
    prompts = jnp.zeros((2, 3), jnp.int32)
    with pytest.raises(ValueError, match="P \\+ length <= max_len=8"):
        decoding.generate(model, params, jax.random.key(0), prompts, 6)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        decoding.generate(model, params, jax.random.key(0), prompts, 2, temperature=-1.0)
    with pytest.raises(ValueError, match="at most max_len=8 positions"):
        decoding.init_cache(model, 2, 9)
