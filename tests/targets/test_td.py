"""Tests for ``jaxrl.targets.td``: hand-checked cases, plain-Python references, properties.

Single-transition functions are checked on batches of random transitions through a jitted
``vmap`` (compiled once per number of actions) against a float64 Python loop; float32 rounding of
``r + discount * q - q`` with entries of size ~3 stays below 1e-5 (ATOL, RTOL).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxrl.targets import td
from tests.targets.test_returns import (
    FAST,
    allclose,
    check_jit_matches_eager,
    check_vmap_matches_loop,
    lengths,
    random_stream,
    seeds,
    steps,
)

BATCH = 16
action_counts = st.sampled_from([1, 4])

td_learning = jax.jit(jax.vmap(td.td_learning))
sarsa = jax.jit(jax.vmap(td.sarsa))
expected_sarsa = jax.jit(jax.vmap(td.expected_sarsa))
q_learning = jax.jit(jax.vmap(td.q_learning))
double_q_learning = jax.jit(jax.vmap(td.double_q_learning))
n_step_sarsa_target = jax.jit(td.n_step_sarsa_target, static_argnames="n")
n_step_sarsa_error = jax.jit(td.n_step_sarsa_error, static_argnames="n")


class Batch:
    """``BATCH`` random transitions with ``num_actions`` actions (float32 / int32)."""

    def __init__(self, seed: int, num_actions: int):
        gen = np.random.default_rng(seed)
        f32 = functools.partial(np.asarray, dtype=np.float32)
        self.r_t = f32(gen.uniform(-1.0, 1.0, BATCH))
        discount = gen.uniform(0.0, 1.0, BATCH)
        kind = gen.uniform(size=BATCH)
        discount[kind < 0.15] = 0.0
        discount[kind > 0.85] = 1.0
        self.discount_t = f32(discount)
        self.v_tm1 = f32(gen.normal(size=BATCH))
        self.v_t = f32(gen.normal(size=BATCH))
        self.q_tm1 = f32(gen.normal(size=(BATCH, num_actions)))
        self.q_t = f32(gen.normal(size=(BATCH, num_actions)))
        self.q_t_selector = f32(gen.normal(size=(BATCH, num_actions)))
        self.a_tm1 = gen.integers(0, num_actions, BATCH).astype(np.int32)
        self.a_t = gen.integers(0, num_actions, BATCH).astype(np.int32)
        logits = gen.normal(size=(BATCH, num_actions))
        probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
        self.probs_a_t = f32(probs)


# ---------------------------------------------------------------------------------------------
# Hand-checked cases (no jit).

Q_TM1 = jnp.array([1.0, 2.0])
Q_T = jnp.array([3.0, 4.0])


def test_by_hand():
    # target 2 + 0.5 * 4 = 4, minus 1.
    allclose(td.td_learning(1.0, 2.0, 0.5, 4.0), 3.0)
    # target 1 + 0.5 * q_t[1] = 3, minus q_tm1[0] = 1.
    allclose(td.sarsa(Q_TM1, 0, 1.0, 0.5, Q_T, 1), 2.0)
    # target 1 + 0.5 * (0.25 * 3 + 0.75 * 4) = 2.875, minus q_tm1[1] = 2.
    allclose(td.expected_sarsa(Q_TM1, 1, 1.0, 0.5, Q_T, jnp.array([0.25, 0.75])), 0.875)
    # target 1 + 0.5 * max(3, 4) = 3, minus 1.
    allclose(td.q_learning(Q_TM1, 0, 1.0, 0.5, Q_T), 2.0)
    # the selector picks action 0, valued 3: target 2.5, minus 1.
    allclose(td.double_q_learning(Q_TM1, 0, 1.0, 0.5, Q_T, jnp.array([5.0, -5.0])), 1.5)
    # ties in the selector go to the lowest index: action 0 again.
    allclose(td.double_q_learning(Q_TM1, 0, 1.0, 0.5, Q_T, jnp.array([1.0, 1.0])), 1.5)


def test_n_step_sarsa_by_hand():
    r = jnp.array([1.0, 2.0, 3.0])
    d = jnp.array([0.5, 0.5, 0.5])
    q_t = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    a_t = jnp.array([0, 1, 0])
    # bootstrap values q_t[i, a_t[i]] = [1, 4, 5]; n = 2:
    # G0 = 1 + 0.5 * 2 + 0.25 * 4 = 3; G1 = 2 + 0.5 * 3 + 0.25 * 5 = 4.75; G2 = 3 + 2.5 = 5.5.
    allclose(td.n_step_sarsa_target(r, d, q_t, a_t, 2), [3.0, 4.75, 5.5])
    q_tm1 = jnp.array([[0.0, 1.0], [1.0, 3.0], [3.0, 4.0]])
    a_tm1 = jnp.array([1, 0, 1])
    allclose(td.n_step_sarsa_error(q_tm1, a_tm1, r, d, q_t, a_t, 2), [2.0, 3.75, 1.5])


# ---------------------------------------------------------------------------------------------
# Against plain-Python references.


def ref_errors(b: Batch, target_of, prediction_of):
    targets, predictions = [], []
    for i in range(BATCH):
        targets.append(float(b.r_t[i]) + float(b.discount_t[i]) * target_of(i))
        predictions.append(prediction_of(i))
    return np.array(targets) - np.array(predictions)


def q_tm1_taken(b: Batch):
    return lambda i: float(b.q_tm1[i, b.a_tm1[i]])


@FAST
@given(seed=seeds)
def test_td_learning_matches_loop(seed):
    b = Batch(seed, 1)
    expected = ref_errors(b, lambda i: float(b.v_t[i]), lambda i: float(b.v_tm1[i]))
    allclose(td_learning(b.v_tm1, b.r_t, b.discount_t, b.v_t), expected)


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_sarsa_matches_loop(seed, num_actions):
    b = Batch(seed, num_actions)
    expected = ref_errors(b, lambda i: float(b.q_t[i, b.a_t[i]]), q_tm1_taken(b))
    allclose(sarsa(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, b.a_t), expected)


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_expected_sarsa_matches_loop(seed, num_actions):
    b = Batch(seed, num_actions)

    def expected_value(i):
        return sum(float(b.probs_a_t[i, a]) * float(b.q_t[i, a]) for a in range(num_actions))

    expected = ref_errors(b, expected_value, q_tm1_taken(b))
    out = expected_sarsa(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, b.probs_a_t)
    allclose(out, expected)


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_q_learning_matches_loop(seed, num_actions):
    b = Batch(seed, num_actions)
    expected = ref_errors(b, lambda i: max(float(x) for x in b.q_t[i]), q_tm1_taken(b))
    allclose(q_learning(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t), expected)


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_double_q_learning_matches_loop(seed, num_actions):
    b = Batch(seed, num_actions)

    def value_of_selected(i):
        selector = [float(x) for x in b.q_t_selector[i]]
        return float(b.q_t[i, selector.index(max(selector))])

    expected = ref_errors(b, value_of_selected, q_tm1_taken(b))
    out = double_q_learning(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, b.q_t_selector)
    allclose(out, expected)


def random_sarsa_stream(seed: int, length: int, num_actions: int = 3):
    r, d, _ = random_stream(seed, length)
    gen = np.random.default_rng(seed + 2)
    q_tm1 = gen.normal(size=(length, num_actions)).astype(np.float32)
    q_t = gen.normal(size=(length, num_actions)).astype(np.float32)
    a_tm1 = gen.integers(0, num_actions, length).astype(np.int32)
    a_t = gen.integers(0, num_actions, length).astype(np.int32)
    return q_tm1, a_tm1, r, d, q_t, a_t


def ref_n_step_sarsa(r, d, q_t, a_t, n):
    length = len(r)
    out = []
    for i in range(length):
        total, scale = 0.0, 1.0
        k = i
        while k < min(i + n, length):
            total += scale * float(r[k])
            scale *= float(d[k])
            k += 1
        out.append(total + scale * float(q_t[k - 1, a_t[k - 1]]))
    return np.array(out)


@FAST
@given(seed=seeds, length=lengths, n=steps)
def test_n_step_sarsa_matches_loop(seed, length, n):
    q_tm1, a_tm1, r, d, q_t, a_t = random_sarsa_stream(seed, length)
    expected = ref_n_step_sarsa(r, d, q_t, a_t, n)
    allclose(n_step_sarsa_target(r, d, q_t, a_t, n=n), expected)
    taken = np.array([q_tm1[i, a_tm1[i]] for i in range(length)], np.float64)
    allclose(n_step_sarsa_error(q_tm1, a_tm1, r, d, q_t, a_t, n=n), expected - taken)


# ---------------------------------------------------------------------------------------------
# Properties.


@FAST
@given(seed=seeds, length=lengths)
def test_one_step_sarsa_is_sarsa(seed, length):
    q_tm1, a_tm1, r, d, q_t, a_t = random_sarsa_stream(seed, length)
    per_step = sarsa(q_tm1, a_tm1, r, d, q_t, a_t)
    allclose(n_step_sarsa_error(q_tm1, a_tm1, r, d, q_t, a_t, n=1), per_step)
    taken = jnp.take_along_axis(q_tm1, a_tm1[:, None], axis=-1)[:, 0]
    allclose(n_step_sarsa_target(r, d, q_t, a_t, n=1), per_step + taken)


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_expected_sarsa_with_one_hot_policy_is_sarsa(seed, num_actions):
    b = Batch(seed, num_actions)
    one_hot = jax.nn.one_hot(b.a_t, num_actions, dtype=jnp.float32)
    expected = sarsa(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, b.a_t)
    allclose(expected_sarsa(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, one_hot), expected)
    greedy = jax.nn.one_hot(jnp.argmax(b.q_t, axis=-1), num_actions, dtype=jnp.float32)
    allclose(
        expected_sarsa(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, greedy),
        q_learning(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t),
    )


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_double_q_with_one_network_is_q_learning(seed, num_actions):
    b = Batch(seed, num_actions)
    allclose(
        double_q_learning(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t, b.q_t),
        q_learning(b.q_tm1, b.a_tm1, b.r_t, b.discount_t, b.q_t),
        atol=0.0,
        rtol=0.0,
    )


@FAST
@given(seed=seeds, num_actions=action_counts)
def test_zero_discount_gives_reward_minus_prediction(seed, num_actions):
    b = Batch(seed, num_actions)
    zero = np.zeros(BATCH, np.float32)
    taken = b.q_tm1[np.arange(BATCH), b.a_tm1].astype(np.float64)
    allclose(td_learning(b.v_tm1, b.r_t, zero, b.v_t), b.r_t - b.v_tm1.astype(np.float64))
    allclose(sarsa(b.q_tm1, b.a_tm1, b.r_t, zero, b.q_t, b.a_t), b.r_t - taken)
    allclose(expected_sarsa(b.q_tm1, b.a_tm1, b.r_t, zero, b.q_t, b.probs_a_t), b.r_t - taken)
    allclose(q_learning(b.q_tm1, b.a_tm1, b.r_t, zero, b.q_t), b.r_t - taken)
    allclose(double_q_learning(b.q_tm1, b.a_tm1, b.r_t, zero, b.q_t, b.q_t_selector), b.r_t - taken)


def test_gradients_flow_only_through_the_prediction():
    a_tm1 = 1
    minus_one_hot = np.array([0.0, -1.0, 0.0])
    q_tm1 = jnp.array([0.5, -1.0, 2.0])
    q_t = jnp.array([1.0, 3.0, -2.0])
    probs = jnp.array([0.2, 0.5, 0.3])
    errors = {
        "sarsa": lambda q_tm1, q_t: td.sarsa(q_tm1, a_tm1, 1.0, 0.9, q_t, 2),
        "expected_sarsa": lambda q_tm1, q_t: td.expected_sarsa(q_tm1, a_tm1, 1.0, 0.9, q_t, probs),
        "q_learning": lambda q_tm1, q_t: td.q_learning(q_tm1, a_tm1, 1.0, 0.9, q_t),
        "double_q_value": lambda q_tm1, q_t: td.double_q_learning(q_tm1, a_tm1, 1.0, 0.9, q_t, q_t),
    }
    for name, error in errors.items():
        g_tm1, g_t = jax.grad(error, argnums=(0, 1))(q_tm1, q_t)
        allclose(g_tm1, minus_one_hot, atol=0.0, err_msg=name)
        allclose(g_t, np.zeros(3), atol=0.0, err_msg=name)
    # The policy of expected Sarsa is part of the target too.
    g_probs = jax.grad(lambda p: td.expected_sarsa(q_tm1, a_tm1, 1.0, 0.9, q_t, p))(probs)
    allclose(g_probs, np.zeros(3), atol=0.0)
    g_v_tm1, g_v_t = jax.grad(td.td_learning, argnums=(0, 3))(0.5, 1.0, 0.9, 2.0)
    assert (float(g_v_tm1), float(g_v_t)) == (-1.0, 0.0)
    # Opting out: the target's gradient is discount * d q_t[a_t] / d q_t.
    g_t = jax.grad(lambda q: td.sarsa(q_tm1, a_tm1, 1.0, 0.9, q, 2, stop_target_gradients=False))(
        q_t
    )
    allclose(g_t, [0.0, 0.0, 0.9])
    g_v_t = jax.grad(td.td_learning, argnums=3)(0.5, 1.0, 0.9, 2.0, stop_target_gradients=False)
    allclose(g_v_t, 0.9)


def test_n_step_sarsa_gradients_flow_only_through_the_prediction():
    q_tm1, a_tm1, r, d, q_t, a_t = (jnp.asarray(x) for x in random_sarsa_stream(4, 5))

    def loss(q_tm1, q_t):
        return jnp.sum(td.n_step_sarsa_error(q_tm1, a_tm1, r, d, q_t, a_t, 3))

    g_tm1, g_t = jax.jit(jax.grad(loss, argnums=(0, 1)))(q_tm1, q_t)
    allclose(g_tm1, -jax.nn.one_hot(a_tm1, 3), atol=0.0)
    allclose(g_t, np.zeros_like(q_t), atol=0.0)


def test_bad_ranks_and_types_raise():
    with pytest.raises(AssertionError):
        td.td_learning(jnp.zeros(2), 1.0, 0.9, 1.0)  # v_tm1 must be a scalar
    with pytest.raises(AssertionError):
        td.sarsa(Q_TM1, 0.0, 1.0, 0.9, Q_T, 1)  # float action
    with pytest.raises(AssertionError):
        td.sarsa(Q_TM1, 0, 1.0, 0.9, jnp.zeros(3), 1)  # q_t with another number of actions
    with pytest.raises(AssertionError):
        td.expected_sarsa(Q_TM1, 0, 1.0, 0.9, Q_T, jnp.ones(3) / 3)  # policy of the wrong size
    with pytest.raises(AssertionError):
        td.q_learning(Q_TM1[None], 0, 1.0, 0.9, Q_T)  # a batch: vmap instead
    with pytest.raises(AssertionError):
        td.double_q_learning(Q_TM1, 0, jnp.ones(1), 0.9, Q_T, Q_T)  # reward must be a scalar
    r, d = jnp.ones(3), jnp.ones(3)
    with pytest.raises(AssertionError):
        td.n_step_sarsa_target(r, d, jnp.ones((4, 2)), jnp.zeros(3, jnp.int32), 2)  # q_t length
    with pytest.raises(AssertionError):
        td.n_step_sarsa_target(r, d, jnp.ones((3, 2)), jnp.zeros(3), 2)  # float actions
    with pytest.raises(ValueError, match="n must be"):
        td.n_step_sarsa_target(r, d, jnp.ones((3, 2)), jnp.zeros(3, jnp.int32), 0)


# ---------------------------------------------------------------------------------------------
# jit agreement and vmap against a loop.


def transition_args(seed: int):
    b = Batch(seed, 3)
    return {
        "td_learning": (b.v_tm1[0], b.r_t[0], b.discount_t[0], b.v_t[0]),
        "sarsa": (b.q_tm1[0], b.a_tm1[0], b.r_t[0], b.discount_t[0], b.q_t[0], b.a_t[0]),
        "expected_sarsa": (
            b.q_tm1[0],
            b.a_tm1[0],
            b.r_t[0],
            b.discount_t[0],
            b.q_t[0],
            b.probs_a_t[0],
        ),
        "q_learning": (b.q_tm1[0], b.a_tm1[0], b.r_t[0], b.discount_t[0], b.q_t[0]),
        "double_q_learning": (
            b.q_tm1[0],
            b.a_tm1[0],
            b.r_t[0],
            b.discount_t[0],
            b.q_t[0],
            b.q_t_selector[0],
        ),
        "n_step_sarsa_target": random_sarsa_stream(seed, 5)[2:],
        "n_step_sarsa_error": random_sarsa_stream(seed, 5),
    }


FUNCTIONS = {
    "td_learning": td.td_learning,
    "sarsa": td.sarsa,
    "expected_sarsa": td.expected_sarsa,
    "q_learning": td.q_learning,
    "double_q_learning": td.double_q_learning,
    "n_step_sarsa_target": functools.partial(td.n_step_sarsa_target, n=2),
    "n_step_sarsa_error": functools.partial(td.n_step_sarsa_error, n=2),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_jit_matches_eager(name):
    check_jit_matches_eager(FUNCTIONS[name], transition_args(0)[name])


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_vmap_matches_loop(name):
    per_element = [transition_args(seed)[name] for seed in range(3)]
    batch = [np.stack(column) for column in zip(*per_element, strict=True)]
    check_vmap_matches_loop(FUNCTIONS[name], batch)


def test_soft_value_by_hand_and_its_expectation_is_the_soft_state_value():
    """``q - alpha log pi(a)`` at one action; averaged over actions drawn from pi it is
    ``sum_a pi(a) (q(a) - alpha log pi(a)) = E_pi[q] + alpha H(pi)`` (exact over a discrete pi)."""
    assert float(td.soft_value(2.0, -1.5, 0.2)) == pytest.approx(2.3)
    q, pi, alpha = np.array([1.0, -0.5, 2.0]), np.array([0.2, 0.5, 0.3]), 0.7
    values = jax.vmap(td.soft_value, in_axes=(0, 0, None))(
        jnp.asarray(q, jnp.float32), jnp.log(jnp.asarray(pi, jnp.float32)), alpha
    )
    entropy = -np.sum(pi * np.log(pi))
    assert float(np.dot(pi, values)) == pytest.approx(np.dot(pi, q) + alpha * entropy, rel=1e-6)
