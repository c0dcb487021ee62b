"""TD(0) evaluation: a brute-force replay, and unbiased convergence to v_pi over 64 seeds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import dp, run
from jaxrl.configs import td0 as td0_config
from jaxrl.envs import gridworld, rng
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular import td0


def _config(**overrides):
    config = td0_config.get_config()
    with config.unlocked():
        for key, value in overrides.items():
            config[key] = value
    return config


def test_update_by_hand():
    v = jnp.array([1.0, 2.0, 4.0])
    out = td0.td_update(v, 0, -1.0, 2, alpha=0.5, gamma=0.9)
    assert float(out[0]) == pytest.approx(1.0 + 0.5 * (-1.0 + 3.6 - 1.0))
    np.testing.assert_array_equal(out[1:], v[1:])


def test_matches_a_plain_python_replay():
    steps = 500
    experiment = td0.make_experiment(_config(chunk_steps=steps, step_size="harmonic"))
    hparams = td0.Hparams(jnp.float32(1.0), jnp.float32(0.9))
    carry0 = experiment.init(jax.random.key(9), hparams)
    carry, _ = jax.jit(experiment.train_chunk)(carry0, hparams)
    nxt, rew = (
        np.asarray(x) for x in gridworld.to_grid_mdp(gridworld.book_grid()).deterministic_tables()
    )
    u = np.asarray(
        jax.vmap(lambda t: rng.counter_uniforms(carry0.key_data, t)[0])(jnp.arange(steps))
    )
    v, visits, s = np.zeros(25), np.zeros(25), int(carry0.env_state.position)
    for t in range(steps):
        a = min(int(u[t] * 5), 4)  # the uniform policy by inverse CDF
        s2, r = int(nxt[s, a]), float(rew[s, a])
        visits[s] += 1
        v[s] += (r + 0.9 * v[s2] - v[s]) / visits[s]
        s = s2
    np.testing.assert_allclose(np.asarray(carry.v), v, atol=1e-4)


def test_reaches_v_pi_of_exact_policy_evaluation():
    """64 seeds x 400k steps with alpha = 1 / n(s)^0.6 (Robbins-Monro). If TD(0) converges to
    v_pi, the mean over seeds of each estimate differs from v_pi only by sampling noise: we check
    |mean - v_pi| < 4.5 standard errors (estimated from the spread over seeds) in every one of the
    25 states (a two-sided 4.5-sigma bound: a false alarm has probability below 2e-4 over all
    states). So that the check is informative, the standard errors must be small: below 1% of
    the smallest |v_pi| (the estimates have really converged, not just spread out)."""
    experiment = td0.make_experiment(_config(chunk_steps=200_000))
    hparams = td0.Hparams(jnp.asarray([1.0]), jnp.asarray([0.9]))
    result = run.train(experiment, hparams, seed_keys(0, 64), num_chunks=2)
    v = np.asarray(result.carry.v[0], np.float64)  # [64 seeds, 25 states]
    uniform = np.full((25, 5), 0.2)
    v_pi = np.asarray(
        dp.evaluate_policy(gridworld.to_mdp(gridworld.book_grid()), uniform, gamma=0.9)
    )
    mean, se = v.mean(axis=0), v.std(axis=0, ddof=1) / np.sqrt(v.shape[0])
    assert np.all(se < 0.01 * np.abs(v_pi).min()), se.max()
    assert np.all(np.abs(mean - v_pi) < 4.5 * se), np.max(np.abs(mean - v_pi) / se)
    # The book's figure of the uniform policy, top row.
    np.testing.assert_allclose(v_pi[:5], [-3.8, -3.8, -3.6, -3.1, -3.2], atol=0.05)


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="policy"):
        td0.make_experiment(_config(policy="greedy"))
    with pytest.raises(ValueError, match="step_size"):
        td0.make_experiment(_config(step_size="adam"))
