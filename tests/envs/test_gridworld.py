"""Tests for the textbook grid world (``jaxrl.envs.gridworld``).

Every expected value comes from an independent source: a plain-Python model of the conventions of
S. Zhao, "Mathematical Foundations of RL", ch. 1-4 (written below from the conventions, not from
the library), a hand computation, or binomial statistics for sampled quantities.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxrl import dp
from jaxrl.envs import gridworld as gw

UP, RIGHT, DOWN, LEFT, STAY = range(5)
NUM_ACTIONS = 5
BOOK_FORBIDDEN = ((1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1))

# Sampled-vs-exact comparisons allow this many binomial standard errors. With fixed keys and a
# derandomized search a test is deterministic; 5 standard errors make a false alarm for one
# entry about 6e-7 likely, so a few thousand compared entries stay far below 1e-2.
NUM_STD_ERRORS = 5.0


# ---------------------------------------------------------------------------------------------
# An independent model of the conventions, in plain Python.


class Spec(NamedTuple):
    """A grid-world layout in plain Python, the input of the brute-force model."""

    shape: tuple[int, int]
    target: tuple[int, int]
    forbidden: tuple[tuple[int, int], ...]
    reward_boundary: float = -1.0
    reward_forbidden: float = -1.0
    reward_target: float = 1.0
    reward_step: float = 0.0
    slip: float = 0.0
    absorbing: bool = False


BOOK = Spec(shape=(5, 5), target=(3, 2), forbidden=BOOK_FORBIDDEN)


def to_world(spec: Spec) -> gw.GridWorld:
    return gw.GridWorld(
        shape=spec.shape,
        target=spec.target,
        forbidden=spec.forbidden,
        reward_boundary=spec.reward_boundary,
        reward_forbidden=spec.reward_forbidden,
        reward_target=spec.reward_target,
        reward_step=spec.reward_step,
        slip=spec.slip,
        absorbing_target=spec.absorbing,
    )


def next_state_and_reward(spec: Spec, s: int, a: int) -> tuple[int, float]:
    """The book's deterministic move (no slip, target not absorbing), from the conventions."""
    rows, cols = spec.shape
    row, col = divmod(s, cols)
    if a == UP:
        row2, col2 = row - 1, col
    elif a == RIGHT:
        row2, col2 = row, col + 1
    elif a == DOWN:
        row2, col2 = row + 1, col
    elif a == LEFT:
        row2, col2 = row, col - 1
    else:
        row2, col2 = row, col
    if not (0 <= row2 < rows and 0 <= col2 < cols):
        return s, spec.reward_boundary
    if (row2, col2) == spec.target:
        reward = spec.reward_target
    elif (row2, col2) in spec.forbidden:
        reward = spec.reward_forbidden
    else:
        reward = spec.reward_step
    return row2 * cols + col2, reward


def brute_mdp(spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """Dense ``P [S, 5, S]`` and expected ``R [S, 5]`` in float64, built by plain loops."""
    rows, cols = spec.shape
    num_states = rows * cols
    target = spec.target[0] * cols + spec.target[1]
    p = np.zeros((num_states, NUM_ACTIONS, num_states))
    r = np.zeros((num_states, NUM_ACTIONS))
    for s in range(num_states):
        for a in range(NUM_ACTIONS):
            if spec.absorbing and s == target:
                p[s, a, s] = 1.0  # the target loops to itself with reward 0
                continue
            for b in range(NUM_ACTIONS):
                # With prob slip the action is replaced by one uniform over all five.
                weight = (1.0 - spec.slip) * (b == a) + spec.slip / NUM_ACTIONS
                s2, reward = next_state_and_reward(spec, s, b)
                p[s, a, s2] += weight
                r[s, a] += weight * reward
    return p, r


def brute_value_iteration(p: np.ndarray, r: np.ndarray, gamma: float) -> np.ndarray:
    """Value iteration in float64 run to 1e-12, the reference optimal values."""
    v = np.zeros(r.shape[0])
    while True:
        new_v = np.max(r + gamma * np.einsum("sat,t->sa", p, v), axis=1)
        if np.max(np.abs(new_v - v)) < 1e-12:
            return new_v
        v = new_v


@st.composite
def specs(draw, max_side=6, slips=(0.0, 0.1, 0.5, 1.0), absorbing=(False, True), shapes=None):
    """Random layouts: shape, target, a forbidden subset without the target, rewards, options.

    ``shapes`` restricts the shape to a few (each new shape or option recompiles jitted code, so
    the compile-heavy tests draw layouts and rewards freely but shapes from a short list).
    """
    if shapes is None:
        rows = draw(st.integers(1, max_side))
        cols = draw(st.integers(1, max_side))
    else:
        rows, cols = draw(st.sampled_from(shapes))
    cells = [(i, j) for i in range(rows) for j in range(cols)]
    target = draw(st.sampled_from(cells))
    others = [c for c in cells if c != target]
    forbidden = tuple(draw(st.lists(st.sampled_from(others), unique=True))) if others else ()
    # Quarter-integers are exact in float32, so the model and the library see the same rewards.
    reward = st.integers(-8, 8).map(lambda x: x / 4)
    return Spec(
        shape=(rows, cols),
        target=target,
        forbidden=forbidden,
        reward_boundary=draw(reward),
        reward_forbidden=draw(reward),
        reward_target=draw(reward),
        reward_step=draw(reward),
        slip=draw(st.sampled_from(slips)),
        absorbing=draw(st.sampled_from(absorbing)),
    )


FAST = settings(max_examples=25, deadline=None)


# ---------------------------------------------------------------------------------------------
# The dense MDP against the brute-force model.


def test_book_grid_defaults_are_the_book_layout():
    grid = gw.book_grid()
    assert grid.shape == (5, 5)
    assert grid.target == (3, 2)
    assert set(grid.forbidden) == set(BOOK_FORBIDDEN)
    assert (grid.reward_boundary, grid.reward_forbidden) == (-1.0, -1.0)
    assert (grid.reward_target, grid.reward_step) == (1.0, 0.0)
    assert grid.slip == 0.0 and not grid.absorbing_target
    assert gw.ACTION_DELTAS == ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))


def test_book_grid_hand_checked_moves():
    mdp = gw.to_mdp(gw.book_grid())
    p, r = np.asarray(mdp.transitions), np.asarray(mdp.rewards)

    def check(cell, action, next_cell, reward):
        s, s2 = cell[0] * 5 + cell[1], next_cell[0] * 5 + next_cell[1]
        assert p[s, action, s2] == 1.0, (cell, action)
        assert r[s, action] == reward, (cell, action)

    check((0, 0), UP, (0, 0), -1.0)  # bump into the top wall
    check((0, 0), LEFT, (0, 0), -1.0)  # bump into the left wall
    check((0, 0), RIGHT, (0, 1), 0.0)
    check((0, 1), DOWN, (1, 1), -1.0)  # enter a forbidden cell
    check((1, 1), STAY, (1, 1), -1.0)  # stay in a forbidden cell
    check((2, 2), DOWN, (3, 2), 1.0)  # enter the target
    check((3, 2), STAY, (3, 2), 1.0)  # stay at the (non-absorbing) target
    check((3, 2), UP, (2, 2), -1.0)  # leave the target into a forbidden cell
    check((4, 4), DOWN, (4, 4), -1.0)  # bump into the bottom wall
    check((4, 4), RIGHT, (4, 4), -1.0)  # bump into the right wall
    check((4, 2), UP, (3, 2), 1.0)


# Jitted once per shape (eager op-by-op dispatch recompiles every small op for each new shape).
jit_to_mdp = jax.jit(gw.to_mdp)


def _assert_matches_brute(spec: Spec, *, jit: bool = True):
    p, r = brute_mdp(spec)
    grid = to_world(spec)
    mdp = jit_to_mdp(gw.to_grid_mdp(grid)) if jit else gw.to_mdp(grid)
    num_states = spec.shape[0] * spec.shape[1]
    chex.assert_shape(mdp.transitions, (num_states, NUM_ACTIONS, num_states))
    chex.assert_shape(mdp.rewards, (num_states, NUM_ACTIONS))
    np.testing.assert_allclose(mdp.transitions, p, atol=1e-6)
    np.testing.assert_allclose(mdp.rewards, r, atol=1e-5)
    np.testing.assert_allclose(np.sum(mdp.transitions, -1), 1.0, atol=1e-6)


@pytest.mark.parametrize("jit", [False, True])
def test_to_mdp_book_grid_matches_brute_force(jit):
    _assert_matches_brute(BOOK, jit=jit)


def test_to_mdp_deterministic_tables_book_grid():
    next_state, reward = gw.to_grid_mdp(gw.book_grid()).deterministic_tables()
    for s in range(25):
        for a in range(NUM_ACTIONS):
            s2, r = next_state_and_reward(BOOK, s, a)
            assert int(next_state[s, a]) == s2 and float(reward[s, a]) == r, (s, a)


@FAST
@given(specs())
def test_to_mdp_matches_brute_force_random_layouts(spec):
    _assert_matches_brute(spec)


@pytest.mark.parametrize("slip", [0.2, 1.0])
@pytest.mark.parametrize("absorbing", [False, True])
def test_to_mdp_slip_is_mixture_of_deterministic(slip, absorbing):
    """P = (1 - p) P_det + p * mean_a P_det and likewise R (the target row aside if absorbing)."""
    spec = BOOK._replace(slip=slip, absorbing=absorbing)
    p_det, r_det = brute_mdp(BOOK)
    expected_p = (1 - slip) * p_det + slip * p_det.mean(axis=1, keepdims=True)
    expected_r = (1 - slip) * r_det + slip * r_det.mean(axis=1, keepdims=True)
    if absorbing:
        target = 3 * 5 + 2
        expected_p[target] = np.eye(25)[target]
        expected_r[target] = 0.0
    mdp = gw.to_mdp(to_world(spec))
    np.testing.assert_allclose(mdp.transitions, expected_p, atol=1e-6)
    np.testing.assert_allclose(mdp.rewards, expected_r, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# The structured GridMDP against the dense MDP.


@jax.jit
def _operators(mdp, v, gamma):
    return (
        dp.q_values(mdp, v, gamma=gamma),
        dp.bellman_optimality_backup(mdp, v, gamma=gamma),
    )


# Shapes for the compile-heavy property tests: single cells, single rows and columns (every cell
# on the border) and full grids. Layouts and rewards are drawn freely.
SHAPES = ((1, 1), (1, 5), (4, 1), (3, 4), (5, 5))


@settings(max_examples=25, deadline=None)
@given(
    specs(shapes=SHAPES, slips=(0.0, 0.5)),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0.0, 0.5, 0.9]),
)
def test_grid_mdp_matches_dense(spec, seed, gamma):
    """q_values, the optimality backup and value iteration of GridMDP and of the dense MDP."""
    grid = to_world(spec)
    structured = gw.to_grid_mdp(grid)
    dense = jit_to_mdp(structured)
    p, r = brute_mdp(spec)
    num_states = r.shape[0]
    v = np.random.default_rng(seed).normal(scale=5.0, size=num_states).astype(np.float32)
    expected_q = r + gamma * np.einsum("sat,t->sa", p, v.astype(np.float64))
    for mdp in (dense, structured):
        q, backup = _operators(mdp, jnp.asarray(v), jnp.float32(gamma))
        chex.assert_shape(q, (num_states, NUM_ACTIONS))
        np.testing.assert_allclose(q, expected_q, atol=1e-4)
        chex.assert_shape(backup, (num_states,))
        np.testing.assert_allclose(backup, expected_q.max(axis=1), atol=1e-4)

    v_star = brute_value_iteration(p, r, gamma)
    results = [dp.value_iteration(m, gamma=gamma, tol=1e-6) for m in (dense, structured)]
    for result in results:
        assert bool(result.converged)
        # Stopping at a sup-change below tol leaves ||v - v*|| <= tol * gamma / (1 - gamma)
        # (about 1e-5 here); the rest of the 1e-4 is float32 rounding of values up to ~20.
        np.testing.assert_allclose(result.values, v_star, atol=1e-4)
    np.testing.assert_allclose(results[0].values, results[1].values, atol=1e-4)
    np.testing.assert_allclose(results[0].q_values, results[1].q_values, atol=1e-4)


def test_to_grid_mdp_accepts_params_and_rejects_other_types():
    params = gw.make_params(gw.book_grid())
    assert gw.to_grid_mdp(params) is params.mdp
    mdp = gw.to_grid_mdp(gw.book_grid())
    assert gw.to_grid_mdp(mdp) is mdp
    with pytest.raises(ValueError, match="grid"):
        gw.to_grid_mdp("not a grid")


def test_to_dense_refuses_huge_grids():
    with pytest.raises(ValueError, match="states"):
        gw.to_mdp(gw.GridWorld(shape=(60, 60), target=(0, 0), forbidden=()))


# ---------------------------------------------------------------------------------------------
# The environment's step against the MDP.


def _all_steps(keys, params):
    """``step`` from every state with every action and every key: ``[K, S, 5]`` outputs."""
    num_states = params.mdp.num_states
    states = jnp.arange(num_states, dtype=jnp.int32)
    actions = jnp.arange(NUM_ACTIONS, dtype=jnp.int32)

    def one(key, s, a):
        state = gw.EnvState(position=s, time=jnp.int32(0))
        _, next_state, reward, terminated, truncated, info = gw.step(key, state, a, params)
        return next_state.position, reward, terminated, truncated

    over_actions = jax.vmap(one, (None, None, 0))
    over_states = jax.vmap(over_actions, (None, 0, None))
    return jax.vmap(over_states, (0, None, None))(keys, states, actions)


all_steps = jax.jit(_all_steps)


@FAST
@given(specs(shapes=SHAPES, slips=(0.0,)))
def test_step_matches_mdp_without_slip(spec):
    params = gw.make_params(to_world(spec), start=(0, 0))
    mdp = jax.device_get(jit_to_mdp(params.mdp))
    keys = jax.random.split(jax.random.key(0), 3)
    next_s, reward, terminated, truncated = jax.device_get(all_steps(keys, params))
    rows, cols = spec.shape
    target = spec.target[0] * cols + spec.target[1]
    for s in range(rows * cols):
        for a in range(NUM_ACTIONS):
            if spec.absorbing and s == target:
                expected_s, expected_r = s, 0.0
            else:
                expected_s, expected_r = next_state_and_reward(spec, s, a)
            # The MDP row is the one-hot of the same next state, with the same reward.
            assert mdp.transitions[s, a, expected_s] == 1.0
            assert mdp.rewards[s, a] == expected_r
            for k in range(len(keys)):
                assert next_s[k, s, a] == expected_s, (s, a)
                assert reward[k, s, a] == expected_r, (s, a)
                assert terminated[k, s, a] == (spec.absorbing and expected_s == target)
                assert not truncated[k, s, a]


@settings(max_examples=20, deadline=None, derandomize=True)
@given(specs(shapes=((1, 3), (3, 3), (4, 4)), slips=(0.1, 0.5, 1.0)))
def test_step_with_slip_samples_the_mdp(spec):
    num_keys = 4000
    grid = to_world(spec)
    params = gw.make_params(grid, start=(0, 0))
    mdp = jax.device_get(jit_to_mdp(params.mdp))
    num_states = mdp.num_states
    keys = jax.random.split(jax.random.key(1), num_keys)
    next_s, reward, terminated, _ = jax.device_get(all_steps(keys, params))
    empirical = np.zeros((num_states, NUM_ACTIONS, num_states))
    for s2 in range(num_states):
        empirical[..., s2] = np.mean(next_s == s2, axis=0)
    p = np.asarray(mdp.transitions, np.float64)
    # Each frequency is a mean of num_keys Bernoulli(p) draws: standard error sqrt(p(1-p)/N).
    # Entries with p = 0 or 1 must match exactly (up to float32 rounding of p).
    bound = NUM_STD_ERRORS * np.sqrt(p * (1 - p) / num_keys) + 1e-6
    np.testing.assert_array_less(np.abs(empirical - p), bound)

    # Each sampled (next state, reward) is the deterministic move of some action, and the mean
    # reward estimates the MDP's expected reward within 5 standard errors of the reward's spread.
    rows, cols = spec.shape
    target = spec.target[0] * cols + spec.target[1]
    outcome_s = np.zeros((num_states, NUM_ACTIONS), np.int64)  # [s, b]: move of action b
    outcome_r = np.zeros((num_states, NUM_ACTIONS))
    for s in range(num_states):
        for b in range(NUM_ACTIONS):
            if spec.absorbing and s == target:
                outcome_s[s, b], outcome_r[s, b] = s, 0.0
            else:
                outcome_s[s, b], outcome_r[s, b] = next_state_and_reward(spec, s, b)
    matches = (next_s[..., None] == outcome_s[None, :, None, :]) & (
        reward[..., None] == outcome_r[None, :, None, :]
    )  # [K, S, A, B]
    assert np.all(np.any(matches, axis=-1))
    weights = (1 - spec.slip) * np.eye(NUM_ACTIONS) + spec.slip / NUM_ACTIONS  # [a, b]
    mean = outcome_r @ weights.T  # [S, A]: sum_b w(a, b) r(s, b)
    var = np.einsum("ab,sab->sa", weights, (outcome_r[:, None, :] - mean[..., None]) ** 2)
    np.testing.assert_allclose(mdp.rewards, mean, atol=1e-5)
    error = np.abs(reward.astype(np.float64).mean(axis=0) - mean)
    np.testing.assert_array_less(error, NUM_STD_ERRORS * np.sqrt(var / num_keys) + 1e-5)
    np.testing.assert_array_equal(terminated, spec.absorbing & (next_s == target))


def test_step_slip_one_is_uniform_over_actions():
    # From the centre of an empty 3x3 grid the five actions lead to five different cells, so
    # with slip = 1 each neighbour (and the centre) has probability exactly 1/5.
    grid = gw.GridWorld(shape=(3, 3), target=(0, 0), forbidden=(), slip=1.0)
    params = gw.make_params(grid, start=(1, 1))
    num_keys = 5000
    keys = jax.random.split(jax.random.key(7), num_keys)
    state = gw.EnvState(position=jnp.int32(4), time=jnp.int32(0))
    _, next_state, _, _, _, _ = jax.vmap(gw.step, (0, None, None, None))(
        keys, state, jnp.int32(LEFT), params
    )
    counts = np.bincount(np.asarray(next_state.position), minlength=9)
    freq = counts / num_keys
    expected = np.zeros(9)
    expected[[1, 3, 4, 5, 7]] = 0.2
    bound = NUM_STD_ERRORS * np.sqrt(expected * (1 - expected) / num_keys)
    np.testing.assert_array_less(np.abs(freq - expected), bound + 1e-9)


def test_absorbing_target_terminates_and_stays():
    # 1x3 corridor, target at the right end; the agent starts at the left end.
    grid = gw.GridWorld(
        shape=(1, 3), target=(0, 2), forbidden=(), reward_step=-0.5, absorbing_target=True
    )
    params = gw.make_params(grid, start=(0, 0), max_steps=2)
    key = jax.random.key(0)
    _, state = gw.reset(key, params)
    assert int(state.position) == 0 and int(state.time) == 0

    obs, state, reward, terminated, truncated, info = gw.step(key, state, jnp.int32(RIGHT), params)
    assert (int(obs), float(reward), bool(terminated), bool(truncated)) == (1, -0.5, False, False)
    # The entering step is also the last allowed one: it terminates, and is not truncated.
    obs, state, reward, terminated, truncated, info = gw.step(key, state, jnp.int32(RIGHT), params)
    assert (int(obs), float(reward), bool(terminated), bool(truncated)) == (2, 1.0, True, False)
    assert int(state.time) == 2
    # Any step from the target stays there, pays 0 and reports terminated.
    for action in range(NUM_ACTIONS):
        obs, next_state, reward, terminated, truncated, info = gw.step(
            key, state, jnp.int32(action), params
        )
        assert int(obs) == 2 and int(next_state.position) == 2
        assert float(reward) == 0.0 and bool(terminated) and not bool(truncated)


def test_non_absorbing_target_never_terminates():
    grid = gw.GridWorld(shape=(1, 3), target=(0, 2), forbidden=())
    params = gw.make_params(grid, start=(0, 2))
    key = jax.random.key(0)
    _, state = gw.reset(key, params)
    for _ in range(3):
        _, state, reward, terminated, truncated, info = gw.step(key, state, jnp.int32(STAY), params)
        assert float(reward) == 1.0 and not bool(terminated) and not bool(truncated)
    _, state, reward, terminated, _, _ = gw.step(key, state, jnp.int32(LEFT), params)
    assert int(state.position) == 1 and float(reward) == 0.0 and not bool(terminated)


def test_truncation_at_max_steps():
    grid = gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=())
    params = gw.make_params(grid, start=(0, 0), max_steps=3)
    key = jax.random.key(0)
    _, state = gw.reset(key, params)
    flags = []
    for _ in range(3):
        _, state, _, terminated, truncated, info = gw.step(key, state, jnp.int32(STAY), params)
        flags.append((bool(terminated), bool(truncated)))
    assert flags == [(False, False), (False, False), (False, True)]
    assert int(state.time) == 3


def test_terminated_and_truncated_are_kept_apart():
    # Entering the absorbing target exactly at max_steps: terminated, not truncated. Not entering
    # it at max_steps: truncated, not terminated.
    grid = gw.GridWorld(shape=(1, 2), target=(0, 1), forbidden=(), absorbing_target=True)
    params = gw.make_params(grid, start=(0, 0), max_steps=1)
    key = jax.random.key(0)
    _, state = gw.reset(key, params)
    _, _, _, terminated, truncated, info = gw.step(key, state, jnp.int32(RIGHT), params)
    assert bool(terminated) and not bool(truncated)
    _, _, _, terminated, truncated, info = gw.step(key, state, jnp.int32(LEFT), params)
    assert not bool(terminated) and bool(truncated)


def test_built_in_auto_reset_keeps_the_final_observation():
    """With ``auto_reset`` the step that ends an episode returns the new start as ``obs`` and the
    cell the move really reached as ``info["final_observation"]``, for termination and for
    truncation alike; otherwise the two are equal."""
    grid = gw.GridWorld(shape=(1, 4), target=(0, 3), forbidden=(), absorbing_target=True)
    params = gw.make_params(grid, start=(0, 1), max_steps=2, auto_reset=True, observation="onehot")
    key = jax.random.key(0)
    _, state = gw.reset(key, params)
    obs, state, _, terminated, truncated, info = gw.step(key, state, jnp.int32(RIGHT), params)
    assert not bool(terminated) and not bool(truncated)
    np.testing.assert_array_equal(info["final_observation"], obs)
    np.testing.assert_array_equal(obs, np.eye(4)[2])
    # Into the target: terminated; obs is the new start (0, 1), the final observation the target.
    obs, state, _, terminated, truncated, info = gw.step(key, state, jnp.int32(RIGHT), params)
    assert bool(terminated) and not bool(truncated)
    np.testing.assert_array_equal(obs, np.eye(4)[1])
    np.testing.assert_array_equal(info["final_observation"], np.eye(4)[3])
    # Two steps left: the second hits the time limit at (0, 0), which a learner bootstraps from.
    _, state, _, _, _, _ = gw.step(key, state, jnp.int32(LEFT), params)
    obs, state, _, terminated, truncated, info = gw.step(key, state, jnp.int32(LEFT), params)
    assert not bool(terminated) and bool(truncated)
    np.testing.assert_array_equal(obs, np.eye(4)[1])
    np.testing.assert_array_equal(info["final_observation"], np.eye(4)[0])


# ---------------------------------------------------------------------------------------------
# reset, observations, jit and tracing.


def test_reset_respects_start_cell():
    params = gw.make_params(gw.book_grid(), start=(2, 3))
    keys = jax.random.split(jax.random.key(3), 200)
    obs, state = jax.vmap(gw.reset, (0, None))(keys, params)
    np.testing.assert_array_equal(state.position, 2 * 5 + 3)
    np.testing.assert_array_equal(obs, 13)
    np.testing.assert_array_equal(state.time, 0)


@pytest.mark.parametrize("flat", [False, True])
def test_reset_samples_start_distribution(flat):
    weights = np.array([[1.0, 0.0, 3.0], [2.0, 0.0, 4.0]])  # unnormalized, two impossible cells
    expected = (weights / weights.sum()).reshape(-1)
    grid = gw.GridWorld(shape=(2, 3), target=(0, 0), forbidden=())
    params = gw.make_params(grid, start=weights.reshape(-1) if flat else weights)
    num_keys = 20_000
    keys = jax.random.split(jax.random.key(4), num_keys)
    _, state = jax.vmap(gw.reset, (0, None))(keys, params)
    freq = np.bincount(np.asarray(state.position), minlength=6) / num_keys
    bound = NUM_STD_ERRORS * np.sqrt(expected * (1 - expected) / num_keys)
    np.testing.assert_array_less(np.abs(freq - expected), bound + 1e-9)


def test_default_start_is_uniform_and_skips_absorbing_target():
    grid = gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=(), absorbing_target=True)
    np.testing.assert_allclose(gw.make_params(grid).start_probs, [1 / 3, 1 / 3, 1 / 3, 0.0])
    grid = gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=())
    np.testing.assert_allclose(gw.make_params(grid).start_probs, [0.25] * 4)


def test_observations():
    grid = gw.GridWorld(shape=(3, 4), target=(0, 0), forbidden=())
    key = jax.random.key(0)
    for s in range(12):
        row, col = divmod(s, 4)
        params = gw.make_params(grid, start=(row, col), observation="index")
        obs, _ = gw.reset(key, params)
        chex.assert_shape(obs, ())
        chex.assert_type(obs, jnp.int32)
        assert int(obs) == s

        params = gw.make_params(grid, start=(row, col), observation="coords")
        obs, _ = gw.reset(key, params)
        chex.assert_shape(obs, (2,))
        chex.assert_type(obs, jnp.float32)
        np.testing.assert_allclose(obs, [row / 2, col / 3], atol=1e-7)

        params = gw.make_params(grid, start=(row, col), observation="onehot")
        obs, state = gw.reset(key, params)
        chex.assert_shape(obs, (12,))
        chex.assert_type(obs, jnp.float32)
        np.testing.assert_array_equal(obs, np.eye(12)[s])
        # step reports the observation of the landing cell
        obs, state, *_ = gw.step(key, state, jnp.int32(STAY), params)
        np.testing.assert_array_equal(obs, np.eye(12)[s])


def test_coords_observation_of_single_row_grid():
    grid = gw.GridWorld(shape=(1, 3), target=(0, 0), forbidden=())
    params = gw.make_params(grid, start=(0, 2), observation="coords")
    obs, _ = gw.reset(jax.random.key(0), params)
    np.testing.assert_allclose(obs, [0.0, 1.0])
    assert np.all(np.isfinite(obs))


@pytest.mark.parametrize("observation", gw.OBSERVATIONS)
@pytest.mark.parametrize("slip", [0.0, 0.3])
def test_reset_and_step_jit_matches_no_jit(observation, slip):
    params = gw.make_params(
        gw.book_grid(slip=slip, absorbing_target=True), max_steps=4, observation=observation
    )
    key = jax.random.key(5)
    jit_reset, jit_step = jax.jit(gw.reset), jax.jit(gw.step)
    for i in range(6):
        key, reset_key, step_key = jax.random.split(key, 3)
        obs, state = gw.reset(reset_key, params)
        jit_obs, jit_state = jit_reset(reset_key, params)
        chex.assert_trees_all_equal((obs, state), (jit_obs, jit_state))
        for t in range(5):
            action = jnp.int32((i + t) % NUM_ACTIONS)
            key_t = jax.random.fold_in(step_key, t)
            out = gw.step(key_t, state, action, params)
            jit_out = jit_step(key_t, state, action, params)
            chex.assert_trees_all_equal(out, jit_out)
            state = out[1]


def test_jitted_step_does_not_retrace_on_new_values():
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def jit_step(key, state, action, params):
        return gw.step(key, state, action, params)

    layouts = jax.vmap(lambda k: gw.random_params(k, (4, 4), max_steps=10))(
        jax.random.split(jax.random.key(0), 3)
    )
    key = jax.random.key(1)
    for i in range(3):
        params = jax.tree.map(lambda x, i=i: x[i], layouts)
        for s in range(0, 16, 5):
            for a in range(NUM_ACTIONS):
                key, step_key = jax.random.split(key)
                state = gw.EnvState(position=jnp.int32(s), time=jnp.int32(a))
                jit_step(step_key, state, jnp.int32(a), params)


# ---------------------------------------------------------------------------------------------
# Batches of layouts: vmap equals a loop.


def test_random_params_batch_matches_layout_loop():
    keys = jax.random.split(jax.random.key(2), 6)
    batch = jax.vmap(lambda k: gw.random_params(k, (4, 5), forbidden_prob=0.3))(keys)
    chex.assert_shape(batch.mdp.forbidden, (6, 4, 5))
    batched_dense = jax.jit(jax.vmap(gw.to_mdp))(batch)  # to_mdp also works on a traced batch
    for i, key in enumerate(keys):
        single = gw.random_params(key, (4, 5), forbidden_prob=0.3)
        chex.assert_trees_all_equal(jax.tree.map(lambda x, i=i: x[i], batch), single)
        # The target is never forbidden, and the dense MDP of the layout is the brute-force one.
        layout = gw.layout_of(single)
        assert layout.target not in layout.forbidden
        spec = Spec(shape=(4, 5), target=layout.target, forbidden=tuple(layout.forbidden), slip=0.0)
        p, r = brute_mdp(spec)
        dense = jit_to_mdp(single)
        np.testing.assert_allclose(dense.transitions, p, atol=1e-6)
        np.testing.assert_allclose(dense.rewards, r, atol=1e-6)
        np.testing.assert_array_equal(batched_dense.transitions[i], dense.transitions)


@pytest.mark.parametrize("slip", [0.0, 0.4])
def test_vmap_reset_and_step_over_layouts_matches_loop(slip):
    num_layouts = 5
    layout_keys = jax.random.split(jax.random.key(8), num_layouts)
    batch = jax.vmap(
        lambda k: gw.random_params(
            k, (6, 6), slip=slip, absorbing_target=True, max_steps=3, observation="onehot"
        )
    )(layout_keys)
    reset_keys = jax.random.split(jax.random.key(9), num_layouts)
    step_keys = jax.random.split(jax.random.key(10), num_layouts)
    actions = jnp.arange(num_layouts, dtype=jnp.int32) % NUM_ACTIONS
    obs, state = jax.vmap(gw.reset)(reset_keys, batch)
    step_out = jax.vmap(gw.step)(step_keys, state, actions, batch)
    # The loop calls the jitted single-layout functions (jit equals no-jit is tested above).
    jit_reset, jit_step = jax.jit(gw.reset), jax.jit(gw.step)
    for i in range(num_layouts):
        params = jax.tree.map(lambda x, i=i: x[i], batch)
        obs_i, state_i = jit_reset(reset_keys[i], params)
        np.testing.assert_array_equal(obs[i], obs_i)
        chex.assert_trees_all_equal(jax.tree.map(lambda x, i=i: x[i], state), state_i)
        out_i = jit_step(step_keys[i], state_i, actions[i], params)
        chex.assert_trees_all_equal(jax.tree.map(lambda x, i=i: x[i], step_out), out_i)


# ---------------------------------------------------------------------------------------------
# Validation: bad layouts raise ValueError naming the field, in plain Python.


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(shape=(5, 5), target=(5, 0), forbidden=()), "target"),
        (dict(shape=(5, 5), target=(0, -1), forbidden=()), "target"),
        (dict(shape=(5, 5), target=(0, 0), forbidden=((0, 5),)), "forbidden"),
        (dict(shape=(5, 5), target=(0, 0), forbidden=((-1, 2),)), "forbidden"),
        (dict(shape=(5, 5), target=(1, 1), forbidden=((1, 1),)), "forbidden"),
        (dict(shape=(0, 3), target=(0, 0), forbidden=()), "shape"),
        (dict(shape=(3, 0), target=(0, 0), forbidden=()), "shape"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=(), slip=1.5), "slip"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=(), slip=-0.1), "slip"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=(), slip=float("nan")), "slip"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=(), reward_target=float("inf")), "reward"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=(), reward_step=float("nan")), "reward"),
    ],
)
def test_invalid_layout_raises_value_error_naming_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        gw.GridWorld(**kwargs)


def test_target_on_forbidden_message_names_target():
    with pytest.raises(ValueError, match=r"target .* forbidden"):
        gw.GridWorld(shape=(5, 5), target=(1, 1), forbidden=((1, 1),))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(max_steps=0), "max_steps"),
        (dict(max_steps=-3), "max_steps"),
        (dict(observation="pixels"), "observation"),
        (dict(start=(7, 0)), r"\(7, 0\) is outside"),
        (dict(start=np.zeros(25)), "start"),
        (dict(start=np.zeros(7)), "start"),
    ],
)
def test_make_params_validation(kwargs, field):
    with pytest.raises(ValueError, match=field):
        gw.make_params(gw.book_grid(), **kwargs)


def test_random_params_validation():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="shape"):
        gw.random_params(key, (0, 4))
    with pytest.raises(ValueError, match="slip"):
        gw.random_params(key, (3, 4), slip=2.0)
    with pytest.raises(ValueError, match="forbidden_prob"):
        gw.random_params(key, (3, 4), forbidden_prob=1.5)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(shape=(2.5, 3), target=(0, 0), forbidden=()), "shape"),
        (dict(shape=(3, 3), target=(1.7, 2), forbidden=()), "target"),
        (dict(shape=(3, 3), target=(0, 0), forbidden=((0.2, 1),)), "forbidden"),
    ],
)
def test_non_integer_cells_are_rejected(kwargs, field):
    # Cells and shapes are pairs of integers (the library's own message says so); a fractional
    # coordinate is a configuration error, not something to truncate silently to another cell.
    with pytest.raises(ValueError, match=field):
        gw.GridWorld(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(max_steps=0), "max_steps"),
        (dict(max_steps=-4), "max_steps"),
        (dict(reward_target=float("nan")), "reward_target"),
        (dict(reward_boundary=float("inf")), "reward_boundary"),
    ],
)
def test_random_params_validates_like_make_params(kwargs, field):
    # make_params rejects these (and GridWorld rejects non-finite rewards); random_params takes
    # the same plain-Python fields and must not accept them silently.
    with pytest.raises(ValueError, match=field):
        gw.random_params(jax.random.key(0), (3, 3), **kwargs)


def test_random_params_absorbing_start_excludes_target():
    keys = jax.random.split(jax.random.key(11), 4)
    batch = jax.vmap(lambda k: gw.random_params(k, (3, 4), absorbing_target=True))(keys)
    for i in range(4):
        target = int(batch.mdp.target[i])
        expected = np.full(12, 1 / 11)
        expected[target] = 0.0
        np.testing.assert_allclose(batch.start_probs[i], expected, atol=1e-7)
        assert not bool(batch.mdp.forbidden[i].reshape(-1)[target])
