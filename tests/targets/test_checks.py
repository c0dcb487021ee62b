"""Bad arguments to the targets get a clear error where their values are concrete; under
tracing only shapes and dtypes are checked (as the module docstrings say)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import targets


def test_python_lists_are_streams():
    # G = [1 + 0.9 * 2, 2] with the episode ending after the second step.
    np.testing.assert_allclose(
        targets.discounted_returns([1.0, 2.0], [0.9, 0.0], 0.0), [2.8, 2.0], rtol=1e-6
    )
    assert float(targets.q_learning([1.0, 2.0], 1, 0.5, 0.9, [0.0, 3.0])) == pytest.approx(
        0.5 + 0.9 * 3.0 - 2.0
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda e: targets.discounted_returns(e, e, 0.0),
        lambda e: targets.n_step_bootstrapped_returns(e, e, e, 2),
        lambda e: targets.lambda_returns(e, e, e, 0.5),
        lambda e: targets.generalized_advantage_estimation(e, e, 0.5, jnp.zeros((1,))),
        lambda e: targets.per_decision_is_returns(e, e, 0.0, e),
    ],
)
def test_an_empty_stream_is_refused(call):
    with pytest.raises(ValueError, match=r"r_t must hold at least one step \(T >= 1\)"):
        call(jnp.zeros((0,)))


def test_action_indices_out_of_range_are_refused_where_concrete():
    q = jnp.zeros((5,))
    with pytest.raises(ValueError, match=r"a_tm1 must hold action indices in \[0, 5\), got 7"):
        targets.sarsa(q, 7, 0.0, 0.9, q, 0)
    with pytest.raises(ValueError, match=r"a_t must hold action indices in \[0, 5\), got -1"):
        targets.sarsa(q, 0, 0.0, 0.9, q, -1)
    with pytest.raises(ValueError, match="a_tm1 must hold action indices"):
        targets.q_learning(q, 5, 0.0, 0.9, q)
    with pytest.raises(ValueError, match="a_t must hold action indices"):
        targets.n_step_sarsa_target(jnp.zeros(3), jnp.ones(3), jnp.zeros((3, 5)), [0, 9, 1], 2)
    # Under jit the index is not known: no error (JAX clamps it), as documented.
    error = jax.jit(targets.sarsa)(q.at[4].set(1.0), 7, 0.0, 0.9, q, 0)
    assert float(error) == -1.0


def test_lambda_outside_the_unit_interval_is_refused():
    stream = jnp.ones((3,))
    with pytest.raises(ValueError, match=r"lambda_ must be in \[0, 1\], got 1.5"):
        targets.lambda_returns(stream, stream, stream, 1.5)
    with pytest.raises(ValueError, match=r"lambda_ must be in \[0, 1\]"):
        targets.generalized_advantage_estimation(stream, stream, -0.1, jnp.ones((4,)))


def test_probabilities_must_be_probabilities():
    q = jnp.zeros((3,))
    with pytest.raises(ValueError, match="probs_a_t must hold probabilities summing to 1"):
        targets.expected_sarsa(q, 0, 0.0, 0.9, q, jnp.asarray([0.5, 0.2, 0.2]))
    pi = jnp.asarray([[0.5, 0.5], [1.0, 0.0]])
    with pytest.raises(ValueError, match="mu_probs_t must hold non-negative probabilities"):
        targets.importance_sampling_ratios(pi, jnp.asarray([[1.5, -0.5], [0.5, 0.5]]), [0, 1])
    with pytest.raises(ValueError, match="positive probability"):
        targets.importance_sampling_ratios(pi, jnp.asarray([[1.0, 0.0], [0.5, 0.5]]), [1, 0])
