"""Tests for ``jaxrl.targets.off_policy``: ratios, ordinary and per-decision IS returns.

Besides plain-Python references and properties, the importance-sampled returns are checked for
what they are for: their exact mean under the behaviour policy, summed over every action sequence
of a small problem, equals the mean return under the target policy.
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxrl.targets import off_policy, returns
from tests.targets.test_returns import (
    FAST,
    allclose,
    check_jit_matches_eager,
    check_vmap_matches_loop,
    lengths,
    random_stream,
    ref_discounted,
    seeds,
)

NUM_ACTIONS = 3

ratios = jax.jit(off_policy.importance_sampling_ratios)
clipped_ratios = jax.jit(
    off_policy.clipped_importance_sampling_ratios, static_argnames="clip_rho_threshold"
)
ordinary = jax.jit(off_policy.ordinary_is_returns)
per_decision = jax.jit(off_policy.per_decision_is_returns)
discounted = jax.jit(returns.discounted_returns)


def random_policies(seed: int, shape):
    """``pi`` (with some exact zeros) and ``mu`` (every action at least 0.3 / A) over ``shape``."""
    gen = np.random.default_rng(seed + 3)
    pi = np.exp(gen.normal(size=shape))
    pi[gen.uniform(size=shape) < 0.2] = 0.0
    pi[..., 0] += 1e-3  # keep every row normalisable
    pi /= pi.sum(-1, keepdims=True)
    mu = np.exp(gen.normal(size=shape))
    mu = 0.7 * mu / mu.sum(-1, keepdims=True) + 0.3 / shape[-1]
    return pi.astype(np.float32), mu.astype(np.float32)


def random_off_policy_stream(seed: int, length: int):
    r, d, v = random_stream(seed, length)
    pi, mu = random_policies(seed, (length, NUM_ACTIONS))
    a = np.random.default_rng(seed + 4).integers(0, NUM_ACTIONS, length).astype(np.int32)
    return r, d, v, pi, mu, a


# ---------------------------------------------------------------------------------------------
# Plain-Python references (float64).


def ref_ratios(pi, mu, a):
    return np.array([float(pi[i, a[i]]) / float(mu[i, a[i]]) for i in range(len(a))])


def ref_ordinary(r, d, v, rho):
    plain = ref_discounted(r, d, v[-1])
    out = []
    for i in range(len(r)):
        weight = 1.0
        for k in range(i, len(r)):
            weight *= float(rho[k])
            if d[k] == 0:  # the episode ends: later actions cannot change the return
                break
        out.append(weight * plain[i])
    return np.array(out)


def ref_per_decision(r, d, v, rho):
    out = []
    for i in range(len(r)):
        total, scale = 0.0, 1.0
        for k in range(i, len(r)):
            scale *= float(rho[k])
            total += scale * float(r[k])
            scale *= float(d[k])
        out.append(total + scale * float(v[-1]))
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Hand-checked cases (no jit).


def test_by_hand():
    pi = jnp.array([[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]])
    mu = jnp.full((3, 2), 0.5)
    a = jnp.array([0, 1, 0])
    rho = off_policy.importance_sampling_ratios(pi, mu, a)
    allclose(rho, [1.0, 1.6, 2.0])
    allclose(off_policy.clipped_importance_sampling_ratios(pi, mu, a), [1.0, 1.0, 1.0])
    allclose(
        off_policy.clipped_importance_sampling_ratios(pi, mu, a, clip_rho_threshold=1.8),
        [1.0, 1.6, 1.8],
    )
    r, d, v = jnp.array([1.0, 2.0, 3.0]), jnp.array([0.5, 0.5, 0.5]), jnp.array([10.0, 20.0, 40.0])
    # Returns [7.75, 13.5, 23] weighted by the suffix products [3.2, 3.2, 2].
    allclose(off_policy.ordinary_is_returns(r, d, v, rho), [24.8, 43.2, 46.0])
    # G2 = 2 (3 + 20) = 46; G1 = 1.6 (2 + 23) = 40; G0 = 1 (1 + 20) = 21.
    allclose(off_policy.per_decision_is_returns(r, d, v, rho), [21.0, 40.0, 46.0])
    # A terminal transition at entry 1: entry 0's weight stops there, 1 * 1.6.
    d_end = jnp.array([0.5, 0.0, 0.5])
    allclose(off_policy.ordinary_is_returns(r, d_end, v, rho), [3.2, 3.2, 46.0])
    allclose(off_policy.per_decision_is_returns(r, d_end, v, rho), [2.6, 3.2, 46.0])


# ---------------------------------------------------------------------------------------------
# Against plain-Python references.


@FAST
@given(seed=seeds, length=lengths, threshold=st.sampled_from([0.5, 1.0, 2.0]))
def test_ratios_match_loop(seed, length, threshold):
    *_, pi, mu, a = random_off_policy_stream(seed, length)
    expected = ref_ratios(pi, mu, a)
    allclose(ratios(pi, mu, a), expected)
    allclose(
        clipped_ratios(pi, mu, a, clip_rho_threshold=threshold), np.minimum(expected, threshold)
    )


@FAST
@given(seed=seeds, length=lengths)
def test_is_returns_match_loop(seed, length):
    r, d, v, pi, mu, a = random_off_policy_stream(seed, length)
    rho = ref_ratios(pi, mu, a).astype(np.float32)
    allclose(ordinary(r, d, v, rho), ref_ordinary(r, d, v, rho))
    allclose(per_decision(r, d, v, rho), ref_per_decision(r, d, v, rho))
    allclose(per_decision(r, d, v[-1], rho), ref_per_decision(r, d, v, rho))


# ---------------------------------------------------------------------------------------------
# Properties.


@FAST
@given(seed=seeds, length=lengths)
def test_ratios_of_equal_policies_are_one(seed, length):
    *_, mu, a = random_off_policy_stream(seed, length)  # mu > 0 everywhere
    allclose(ratios(mu, mu, a), np.ones(length), atol=0.0, rtol=0.0)


@FAST
@given(seed=seeds, length=lengths)
def test_unit_ratios_give_the_discounted_return(seed, length):
    r, d, v = random_stream(seed, length)
    ones = np.ones(length, np.float32)
    allclose(ordinary(r, d, v, ones), discounted(r, d, v))
    allclose(per_decision(r, d, v, ones), discounted(r, d, v))


@FAST
@given(seed=seeds, length=lengths)
def test_zero_discount_gives_weighted_rewards(seed, length):
    r, _, v, pi, mu, a = random_off_policy_stream(seed, length)
    rho = ref_ratios(pi, mu, a).astype(np.float32)
    zero = np.zeros(length, np.float32)
    allclose(ordinary(r, zero, v, rho), rho * r.astype(np.float64))
    allclose(per_decision(r, zero, v, rho), rho * r.astype(np.float64))


@FAST
@given(seed=seeds, length=lengths)
def test_the_two_estimators_agree_without_intermediate_rewards(seed, length):
    _, d, v, pi, mu, a = random_off_policy_stream(seed, length)
    d = np.maximum(d, 0.1).astype(np.float32)  # no episode ends inside the stream
    rho = ref_ratios(pi, mu, a).astype(np.float32)
    zero = np.zeros(length, np.float32)
    allclose(ordinary(zero, d, v, rho), per_decision(zero, d, v, rho))


@FAST
@given(seed=seeds, length=st.integers(1, 3))
def test_is_returns_are_unbiased(seed, length):
    """E_mu[G_is] = E_pi[G], summed exactly over all action sequences.

    Rewards and discounts depend on the action taken (so episodes end at random times), the
    bootstrap value is fixed. The default tolerances hold: the sums are weighted by ``mu``, so the
    large ratios of unlikely sequences enter with small weights (errors seen: ~1e-7).
    """
    gen = np.random.default_rng(seed)
    reward_table = gen.uniform(-1.0, 1.0, (length, NUM_ACTIONS))
    discount_table = gen.choice([0.0, 0.5, 0.9, 1.0], (length, NUM_ACTIONS))
    bootstrap = np.float32(gen.uniform(-2.0, 2.0))
    pi, mu = random_policies(seed, (length, NUM_ACTIONS))
    sequences = np.array(list(itertools.product(range(NUM_ACTIONS), repeat=length)))
    steps = np.arange(length)
    r = reward_table[steps, sequences].astype(np.float32)  # [N, T]
    d = discount_table[steps, sequences].astype(np.float32)
    p_pi = np.prod(pi[steps, sequences].astype(np.float64), axis=-1)  # [N]
    p_mu = np.prod(mu[steps, sequences].astype(np.float64), axis=-1)
    rho = jax.vmap(ratios, in_axes=(None, None, 0))(pi, mu, sequences.astype(np.int32))
    v = np.full(len(sequences), bootstrap)

    on_policy = p_pi @ np.asarray(jax.vmap(discounted)(r, d, v), np.float64)
    for estimator in (ordinary, per_decision):
        g_is = np.asarray(jax.vmap(estimator)(r, d, v, rho), np.float64)
        allclose(p_mu @ g_is, on_policy)


def test_gradients():
    r, d, v, pi, mu, a = (jnp.asarray(x) for x in random_off_policy_stream(5, 4))
    rho = off_policy.importance_sampling_ratios(pi, mu, a)
    for estimator in (ordinary, per_decision):
        g_rho, g_v = jax.grad(lambda x, y, f=estimator: jnp.sum(f(r, d, y, x)), argnums=(0, 1))(
            rho, v
        )
        allclose(g_rho, np.zeros(4), atol=0.0)
        allclose(g_v, np.zeros(4), atol=0.0)
    # The ratios themselves stay differentiable: d rho[i] / d pi[i, a[i]] = 1 / mu[i, a[i]].
    g_pi = jax.grad(lambda p: jnp.sum(off_policy.importance_sampling_ratios(p, mu, a)))(pi)
    expected = np.zeros((4, NUM_ACTIONS))
    expected[np.arange(4), a] = 1.0 / np.asarray(mu, np.float64)[np.arange(4), a]
    allclose(g_pi, expected)
    # Opting out: per-decision G[i] = rho[i] (r[i] + d[i] G[i + 1]), so dG[-1] / drho[-1] is
    # r[-1] + d[-1] v[-1].
    g_rho = jax.grad(
        lambda x: off_policy.per_decision_is_returns(r, d, v, x, stop_target_gradients=False)[-1]
    )(rho)
    allclose(g_rho, [0.0, 0.0, 0.0, float(r[-1]) + float(d[-1]) * float(v[-1])])


def test_bad_arguments_raise():
    pi = jnp.full((3, 2), 0.5)
    a = jnp.zeros(3, jnp.int32)
    with pytest.raises(AssertionError):
        off_policy.importance_sampling_ratios(pi[0], pi[0], a[0])  # one step: pass a stream
    with pytest.raises(AssertionError):
        off_policy.importance_sampling_ratios(pi, jnp.full((3, 3), 1 / 3), a)  # action counts
    with pytest.raises(AssertionError):
        off_policy.importance_sampling_ratios(pi, pi, jnp.zeros(4, jnp.int32))  # stream lengths
    with pytest.raises(AssertionError):
        off_policy.importance_sampling_ratios(pi, pi, jnp.zeros(3))  # float actions
    for bad in (0.0, -1.0, float("nan"), [1.0, 2.0]):
        with pytest.raises(ValueError, match="clip_rho_threshold"):
            off_policy.clipped_importance_sampling_ratios(pi, pi, a, clip_rho_threshold=bad)
    r = jnp.ones(3)
    with pytest.raises(AssertionError):
        off_policy.ordinary_is_returns(r, r, r, jnp.ones(4))  # rho of the wrong length
    with pytest.raises(AssertionError):
        off_policy.per_decision_is_returns(r, r, r, jnp.ones((3, 1)))  # rho of rank 2


# ---------------------------------------------------------------------------------------------
# jit agreement and vmap against a loop.


def stream_args(seed: int):
    r, d, v, pi, mu, a = random_off_policy_stream(seed, 5)
    rho = ref_ratios(pi, mu, a).astype(np.float32)
    return {
        "importance_sampling_ratios": (pi, mu, a),
        "clipped_importance_sampling_ratios": (pi, mu, a),
        "ordinary_is_returns": (r, d, v, rho),
        "per_decision_is_returns": (r, d, v, rho),
    }


FUNCTIONS = {
    "importance_sampling_ratios": off_policy.importance_sampling_ratios,
    "clipped_importance_sampling_ratios": functools.partial(
        off_policy.clipped_importance_sampling_ratios, clip_rho_threshold=1.5
    ),
    "ordinary_is_returns": off_policy.ordinary_is_returns,
    "per_decision_is_returns": off_policy.per_decision_is_returns,
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_matches_eager(name):
    check_jit_matches_eager(FUNCTIONS[name], stream_args(0)[name])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vmap_matches_loop(name):
    per_element = [stream_args(seed)[name] for seed in range(3)]
    batch = [np.stack(column) for column in zip(*per_element, strict=True)]
    check_vmap_matches_loop(FUNCTIONS[name], batch)
