"""Mean estimation: the incremental mean and Robbins-Monro against NumPy and plain Python loops."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.tabular import mean_estimation as me


def _samples(seed, shape, mean=5.0, std=2.0):
    return mean + std * jax.random.normal(jax.random.key(seed), shape, jnp.float32)


def _brute_robbins_monro(x, a, w_1):
    w, out = float(w_1), []
    for x_k, a_k in zip(np.asarray(x, np.float64), np.asarray(a, np.float64), strict=True):
        w = w - a_k * (w - x_k)
        out.append(w)
    return np.asarray(out)


def test_incremental_mean_by_hand():
    w = me.incremental_mean(jnp.array([2.0, 4.0, 9.0]))
    np.testing.assert_allclose(np.asarray(w), [2.0, 3.0, 5.0])


def test_incremental_mean_equals_the_prefix_means_of_numpy():
    x = _samples(0, (1000,))
    w = me.incremental_mean(x)
    expected = np.cumsum(np.asarray(x, np.float64)) / np.arange(1, 1001)
    np.testing.assert_allclose(np.asarray(w), expected, rtol=1e-5)
    assert float(w[-1]) == pytest.approx(float(np.mean(np.asarray(x, np.float64))), rel=1e-5)


@pytest.mark.parametrize(
    "schedule, scale, power",
    [("constant", 0.1, 1.0), ("harmonic", 1.0, 1.0), ("harmonic", 0.5, 1.0), ("power", 1.0, 0.7)],
)
def test_robbins_monro_matches_a_python_loop(schedule, scale, power):
    x = _samples(1, (300,))
    a = me.step_sizes(300, schedule=schedule, scale=scale, power=power)
    k = np.arange(1, 301)
    expected_a = {"constant": np.full(300, scale), "harmonic": scale / k, "power": scale / k**power}
    np.testing.assert_allclose(np.asarray(a), expected_a[schedule], rtol=1e-6)
    w = me.robbins_monro_mean(x, a, w_1=-3.0)
    np.testing.assert_allclose(np.asarray(w), _brute_robbins_monro(x, a, -3.0), rtol=1e-5)


def test_harmonic_step_size_reproduces_the_sample_mean_from_any_start():
    """a_1 = 1 overwrites w_1, and then w_{k+1} is exactly the mean of x_1..x_k."""
    x = _samples(2, (500,))
    a = me.step_sizes(500, schedule="harmonic")
    means = np.cumsum(np.asarray(x, np.float64)) / np.arange(1, 501)
    for w_1 in (0.0, 100.0, -7.5):
        np.testing.assert_allclose(
            np.asarray(me.robbins_monro_mean(x, a, w_1=w_1)), means, rtol=1e-5
        )


def test_constant_step_size_is_an_exponentially_weighted_mean():
    """w_{T+1} = (1 - a)^T w_1 + sum_k a (1 - a)^(T - k) x_k."""
    x = np.asarray(_samples(3, (200,)), np.float64)
    a = 0.05
    w = me.robbins_monro_mean(
        jnp.asarray(x, jnp.float32), me.step_sizes(200, schedule="constant", scale=a), w_1=1.0
    )
    k = np.arange(1, 201)
    closed_form = (1 - a) ** 200 * 1.0 + np.sum(a * (1 - a) ** (200 - k) * x)
    assert float(w[-1]) == pytest.approx(closed_form, rel=1e-5)


def _exact_moments(a, w_1, mean, var):
    """Mean and standard deviation of every iterate, from the recursions of the error
    e_k = w_k - mean: E e_{k+1} = (1 - a_k) E e_k and Var e_{k+1} = (1 - a_k)^2 Var e_k + a_k^2 var
    (the samples are independent), in float64."""
    bias, v, means, sds = w_1 - mean, 0.0, [], []
    for a_k in np.asarray(a, np.float64):
        bias, v = (1 - a_k) * bias, (1 - a_k) ** 2 * v + a_k**2 * var
        means.append(mean + bias)
        sds.append(np.sqrt(v))
    return np.asarray(means), np.asarray(sds)


@pytest.mark.parametrize(
    "schedule, scale, power",
    [("harmonic", 1.0, 1.0), ("power", 1.0, 0.75), ("constant", 0.1, 1.0)],
)
def test_spread_over_streams_matches_the_exact_moments(schedule, scale, power):
    """4096 vmapped streams of N(5, 2^2) samples from w_1 = 0: the mean and spread of w_{k+1} over
    streams at k = 1000 and k = 4000 equal their exact values from the error recursion.

    This is the convergence property: with a_k = 1/k (the sample mean, sd 2 / sqrt(k)) and
    a_k = 1/k^0.75 (the Robbins-Monro conditions hold) the spread shrinks with k; with a
    constant a = 0.1 it stays at sqrt(a sigma^2 / (2 - a)) = 0.459. Every w_k is a linear
    combination of Gaussians, so normal: the mean over n = 4096 streams is within 5 of its
    standard errors sd / sqrt(n), and the sample sd within 5 of its relative standard errors
    1 / sqrt(2 (n - 1)) = 1.1%, of the exact values.
    """
    num_streams, num_steps = 4096, 4000
    x = _samples(4, (num_streams, num_steps))
    a = me.step_sizes(num_steps, schedule=schedule, scale=scale, power=power)
    w = np.asarray(jax.vmap(lambda xs: me.robbins_monro_mean(xs, a, w_1=0.0))(x), np.float64)
    exact_mean, exact_sd = _exact_moments(a, 0.0, 5.0, 4.0)
    for k in (1000, 4000):
        column = w[:, k - 1]
        assert abs(column.mean() - exact_mean[k - 1]) < 5 * exact_sd[k - 1] / np.sqrt(num_streams)
        rel_se = 1.0 / np.sqrt(2 * (num_streams - 1))
        assert column.std(ddof=1) == pytest.approx(exact_sd[k - 1], rel=5 * rel_se)
    if schedule == "harmonic":
        np.testing.assert_allclose(exact_sd[[999, 3999]], 2.0 / np.sqrt([1000, 4000]), rtol=1e-9)
    if schedule == "constant":
        assert exact_sd[-1] == pytest.approx(np.sqrt(0.1 * 4.0 / 1.9), rel=1e-6)
    else:  # converging at the rate of sqrt(a_k): four times the samples, 4^(-power / 2) the spread
        assert exact_sd[3999] / exact_sd[999] == pytest.approx(4.0 ** (-power / 2), rel=0.02)


def test_jit_and_no_jit_agree_and_one_trace():
    x = _samples(5, (64,))
    a = me.step_sizes(64, schedule="power", power=0.6)
    jitted = jax.jit(chex.assert_max_traces(me.robbins_monro_mean, n=1))
    np.testing.assert_allclose(
        np.asarray(jitted(x, a)), np.asarray(me.robbins_monro_mean(x, a)), rtol=1e-6
    )
    jitted(x + 1.0, a)  # same shapes: no retrace


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="schedule"):
        me.step_sizes(10, schedule="adaptive")
    with pytest.raises(ValueError, match="num_steps"):
        me.step_sizes(0, schedule="harmonic")
    with pytest.raises(ValueError, match="power"):
        me.step_sizes(10, schedule="power", power=0.0)
    with pytest.raises(AssertionError):
        me.robbins_monro_mean(jnp.zeros((3, 2)), jnp.zeros((3, 2)))
