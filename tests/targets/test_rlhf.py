"""RL fine-tuning's targets: each KL estimator's expectation against the exact KL on a small
categorical, the KL-penalised rewards and the group-relative advantages by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import targets

POLICY = np.array([0.5, 0.3, 0.15, 0.05])
REFERENCE = np.array([0.1, 0.2, 0.3, 0.4])


@pytest.mark.parametrize("estimator", targets.KL_ESTIMATORS)
def test_each_estimators_expectation_against_the_exact_kl(estimator):
    """``E_{y ~ pi}[k(y)]`` summed exactly over the 4 outcomes: ``k1`` and ``k3`` are unbiased
    for ``KL(pi || pi_ref)``; ``k2`` is not (here it overestimates); ``k3`` and ``k2`` are never
    negative on a token, ``k1`` is where ``pi_ref > pi``."""
    exact = float(np.sum(POLICY * np.log(POLICY / REFERENCE)))
    k = np.asarray(targets.kl_estimate(jnp.log(POLICY), jnp.log(REFERENCE), estimator), np.float64)
    expectation = float(np.sum(POLICY * k))
    if estimator == "k2":
        assert expectation > exact * 1.1 and np.all(k >= 0)
    else:
        np.testing.assert_allclose(expectation, exact, rtol=1e-6)
    if estimator == "k3":
        assert np.all(k >= 0)
    if estimator == "k1":
        assert np.any(k < 0)


def test_k3_is_finite_and_nonnegative_far_from_the_reference():
    logp = jnp.array([0.0, -30.0, -1e-3])
    ref = jnp.array([-30.0, 0.0, -1e-3])
    k3 = targets.kl_estimate(logp, ref, "k3")
    assert np.all(np.isfinite(k3)) and np.all(k3 >= 0) and k3[2] == 0.0
    with pytest.raises(ValueError, match="estimator must be one of"):
        targets.kl_estimate(logp, ref, "k4")


def test_kl_penalised_rewards_by_hand():
    """Response tokens 2 and 3 of 5: each pays ``-beta k1``, the last of them the score too."""
    logp = jnp.array([-9.0, -9.0, -1.0, -2.0, -9.0])
    ref = jnp.array([0.0, 0.0, -1.5, -1.0, 0.0])
    mask = jnp.array([0, 0, 1, 1, 0])
    rewards = jax.jit(
        lambda *a: targets.kl_penalised_rewards(*a, beta=0.1, estimator="k1"), static_argnums=()
    )(jnp.float32(3.0), logp, ref, mask)
    # k1 = log pi - log pi_ref: 0.5 at token 2, -1.0 at token 3
    np.testing.assert_allclose(rewards, [0.0, 0.0, -0.05, 3.0 + 0.1, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match=r"must be \[T\] alike"):
        targets.kl_penalised_rewards(0.0, logp, ref, mask[:4], beta=0.1)


def test_group_advantages_by_hand():
    """Rewards (1, 2, 3, 6): mean 3, std sqrt(3.5); leave-one-out baselines 11/3, 10/3, 3, 2."""
    rewards = jnp.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    centred = np.array([-2.0, -1.0, 0.0, 3.0])
    grpo = targets.group_advantages(rewards)
    np.testing.assert_allclose(grpo[0], centred / (np.sqrt(3.5) + 1e-6), rtol=1e-6)
    np.testing.assert_array_equal(grpo[1], 0.0)  # a group of equal rewards teaches nothing
    np.testing.assert_allclose(targets.group_advantages(rewards, scale=False)[0], centred)
    rloo = targets.group_advantages(rewards, baseline="leave_one_out", scale=False)
    np.testing.assert_allclose(rloo[0], [1 - 11 / 3, 2 - 10 / 3, 3 - 3, 6 - 2], rtol=1e-6)
    with pytest.raises(ValueError, match="G >= 2"):
        targets.group_advantages(jnp.ones((3, 1)))
    with pytest.raises(ValueError, match="baseline must be one of"):
        targets.group_advantages(rewards, baseline="median")
