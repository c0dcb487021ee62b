"""Combining an ensemble's action values: mean, min and mean minus k std, by hand."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import targets

Q = jnp.array([[1.0, 4.0, -2.0], [3.0, 0.0, -2.0], [2.0, 2.0, 1.0]])  # [K=3, A=3]


def test_mean_min_and_lcb_by_hand():
    np.testing.assert_allclose(targets.ensemble_value(Q, kind="mean"), [2.0, 2.0, -1.0])
    np.testing.assert_allclose(targets.ensemble_value(Q, kind="min"), [1.0, 0.0, -2.0])
    # Population std per action: sqrt(2/3), sqrt(8/3), sqrt(2).
    std = np.sqrt([2.0 / 3.0, 8.0 / 3.0, 2.0])
    np.testing.assert_allclose(
        targets.ensemble_value(Q, kind="lcb", pessimism=1.5),
        np.array([2.0, 2.0, -1.0]) - 1.5 * std,
        rtol=1e-6,
    )
    # k = 0 is the mean; one member has no spread.
    np.testing.assert_allclose(targets.ensemble_value(Q, kind="lcb"), [2.0, 2.0, -1.0])
    np.testing.assert_allclose(targets.ensemble_value(Q[:1], kind="lcb", pessimism=3.0), Q[0])


def test_a_traced_pessimism_and_a_bad_kind():
    lcb = jax.jit(lambda k: targets.ensemble_value(Q, kind="lcb", pessimism=k))
    np.testing.assert_allclose(lcb(0.5), targets.ensemble_value(Q, kind="lcb", pessimism=0.5))
    with pytest.raises(
        ValueError, match=r"kind must be one of \('mean', 'min', 'lcb'\), got 'max'"
    ):
        targets.ensemble_value(Q, kind="max")
