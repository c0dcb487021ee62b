"""Features of grid cells: hand-checked values, sizes, the coordinate convention, validation."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.approx import features
from jaxrl.envs import gridworld


def test_coordinates_are_the_normalized_column_and_row():
    x, y = features.cell_coordinates((3, 5))
    np.testing.assert_allclose(x.reshape(3, 5)[0], [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(y.reshape(3, 5)[:, 0], [0.0, 0.5, 1.0])
    # gridworld's "coords" observation is the same pair, as (row, col) = (y, x).
    params = gridworld.make_params(
        gridworld.GridWorld(shape=(3, 5), target=(0, 0), forbidden=()), observation="coords"
    )
    coords = jax.vmap(lambda s: gridworld.observe(s, params))(jnp.arange(15))
    np.testing.assert_allclose(coords, np.stack([y, x], axis=1))


def test_polynomial_by_hand():
    # The top-right cell: x = 1, y = 0, so u = 1, v = -1.
    np.testing.assert_allclose(features.polynomial(1.0, 0.0, order=1), [1, 1, -1])
    np.testing.assert_allclose(features.polynomial(1.0, 0.0, order=2), [1, 1, -1, 1, 1, -1])
    np.testing.assert_allclose(
        features.polynomial(0.75, 0.25, order=3),
        [1, 0.5, -0.5, 0.25, 0.25, -0.25, 0.125, -0.125, -0.125, 0.125],
    )
    with pytest.raises(ValueError, match="order must be one of"):
        features.polynomial(0.0, 0.0, order=4)


def test_fourier_by_hand():
    out = features.fourier(1.0, 0.5, q=2)  # feature c1 * 3 + c2 = cos(pi (c1 + c2 / 2))
    expected = [np.cos(np.pi * (c1 + c2 / 2)) for c1 in range(3) for c2 in range(3)]
    np.testing.assert_allclose(out, expected, atol=1e-6)
    np.testing.assert_allclose(features.fourier(0.0, 0.0, q=3), np.ones(16))
    with pytest.raises(ValueError, match="q must be a positive integer"):
        features.fourier(0.0, 0.0, q=0)


def test_one_hot_and_state_action_blocks():
    np.testing.assert_array_equal(features.one_hot(2, num_states=4), [0, 0, 1, 0])
    phi_sa = features.state_action(jnp.array([1.0, 2.0]), 1, num_actions=3)
    np.testing.assert_array_equal(phi_sa, [0, 0, 1, 2, 0, 0])
    phi = jnp.arange(6.0).reshape(3, 2)
    big = features.state_action_matrix(phi, 3)
    assert big.shape == (3, 3, 6)
    w = jnp.arange(6.0)
    # q(s, a) = phi(s)^T w_a, w_a the a-th block of w.
    np.testing.assert_allclose(big @ w, phi @ w.reshape(3, 2).T)


@pytest.mark.parametrize("name", ["onehot", "poly1", "poly2", "poly3", "fourier2", "fourier8"])
def test_feature_matrix_rows_are_the_features_of_each_cell(name):
    shape = (5, 4)
    phi = features.feature_matrix(name, shape)
    assert phi.shape == (20, features.num_features(name, 20))
    assert phi.dtype == jnp.float32
    s = 13  # row 3, col 1
    x, y = 1 / 3, 3 / 4
    if name == "onehot":
        expected = np.eye(20)[s]
    elif name.startswith("poly"):
        expected = features.polynomial(x, y, order=int(name[4:]))
    else:
        expected = features.fourier(x, y, q=int(name[7:]))
    np.testing.assert_allclose(phi[s], expected, atol=1e-6)


def test_sizes():
    assert [features.num_features(f"poly{k}", 25) for k in (1, 2, 3)] == [3, 6, 10]
    assert [features.num_features(f"fourier{q}", 25) for q in (1, 2, 3)] == [4, 9, 16]
    assert features.num_features("onehot", 25) == 25


def test_polynomial_span_does_not_depend_on_the_normalization():
    """Monomials of (2x - 1, 2y - 1) span the same functions as those of (x, y): the centring
    changes the weights, not what TD-linear can represent."""
    x, y = (np.asarray(c, np.float64) for c in features.cell_coordinates((5, 5)))
    raw = np.stack(
        [np.ones(25), x, y, x * x, y * y, x * y, x**3, y**3, x * x * y, x * y * y], axis=1
    )
    centred = np.asarray(features.feature_matrix("poly3", (5, 5)), np.float64)
    coefficients, *_ = np.linalg.lstsq(raw, centred, rcond=None)
    np.testing.assert_allclose(raw @ coefficients, centred, atol=1e-5)


def test_bad_feature_sets_are_refused():
    with pytest.raises(ValueError, match=r"config.features must be one of \('onehot', 'poly1'"):
        features.check_features("poly4", (5, 5), field="config.features")
    with pytest.raises(ValueError, match="36 features of rank 25"):
        features.check_features("fourier5", (5, 5))
    phi = features.check_features("fourier4", (5, 5))  # a complete basis of the 25 cells
    assert phi.shape == (25, 25) and phi.dtype == np.float64
