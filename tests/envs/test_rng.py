"""The fused Threefry draw and the alias tables of the start distribution."""

import jax
import jax.extend.random as jex_random
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import gridworld as gw
from jaxrl.envs import rng


def test_threefry_block_matches_jax_bit_for_bit():
    words = np.random.default_rng(0).integers(0, 2**32, size=(500, 4), dtype=np.uint64)
    words = jnp.asarray(words.astype(np.uint32))
    ours = jax.vmap(lambda w: jnp.stack(rng.threefry2x32(w[0], w[1], w[2], w[3])))(words)
    reference = jax.vmap(lambda w: jex_random.threefry_2x32((w[0], w[1]), w[2:]))(words)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(reference))


def test_uniform_pair_is_uniform_and_independent():
    keys = jax.random.split(jax.random.key(3), 200_000)
    u1, u2 = (np.asarray(x, np.float64) for x in jax.vmap(rng.uniform_pair)(keys))
    n = u1.size
    for u in (u1, u2):
        assert u.min() >= 0.0 and u.max() < 1.0
        # Mean 1/2 and variance 1/12: 5 standard errors (sd of the mean is sqrt(1/12 / n)).
        assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / n)
        counts, _ = np.histogram(u, bins=10, range=(0, 1))
        # Each decile holds n/10 +- 5 binomial standard errors.
        assert np.all(np.abs(counts - n / 10) < 5 * np.sqrt(n * 0.1 * 0.9))
    # Correlation of independent uniforms has standard error 1/sqrt(n).
    assert abs(np.corrcoef(u1, u2)[0, 1]) < 5 / np.sqrt(n)


def test_uniform_pair_is_deterministic_and_key_dependent():
    a = rng.uniform_pair(jax.random.key(7))
    b = rng.uniform_pair(jax.random.key(7))
    c = rng.uniform_pair(jax.random.key(8))
    assert a == b and a != c


def test_uniform_pair_accepts_legacy_and_other_keys():
    legacy = jax.random.PRNGKey(5)  # raw uint32[2]
    typed = jax.random.wrap_key_data(legacy)
    assert rng.uniform_pair(legacy) == rng.uniform_pair(typed)
    u1, u2 = rng.uniform_pair(jax.random.key(5, impl="rbg"))  # falls back to jax.random
    assert 0.0 <= float(u1) < 1.0 and 0.0 <= float(u2) < 1.0


def _induced(threshold, alias):
    threshold = np.asarray(threshold, np.float64)
    probs = threshold.copy()
    np.add.at(probs, np.asarray(alias), 1.0 - threshold)
    return probs / threshold.size


@pytest.mark.parametrize("num", [1, 2, 3, 7, 25, 169])
def test_alias_tables_reproduce_the_distribution(num):
    gen = np.random.default_rng(num)
    probs = gen.random(num) * (gen.random(num) < 0.7)
    probs[gen.integers(num)] += 0.5
    probs /= probs.sum()
    threshold, alias = gw.alias_tables(probs)
    np.testing.assert_allclose(_induced(threshold, alias), probs, atol=1e-12)


@pytest.mark.parametrize("num", [2, 3, 4, 9, 25])
def test_uniform_alias_tables_in_closed_form(num):
    np.testing.assert_allclose(
        _induced(*gw._uniform_alias_tables(num, None)), np.full(num, 1 / num), atol=1e-6
    )
    for excluded in range(num):
        expected = np.full(num, 1 / (num - 1))
        expected[excluded] = 0.0
        got = _induced(*gw._uniform_alias_tables(num, jnp.int32(excluded)))
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_auto_reset_start_cells_follow_the_start_distribution():
    grid = gw.GridWorld(shape=(2, 3), target=(1, 2), forbidden=(), absorbing_target=True)
    probs = np.array([0.5, 0.1, 0.0, 0.25, 0.15, 0.0])
    params = gw.make_params(grid, start=probs, max_steps=1, auto_reset=True)
    n = 40_000
    keys = jax.random.split(jax.random.key(0), n)
    state = gw.EnvState(position=jnp.zeros((n,), jnp.int32), time=jnp.zeros((n,), jnp.int32))
    actions = jnp.full((n,), gw.STAY)
    _, new_state, _, _, truncated, _ = jax.vmap(gw.step, in_axes=(0, 0, 0, None))(
        keys, state, actions, params
    )
    assert bool(jnp.all(truncated))  # max_steps = 1: every episode ends and restarts
    freq = np.bincount(np.asarray(new_state.position), minlength=6) / n
    # 5 binomial standard errors per cell.
    np.testing.assert_array_less(np.abs(freq - probs), 5 * np.sqrt(probs * (1 - probs) / n) + 1e-9)
