"""Tests for dynamic programming (``jaxrl.dp``) on the textbook grid world.

Expected values come from S. Zhao, "Mathematical Foundations of RL" (the worked examples of ch. 2
and 4 and the optimal values of the 5x5 grid in ch. 3), from hand computation, or from a
brute-force model written in plain Python from the book's conventions
(``tests/envs/test_gridworld.py``: ``next_state_and_reward`` and ``brute_mdp``).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxrl import dp
from jaxrl.envs import gridworld as gw
from tests.envs.test_gridworld import (
    BOOK,
    Spec,
    brute_mdp,
    brute_value_iteration,
    next_state_and_reward,
    specs,
    to_world,
)

UP, RIGHT, DOWN, LEFT, STAY = range(5)
NUM_ACTIONS = 5
GAMMA = 0.9
# Default DP comparisons in float32: values up to ~20 have rounding ~1e-6 per sweep, amplified at
# most 1 / (1 - gamma) = 10 times; value iteration stopped at tol = 1e-6 adds at most
# tol * gamma / (1 - gamma) = 9e-6.
ATOL = 1e-4

BOTH = pytest.mark.parametrize("convert", [gw.to_mdp, gw.to_grid_mdp], ids=["dense", "grid"])

# The book's 2x2 example (Zhao, ch. 2): s1 s2 / s3 s4, s2 forbidden, s4 the target.
TWO_BY_TWO = Spec(shape=(2, 2), target=(1, 1), forbidden=((0, 1),))
# A 1x2 corridor with the target on the right.
ONE_BY_TWO = Spec(shape=(1, 2), target=(0, 1), forbidden=())

BOOK_OPTIMAL_VALUES = np.array(
    [
        [5.8, 5.6, 6.2, 6.5, 5.8],
        [6.5, 7.2, 8.0, 7.2, 6.5],
        [7.2, 8.0, 10.0, 8.0, 7.2],
        [8.0, 10.0, 10.0, 10.0, 8.0],
        [7.2, 9.0, 10.0, 9.0, 8.1],
    ]
)


def deterministic_policy(actions) -> np.ndarray:
    return np.eye(NUM_ACTIONS, dtype=np.float32)[np.asarray(actions)]


def plain_value_iteration(spec: Spec, gamma: float, *, sweeps: int | None = None) -> np.ndarray:
    """Value iteration with plain Python loops over the brute-force deterministic move.

    Runs ``sweeps`` sweeps from v = 0, or until the sup change is below 1e-12.
    """
    num_states = spec.shape[0] * spec.shape[1]
    v = [0.0] * num_states
    k = 0
    while sweeps is None or k < sweeps:
        new_v = []
        for s in range(num_states):
            best = -float("inf")
            for a in range(NUM_ACTIONS):
                s2, reward = next_state_and_reward(spec, s, a)
                best = max(best, reward + gamma * v[s2])
            new_v.append(best)
        change = max(abs(x - y) for x, y in zip(new_v, v, strict=True))
        v, k = new_v, k + 1
        if sweeps is None and change < 1e-12:
            break
    return np.array(v)


def plain_policy_value(spec: Spec, actions, gamma: float) -> np.ndarray:
    """The value of a deterministic policy by iterating its Bellman equation in plain Python."""
    num_states = spec.shape[0] * spec.shape[1]
    v = [0.0] * num_states
    for _ in range(2000):  # gamma^2000 is negligible for gamma <= 0.99
        v = [
            next_state_and_reward(spec, s, actions[s])[1]
            + gamma * v[next_state_and_reward(spec, s, actions[s])[0]]
            for s in range(num_states)
        ]
    return np.array(v)


# ---------------------------------------------------------------------------------------------
# The book's worked examples.


@BOTH
def test_book_2x2_policy_values(convert):
    # s1 down, s2 down, s3 right, s4 stay: v4 = 1 / (1 - 0.9) = 10, v2 = v3 = 1 + 0.9 * 10 = 10,
    # v1 = 0 + 0.9 * 10 = 9.
    mdp = convert(to_world(TWO_BY_TWO))
    policy = deterministic_policy([DOWN, DOWN, RIGHT, STAY])
    expected = np.array([9.0, 10.0, 10.0, 10.0])
    np.testing.assert_allclose(dp.evaluate_policy(mdp, policy, gamma=GAMMA), expected, atol=ATOL)
    result = dp.iterative_policy_evaluation(mdp, policy, gamma=GAMMA)
    assert bool(result.converged)
    np.testing.assert_allclose(result.values, expected, atol=ATOL)
    # A fixed point again: the Bellman expectation backup leaves it unchanged.
    backup = dp.bellman_expectation_backup(mdp, jnp.asarray(expected), policy, gamma=GAMMA)
    np.testing.assert_allclose(backup, expected, atol=ATOL)


@BOTH
def test_book_2x2_stochastic_policy(convert):
    # s1 goes right (forbidden: -1 + 0.9 * 10 = 8) or down (9) with probability 1/2: v1 = 8.5.
    mdp = convert(to_world(TWO_BY_TWO))
    policy = deterministic_policy([DOWN, DOWN, RIGHT, STAY])
    policy[0] = [0.0, 0.5, 0.5, 0.0, 0.0]
    expected = np.array([8.5, 10.0, 10.0, 10.0])
    np.testing.assert_allclose(dp.evaluate_policy(mdp, policy, gamma=GAMMA), expected, atol=ATOL)
    result = dp.iterative_policy_evaluation(mdp, policy, gamma=GAMMA)
    np.testing.assert_allclose(result.values, expected, atol=ATOL)


@BOTH
def test_book_2x2_value_iteration(convert):
    mdp = convert(to_world(TWO_BY_TWO))
    # v1(s) = max_a r(s, a) from v0 = 0: s1 can only avoid a penalty (0), s2, s3 and s4 can reach
    # or stay at the target (1).
    first = dp.value_iteration(mdp, gamma=GAMMA, max_iterations=1)
    np.testing.assert_allclose(first.values, [0.0, 1.0, 1.0, 1.0], atol=1e-6)
    assert int(first.iterations) == 1 and not bool(first.converged)
    # The optimal values are those of the policy above; its actions are the greedy ones.
    result = dp.value_iteration(mdp, gamma=GAMMA)
    assert bool(result.converged)
    np.testing.assert_allclose(result.values, [9.0, 10.0, 10.0, 10.0], atol=ATOL)
    np.testing.assert_array_equal(result.policy, deterministic_policy([DOWN, DOWN, RIGHT, STAY]))


@BOTH
def test_book_1x2_left_policy(convert):
    # "left" everywhere: s1 bumps forever (-1 / (1 - 0.9) = -10), s2 moves to s1 (0 + 0.9 * -10).
    mdp = convert(to_world(ONE_BY_TWO))
    policy = deterministic_policy([LEFT, LEFT])
    np.testing.assert_allclose(dp.evaluate_policy(mdp, policy, gamma=GAMMA), [-10, -9], atol=ATOL)
    # v_{k+1} = r_pi + gamma P_pi v_k from v_0 = 0, by hand.
    by_hand = {1: [-1.0, 0.0], 2: [-1.9, -0.9], 3: [-2.71, -1.71]}
    for k, expected in by_hand.items():
        result = dp.iterative_policy_evaluation(mdp, policy, gamma=GAMMA, max_iterations=k)
        np.testing.assert_allclose(result.values, expected, atol=1e-5)
        assert int(result.iterations) == k and not bool(result.converged)
    result = dp.iterative_policy_evaluation(mdp, policy, gamma=GAMMA)
    np.testing.assert_allclose(result.values, [-10, -9], atol=ATOL)
    assert bool(result.converged)
    # Starting at the fixed point, one sweep confirms it.
    result = dp.iterative_policy_evaluation(
        mdp, policy, gamma=GAMMA, initial_values=jnp.array([-10.0, -9.0])
    )
    assert int(result.iterations) == 1 and bool(result.converged)


@BOTH
@pytest.mark.parametrize(
    "solve",
    [
        lambda m: dp.value_iteration(m, gamma=GAMMA),
        lambda m: dp.policy_iteration(m, gamma=GAMMA),
        lambda m: dp.truncated_policy_iteration(m, gamma=GAMMA, truncation=1),
        lambda m: dp.truncated_policy_iteration(m, gamma=GAMMA, truncation=5),
        lambda m: dp.truncated_policy_iteration(m, gamma=GAMMA, truncation=50),
    ],
    ids=["vi", "pi", "tpi1", "tpi5", "tpi50"],
)
def test_book_5x5_optimal_values_match_the_figure(convert, solve):
    result = solve(convert(gw.book_grid()))
    assert bool(result.converged)
    values = np.asarray(result.values, np.float64).reshape(5, 5)
    np.testing.assert_array_equal(np.round(values, 1), BOOK_OPTIMAL_VALUES)
    # The values of the greedy policy are optimal too.
    v_pi = dp.evaluate_policy(gw.to_mdp(gw.book_grid()), result.policy, gamma=GAMMA)
    np.testing.assert_allclose(v_pi, result.values, atol=ATOL)


@BOTH
def test_book_5x5_gamma_zero_is_greedy_on_immediate_reward(convert):
    mdp = convert(gw.book_grid())
    result = dp.value_iteration(mdp, gamma=0.0)
    assert bool(result.converged)
    expected = plain_value_iteration(BOOK, 0.0)
    immediate = np.array(
        [[next_state_and_reward(BOOK, s, a)[1] for a in range(NUM_ACTIONS)] for s in range(25)]
    )
    np.testing.assert_allclose(expected, immediate.max(axis=1))  # the reference itself
    np.testing.assert_allclose(result.values, expected, atol=1e-6)
    # The greedy policy takes an action of best immediate reward in every state.
    chosen = np.asarray(result.policy).argmax(axis=1)
    np.testing.assert_array_equal(immediate[np.arange(25), chosen], immediate.max(axis=1))


@BOTH
@pytest.mark.parametrize("reward_forbidden", [-10.0, -1.0])
def test_book_5x5_against_plain_python_value_iteration(convert, reward_forbidden):
    spec = BOOK._replace(reward_forbidden=reward_forbidden)
    expected = plain_value_iteration(spec, GAMMA)
    result = dp.value_iteration(convert(to_world(spec)), gamma=GAMMA)
    assert bool(result.converged)
    np.testing.assert_allclose(result.values, expected, atol=ATOL)
    # The greedy policy's own value, by plain iteration of its Bellman equation, is optimal.
    actions = np.asarray(result.policy).argmax(axis=1).tolist()
    np.testing.assert_allclose(plain_policy_value(spec, actions, GAMMA), expected, atol=ATOL)
    if reward_forbidden == -10.0:
        # With a harsh penalty the optimal policy never enters a forbidden cell from outside.
        for s, a in enumerate(actions):
            cell = divmod(s, 5)
            next_cell = divmod(next_state_and_reward(spec, s, a)[0], 5)
            if cell not in spec.forbidden:
                assert next_cell not in spec.forbidden, (cell, a)


@BOTH
def test_value_iteration_after_k_sweeps_matches_plain_python(convert):
    mdp = convert(gw.book_grid())
    for k in (1, 2, 5, 20):
        result = dp.value_iteration(mdp, gamma=GAMMA, max_iterations=k)
        assert int(result.iterations) == k and not bool(result.converged)
        assert float(result.residual) >= 1e-6
        np.testing.assert_allclose(
            result.values, plain_value_iteration(BOOK, GAMMA, sweeps=k), atol=1e-5
        )


# ---------------------------------------------------------------------------------------------
# Solvers agree with each other and with a brute-force reference.

# The book's shape, so that the book variants below and the random layouts share compilations.
SOLVER_SPECS = specs(shapes=((5, 5),), slips=(0.0, 0.3))


def _check_solvers(spec: Spec, gamma: float, seed: int):
    grid = to_world(spec)
    mdp = gw.to_grid_mdp(grid)
    p, r = brute_mdp(spec)
    v_star = brute_value_iteration(p, r, gamma)
    results = {
        "vi": dp.value_iteration(mdp, gamma=gamma),
        "pi": dp.policy_iteration(mdp, gamma=gamma),
    }
    for j in (1, 2, 5, 30):
        results[f"tpi{j}"] = dp.truncated_policy_iteration(mdp, gamma=gamma, truncation=j)
    for name, result in results.items():
        assert bool(result.converged), name
        np.testing.assert_allclose(result.values, v_star, atol=ATOL, err_msg=name)
        np.testing.assert_allclose(result.q_values, r + gamma * p @ v_star, atol=ATOL, err_msg=name)
        # Optimal policies: the exact value of each greedy policy is v*.
        v_pi = dp.evaluate_policy(mdp, result.policy, gamma=gamma)
        np.testing.assert_allclose(v_pi, v_star, atol=ATOL, err_msg=name)

    # Exact and iterative evaluation agree on a random stochastic policy, and with numpy.
    rng = np.random.default_rng(seed)
    policy = rng.dirichlet(np.ones(NUM_ACTIONS), size=r.shape[0]).astype(np.float32)
    p_pi = np.einsum("sa,sat->st", policy, p)
    r_pi = np.sum(policy * r, axis=1)
    expected = np.linalg.solve(np.eye(r.shape[0]) - gamma * p_pi, r_pi)
    exact = dp.evaluate_policy(mdp, policy, gamma=gamma)
    iterative = dp.iterative_policy_evaluation(mdp, policy, gamma=gamma)
    assert bool(iterative.converged)
    np.testing.assert_allclose(exact, expected, atol=ATOL)
    np.testing.assert_allclose(iterative.values, expected, atol=ATOL)
    p_pi_lib, r_pi_lib = jax.jit(dp.policy_transitions)(mdp, policy)
    np.testing.assert_allclose(p_pi_lib, p_pi, atol=1e-6)
    np.testing.assert_allclose(r_pi_lib, r_pi, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(SOLVER_SPECS, st.sampled_from([0.5, 0.9]), st.integers(0, 2**31 - 1))
@example(BOOK, GAMMA, 0)
@example(BOOK._replace(slip=0.3), GAMMA, 1)
@example(BOOK._replace(absorbing=True), GAMMA, 2)
@example(BOOK._replace(slip=0.3, absorbing=True), GAMMA, 3)
# Near its fixed point (values 17.5) value iteration's change stayed at one float32 ulp when the
# tested sweep was compiled apart from the untested ones: it never converged (found by hypothesis).
@example(Spec((5, 5), (0, 0), (), 1.75, 0.0, 0.0, 0.5, slip=0.0, absorbing=True), GAMMA, 0)
def test_solvers_agree(spec, gamma, seed):
    _check_solvers(spec, gamma, seed)


def test_policy_iteration_counts_evaluations_and_stays_stable():
    mdp = gw.to_mdp(gw.book_grid())
    result = dp.policy_iteration(mdp, gamma=GAMMA)
    assert bool(result.converged) and float(result.residual) == 0.0
    # Restarting from the optimal policy: one evaluation confirms it and keeps it.
    again = dp.policy_iteration(mdp, gamma=GAMMA, initial_policy=result.policy)
    assert int(again.iterations) == 1 and bool(again.converged)
    np.testing.assert_array_equal(again.policy, result.policy)


# ---------------------------------------------------------------------------------------------
# Affine reward changes (Zhao, ch. 3.5): r -> a r + b, a > 0, gives v* -> a v* + b / (1 - gamma).


def _affine(spec: Spec, a: float, b: float) -> Spec:
    return spec._replace(
        reward_boundary=a * spec.reward_boundary + b,
        reward_forbidden=a * spec.reward_forbidden + b,
        reward_target=a * spec.reward_target + b,
        reward_step=a * spec.reward_step + b,
    )


def _check_affine(spec: Spec, a: float, b: float, gamma: float):
    original = gw.to_grid_mdp(to_world(spec))
    changed = gw.to_grid_mdp(to_world(_affine(spec, a, b)))
    before = dp.value_iteration(original, gamma=gamma)
    after = dp.value_iteration(changed, gamma=gamma)
    assert bool(before.converged) and bool(after.converged)
    expected = a * np.asarray(before.values, np.float64) + b / (1 - gamma)
    # |v| reaches (3 * 2 + 2) / (1 - 0.9) = 80 here: float32 rounding of 80 is ~8e-6 per sweep,
    # amplified up to 1 / (1 - gamma) = 10 times and scaled by a = 3 for the original values.
    atol = 3e-4
    np.testing.assert_allclose(after.values, expected, atol=atol)
    # The optimal policy is kept: each problem's optimal policy is optimal for the other
    # (policy values, not argmax, so ties between equally good actions do not matter).
    v_before_policy_in_changed = dp.evaluate_policy(changed, before.policy, gamma=gamma)
    np.testing.assert_allclose(v_before_policy_in_changed, after.values, atol=atol)
    v_after_policy_in_original = dp.evaluate_policy(original, after.policy, gamma=gamma)
    np.testing.assert_allclose(v_after_policy_in_original, before.values, atol=atol)


@pytest.mark.parametrize(("a", "b"), [(2.0, 0.0), (1.0, 3.0), (0.5, -1.5), (3.0, 2.0)])
@pytest.mark.parametrize("slip", [0.0, 0.2])
def test_affine_reward_change_book_grid(a, b, slip):
    _check_affine(BOOK._replace(slip=slip), a, b, GAMMA)


@settings(max_examples=25, deadline=None)
@given(
    specs(shapes=((5, 5),), slips=(0.0, 0.2), absorbing=(False,)),
    st.sampled_from([0.5, 2.0, 3.0]),
    st.sampled_from([-1.5, 0.0, 2.0]),
)
@example(Spec((5, 5), (0, 0), ((0, 1),), 0.0, 0.5, 2.0, 0.25, slip=0.0, absorbing=False), 3.0, -1.5)
def test_affine_reward_change_random_layouts(spec, a, b):
    # Only continuing tasks: an absorbing target's self-loop pays 0, which the shift b does not
    # touch, so the identity holds without the absorbing option.
    _check_affine(spec, a, b, GAMMA)


# ---------------------------------------------------------------------------------------------
# vmap over layouts and over gamma equals a loop.


@pytest.mark.parametrize(("slip", "absorbing"), [(0.0, False), (0.2, True)])
def test_vmap_value_iteration_over_layouts_matches_loop(slip, absorbing):
    keys = jax.random.split(jax.random.key(0), 6)
    batch = jax.vmap(
        lambda k: gw.random_params(
            k, (6, 6), slip=slip, absorbing_target=absorbing, reward_step=-0.25
        )
    )(keys)
    batched = jax.vmap(lambda m: dp.value_iteration(m, gamma=GAMMA))(batch.mdp)
    chex.assert_shape(batched.values, (6, 36))
    for i in range(6):
        mdp = jax.tree.map(lambda x, i=i: x[i], batch.mdp)
        single = dp.value_iteration(mdp, gamma=GAMMA)
        np.testing.assert_allclose(batched.values[i], single.values, atol=1e-5)
        # The same greedy policy, up to ties: where the two programs' last bits pick different
        # actions among equal q-values, each action is greedy for the other's values.
        q = np.asarray(dp.q_values(mdp, single.values, gamma=GAMMA))
        for policy in (batched.policy[i], single.policy):
            chosen = np.sum(q * np.asarray(policy), axis=-1)
            np.testing.assert_allclose(chosen, q.max(axis=-1), atol=1e-5)
        assert np.mean(np.all(batched.policy[i] == single.policy, axis=-1)) >= 0.9
        assert int(batched.iterations[i]) == int(single.iterations)
        assert bool(batched.converged[i]) and bool(single.converged)
        # ... and both are the brute-force optimum of that layout.
        layout = gw.layout_of(mdp)
        spec = Spec(
            shape=(6, 6),
            target=layout.target,
            forbidden=layout.forbidden,
            reward_step=-0.25,
            slip=slip,
            absorbing=absorbing,
        )
        np.testing.assert_allclose(
            single.values, brute_value_iteration(*brute_mdp(spec), GAMMA), atol=ATOL
        )


def test_vmap_solvers_over_gamma_matches_loop():
    mdp = gw.to_grid_mdp(gw.book_grid())
    gammas = np.array([0.0, 0.3, 0.6, 0.9, 0.95], np.float32)
    dp.check_gamma(gammas)
    vi = jax.vmap(lambda g: dp.value_iteration(mdp, gamma=g))(jnp.asarray(gammas))
    tpi = jax.vmap(lambda g: dp.truncated_policy_iteration(mdp, gamma=g, truncation=3))(
        jnp.asarray(gammas)
    )
    p, r = brute_mdp(BOOK)
    for i, gamma in enumerate(gammas.tolist()):
        single = dp.value_iteration(mdp, gamma=gamma)
        np.testing.assert_allclose(vi.values[i], single.values, atol=1e-5)
        assert int(vi.iterations[i]) == int(single.iterations)
        # gamma = 0.95: tol * gamma / (1 - gamma) = 1.9e-5 and |v| <= 20, within ATOL.
        np.testing.assert_allclose(vi.values[i], brute_value_iteration(p, r, gamma), atol=ATOL)
        single_tpi = dp.truncated_policy_iteration(mdp, gamma=gamma, truncation=3)
        np.testing.assert_allclose(tpi.values[i], single_tpi.values, atol=1e-5)


def test_swept_values_do_not_recompile():
    # A shape used by no other test, so the first call compiles and later calls must not.
    mdp = gw.to_grid_mdp(gw.GridWorld(shape=(2, 9), target=(1, 4), forbidden=((0, 4),)))
    before = dp._value_iteration._cache_size()
    dp.value_iteration(mdp, gamma=0.5)
    assert dp._value_iteration._cache_size() == before + 1
    for gamma, tol, max_iterations in [(0.9, 1e-6, 100), (0.1, 1e-3, 7), (0.99, 1e-5, 10_000)]:
        dp.value_iteration(mdp, gamma=gamma, tol=tol, max_iterations=max_iterations)
    assert dp._value_iteration._cache_size() == before + 1


# ---------------------------------------------------------------------------------------------
# Bad arguments raise ValueError before anything is compiled.

JITTED = (
    dp._value_iteration,
    dp._evaluate_policy,
    dp._policy_iteration,
    dp._truncated_policy_iteration,
    dp._iterative_policy_evaluation,
)


def _cache_sizes():
    return [f._cache_size() for f in JITTED]


def test_invalid_arguments_raise_before_compilation():
    # A grid shape no other test uses, and no valid call here: had any check come after
    # compilation, a jitted solver's cache would have grown.
    grid = gw.GridWorld(shape=(2, 7), target=(0, 0), forbidden=((1, 1),))
    uniform = np.full((14, NUM_ACTIONS), 1 / NUM_ACTIONS, np.float32)
    before = _cache_sizes()
    for convert in (gw.to_mdp, gw.to_grid_mdp):
        mdp = convert(grid)
        solvers = {
            "value_iteration": lambda m=mdp, **kw: dp.value_iteration(m, **kw),
            "evaluate_policy": lambda m=mdp, **kw: dp.evaluate_policy(m, uniform, **kw),
            "policy_iteration": lambda m=mdp, **kw: dp.policy_iteration(m, **kw),
            "truncated_policy_iteration": lambda m=mdp, **kw: dp.truncated_policy_iteration(
                m, truncation=2, **kw
            ),
            "iterative_policy_evaluation": lambda m=mdp, **kw: dp.iterative_policy_evaluation(
                m, uniform, **kw
            ),
        }
        for name, solve in solvers.items():
            for gamma in (1.0, -0.1, 1.5, float("nan")):
                with pytest.raises(ValueError, match="gamma"):
                    solve(gamma=gamma)
            if name not in ("evaluate_policy", "policy_iteration"):  # the ones that take tol
                for tol in (0.0, -1e-3):
                    with pytest.raises(ValueError, match="tol"):
                        solve(gamma=0.9, tol=tol)
            if name != "evaluate_policy":
                for max_iterations in (0, -5, 2.5):
                    with pytest.raises(ValueError, match="max_iterations"):
                        solve(gamma=0.9, max_iterations=max_iterations)
        for truncation in (0, -1):
            with pytest.raises(ValueError, match="truncation"):
                dp.truncated_policy_iteration(mdp, gamma=0.9, truncation=truncation)
        with pytest.raises(ValueError, match="policy"):
            dp.evaluate_policy(mdp, uniform[:, :4], gamma=0.9)
        with pytest.raises(ValueError, match="policy"):
            dp.evaluate_policy(mdp, 2 * uniform, gamma=0.9)
        with pytest.raises(ValueError, match="initial_values"):
            dp.value_iteration(mdp, gamma=0.9, initial_values=jnp.zeros(13))
    assert _cache_sizes() == before


def test_check_gamma_checks_every_entry():
    dp.check_gamma(np.array([0.0, 0.5, 0.99]))
    with pytest.raises(ValueError, match="gamma"):
        dp.check_gamma(np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="epsilon"):
        dp.epsilon_greedy_policy(jnp.zeros((3, NUM_ACTIONS)), epsilon=1.5)


# ---------------------------------------------------------------------------------------------
# Hitting max_iterations is reported, never a hang.


def test_max_iterations_is_reported():
    mdp = gw.to_grid_mdp(gw.book_grid())
    vi = dp.value_iteration(mdp, gamma=0.999, max_iterations=50)
    assert int(vi.iterations) == 50 and not bool(vi.converged)
    assert float(vi.residual) >= 1e-6
    tpi = dp.truncated_policy_iteration(mdp, gamma=0.999, truncation=3, max_iterations=4)
    assert int(tpi.iterations) == 4 and not bool(tpi.converged)
    uniform = np.full((25, NUM_ACTIONS), 0.2, np.float32)
    ipe = dp.iterative_policy_evaluation(mdp, uniform, gamma=0.999, max_iterations=30)
    assert int(ipe.iterations) == 30 and not bool(ipe.converged)
    # Policy iteration from "always up" needs several improvements on the book grid.
    pi = dp.policy_iteration(mdp, gamma=GAMMA, max_iterations=1)
    assert int(pi.iterations) == 1 and not bool(pi.converged)


# ---------------------------------------------------------------------------------------------
# Policies and the stationary distribution.


def test_greedy_policy_breaks_ties_to_lowest_index():
    q = jnp.array(
        [
            [1.0, 3.0, 3.0, 0.0, 3.0],
            [0.0, 0.0, 0.0, 0.0, 0.0],
            [-1.0, -2.0, -0.5, -0.5, -3.0],
            [0.0, 0.0, 0.0, 0.0, 7.0],
        ]
    )
    np.testing.assert_array_equal(dp.greedy_policy(q), deterministic_policy([1, 0, 2, 4]))


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5, 1.0])
def test_epsilon_greedy_matches_book_formula(epsilon):
    rng = np.random.default_rng(0)
    q = rng.integers(-2, 3, size=(30, NUM_ACTIONS)).astype(np.float32)  # plenty of ties
    policy = np.asarray(dp.epsilon_greedy_policy(jnp.asarray(q), epsilon=epsilon))
    for s in range(30):
        best = next(a for a in range(NUM_ACTIONS) if q[s, a] == max(q[s]))
        for a in range(NUM_ACTIONS):
            # Zhao, ch. 5.4: 1 - eps (|A| - 1) / |A| for the greedy action, eps / |A| otherwise.
            if a == best:
                expected = 1 - epsilon * (NUM_ACTIONS - 1) / NUM_ACTIONS
            else:
                expected = epsilon / NUM_ACTIONS
            assert abs(policy[s, a] - expected) < 1e-6, (s, a)
    np.testing.assert_allclose(policy.sum(axis=1), 1.0, atol=1e-6)


@BOTH
def test_stationary_distribution_of_uniform_policy(convert):
    mdp = convert(gw.book_grid())
    uniform = np.full((25, NUM_ACTIONS), 0.2, np.float32)
    d = np.asarray(dp.stationary_distribution(mdp, uniform), np.float64)
    p, _ = brute_mdp(BOOK)
    p_pi = p.mean(axis=1)  # uniform over actions; the chain is irreducible and aperiodic
    assert abs(d.sum() - 1.0) < 1e-5
    assert np.all(d > -1e-6)
    np.testing.assert_allclose(d @ p_pi, d, atol=1e-5)
    # The same distribution by power iteration in float64.
    reference = np.full(25, 1 / 25)
    for _ in range(5000):
        reference = reference @ p_pi
    np.testing.assert_allclose(d, reference, atol=1e-5)


@BOTH
@pytest.mark.parametrize("truncation", [1, 3, 10])
def test_truncated_policy_iteration_first_iteration_by_hand(convert, truncation):
    # 1x2 corridor from v0 = 0: the greedy policy on immediate rewards is "right" in s1 (into the
    # target, +1) and "stay" in s2 (+1). Both states then collect 1 per step, so j evaluation
    # sweeps give v_j = sum_{i < j} 0.9^i = 10 (1 - 0.9^j) in both states.
    mdp = convert(to_world(ONE_BY_TWO))
    result = dp.truncated_policy_iteration(
        mdp, gamma=GAMMA, truncation=truncation, max_iterations=1
    )
    assert int(result.iterations) == 1 and not bool(result.converged)
    expected = 10 * (1 - GAMMA**truncation)
    np.testing.assert_allclose(result.values, [expected, expected], atol=1e-5)


def test_truncated_policy_iteration_needs_fewer_outer_iterations():
    # Zhao, ch. 4.3: more evaluation sweeps per iteration, fewer iterations to converge.
    mdp = gw.to_grid_mdp(gw.book_grid())
    iterations = [
        int(dp.truncated_policy_iteration(mdp, gamma=GAMMA, truncation=j).iterations)
        for j in (1, 5, 50)
    ]
    assert iterations[0] > iterations[1] > iterations[2]


# ---------------------------------------------------------------------------------------------
# A fixed budget of sweeps (value iteration's inner loop alone).


@BOTH
@pytest.mark.parametrize("kw", [{}, {"slip": 0.3}, {"absorbing_target": True}], ids=str)
def test_optimality_sweeps_match_plain_python_backups(convert, kw):
    spec = BOOK._replace(slip=kw.get("slip", 0.0), absorbing=kw.get("absorbing_target", False))
    grid = to_world(spec)
    p, r = brute_mdp(spec)
    v0 = np.random.default_rng(0).normal(size=25).astype(np.float32)
    mdp = convert(grid)
    for k in (1, 2, 9):
        v = v0.astype(np.float64)
        for _ in range(k):  # v <- max_a r(s, a) + gamma * sum_s' p(s'|s, a) v(s'), by hand
            v = np.array([max(r[s, a] + GAMMA * p[s, a] @ v for a in range(5)) for s in range(25)])
        got = dp.optimality_sweeps(mdp, v0, gamma=GAMMA, num_sweeps=k)
        np.testing.assert_allclose(got, v, atol=1e-5)


def test_optimality_sweeps_validate_arguments_before_compiling():
    mdp = gw.to_grid_mdp(gw.GridWorld(shape=(3, 7), target=(0, 0), forbidden=()))
    before = dp._optimality_sweeps._cache_size()
    for gamma in (1.0, -0.5):
        with pytest.raises(ValueError, match="gamma"):
            dp.optimality_sweeps(mdp, np.zeros(21), gamma=gamma, num_sweeps=3)
    for n in (0, -2, 1.5):
        with pytest.raises(ValueError, match="num_sweeps"):
            dp.optimality_sweeps(mdp, np.zeros(21), gamma=0.9, num_sweeps=n)
    with pytest.raises(ValueError, match="initial_values"):
        dp.optimality_sweeps(mdp, np.zeros(20), gamma=0.9, num_sweeps=3)
    assert dp._optimality_sweeps._cache_size() == before


# ---------------------------------------------------------------------------------------------
# The best epsilon-greedy policy.


def test_epsilon_greedy_optimum_beats_every_epsilon_greedy_policy_on_2x2():
    """Brute force: all 5^4 deterministic greedy choices on the 2x2 grid, each made
    epsilon-greedy and evaluated exactly; the optimum is at least as good in every state and
    equal to the best of them."""
    import itertools

    mdp = gw.to_mdp(to_world(TWO_BY_TWO))
    epsilon = 0.3
    result = dp.epsilon_greedy_value_iteration(mdp, epsilon=epsilon, gamma=GAMMA, tol=1e-7)
    best = np.full(4, -np.inf)
    for actions in itertools.product(range(NUM_ACTIONS), repeat=4):
        policy = (1 - epsilon) * deterministic_policy(actions) + epsilon / NUM_ACTIONS
        v = np.asarray(dp.evaluate_policy(mdp, policy, gamma=GAMMA))
        assert np.all(np.asarray(result.values) >= v - 1e-4)
        best = np.maximum(best, v)
    np.testing.assert_allclose(result.values, best, atol=1e-4)
    np.testing.assert_allclose(
        dp.evaluate_policy(mdp, result.policy, gamma=GAMMA), result.values, atol=1e-4
    )


def test_epsilon_greedy_optimum_equals_a_slippery_grid():
    """An epsilon-greedy agent on the grid is a greedy agent on the grid with slip = epsilon."""
    for epsilon in (0.0, 0.1, 0.5):
        result = dp.epsilon_greedy_value_iteration(
            gw.to_mdp(gw.book_grid()), epsilon=epsilon, gamma=GAMMA
        )
        slippery = dp.value_iteration(gw.to_grid_mdp(gw.book_grid(slip=epsilon)), gamma=GAMMA)
        np.testing.assert_allclose(result.values, slippery.values, atol=1e-4)
    with pytest.raises(ValueError, match="epsilon"):
        dp.epsilon_greedy_value_iteration(gw.to_mdp(gw.book_grid()), epsilon=1.5, gamma=GAMMA)


# ---------------------------------------------------------------------------------------------
# Policy evaluation to a stated bound, without a solve (what compiled runs use).

U32 = 2.0**-24  # float32 unit roundoff


def _random_finite_mdp(rng, num_states, num_actions):
    p = rng.dirichlet(np.ones(num_states) * 0.3, size=(num_states, num_actions))
    r = rng.uniform(-1.0, 1.0, size=(num_states, num_actions))
    return dp.FiniteMDP(jnp.asarray(p, jnp.float32), jnp.asarray(r, jnp.float32)), p, r


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("seed", [0, 1])
def test_bounded_evaluation_is_within_its_bound_of_the_exact_values(gamma, seed):
    """Against the closed form in float64. In exact arithmetic the error after k sweeps from 0 is
    at most gamma^k ||r_pi|| / (1 - gamma) <= error_bound. Float32 adds at most about
    (S + 2) u ||v|| per sweep (a dot product of S terms, a multiply and an add; u = 2^-24), which
    the contraction sums to (S + 2) u ||r_pi|| / (1 - gamma)^2: the allowance below. Too few
    sweeps would show: at gamma = 0.9 half of them leave an error near 1e-2, far above it."""
    rng = np.random.default_rng(seed)
    num_states = 12
    mdp, p, r = _random_finite_mdp(rng, num_states, 3)
    policy = rng.dirichlet(np.ones(3), size=num_states)
    p_pi, r_pi = np.einsum("sa,sat->st", policy, p), np.sum(policy * r, axis=-1)
    exact = np.linalg.solve(np.eye(num_states) - gamma * p_pi, r_pi)
    result = dp.evaluate_policy_bounded(mdp, jnp.asarray(policy, jnp.float32), gamma=gamma)
    scale = np.abs(r_pi).max() / (1 - gamma)
    rounding = (num_states + 2) * U32 * scale / (1 - gamma)
    assert float(result.error_bound) <= 1e-5
    np.testing.assert_array_less(np.abs(np.asarray(result.values) - exact), 1e-5 + rounding)
    # The number of sweeps is the smallest that meets the bound.
    k = int(result.sweeps)
    if gamma == 0.0:
        assert k == 1
        np.testing.assert_allclose(np.asarray(result.values), r_pi, rtol=1e-6)
    else:
        assert gamma**k * scale <= 1e-5 * (1 + 1e-5) < gamma ** (k - 1) * scale


def test_bounded_evaluation_of_the_book_grid_structured_and_dense_agree():
    grid = gw.book_grid()
    uniform = jnp.full((25, 5), 0.2)
    exact = np.asarray(dp.evaluate_policy(gw.to_mdp(grid), uniform, gamma=0.9))
    for mdp in (gw.to_mdp(grid), gw.to_grid_mdp(grid)):
        result = dp.evaluate_policy_bounded(mdp, uniform, gamma=0.9, error_bound=1e-4)
        # 1e-4 bound plus float32 rounding (27 u ||r|| / (1 - gamma)^2 = 1.6e-4 at most).
        np.testing.assert_allclose(np.asarray(result.values), exact, atol=1e-4 + 1.7e-4)
    np.testing.assert_allclose(exact[:5], [-3.8, -3.8, -3.6, -3.1, -3.2], atol=0.05)


def test_bounded_evaluation_vmapped_over_gamma_equals_one_at_a_time():
    """Each element of a vmapped sweep runs its own number of sweeps and gets its own values,
    bit for bit: the loop runs to the longest and masks the others. (With the structured grid
    MDP, whose backup is elementwise; a dense MDP's batched matrix-vector product may round
    differently from the unbatched one.)"""
    mdp = gw.to_grid_mdp(gw.book_grid())
    policy = jnp.full((25, 5), 0.2)
    gammas = jnp.asarray([0.0, 0.5, 0.9, 0.95], jnp.float32)
    batched = jax.jit(jax.vmap(lambda g: dp.evaluate_policy_bounded(mdp, policy, gamma=g)))(gammas)
    for i, g in enumerate(np.asarray(gammas)):
        alone = dp.evaluate_policy_bounded(mdp, policy, gamma=g)
        assert int(batched.sweeps[i]) == int(alone.sweeps)
        np.testing.assert_array_equal(np.asarray(batched.values[i]), np.asarray(alone.values))


def test_bounded_evaluation_checks_its_arguments():
    mdp = gw.to_mdp(gw.book_grid())
    policy = jnp.full((25, 5), 0.2)
    with pytest.raises(ValueError, match="gamma"):
        dp.evaluate_policy_bounded(mdp, policy, gamma=1.0)
    with pytest.raises(ValueError, match="error_bound"):
        dp.evaluate_policy_bounded(mdp, policy, gamma=0.9, error_bound=0.0)
    with pytest.raises(ValueError, match="policy"):
        dp.evaluate_policy_bounded(mdp, policy[:3], gamma=0.9)


def test_gamma_is_checked_as_float32_sees_it():
    """1 - 1e-9 is below 1, but its float32 is 1: refused, rather than a division by zero."""
    mdp = gw.to_mdp(gw.book_grid())
    with pytest.raises(ValueError, match="gamma must be in"):
        dp.value_iteration(mdp, gamma=1.0 - 1e-9)
    with pytest.raises(ValueError, match="gamma must be in"):
        dp.evaluate_policy_bounded(mdp, jnp.full((25, 5), 0.2), gamma=1.0 - 1e-9)


@pytest.mark.parametrize(
    "edit, match",
    [
        (
            lambda p, r: (p, r.at[2, 1].set(jnp.nan)),
            r"FiniteMDP.rewards must be finite; rewards\[2, 1\]",
        ),
        (lambda p, r: (p.at[3, 0].multiply(2.0), r), r"transitions\[3, 0, :\] sums to 2"),
        (lambda p, r: (p, r[:, :-1]), r"FiniteMDP.rewards must have shape \[S, A\] = \[4, 5\]"),
        (lambda p, r: (p[:, :, :-1], r), r"FiniteMDP.transitions must have shape \[S, A, S\]"),
        (lambda p, r: (p.at[0, 0].set(-p[0, 0]), r), "finite and non-negative"),
    ],
)
def test_a_hand_built_mdp_that_is_no_mdp_is_refused_before_compiling(edit, match):
    """A NaN reward, a transition row summing to 2, rewards of shape [S, A - 1]: one clear
    ValueError from every solver, before anything is traced."""
    good = gw.to_mdp(gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=()))
    transitions, rewards = edit(good.transitions, good.rewards)
    mdp = dp.FiniteMDP(transitions, rewards)
    policy = jnp.full((4, 5), 0.2)
    solvers = [
        lambda: dp.value_iteration(mdp, gamma=0.9),
        lambda: dp.policy_iteration(mdp, gamma=0.9),
        lambda: dp.evaluate_policy(mdp, policy, gamma=0.9),
        lambda: dp.evaluate_policy_bounded(mdp, policy, gamma=0.9),
        lambda: dp.iterative_policy_evaluation(mdp, policy, gamma=0.9),
        lambda: dp.truncated_policy_iteration(mdp, gamma=0.9, truncation=2),
        lambda: dp.epsilon_greedy_value_iteration(mdp, epsilon=0.1, gamma=0.9),
        lambda: dp.optimality_sweeps(mdp, jnp.zeros(4), gamma=0.9, num_sweeps=2),
        lambda: dp.stationary_distribution(mdp, policy),
    ]
    for solve in solvers:
        with pytest.raises(ValueError, match=match):
            solve()
