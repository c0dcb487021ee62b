"""The uniform random policy's returns (``evaluation.random_returns``, what
``experiments/random_policy.py`` prints), the baseline beside the learning curves, against the
exact expectation on a fork's chain."""

import jax
import numpy as np

from jaxrl import envs
from jaxrl.envs import evaluation
from tests.agents import chain_configs


def test_the_random_policys_mean_return_is_the_exact_one_within_its_standard_error():
    """The discrete chain of 6 cells (wall at 0, the episode ends on entering cell 5, -1 a step,
    cut after 20 steps) under uniform actions: its expected return by dynamic programming over
    (cell, step). The mean of 4,096 episodes must lie within 4 standard errors of it (a false
    alarm has probability 6e-5)."""
    env = envs.make(chain_configs.DISCRETE, {})
    returns = np.asarray(evaluation.random_returns(env, jax.random.key(0), episodes=4096))
    length, horizon = 6, env.max_steps
    value = np.zeros(length)  # the expected return-to-go with 0 steps left
    for _ in range(horizon):
        right = np.minimum(np.arange(length) + 1, length - 1)
        left = np.maximum(np.arange(length) - 1, 0)
        value = -1.0 + 0.5 * value[right] + 0.5 * value[left]
        value[length - 1] = 0.0  # the end cell is terminal: nothing more is paid
    assert returns.shape == (4096,) and set(np.unique(returns)) <= set(range(-horizon, 0))
    error = returns.std(ddof=1) / np.sqrt(len(returns))
    assert abs(returns.mean() - value[0]) < 4 * error, (returns.mean(), value[0], error)
