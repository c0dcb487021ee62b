"""Robbins-Monro mean estimation as a runner experiment: exact replay and the theory's errors."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import run
from jaxrl.configs import mean_estimation as me_config
from jaxrl.run import stats
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular import mean_estimation as me


def _run(scale, power, num_seeds, steps):
    config = me_config.get_config()
    with config.unlocked():
        config.chunk_steps = steps
    experiment = me.make_experiment(config)
    hparams = me.Hparams(jnp.asarray([scale]), jnp.asarray([power]))
    result = run.train(experiment, hparams, seed_keys(0, num_seeds), num_chunks=1)
    carry = jax.tree.map(lambda x: x[0], result.carry)  # one setting: [seeds, ...]
    return carry, {name: values[0, 0] for name, values in result.metrics.items()}


def test_harmonic_step_is_the_sample_mean_of_the_same_samples():
    carry, _ = _run(1.0, 1.0, 4, 500)
    for i in range(4):
        draw = jax.vmap(lambda k, d=carry.key_data[i]: me.normal_sample(d, k, mean=5.0, std=1.0))
        samples = np.asarray(draw(jnp.arange(1, 501)), np.float64)
        assert abs(float(carry.w[i]) - samples.mean()) < 1e-4


def test_errors_match_the_theory():
    """After k samples, w - E[X] is normal with standard deviation 1/sqrt(k) for a_k = 1/k, and
    (stationary) sqrt(a / (2 - a)) for a constant a; E|N(0, s^2)| = s sqrt(2/pi). The mean over
    1024 seeds of |w - E[X]| must match within 5 standard errors (estimated from the seeds)."""
    k = 10_000
    for scale, power, sd in ((1.0, 1.0, 1 / np.sqrt(k)), (0.02, 0.0, np.sqrt(0.02 / 1.98))):
        _, metrics = _run(scale, power, 1024, k)
        errors = np.asarray(metrics["abs_error"], np.float64)
        summary = stats.summarize(errors, axis=0)
        standard_error = summary["std"] / np.sqrt(errors.size)
        assert abs(summary["mean"] - sd * np.sqrt(2 / np.pi)) < 5 * standard_error


def test_normal_samples_have_the_right_moments():
    key_data = jax.random.key_data(jax.random.key(0))
    x = np.asarray(
        jax.vmap(lambda k: me.normal_sample(key_data, k, mean=2.0, std=3.0))(jnp.arange(100_000)),
        np.float64,
    )
    # Standard errors: 3 / sqrt(n) for the mean, 9 sqrt(2 / n) for the variance.
    assert abs(x.mean() - 2.0) < 5 * 3 / np.sqrt(x.size)
    assert abs(x.var() - 9.0) < 5 * 9 * np.sqrt(2 / x.size)
