"""The projected Bellman fixed point: against an independent projection, a brute-force iteration,
exact v_pi for one-hot features, the LAPACK-free iteration and the expected TD update."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import dp
from jaxrl.approx import features, linear
from jaxrl.envs import gridworld


def _random_task(seed=0, num_states=7, num_actions=3, num_features=3):
    """A dense random MDP, a random stochastic policy (so ``d_pi`` is far from uniform) and
    random features."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.full(num_states, 0.3), size=(num_states, num_actions))
    rewards = rng.normal(size=(num_states, num_actions))
    policy = rng.dirichlet(np.ones(num_actions), size=num_states)
    phi = rng.normal(size=(num_states, num_features))
    mdp = dp.FiniteMDP(jnp.asarray(transitions, jnp.float32), jnp.asarray(rewards, jnp.float32))
    return mdp, policy, phi


def _book_task(name):
    mdp = gridworld.to_mdp(gridworld.book_grid())
    policy = np.full((25, 5), 0.2)
    return mdp, policy, np.asarray(features.feature_matrix(name, (5, 5)), np.float64)


def _model(mdp, policy):
    """``(P_pi, r_pi, d_pi)`` in float64, ``d_pi`` by power iteration (not dp's solve)."""
    p = np.asarray(mdp.transitions, np.float64)
    r = np.asarray(mdp.rewards, np.float64)
    p_pi = np.einsum("sa,sat->st", policy, p)
    r_pi = np.sum(policy * r, axis=1)
    d = np.full(p_pi.shape[0], 1.0 / p_pi.shape[0])
    for _ in range(5000):
        d = d @ p_pi
    return p_pi, r_pi, d / d.sum()


def _project(phi, d, u):
    """The weights of the best approximation of ``u`` in ``||.||_D``: weighted least squares."""
    root = np.sqrt(d)
    weights, *_ = np.linalg.lstsq(root[:, None] * phi, root * u, rcond=None)
    return weights


TASKS = [("random", None), ("book", "poly2"), ("book", "fourier3")]


@pytest.mark.parametrize("kind, name", TASKS)
def test_is_the_fixed_point_of_the_projected_bellman_operator(kind, name):
    mdp, policy, phi = _random_task() if kind == "random" else _book_task(name)
    gamma = 0.8
    w_star = linear.projected_fixed_point(mdp, policy, phi, gamma=gamma)
    p_pi, r_pi, d = _model(mdp, policy)
    # Pi_D T_pi (Phi w*) = Phi w*, with the projection computed independently.
    np.testing.assert_allclose(
        _project(phi, d, r_pi + gamma * p_pi @ phi @ w_star), w_star, atol=1e-5
    )
    # Brute force: iterate the projected operator (a gamma-contraction in ||.||_D) from 0.
    w = np.zeros(phi.shape[1])
    for _ in range(300):
        w = _project(phi, d, r_pi + gamma * p_pi @ phi @ w)
    np.testing.assert_allclose(w, w_star, atol=1e-5)
    if kind == "random":  # d_pi is far from uniform, so D matters: the unweighted answer differs
        unweighted = _project(phi, np.ones_like(d), r_pi + gamma * p_pi @ phi @ w_star)
        assert np.max(np.abs(unweighted - w_star)) > 1e-2


def test_one_hot_fixed_point_is_v_pi():
    mdp, policy, phi = _book_task("onehot")
    w_star = linear.projected_fixed_point(mdp, policy, phi, gamma=0.9)
    v_pi = dp.evaluate_policy(mdp, jnp.asarray(policy, jnp.float32), gamma=0.9)
    np.testing.assert_allclose(w_star, v_pi, atol=1e-4)
    np.testing.assert_allclose(w_star[:5], [-3.8, -3.8, -3.6, -3.1, -3.2], atol=0.05)  # the book


@pytest.mark.parametrize("kind, name", TASKS)
def test_the_fixed_point_is_not_the_best_approximation(kind, name):
    """TD's w* differs from the D-weighted least-squares fit of v_pi (Zhao, ch. 8.2), but its
    error in ||.||_D is within a factor 1 / sqrt(1 - gamma^2) of the best one's. On the book's
    grid they are close: 0.03 and 0.05 apart in weights for poly2 and fourier3."""
    mdp, policy, phi = _random_task() if kind == "random" else _book_task(name)
    w_star = linear.projected_fixed_point(mdp, policy, phi, gamma=0.9)
    p_pi, r_pi, d = _model(mdp, policy)
    v_pi = np.linalg.solve(np.eye(phi.shape[0]) - 0.9 * p_pi, r_pi)
    w_best = _project(phi, d, v_pi)
    assert np.max(np.abs(w_best - w_star)) > 0.02

    def norm(u):
        return np.sqrt(np.sum(d * u * u))

    best, td = norm(phi @ w_best - v_pi), norm(phi @ w_star - v_pi)
    assert best < td <= best / np.sqrt(1 - 0.9**2)


@pytest.mark.parametrize("kind, name", TASKS)
def test_the_bounded_iteration_matches_the_solve(kind, name):
    mdp, policy, phi = _random_task() if kind == "random" else _book_task(name)
    d = linear.stationary_distribution(mdp, policy)
    projection = linear.projection_matrix(phi, d)
    args = (mdp, jnp.asarray(policy, jnp.float32), jnp.asarray(phi, jnp.float32))
    args += (jnp.asarray(projection, jnp.float32), jnp.asarray(d, jnp.float32))
    gammas = jnp.asarray([0.0, 0.5, 0.9, 0.99])
    result = jax.vmap(
        lambda g: linear.projected_fixed_point_bounded(*args, gamma=g, error_bound=1e-4)
    )(gammas)
    for i, gamma in enumerate(gammas.tolist()):
        w_star = linear.projected_fixed_point(mdp, policy, phi, gamma=gamma)
        error = np.max(np.abs(phi @ (np.asarray(result.weights[i], np.float64) - w_star)))
        scale = np.max(np.abs(phi @ w_star))
        assert float(result.error_bound[i]) <= 1e-4
        assert error <= 1e-4 + 2e-6 * scale * (1 + int(result.sweeps[i])) ** 0.5, (gamma, error)
    assert int(result.sweeps[0]) == 1 and int(result.sweeps[3]) > int(result.sweeps[2])


@pytest.mark.parametrize("kind, name", TASKS + [("book", "onehot")])
def test_the_expected_td_update_converges_to_the_fixed_point(kind, name):
    mdp, policy, phi = _random_task() if kind == "random" else _book_task(name)
    gamma = 0.9
    p_pi, r_pi, d = _model(mdp, policy)
    alpha = 1.0 / np.max(np.sum(phi * phi, axis=1))
    arrays = [jnp.asarray(x, jnp.float32) for x in (phi, d, p_pi, r_pi)]

    @jax.jit
    def iterate(w):
        def body(_, u):
            return linear.expected_td_update(u, *arrays, gamma=gamma, alpha=alpha)

        return jax.lax.fori_loop(0, 40_000, body, w)

    w = iterate(jnp.zeros((phi.shape[1],), jnp.float32))
    w_star = linear.projected_fixed_point(mdp, policy, phi, gamma=gamma)
    np.testing.assert_allclose(w, w_star, atol=1e-4 * max(1.0, np.max(np.abs(w_star))))


def test_step_size_by_hand():
    kwargs = {"learning_rate": 0.5, "decay_steps": 100.0, "feature_norm": 4.0}
    assert float(linear.step_size(300, step_power=1.0, **kwargs)) == pytest.approx(0.5 / 4 / 4)
    assert float(linear.step_size(300, step_power=0.5, **kwargs)) == pytest.approx(0.5 / 2 / 4)
    assert float(linear.step_size(10**6, step_power=0.0, **kwargs)) == 0.5 / 4  # exactly constant


def test_projection_matrix_projects():
    mdp, policy, phi = _random_task(seed=3)
    d = linear.stationary_distribution(mdp, policy)
    m = linear.projection_matrix(phi, d)
    np.testing.assert_allclose(m @ phi, np.eye(phi.shape[1]), atol=1e-10)  # Pi_D Phi = Phi
    u = np.arange(7.0)
    np.testing.assert_allclose(m @ u, _project(phi, d, u), atol=1e-10)
    with pytest.raises(ValueError, match="phi must be"):
        linear.projection_matrix(phi, d[:3])
