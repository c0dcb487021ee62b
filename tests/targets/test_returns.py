"""Tests for ``jaxrl.targets.returns``: hand-checked cases, plain-Python references, properties.

References are written as loops in float64 straight from the definitions in the docstrings (the
forward sums, not the library's backward recursions, wherever a closed form exists). Library
outputs are float32: values here are at most ~10 in size and pass through at most ~10 operations,
so rounding stays below 1e-5 (ATOL, RTOL).

Eager calls of a function built on ``lax.scan`` re-trace and re-compile the scan every time
(~70 ms each), so the randomized tests call jitted copies (compiled once per shape); the
hand-checked cases and ``test_jit_matches_eager`` run the functions without ``jit``.

The generic checkers at the bottom (jit agreement, vmap against a loop) are shared with the other
test modules of this package.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxrl.targets import returns

ATOL = 1e-5
RTOL = 1e-5
FAST = settings(max_examples=30, deadline=None)

seeds = st.integers(0, 2**32 - 1)
lengths = st.integers(1, 6)
unit = st.floats(0.0, 1.0)
steps = st.sampled_from([1, 2, 3, 8])  # n = 8 exceeds every length: all steps truncated

discounted = jax.jit(returns.discounted_returns)
n_step = jax.jit(returns.n_step_bootstrapped_returns, static_argnames="n")
lambda_returns = jax.jit(returns.lambda_returns)
gae = jax.jit(returns.generalized_advantage_estimation)


def allclose(actual, expected, atol=ATOL, rtol=RTOL, err_msg=""):
    np.testing.assert_allclose(
        np.asarray(actual, np.float64), expected, atol=atol, rtol=rtol, err_msg=err_msg
    )


def random_stream(seed: int, length: int):
    """Rewards in [-1, 1], discounts in [0, 1] with exact 0s and 1s mixed in, values in [-2, 2]."""
    gen = np.random.default_rng(seed)
    r_t = gen.uniform(-1.0, 1.0, length)
    discount_t = gen.uniform(0.0, 1.0, length)
    kind = gen.uniform(size=length)
    discount_t[kind < 0.15] = 0.0
    discount_t[kind > 0.85] = 1.0
    v_t = gen.uniform(-2.0, 2.0, length)
    return tuple(x.astype(np.float32) for x in (r_t, discount_t, v_t))


def random_lambda(seed: int, length: int, per_step: bool):
    gen = np.random.default_rng(seed + 1)
    lam = gen.uniform(0.0, 1.0, length if per_step else ())
    return np.asarray(lam, np.float32)


# ---------------------------------------------------------------------------------------------
# Plain-Python references (float64).


def ref_discounted(r, d, bootstrap):
    out = []
    for i in range(len(r)):
        total, scale = 0.0, 1.0
        for k in range(i, len(r)):
            total += scale * float(r[k])
            scale *= float(d[k])
        out.append(total + scale * float(bootstrap))
    return np.array(out)


def ref_n_step(r, d, v, n):
    length = len(r)
    out = []
    for i in range(length):
        m = min(n, length - i)
        total, scale = 0.0, 1.0
        for k in range(m):
            total += scale * float(r[i + k])
            scale *= float(d[i + k])
        out.append(total + scale * float(v[i + m - 1]))
    return np.array(out)


def ref_lambda(r, d, v, lam):
    lam = np.broadcast_to(np.asarray(lam, np.float64), np.shape(r))
    out = [0.0] * len(r)
    g = float(v[-1])
    for i in reversed(range(len(r))):
        g = float(r[i]) + float(d[i]) * ((1 - lam[i]) * float(v[i]) + lam[i] * g)
        out[i] = g
    return np.array(out)


def ref_lambda_as_average(r, d, v, lam):
    """Sutton and Barto eq. (12.9): the truncated lambda-return as an average of n-step returns."""
    lam = float(lam)
    length = len(r)
    out = []
    for i in range(length):
        horizon = length - i
        n_step_returns = [ref_n_step(r, d, v, n)[i] for n in range(1, horizon + 1)]
        weights = [(1 - lam) * lam ** (n - 1) for n in range(1, horizon)] + [lam ** (horizon - 1)]
        out.append(sum(w * g for w, g in zip(weights, n_step_returns, strict=True)))
    return np.array(out)


def ref_gae(r, d, lam, values):
    lam = np.broadcast_to(np.asarray(lam, np.float64), np.shape(r))
    length = len(r)
    delta = [
        float(r[i]) + float(d[i]) * float(values[i + 1]) - float(values[i]) for i in range(length)
    ]
    out = []
    for i in range(length):
        total, scale = 0.0, 1.0
        for k in range(i, length):
            total += scale * delta[k]
            scale *= float(d[k]) * lam[k]
        out.append(total)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Hand-checked cases.

R = jnp.array([1.0, 2.0, 3.0])
D = jnp.array([0.5, 0.5, 0.5])
V = jnp.array([10.0, 20.0, 40.0])


def test_discounted_returns_by_hand():
    # G2 = 3 + 0.5 * 40 = 23; G1 = 2 + 0.5 * 23 = 13.5; G0 = 1 + 0.5 * 13.5 = 7.75.
    allclose(returns.discounted_returns(R, D, V), [7.75, 13.5, 23.0])
    # A scalar bootstrap: G2 = 3 + 2 = 5; G1 = 4.5; G0 = 3.25.
    allclose(returns.discounted_returns(R, D, 4.0), [3.25, 4.5, 5.0])
    # A terminal transition in the middle cuts the return.
    allclose(returns.discounted_returns(R, jnp.array([0.5, 0.0, 0.5]), V), [2.0, 2.0, 23.0])


def test_n_step_returns_by_hand():
    # n = 2: G0 = 1 + 0.5 * 2 + 0.25 * 20 = 7; G1 = 2 + 0.5 * 3 + 0.25 * 40 = 13.5;
    # G2 = 3 + 0.5 * 40 = 23 (truncated).
    allclose(returns.n_step_bootstrapped_returns(R, D, V, 2), [7.0, 13.5, 23.0])
    allclose(returns.n_step_bootstrapped_returns(R, D, V, 1), [6.0, 12.0, 23.0])


def test_lambda_returns_by_hand():
    # lambda = 0.5: G2 = 23; G1 = 2 + 0.5 * (0.5 * 20 + 0.5 * 23) = 12.75;
    # G0 = 1 + 0.5 * (0.5 * 10 + 0.5 * 12.75) = 6.6875.
    allclose(returns.lambda_returns(R, D, V, 0.5), [6.6875, 12.75, 23.0])
    # Per-step lambda [0, 1, 0.5]: G2 = 23; G1 = 2 + 0.5 * 23 = 13.5; G0 = 1 + 0.5 * 10 = 6.
    allclose(returns.lambda_returns(R, D, V, jnp.array([0.0, 1.0, 0.5])), [6.0, 13.5, 23.0])


def test_gae_by_hand():
    values = jnp.array([0.0, 10.0, 20.0, 40.0])
    # deltas: 1 + 5 - 0 = 6, 2 + 10 - 10 = 2, 3 + 20 - 20 = 3; A2 = 3; A1 = 2 + 0.25 * 3 = 2.75;
    # A0 = 6 + 0.25 * 2.75 = 6.6875.
    allclose(returns.generalized_advantage_estimation(R, D, 0.5, values), [6.6875, 2.75, 3.0])


# ---------------------------------------------------------------------------------------------
# Against the plain-Python references.


@FAST
@given(seed=seeds, length=lengths, scalar_bootstrap=st.booleans())
def test_discounted_returns_match_loop(seed, length, scalar_bootstrap):
    r, d, v = random_stream(seed, length)
    bootstrap = v[-1] if scalar_bootstrap else v
    allclose(discounted(r, d, bootstrap), ref_discounted(r, d, v[-1]))


@FAST
@given(seed=seeds, length=lengths, n=steps)
def test_n_step_returns_match_loop(seed, length, n):
    r, d, v = random_stream(seed, length)
    allclose(n_step(r, d, v, n=n), ref_n_step(r, d, v, n))


@FAST
@given(seed=seeds, length=lengths, per_step=st.booleans())
def test_lambda_returns_match_loop(seed, length, per_step):
    r, d, v = random_stream(seed, length)
    lam = random_lambda(seed, length, per_step)
    allclose(lambda_returns(r, d, v, lam), ref_lambda(r, d, v, lam))


@FAST
@given(seed=seeds, length=lengths, lam=unit)
def test_lambda_return_is_average_of_n_step_returns(seed, length, lam):
    r, d, v = random_stream(seed, length)
    allclose(lambda_returns(r, d, v, lam), ref_lambda_as_average(r, d, v, lam))


@FAST
@given(seed=seeds, length=lengths, per_step=st.booleans())
def test_gae_matches_loop(seed, length, per_step):
    r, d, v = random_stream(seed, length)
    values = np.concatenate([np.float32([0.7]), v])
    lam = random_lambda(seed, length, per_step)
    allclose(gae(r, d, lam, values), ref_gae(r, d, lam, values))


# ---------------------------------------------------------------------------------------------
# Properties.


@FAST
@given(seed=seeds, length=lengths, lam=unit, n=steps)
def test_zero_discount_gives_the_rewards(seed, length, lam, n):
    r, _, v = random_stream(seed, length)
    zero = np.zeros_like(r)
    allclose(discounted(r, zero, v), r)
    allclose(n_step(r, zero, v, n=n), r)
    allclose(lambda_returns(r, zero, v, lam), r)
    values = np.concatenate([v, np.float32([0.3])])
    allclose(gae(r, zero, lam, values), r - values[:-1])


@FAST
@given(seed=seeds, length=lengths)
def test_lambda_one_is_the_monte_carlo_return(seed, length):
    r, d, v = random_stream(seed, length)
    allclose(lambda_returns(r, d, v, 1.0), discounted(r, d, v))


@FAST
@given(seed=seeds, length=lengths)
def test_lambda_zero_and_one_step_give_the_one_step_target(seed, length):
    r, d, v = random_stream(seed, length)
    one_step = r.astype(np.float64) + d.astype(np.float64) * v
    allclose(lambda_returns(r, d, v, 0.0), one_step)
    allclose(n_step(r, d, v, n=1), one_step)


@FAST
@given(seed=seeds, length=lengths, extra=st.sampled_from([0, 2]))
def test_n_step_with_n_at_least_t_is_lambda_one(seed, length, extra):
    r, d, v = random_stream(seed, length)
    allclose(
        n_step(r, d, v, n=length + extra),
        lambda_returns(r, d, v, 1.0),
    )


@FAST
@given(seed=seeds, length=lengths, per_step=st.booleans())
def test_gae_plus_values_is_the_lambda_return(seed, length, per_step):
    r, d, v = random_stream(seed, length)
    values = np.concatenate([np.float32([-0.4]), v])
    lam = random_lambda(seed, length, per_step)
    advantages = gae(r, d, lam, values)
    allclose(advantages + values[:-1], lambda_returns(r, d, values[1:], lam))


def test_gradients_do_not_flow_through_returns():
    r, d, v = (jnp.asarray(x) for x in random_stream(0, 5))
    values = jnp.concatenate([jnp.zeros(1), v])
    for fn in (
        lambda v: returns.discounted_returns(r, d, v),
        lambda v: returns.n_step_bootstrapped_returns(r, d, v, 2),
        lambda v: returns.lambda_returns(r, d, v, 0.7),
        lambda v: returns.generalized_advantage_estimation(r, d, 0.7, jnp.concatenate([v, v[:1]])),
    ):
        allclose(jax.jit(jax.grad(lambda v, fn=fn: jnp.sum(fn(v))))(v), np.zeros(5), atol=0.0)
    grad = jax.grad(lambda x: jnp.sum(returns.discounted_returns(x, d, values[1:])))(r)
    allclose(grad, np.zeros(5), atol=0.0)


def test_returns_can_be_differentiated_when_asked():
    r, d, v = (jnp.asarray(x) for x in random_stream(1, 4))
    d = jnp.array([0.5, 0.9, 0.8, 0.7])
    # dG[i] / dv[-1] = prod_{j >= i} d[j]; only v[-1] is used.
    grad = jax.grad(
        lambda v: jnp.sum(returns.discounted_returns(r, d, v, stop_target_gradients=False))
    )(v)
    suffix = [0.5 * 0.9 * 0.8 * 0.7, 0.9 * 0.8 * 0.7, 0.8 * 0.7, 0.7]
    allclose(grad, [0.0, 0.0, 0.0, sum(suffix)])
    # GAE: dA[i] / dvalues[i] = -1 for the prediction part (lambda = 0 keeps it local).
    values = jnp.concatenate([v, jnp.zeros(1)])
    grad = jax.grad(
        lambda x: returns.generalized_advantage_estimation(
            r, d, 0.0, x, stop_target_gradients=False
        )[0]
    )(values)
    allclose(grad, [-1.0, 0.5, 0.0, 0.0, 0.0])


def test_bad_shapes_and_n_raise():
    r, d, v = (jnp.asarray(x) for x in random_stream(2, 4))
    with pytest.raises(AssertionError):
        returns.discounted_returns(r[None], d, v)  # rank 2 rewards
    with pytest.raises(AssertionError):
        returns.discounted_returns(r, d[:3], v)  # mismatched lengths
    with pytest.raises(AssertionError):
        returns.lambda_returns(r, d, v, jnp.ones(3))  # lambda of the wrong length
    with pytest.raises(AssertionError):
        returns.lambda_returns(r, d, v[-1], 0.5)  # v_t must be [T] here
    with pytest.raises(AssertionError):
        returns.generalized_advantage_estimation(r, d, 0.5, v)  # values must be [T + 1]
    with pytest.raises(AssertionError):
        returns.discounted_returns(jnp.arange(4), d, v)  # integer rewards
    for bad in (0, -1, 2.0, True, None):
        with pytest.raises(ValueError, match="n must be"):
            returns.n_step_bootstrapped_returns(r, d, v, bad)
    allclose(returns.n_step_bootstrapped_returns(r, d, v, np.int64(2)), ref_n_step(r, d, v, 2))


def test_dtype_is_kept():
    r, d, v = (jnp.asarray(x, jnp.bfloat16) for x in random_stream(3, 4))
    assert returns.lambda_returns(r, d, v, 0.5).dtype == jnp.bfloat16
    assert returns.generalized_advantage_estimation(r, d, 0.5, jnp.ones(5, jnp.bfloat16)).dtype == (
        jnp.bfloat16
    )


# ---------------------------------------------------------------------------------------------
# Generic checkers, shared with test_td.py and test_off_policy.py.


def check_jit_matches_eager(fn, args):
    """``jax.jit(fn)`` agrees with ``fn`` and compiles once for repeated calls of one shape."""
    traces = []

    def call(*a):
        traces.append(None)
        return fn(*a)

    jitted = jax.jit(call)
    expected = fn(*args)
    for _ in range(2):
        allclose(jitted(*args), np.asarray(expected, np.float64))
    assert len(traces) == 1


def check_vmap_matches_loop(fn, batch_args):
    """``jax.vmap(fn)`` over the leading axis equals calling ``fn`` on each element."""
    batched = jax.vmap(fn)(*batch_args)
    size = len(batch_args[0])
    one = jax.jit(fn)
    looped = [one(*(jnp.asarray(a)[b] for a in batch_args)) for b in range(size)]
    allclose(batched, np.stack([np.asarray(x, np.float64) for x in looped]))


def stream_args(seed: int, length: int):
    r, d, v = random_stream(seed, length)
    return r, d, v, random_lambda(seed, length, per_step=True)


CASES = {
    "discounted_returns": (returns.discounted_returns, lambda s: stream_args(s, 6)[:3]),
    "discounted_returns_scalar_v": (
        returns.discounted_returns,
        lambda s: stream_args(s, 6)[:2] + (np.float32(s % 3),),
    ),
    "n_step_bootstrapped_returns": (
        functools.partial(returns.n_step_bootstrapped_returns, n=3),
        lambda s: stream_args(s, 6)[:3],
    ),
    "lambda_returns": (returns.lambda_returns, lambda s: stream_args(s, 6)),
    "generalized_advantage_estimation": (
        returns.generalized_advantage_estimation,
        lambda s: (
            *stream_args(s, 6)[:2],
            stream_args(s, 6)[3],
            np.concatenate([stream_args(s, 6)[2], np.float32([0.5])]),
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_jit_matches_eager(name):
    fn, make_args = CASES[name]
    check_jit_matches_eager(fn, make_args(0))


@pytest.mark.parametrize("name", sorted(CASES))
def test_vmap_matches_loop(name):
    fn, make_args = CASES[name]
    per_element = [make_args(seed) for seed in range(3)]
    batch = [np.stack(column) for column in zip(*per_element, strict=True)]
    check_vmap_matches_loop(fn, batch)
