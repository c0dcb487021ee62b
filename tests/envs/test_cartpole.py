"""Tests for CartPole-v1 (``jaxrl.envs.cartpole``).

The reference is gymnasium's own ``gymnasium.make("CartPole-v1")`` (NumPy, float64), stepped side
by side with ours from the same start states, and hand computations of the equations of motion.

Tolerance. Gymnasium integrates in float64 and rounds only its observation to float32; we compute
in float32. One step from the same state differs by float32 rounding of the result: the state's
components are at most about 3 in these episodes, where a float32 ulp is 2.4e-7, and each new
component is one such value plus a ``tau``-scaled term, so the error is a few ulp of ~3. We
measured at most 2.4e-7 over 52,000 steps and allow ``STEP_ATOL = 1e-6`` (about 4 ulp of 3).
That is tight enough to catch any wrong constant or integrator: gravity 9.81 instead of 9.8
moves ``x_dot`` by up to 4e-5 in one step, the semi-implicit integrator ``x`` by up to 1e-3.
Over a whole episode the rounding errors grow, because the upright pole is unstable (a deviation
grows like ``exp(t * sqrt(g / (4/3 l)))``, about 3.8 per second, e^5 over the 70 steps of our
longest random-action episode), hence ``EPISODE_ATOL`` for episodes run freely from one start.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.envs import cartpole as cp
from jaxrl.envs import evaluation, wrappers

# One step from the same float32 state (see the module docstring): a few float32 ulp of ~3.
STEP_ATOL = 1e-6
# Whole random-action episodes (at most ~70 steps, 1.4 s) run freely from the same start: the
# largest deviation we measured was 1.2e-5 (rounding amplified by the unstable upright pole).
EPISODE_ATOL = 1e-4

NUM_EPISODES = 200
RANDOM_ACTION_PROB = 0.1  # how often the balancing controller's action is replaced by a coin flip


def as_array(state: cp.EnvState) -> np.ndarray:
    """The physical state ``[..., 4]`` as float64 (what gymnasium keeps in ``env.state``)."""
    return np.stack([state.x, state.x_dot, state.theta, state.theta_dot], -1).astype(np.float64)


def from_array(values, time) -> cp.EnvState:
    """An :class:`cp.EnvState` from ``[..., 4]`` values (rounded to float32) and times."""
    values = np.asarray(values, np.float32)
    return cp.EnvState(
        *(jnp.asarray(values[..., i]) for i in range(4)), time=jnp.asarray(time, jnp.int32)
    )


def balancing_action(state: np.ndarray) -> int:
    """A PD rule that keeps the pole up and the cart near the centre for 500 steps."""
    x, x_dot, theta, theta_dot = state
    return int(theta + 0.5 * theta_dot + 0.01 * x + 0.1 * x_dot > 0)


class Episodes(NamedTuple):
    """Gymnasium's transitions, concatenated over episodes (``N`` steps in all)."""

    start: np.ndarray  # [E, 4] our float32 reset states, given to gymnasium as float64
    lengths: np.ndarray  # [E]
    balanced: np.ndarray  # [E] bool: actions from the balancing controller (else coin flips)
    state: np.ndarray  # [N, 4] float64, gymnasium's state before the step
    time: np.ndarray  # [N] steps taken before this one in the episode
    action: np.ndarray  # [N]
    next_state: np.ndarray  # [N, 4] float64, gymnasium's state after the step
    obs: np.ndarray  # [N, 4] float32, gymnasium's observation
    reward: np.ndarray  # [N]
    terminated: np.ndarray  # [N]
    truncated: np.ndarray  # [N] gymnasium's flag (TimeLimit sets it even when terminated)


@pytest.fixture(scope="module")
def episodes() -> Episodes:
    """Gymnasium's CartPole-v1 run from our reset states, half the episodes with coin-flip
    actions (they end by termination within ~70 steps) and half with a noisy balancing
    controller (most reach the 500-step time limit)."""
    params = cp.make_params()
    keys = jax.random.split(jax.random.key(0), NUM_EPISODES)
    _, start = jax.vmap(cp.reset, (0, None))(keys, params)
    start = as_array(start)
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    balanced = np.arange(NUM_EPISODES) % 2 == 1
    lengths, rows = [], []
    for episode in range(NUM_EPISODES):
        env.reset()
        env.unwrapped.state = start[episode].copy()
        t = 0
        while True:
            state = env.unwrapped.state.copy()
            if balanced[episode] and rng.random() >= RANDOM_ACTION_PROB:
                action = balancing_action(state)
            else:
                action = int(rng.integers(2))
            obs, reward, terminated, truncated, _ = env.step(action)
            rows.append((state, t, action, env.unwrapped.state.copy(), obs, reward))
            rows[-1] += (terminated, truncated)
            t += 1
            if terminated or truncated:
                break
        lengths.append(t)
    env.close()
    columns = list(zip(*rows, strict=True))
    return Episodes(
        start=start,
        lengths=np.asarray(lengths),
        balanced=balanced,
        state=np.stack(columns[0]),
        time=np.asarray(columns[1]),
        action=np.asarray(columns[2]),
        next_state=np.stack(columns[3]),
        obs=np.stack(columns[4]),
        reward=np.asarray(columns[5]),
        terminated=np.asarray(columns[6]),
        truncated=np.asarray(columns[7]),
    )


# ---------------------------------------------------------------------------------------------
# Against gymnasium.


def test_params_are_gymnasium_cartpole_v1():
    env = gym.make("CartPole-v1")
    ref = env.unwrapped
    params = cp.make_params()
    for name in ("gravity", "masscart", "masspole", "length", "force_mag", "tau"):
        value = getattr(params, name)
        assert value.dtype == jnp.float32, name
        assert float(value) == float(np.float32(getattr(ref, name))), name
    assert ref.kinematics_integrator == "euler"
    assert ref.theta_threshold_radians == 12 * 2 * math.pi / 360
    for name in ("theta_threshold_radians", "x_threshold"):
        # Rounded down to float32: the largest float32 not above gymnasium's float64 value.
        value, exact = np.float32(getattr(params, name)), getattr(ref, name)
        assert float(value) <= exact < float(np.nextafter(value, np.float32(np.inf))), name
    assert int(params.max_steps) == env.spec.max_episode_steps == 500
    assert params.max_steps.dtype == jnp.int32
    assert not params.auto_reset
    assert cp.OBSERVATION_SIZE == env.observation_space.shape[0] == 4
    assert cp.NUM_ACTIONS == env.action_space.n == 2
    env.close()


def test_one_step_transitions_match_gymnasium(episodes):
    """Every transition of the 200 gymnasium episodes, replayed by our ``step`` from gymnasium's
    state before it (rounded to float32) with the same time in the episode and the same action.

    Starting each step from gymnasium's state (instead of our own trajectory) keeps the float32
    and float64 runs from drifting apart over 500-step episodes, so every one of the ~50,000
    steps is compared at one-step precision, including each step that hits the time limit.
    """
    num_truncated = int(np.sum(episodes.lengths == 500))
    assert num_truncated >= 50 and np.all(episodes.lengths[~episodes.balanced] < 500)
    state = from_array(episodes.state, episodes.time)
    step = jax.jit(jax.vmap(cp.step, (None, 0, 0, None)))
    obs, next_state, reward, terminated, truncated, info = jax.device_get(
        step(jax.random.key(1), state, jnp.asarray(episodes.action, jnp.int32), cp.make_params())
    )
    chex.assert_shape(obs, (len(episodes.action), 4))
    assert obs.dtype == np.float32 and reward.dtype == np.float32
    np.testing.assert_allclose(as_array(next_state), episodes.next_state, rtol=0, atol=STEP_ATOL)
    np.testing.assert_allclose(obs, episodes.obs, rtol=0, atol=STEP_ATOL)
    np.testing.assert_array_equal(info["final_observation"], obs)
    np.testing.assert_array_equal(reward, episodes.reward)
    np.testing.assert_array_equal(terminated, episodes.terminated)
    # Gymnasium's TimeLimit also sets truncated on a terminating 500th step; ours does not.
    np.testing.assert_array_equal(truncated, episodes.truncated & ~episodes.terminated)
    np.testing.assert_array_equal(next_state.time, episodes.time + 1)
    assert int(np.sum(truncated)) == num_truncated


def _rollout(state, actions, params):
    def body(state, action):
        obs, state, _, terminated, truncated, _ = cp.step(jax.random.key(0), state, action, params)
        return state, (obs, terminated, truncated)

    return jax.lax.scan(body, state, actions)[1]


def test_random_action_episodes_run_freely_match_gymnasium(episodes):
    """The coin-flip episodes, run by our ``step`` alone from our reset state with gymnasium's
    actions (no resynchronisation): same observations up to ``EPISODE_ATOL``, same flags at
    every step, so the same episode lengths."""
    starts = np.cumsum(episodes.lengths) - episodes.lengths
    chosen = np.flatnonzero(~episodes.balanced)
    horizon = int(episodes.lengths[chosen].max())
    actions = np.zeros((len(chosen), horizon), np.int32)  # padded after the episode's end
    for row, episode in enumerate(chosen):
        n = episodes.lengths[episode]
        actions[row, :n] = episodes.action[starts[episode] : starts[episode] + n]
    start = from_array(episodes.start[chosen], np.zeros(len(chosen)))
    rollout = jax.jit(jax.vmap(_rollout, (0, 0, None)))
    obs, terminated, truncated = jax.device_get(
        rollout(start, jnp.asarray(actions), cp.make_params())
    )
    for row, episode in enumerate(chosen):
        n = episodes.lengths[episode]
        steps = slice(starts[episode], starts[episode] + n)
        np.testing.assert_allclose(obs[row, :n], episodes.obs[steps], rtol=0, atol=EPISODE_ATOL)
        np.testing.assert_array_equal(terminated[row, :n], episodes.terminated[steps])
        np.testing.assert_array_equal(truncated[row, :n], episodes.truncated[steps])


@pytest.mark.parametrize("index", [0, 2])  # x, theta
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_thresholds_agree_with_gymnasium_at_the_boundary(index, sign):
    """At zero velocity a step leaves x and theta unchanged, so a state exactly at our float32
    threshold, or one float32 ulp beyond it, tests the comparison itself against gymnasium's."""
    params = cp.make_params()
    threshold = np.float32((params.x_threshold, None, params.theta_threshold_radians)[index])
    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    for value, expected in [
        (threshold, False),
        (np.nextafter(threshold, np.float32(np.inf)), True),
    ]:
        values = np.zeros(4, np.float32)
        values[index] = sign * value
        env.reset()
        env.unwrapped.state = values.astype(np.float64)
        _, _, gym_terminated, _, _ = env.step(1)
        _, state, _, terminated, _, _ = cp.step(jax.random.key(0), from_array(values, 0), 1, params)
        assert as_array(state)[index] == sign * value  # the step left it in place
        assert bool(terminated) == gym_terminated == expected, (index, sign, value)
    env.close()


# ---------------------------------------------------------------------------------------------
# Hand checks and episode rules.


def test_hand_checked_push_from_rest():
    """From rest, F = +-10: temp = F / 1.1, theta_acc = -temp / (0.5 (4/3 - 0.1 / 1.1)), so
    theta_acc = -+600/41 and x_acc = temp - 0.05 theta_acc / 1.1 = +-400/41; one Euler step of
    0.02 s gives x_dot = +-8/41, theta_dot = -+12/41 and leaves x and theta at 0."""
    params = cp.make_params()
    rest = from_array(np.zeros(4), 0)
    for action, sign in [(cp.RIGHT, 1.0), (cp.LEFT, -1.0)]:
        obs, state, reward, terminated, truncated, info = cp.step(
            jax.random.key(0), rest, jnp.int32(action), params
        )
        expected = sign * np.array([0.0, 8 / 41, 0.0, -12 / 41])
        np.testing.assert_allclose(obs, expected, rtol=0, atol=1e-7)
        np.testing.assert_array_equal(info["final_observation"], obs)
        assert float(reward) == 1.0 and not bool(terminated) and not bool(truncated)
        assert int(state.time) == 1


def test_truncation_at_max_steps():
    params = cp.make_params(max_steps=3)
    key = jax.random.key(0)
    state = from_array(np.zeros(4), 0)
    flags = []
    for action in (1, 0, 1):
        _, state, reward, terminated, truncated, _ = cp.step(key, state, jnp.int32(action), params)
        flags.append((bool(terminated), bool(truncated)))
        assert float(reward) == 1.0
    assert flags == [(False, False), (False, False), (False, True)]
    assert int(state.time) == 3


def test_termination_on_the_last_step_is_not_truncation():
    """A step that crosses the angle threshold at the time limit is terminated only (gymnasium's
    TimeLimit would set both flags); one inside the limits at that time is truncated only."""
    params = cp.make_params(max_steps=5)
    key = jax.random.key(0)
    falling = from_array([0.0, 0.0, 0.2, 2.0], 4)  # theta reaches 0.24 > 12 degrees
    _, _, reward, terminated, truncated, _ = cp.step(key, falling, jnp.int32(1), params)
    assert float(reward) == 1.0 and bool(terminated) and not bool(truncated)
    upright = from_array([0.0, 0.0, 0.0, 0.0], 4)
    _, _, _, terminated, truncated, _ = cp.step(key, upright, jnp.int32(1), params)
    assert not bool(terminated) and bool(truncated)


def test_built_in_auto_reset_keeps_the_final_observation():
    """With ``auto_reset``, a step that ends an episode returns the start drawn from its key
    (the state ``reset`` draws from that key) as obs and state, and the state it reached as
    ``info["final_observation"]``; a step that does not end one is the plain step."""
    plain = cp.make_params(max_steps=5)
    auto = cp.make_params(max_steps=5, auto_reset=True)
    key = jax.random.key(42)
    fresh_obs, fresh_state = cp.reset(key, auto)
    cases = [
        (from_array([0.0, 0.0, 0.2, 2.0], 1), True),  # terminates
        (from_array([0.01, 0.0, -0.01, 0.0], 4), True),  # truncates
        (from_array([0.01, 0.0, -0.01, 0.0], 1), False),  # goes on
    ]
    for state, ends in cases:
        expected = cp.step(key, state, jnp.int32(0), plain)
        obs, next_state, reward, terminated, truncated, info = cp.step(
            key, state, jnp.int32(0), auto
        )
        assert bool(terminated or truncated) == ends
        np.testing.assert_array_equal(info["final_observation"], expected[0])
        assert (float(reward), bool(terminated), bool(truncated)) == (
            float(expected[2]),
            bool(expected[3]),
            bool(expected[4]),
        )
        if ends:
            np.testing.assert_array_equal(obs, fresh_obs)
            chex.assert_trees_all_equal(next_state, fresh_state)
            assert np.all(np.abs(obs) <= np.float32(0.05)) and int(next_state.time) == 0
        else:
            np.testing.assert_array_equal(obs, expected[0])
            chex.assert_trees_all_equal(next_state, expected[1])


@pytest.mark.parametrize("built_in", [False, True])
def test_composes_with_wrappers(built_in):
    """``episode_statistics`` over auto-reset (the wrapper or the built-in flag), coin-flip
    actions, 8 carts x 200 steps in one scan: each finished episode's return equals its length
    (1 per step), every episode end hands back a fresh start at time 0, and the final
    observation of a termination lies beyond a threshold."""
    if built_in:
        params = cp.make_params(auto_reset=True)
        reset_fn, step_fn = wrappers.episode_statistics(cp.reset, cp.step)
    else:
        params = cp.make_params()
        reset_fn, step_fn = wrappers.episode_statistics(*wrappers.auto_reset(cp.reset, cp.step))

    def run(reset_key, step_keys, actions):
        _, state = reset_fn(reset_key, params)

        def body(state, inputs):
            key, action = inputs
            obs, state, reward, terminated, truncated, info = step_fn(key, state, action, params)
            out = (obs, state, reward, terminated, info["final_observation"], info["episode_done"])
            return state, out

        return jax.lax.scan(body, state, (step_keys, actions))[1]

    num_carts, num_steps = 8, 200
    keys = jax.random.split(jax.random.key(5), num_carts * (num_steps + 1))
    keys = keys.reshape(num_carts, num_steps + 1)
    actions = np.random.default_rng(5).integers(0, 2, (num_carts, num_steps), dtype=np.int32)
    obs, state, reward, terminated, final_obs, done = jax.device_get(
        jax.jit(jax.vmap(run))(keys[:, 0], keys[:, 1:], actions)
    )
    assert np.all(reward == 1.0)
    assert int(np.sum(done)) >= num_carts * 3  # coin flips end an episode within ~70 steps
    np.testing.assert_array_equal(
        state.returned_episode_return, state.returned_episode_length.astype(np.float32)
    )
    assert np.all(state.episodes_finished[:, -1] == np.sum(done, axis=1))
    assert np.all(np.abs(obs[done]) <= np.float32(0.05))
    assert np.all(state.env_state.time[done] == 0)
    np.testing.assert_array_equal(obs[~done], final_obs[~done])
    beyond = (np.abs(final_obs[..., 0]) > 2.4) | (np.abs(final_obs[..., 2]) > 12 * math.pi / 180)
    np.testing.assert_array_equal(beyond, terminated)


# ---------------------------------------------------------------------------------------------
# reset, jit, vmap, validation.


def test_reset_distribution():
    """20,000 starts: each component uniform on [-0.05, 0.05) (mean 0 and variance 0.1^2 / 12
    within 5 standard errors, every value inside), the four independent of each other."""
    num = 20_000
    keys = jax.random.split(jax.random.key(9), num)
    obs, state = jax.device_get(jax.jit(jax.vmap(cp.reset, (0, None)))(keys, cp.make_params()))
    chex.assert_shape(obs, (num, cp.OBSERVATION_SIZE))
    assert obs.dtype == np.float32 and state.x.dtype == np.float32
    np.testing.assert_array_equal(obs, as_array(state).astype(np.float32))
    np.testing.assert_array_equal(state.time, 0)
    assert np.all(obs >= np.float32(-0.05)) and np.all(obs < np.float32(0.05))
    values = obs.astype(np.float64)
    width = 0.1
    # Uniform on [a, b): variance w^2/12; the sample variance's variance is (mu4 - s^4) / n with
    # mu4 = w^4/80, so its standard error is w^2 sqrt(1/80 - 1/144) / sqrt(n).
    np.testing.assert_array_less(np.abs(values.mean(0)), 5 * width / math.sqrt(12 * num))
    var_se = width**2 * math.sqrt(1 / 80 - 1 / 144) / math.sqrt(num)
    np.testing.assert_array_less(np.abs(values.var(0) - width**2 / 12), 5 * var_se)
    corr = np.corrcoef(values.T)[np.triu_indices(4, 1)]
    np.testing.assert_array_less(np.abs(corr), 5 / math.sqrt(num))


def test_jit_matches_no_jit():
    """The jitted and eager steps from the same states agree to float32 rounding (XLA fuses the
    jitted arithmetic differently: we saw one-ulp differences), with identical flags; the jitted
    step traces once for one set of shapes."""
    params = cp.make_params(max_steps=30, auto_reset=True)
    jitted = jax.jit(chex.assert_max_traces(cp.step, n=1))
    key = jax.random.key(2)
    _, state = cp.reset(key, params)
    for t in range(40):
        key, step_key = jax.random.split(key)
        action = jnp.int32((t * 7) % 3 == 0)
        eager = cp.step(step_key, state, action, params)
        compiled = jitted(step_key, state, action, params)
        chex.assert_trees_all_close(eager, compiled, rtol=0, atol=STEP_ATOL)
        chex.assert_trees_all_equal(eager[2:5], compiled[2:5])
        chex.assert_trees_all_equal(eager[1].time, compiled[1].time)
        state = compiled[1]


def test_vmap_matches_one_at_a_time():
    """vmap over keys (reset and 20 auto-reset steps) and over params (a sweep of gravity)
    equals the same calls made one at a time."""
    params = cp.make_params(max_steps=10, auto_reset=True)

    def run(key, params):
        reset_key, key = jax.random.split(key)
        _, state = cp.reset(reset_key, params)

        def body(state, t):
            obs, state, _, terminated, truncated, _ = cp.step(
                jax.random.fold_in(key, t), state, (t % 2).astype(jnp.int32), params
            )
            return state, (obs, terminated, truncated)

        return jax.lax.scan(body, state, jnp.arange(20))[1]

    run_one = jax.jit(run)
    keys = jax.random.split(jax.random.key(4), 6)
    batched = jax.jit(jax.vmap(run, (0, None)))(keys, params)
    for i in range(len(keys)):
        chex.assert_trees_all_close(
            jax.tree.map(lambda x, i=i: x[i], batched), run_one(keys[i], params), atol=STEP_ATOL
        )
    gravities = jnp.asarray([1.6, 9.8, 24.8], jnp.float32)
    sweep = jax.vmap(lambda g: params.replace(gravity=g))(gravities)
    batched = jax.jit(jax.vmap(run, (None, 0)))(keys[0], sweep)
    for i, g in enumerate(gravities):
        one = run_one(keys[0], params.replace(gravity=g))
        chex.assert_trees_all_close(jax.tree.map(lambda x, i=i: x[i], batched), one, atol=1e-6)


def test_action_must_be_a_scalar_integer():
    params = cp.make_params()
    _, state = cp.reset(jax.random.key(0), params)
    with pytest.raises(AssertionError):
        cp.step(jax.random.key(0), state, jnp.ones((1,), jnp.int32), params)
    with pytest.raises(AssertionError):
        cp.step(jax.random.key(0), state, jnp.float32(1.0), params)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        (dict(max_steps=0), "max_steps"),
        (dict(max_steps=-5), "max_steps"),
        (dict(max_steps=2.5), "max_steps"),
        (dict(max_steps=True), "max_steps"),
        (dict(max_steps="500"), "max_steps"),
        (dict(max_steps=None), "max_steps"),
        (dict(max_steps=2**31), "max_steps"),
        (dict(auto_reset="yes"), "auto_reset"),
        (dict(auto_reset=1), "auto_reset"),
        (dict(auto_reset=None), "auto_reset"),
    ],
)
def test_make_params_validation(kwargs, field):
    with pytest.raises(ValueError, match=field) as excinfo:
        cp.make_params(**kwargs)
    message = str(excinfo.value)
    assert "\n" not in message and repr(kwargs[field]) in message


def test_make_params_accepts_numpy_integers_and_bools():
    params = cp.make_params(max_steps=np.int64(200), auto_reset=np.bool_(True))
    assert int(params.max_steps) == 200 and params.auto_reset is True


@pytest.mark.parametrize("sampled", [False, True])
def test_evaluate_is_the_mean_return_of_separate_episodes(sampled):
    """``evaluation.evaluate`` on CartPole against one episode at a time in a Python loop with
    the same keys: a balancing rule (push toward the pole's lean; most episodes run to the
    60-step limit) or a random policy (short episodes); only the steps before each episode's end
    count."""
    episodes, limit = 5, 60

    def act(obs, key):
        if sampled:
            return jax.random.bernoulli(key, 0.5, (obs.shape[0],)).astype(jnp.int32)
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(jnp.int32)

    key = jax.random.key(4)
    params = cp.make_params(max_steps=limit)
    mean = evaluation.evaluate(
        cp.reset, cp.step, params, act, key, episodes=episodes, max_steps=limit
    )
    reset_key, act_key = jax.random.split(key)
    step = jax.jit(cp.step)
    returns = []
    for i, start_key in enumerate(jax.random.split(reset_key, episodes)):
        obs, state = cp.reset(start_key, params)
        total = 0.0
        for t in range(limit):
            obs_all = jnp.zeros((episodes, 4)).at[i].set(obs)  # act sees the whole batch
            action = act(obs_all, jax.random.fold_in(act_key, t))[i]
            obs, state, reward, terminated, truncated, _ = step(act_key, state, action, params)
            total += float(reward)
            if terminated or truncated:
                break
        returns.append(total)
    assert float(mean) == pytest.approx(np.mean(returns), abs=1e-5)
    assert len(set(returns)) > 1 or returns[0] == limit  # the episodes are not all alike
