"""Monte Carlo control: MC basic against plain Python rollouts and DP, the sampling methods
against a Python replay of the same random numbers, and MC epsilon-greedy against the best
epsilon-greedy policy of DP with a tolerance derived from the spread of the estimates over seeds.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import dp, run
from jaxrl.configs import mc_basic as basic_config
from jaxrl.configs import mc_epsilon_greedy as eg_config
from jaxrl.configs import mc_exploring_starts as es_config
from jaxrl.envs import gridworld, rng
from jaxrl.run import stats
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular import monte_carlo as mc
from tests.tabular.near_optimal import check_epsilon_greedy_near_optimal

GAMMA = 0.9
EPISODE_LENGTHS = (1, 2, 3, 4, 14, 15, 30, 100)
# The book's grid, written out independently of jaxrl.envs: (row, col) moves of UP, RIGHT, DOWN,
# LEFT, STAY; a move off the grid stays and pays -1; landing in the target (3, 2) pays 1, in a
# forbidden cell -1, elsewhere 0.
DELTAS = ((-1, 0), (0, 1), (1, 0), (0, -1), (0, 0))
TARGET = (3, 2)
FORBIDDEN = {(1, 1), (1, 2), (2, 2), (3, 1), (3, 3), (4, 1)}


def _book_step(s, a):
    row, col = divmod(s, 5)
    r2, c2 = row + DELTAS[a][0], col + DELTAS[a][1]
    if not (0 <= r2 < 5 and 0 <= c2 < 5):
        return s, -1.0
    reward = 1.0 if (r2, c2) == TARGET else -1.0 if (r2, c2) in FORBIDDEN else 0.0
    return r2 * 5 + c2, reward


def _rollout_return(s, a, policy, length):
    """The L-step truncated return from (s, a) then the deterministic policy, by a Python loop."""
    g, discount = 0.0, 1.0
    for _ in range(length):
        s, r = _book_step(s, a)
        g += discount * r
        discount *= GAMMA
        a = int(policy[s])
    return g


def _config(module, **overrides):
    config = module.get_config()
    with config.unlocked():
        for key, value in overrides.items():
            if isinstance(value, dict):
                for k, v in value.items():
                    config[key][k] = v
            else:
                config[key] = value
    return config


# ---------------------------------------------------------------------------------------------
# Returns and averaging.


def test_first_visit_mask_against_a_loop():
    pairs = jax.random.randint(jax.random.key(1), (200,), 0, 30)
    seen, expected = set(), []
    for p in np.asarray(pairs):
        expected.append(int(p) not in seen)
        seen.add(int(p))
    np.testing.assert_array_equal(np.asarray(mc.first_visit_mask(pairs, 30)), expected)


def test_average_returns_is_the_mean_of_every_counted_return():
    """Several episodes, some returns left out: q is Returns / Num of the counted ones."""
    q, counts = jnp.zeros(12), jnp.zeros(12)
    all_returns = {p: [] for p in range(12)}
    for episode in range(5):
        keys = jax.random.split(jax.random.key(episode), 3)
        pairs = jax.random.randint(keys[0], (40,), 0, 10)  # pairs 10 and 11 never visited
        returns = jax.random.normal(keys[1], (40,))
        weights = jax.random.bernoulli(keys[2], 0.7, (40,)).astype(jnp.float32)
        q, counts = mc.average_returns(q, counts, pairs, returns, weights)
        for p, g, w in zip(
            np.asarray(pairs), np.asarray(returns), np.asarray(weights), strict=True
        ):
            if w:
                all_returns[int(p)].append(float(g))
    for p in range(12):
        assert float(counts[p]) == len(all_returns[p])
        expected = np.mean(all_returns[p]) if all_returns[p] else 0.0
        assert float(q[p]) == pytest.approx(expected, abs=1e-5)


# ---------------------------------------------------------------------------------------------
# MC basic.


@pytest.mark.parametrize("length", EPISODE_LENGTHS)
def test_mc_basic_estimates_are_the_truncated_returns_of_each_policy(length):
    """Deterministic grid and policies: q_k(s, a) is exactly the L-step truncated return of pi_k
    from (s, a), recomputed for all 125 pairs and every iteration by a Python rollout on the
    grid written out above; and pi_{k+1} is greedy in q_k."""
    iterations = 8
    result = mc.mc_basic(
        gridworld.book_grid(), gamma=GAMMA, episode_length=length, num_iterations=iterations
    )
    chex.assert_shape(result.q_history, (iterations, 25, 5))
    chex.assert_shape(result.policy_history, (iterations + 1, 25))
    assert np.all(np.asarray(result.policy_history[0]) == 0)  # pi_0: always UP
    for k in range(iterations):
        policy = np.asarray(result.policy_history[k])
        expected = [[_rollout_return(s, a, policy, length) for a in range(5)] for s in range(25)]
        q_k = np.asarray(result.q_history[k])
        np.testing.assert_allclose(q_k, expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(np.asarray(result.policy_history[k + 1]), q_k.argmax(-1))
    np.testing.assert_array_equal(np.asarray(result.policy), np.asarray(result.policy_history[-1]))


def _final_values(length, iterations=10):
    result = mc.mc_basic(
        gridworld.book_grid(), gamma=GAMMA, episode_length=length, num_iterations=iterations
    )
    policy = jax.nn.one_hot(result.policy, 5)
    return result, dp.evaluate_policy(gridworld.to_mdp(gridworld.book_grid()), policy, gamma=GAMMA)


def test_mc_basic_with_long_episodes_finds_the_optimal_policy_and_short_ones_do_not():
    """The book's episode-length example. L = 100: the final policy's exact values equal v* of
    value iteration (within 1e-4, VI's own error is below 1e-5), far inside the 0.1 the book's
    figure shows; L >= 14 does too on this grid. L = 1 sees only the next reward: its estimates
    are r(s, a) for every policy (so the estimated state values are 0 except next to the target),
    its final policy is greedy in r (both checked against the brute reward table), and poor."""
    mdp = gridworld.to_mdp(gridworld.book_grid())
    v_star = np.asarray(dp.value_iteration(mdp, gamma=GAMMA).values)
    _, v_100 = _final_values(100)
    assert np.max(np.abs(np.asarray(v_100) - v_star)) < 0.1
    np.testing.assert_allclose(np.asarray(v_100), v_star, atol=1e-4)
    for length in (14, 15, 30):
        np.testing.assert_allclose(np.asarray(_final_values(length)[1]), v_star, atol=1e-4)
    result, v_1 = _final_values(1)
    rewards = np.array([[_book_step(s, a)[1] for a in range(5)] for s in range(25)])
    np.testing.assert_allclose(np.asarray(result.q), rewards)
    np.testing.assert_array_equal(np.asarray(result.policy), rewards.argmax(-1))
    assert np.max(np.abs(np.asarray(v_1) - v_star)) > 5.0


def test_mc_basic_experiment_sweeps_all_lengths_in_one_program():
    """The runner's MC basic (episodes scanned to the longest length and masked) equals the
    plain function for every length, with all eight lengths vmapped in one compilation."""
    chex.clear_trace_counter()
    config = _config(basic_config)
    experiment = mc.make_experiment(config)
    experiment = experiment._replace(
        train_chunk=chex.assert_max_traces(experiment.train_chunk, n=1)
    )
    settings = run.settings_from_config(experiment, config)
    assert settings.hparams.episode_length.dtype == jnp.int32
    result = run.train(experiment, settings.hparams, seed_keys(0, 1), num_chunks=10)
    carry = jax.tree.map(lambda x: x[:, 0], result.carry)  # [settings, seeds = 1] -> [settings]
    metrics = {name: values[-1, :, 0] for name, values in result.metrics.items()}
    for h, length in enumerate(EPISODE_LENGTHS):
        final, v = _final_values(length)
        np.testing.assert_array_equal(np.asarray(carry.policy[h]), np.asarray(final.policy))
        np.testing.assert_allclose(np.asarray(carry.q[h]), np.asarray(final.q), atol=1e-5)
        # The metric evaluates both policies to within EVALUATION_ERROR (1e-5) each, v here is
        # exact (a solve), v_star within 1e-5: 3e-5 in all, plus 1e-5 for float32 rounding.
        v_star = np.asarray(
            dp.evaluate_policy(
                gridworld.to_mdp(gridworld.book_grid()),
                dp.greedy_policy(carry.q_star[h]),
                gamma=GAMMA,
            )
        )
        assert float(metrics["value_error"][h]) == pytest.approx(
            float(jnp.max(jnp.abs(v - v_star))), abs=4e-5
        )
    assert np.all(np.asarray(metrics["optimal"])[4:] == 1.0)  # L >= 14
    assert np.all(np.asarray(metrics["policy_changes"]) == 0.0)  # converged by iteration 10


# ---------------------------------------------------------------------------------------------
# MC exploring starts and MC epsilon-greedy: the scan equals a Python replay.


def _replay(config, carry0, hparams, num_episodes):
    """Algorithms 5.2 / 5.3 as Python loops over the same counter-based uniforms."""
    length, tail = config.episode_length, config.tail_steps
    exploring = config.method == "exploring_starts"
    eps = np.float32(hparams.epsilon)
    key_data = carry0.key_data
    # Each episode starts where the environment's reset puts it (a uniform cell), with the key
    # the algorithm hands it; the first action's uniform is the second of its start stream.
    params = gridworld.make_params(gridworld.book_grid())
    start_cells = [
        int(gridworld.reset(rng.counter_key(key_data, e, mc.START_STREAM), params)[0])
        for e in range(num_episodes)
    ]
    first_u = jax.vmap(
        lambda e: rng.counter_uniforms(key_data, e, stream=mc.FIRST_ACTION_STREAM)[1]
    )(jnp.arange(num_episodes))
    action_u = jax.vmap(lambda t: rng.counter_uniforms(key_data, t, stream=mc.ACTION_STREAM)[0])(
        jnp.arange(num_episodes * length + 1)
    )
    first_u, action_u = np.asarray(first_u), np.asarray(action_u)

    def act(q_s, u):
        if u < eps:  # the same float32 arithmetic as epsilon_greedy_action
            return min(int(np.floor(np.float32(5) * u / eps)), 4)
        return int(np.argmax(q_s))

    totals, num = np.zeros((25, 5)), np.zeros((25, 5))
    q = np.zeros((25, 5))
    for e in range(num_episodes):
        s = start_cells[e]
        if exploring:
            a = min(int(np.floor(first_u[e] * np.float32(5))), 4)
        else:
            a = act(q[s], first_u[e])
        visited, rewards = [], []
        for t in range(length):
            visited.append((s, a))
            s, r = _book_step(s, a)
            rewards.append(r)
            a = act(q[s], action_u[e * length + t + 1])
        g, returns = 0.0, [0.0] * length
        for t in reversed(range(length)):
            g = rewards[t] + float(hparams.gamma) * g
            returns[t] = g
        for t in range(length - tail):
            if config.visits == "first" and visited[t] in visited[:t]:
                continue
            totals[visited[t]] += returns[t]
            num[visited[t]] += 1
        q = np.where(num > 0, totals / np.maximum(num, 1), 0.0)
    return q, num


@pytest.mark.parametrize(
    "method, visits, tail, epsilon",
    [
        ("exploring_starts", "every", 0, 0.0),
        ("exploring_starts", "first", 7, 0.0),
        ("epsilon_greedy", "every", 0, 0.3),
        ("epsilon_greedy", "first", 5, 0.5),
    ],
)
def test_matches_a_plain_python_replay_of_the_same_random_numbers(method, visits, tail, epsilon):
    length, num_episodes = 20, 60
    config = _config(
        eg_config,
        method=method,
        visits=visits,
        tail_steps=tail,
        episode_length=length,
        chunk_steps=num_episodes,  # a training step is one episode
    )
    experiment = mc.make_experiment(config)
    hparams = mc.Hparams(jnp.float32(epsilon), jnp.float32(GAMMA))
    carry0 = experiment.init(jax.random.key(7), hparams)
    carry, metrics = jax.jit(experiment.train_chunk)(carry0, hparams)
    q, num = _replay(config, carry0, mc.Hparams(epsilon, GAMMA), num_episodes)
    np.testing.assert_array_equal(np.asarray(carry.counts), num)
    np.testing.assert_allclose(np.asarray(carry.q), q, atol=1e-4)
    assert int(carry.episode) == num_episodes
    assert np.isfinite(float(metrics["value_error"]))


# ---------------------------------------------------------------------------------------------
# Learning.


def _train(config, hparams, num_seeds, num_chunks):
    """``num_seeds`` seeds of one setting through the runner's in-memory core: the final carry
    (leaves ``[seeds, ...]``) and each chunk's metrics (``[seeds]``)."""
    experiment = mc.make_experiment(config)
    stacked = jax.tree.map(lambda x: jnp.asarray([x], jnp.float32), hparams)
    result = run.train(experiment, stacked, seed_keys(0, num_seeds), num_chunks=num_chunks)
    carry = jax.tree.map(lambda x: x[0], result.carry)
    history = [{k: v[c, 0] for k, v in result.metrics.items()} for c in range(num_chunks)]
    return carry, history


def test_epsilon_greedy_approaches_the_best_epsilon_greedy_policy():
    """MC epsilon-greedy (every-visit, L = 100, eps = 0.5, gamma = 0.9), 64 seeds x 2M steps.

    The check (tests/tabular/near_optimal.py) is:

    Target: the best epsilon-greedy policy pi* and its action values q* (DP). For seed i let
    a_i(s) be its greedy action and pi_i its epsilon-greedy policy, evaluated exactly (no sampling
    noise in the comparison). The performance-difference identity for epsilon-greedy policies,
        v*(s) - v_pi_i(s) = (1 - eps) [(I - gamma P_pi_i)^-1 Delta_i](s),
        Delta_i(s) = q*(s, a*(s)) - q*(s, a_i(s)) >= 0,
    says the values can fall short only through states whose greedy action is wrong. A wrong
    choice happens when the estimated difference qhat(s, a*) - qhat(s, a_i) comes out <= 0 while
    the true one is Delta_i(s); the standard error of that estimated difference, sd(s, a), is
    measured as its spread over the 64 independent seeds (which, unlike return variance over
    visit counts, includes the correlation of every-visit returns within an episode and the
    changing policy). The tolerance is therefore
        tol_i(s) = (1 - eps) [(I - gamma P_pi_i)^-1 (z sd(s, a_i(s)) [a_i(s) != a*(s)])](s),
    with z = 4.37, the one-sided normal quantile for a 1% family-wise error over the
    64 x 25 decisions (Bonferroni); it is 0, i.e. exact optimality is required, for seeds with
    every greedy action right. And the values approach: the mean gap over seeds shrinks from
    1M to 2M steps (95% t-interval of the paired differences below 0).
    """
    num_seeds, eps = 64, 0.5
    config = _config(eg_config, chunk_steps=10_000, total_steps=20_000)  # episodes of 100 steps
    carry, history = _train(config, mc.Hparams(eps, GAMMA), num_seeds, num_chunks=2)
    mdp = gridworld.to_mdp(gridworld.book_grid())
    gaps = check_epsilon_greedy_near_optimal(carry.q, mdp, epsilon=eps, gamma=GAMMA)
    # The metric agrees (it evaluates both policies to within 1e-5 without a solve).
    np.testing.assert_allclose(history[-1]["value_error"], gaps, atol=1e-4)
    change = stats.summarize(history[1]["value_error"] - history[0]["value_error"], axis=0)
    assert change["ci_high"] < 0.0, change


def test_exploring_starts_improves_over_episodes():
    """MC exploring starts (first-visit, L = 100, greedy), 32 seeds: the mean over seeds of the
    greedy policy's exact value error falls from 2,500 to 20,000 episodes (the 95% t-interval of
    the paired differences lies below 0). It falls slowly: the averages keep the returns of the
    early, poor policies (see jaxrl/configs/mc_exploring_starts.py)."""
    config = _config(es_config, visits="first", chunk_steps=2_500, total_steps=20_000)
    _, history = _train(config, mc.Hparams(0.0, GAMMA), 32, num_chunks=8)
    change = stats.summarize(history[-1]["value_error"] - history[0]["value_error"], axis=0)
    assert change["ci_high"] < 0.0, change


# ---------------------------------------------------------------------------------------------
# The configs through the runner, and configuration errors.


@pytest.mark.parametrize(
    "module, overrides",
    [
        (basic_config, {"total_steps": 2, "sweep": {"episode_length": (1, 15)}}),
        (es_config, {"num_seeds": 4, "total_steps": 20, "chunk_steps": 10}),
        (eg_config, {"num_seeds": 4, "total_steps": 20, "chunk_steps": 10}),
    ],
)
def test_each_config_runs_through_the_runner(tmp_path, module, overrides):
    chex.clear_trace_counter()  # the trace counter is keyed by the function's code
    config = _config(module, **overrides)
    assert config.experiment == "jaxrl.tabular.monte_carlo"
    experiment = mc.make_experiment(config)
    traced = experiment._replace(train_chunk=chex.assert_max_traces(experiment.train_chunk, n=1))
    summary = run.run(traced, config, str(tmp_path), log=lambda _: None).summary
    arrays = run.result_arrays(str(tmp_path))
    num_settings = len(next(iter(config.sweep.values())))
    assert len(summary["settings"]) == num_settings
    assert arrays["value_error"].shape == (2, num_settings, config.num_seeds)
    assert np.all(np.isfinite(arrays["value_error"]))


@pytest.mark.parametrize(
    "module, overrides, match",
    [
        (eg_config, {"method": "td"}, "method"),
        (eg_config, {"visits": "last"}, "visits"),
        (eg_config, {"tail_steps": 100}, "tail_steps"),
        (es_config, {"episode_length": 0}, "episode_length"),
        (basic_config, {"sweep": {"episode_length": (1, 2.5)}}, "episode_length"),
        (basic_config, {"sweep": {"episode_length": (0, 2)}}, "episode_length"),
    ],
)
def test_bad_configs_are_refused(module, overrides, match):
    config = _config(module, **overrides)
    with pytest.raises(ValueError, match=match):
        run.config_settings(mc.make_experiment(config), config)  # all checked before compiling


def test_mc_basic_refuses_a_stochastic_grid():
    with pytest.raises(ValueError, match="slip"):
        mc.mc_basic(gridworld.book_grid(slip=0.1), gamma=GAMMA, episode_length=5, num_iterations=2)
