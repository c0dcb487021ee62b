"""Sarsa, expected Sarsa and n-step Sarsa: brute-force replays and convergence; off-policy
Q-learning from a uniform behaviour policy reaches q*."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import run
from jaxrl.configs import q_learning_off_policy
from jaxrl.configs import sarsa as sarsa_config
from jaxrl.envs import gridworld, rng
from jaxrl.tabular import q_learning, sarsa

GAMMA = 0.9


def _config(variant="sarsa", **overrides):
    """The Sarsa-family config of ``variant`` (``n`` only for n-step Sarsa), with overrides."""
    config = sarsa_config.make(variant)
    if variant != "n_step_sarsa":
        overrides.pop("n", None)
    for key, value in overrides.items():
        config[key] = value
    config.lock()
    return config


def _eps_greedy(q_s, u, eps):
    if u < eps:
        return min(int(5 * u / eps), 4)
    return int(np.argmax(q_s))


def _replay(variant, n, steps, restart_every, carry0, lr, eps, power):
    """Plain Python: the same algorithm, the same uniforms, moves from the brute tables.

    In float32 like the library, so that ties between action values (the greedy choice) break
    the same way.
    """
    f32 = np.float32
    grid = gridworld.book_grid()
    nxt, rew = (np.asarray(x) for x in gridworld.to_grid_mdp(grid).deterministic_tables())
    u = np.asarray(
        jax.vmap(
            lambda t: jnp.stack(
                rng.counter_uniforms(carry0.key_data, t, stream=sarsa.ACTION_STREAM)
            )
        )(jnp.arange(steps + 1)),
        np.float32,
    )
    params = gridworld.make_params(grid)  # the continuing task: uniform start cells
    q = np.zeros((25, 5), f32)
    visits = np.zeros((25, 5), f32)
    lr, eps, gamma = f32(lr), f32(eps), f32(GAMMA)
    s, a = int(carry0.env_state.position), int(carry0.action)
    history = []
    for t in range(steps):
        s2, r = int(nxt[s, a]), f32(rew[s, a])
        a2 = _eps_greedy(q[s2], u[t + 1, 0], eps)
        if variant == "n_step_sarsa":
            history.append((s, a, r))  # the steps of the current trajectory
            if len(history) >= n:
                (s_u, a_u, _), window = history[-n], history[-n:]
                g = f32(sum(gamma ** f32(k) * window[k][2] for k in range(n)))
                g = g + gamma ** f32(n) * q[s2, a2]
                visits[s_u, a_u] += 1
                q[s_u, a_u] += lr / visits[s_u, a_u] ** f32(power) * (g - q[s_u, a_u])
        else:
            if variant == "sarsa":
                boot = q[s2, a2]
            else:
                probs = np.full(5, eps / f32(5), f32)
                probs[int(np.argmax(q[s2]))] += 1 - eps
                boot = np.sum(probs * q[s2], dtype=f32)
            visits[s, a] += 1
            q[s, a] += lr / visits[s, a] ** f32(power) * (r + gamma * boot - q[s, a])
        if restart_every and (t + 1) % restart_every == 0:
            # A restart is a reset of the environment, with the key the algorithm hands it. It
            # ends the trajectory: the n-step returns of the pairs still pending would run into
            # the next one, so they are dropped (Sutton and Barto's n-step Sarsa per episode).
            restart_key = rng.counter_key(carry0.key_data, t + 1, stream=sarsa.RESTART_STREAM)
            s2 = int(gridworld.reset(restart_key, params)[0])
            a2 = _eps_greedy(q[s2], u[t + 1, 0], eps)
            history = []
        s, a = s2, a2
    return q, s, a


@pytest.mark.parametrize(
    "variant, n", [("sarsa", 1), ("expected_sarsa", 1), ("n_step_sarsa", 1), ("n_step_sarsa", 3)]
)
def test_matches_a_plain_python_replay(variant, n):
    steps, restart_every = 300, 7
    config = _config(
        variant=variant,
        n=n,
        chunk_steps=steps,
        restart_every=restart_every,
        step_size="polynomial",
        step_power=0.7,
    )
    experiment = sarsa.make_experiment(config)
    hparams = sarsa.Hparams(jnp.float32(0.8), jnp.float32(0.4), jnp.float32(GAMMA))
    carry0 = experiment.init(jax.random.key(4), hparams)
    carry, _ = jax.jit(experiment.train_chunk)(carry0, hparams)
    q, s, a = _replay(variant, n, steps, restart_every, carry0, 0.8, 0.4, 0.7)
    np.testing.assert_allclose(np.asarray(carry.q), q, atol=1e-4)
    assert (int(carry.env_state.position), int(carry.action)) == (s, a)


def test_one_step_sarsa_is_n_step_sarsa_with_n_1():
    hparams = sarsa.Hparams(jnp.float32(0.3), jnp.float32(0.3), jnp.float32(GAMMA))
    out = []
    for variant in ("sarsa", "n_step_sarsa"):
        experiment = sarsa.make_experiment(_config(variant=variant, n=1, chunk_steps=500))
        carry = experiment.init(jax.random.key(2), hparams)
        out.append(np.asarray(jax.jit(experiment.train_chunk)(carry, hparams)[0].q))
    # Equal up to float32 rounding (the n-step code sums one discounted reward, which XLA may
    # fuse differently from r + gamma q).
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


def test_expected_sarsa_finds_the_best_epsilon_greedy_policy_for_all_64_seeds(tmp_path):
    """In a deterministic grid, expected Sarsa's target is a deterministic function of q, so
    with epsilon fixed it converges to the action values of the best epsilon-greedy policy
    (dp.epsilon_greedy_value_iteration); its epsilon-greedy policy is then exactly that policy
    (value gap 0 up to float32 rounding) for every seed."""
    config = _config(
        variant="expected_sarsa",
        num_seeds=64,
        total_steps=300_000,
        chunk_steps=100_000,
        restart_every=20,
        step_size="constant",
    )
    with config.unlocked():
        config.sweep.learning_rate = (0.5,)
        config.hparams.epsilon = 0.2
    run.run(sarsa.make_experiment(config), config, str(tmp_path), log=lambda _: None)
    gap = run.result_arrays(str(tmp_path))["value_gap"][-1, 0]
    assert np.all(gap < sarsa.OPTIMAL_TOL), gap.max()


def test_off_policy_q_learning_from_uniform_behaviour_reaches_q_star(tmp_path):
    """One long trajectory of the uniform behaviour policy (Zhao, ch. 7.4). The environment is
    deterministic, so the Q-learning target is a deterministic function of q and q converges to
    q* exactly (float32 rounding), and the greedy policy is optimal, for every seed."""
    config = q_learning_off_policy.get_config()
    with config.unlocked():
        config.num_seeds = 32
        config.total_steps = 100_000
        config.chunk_steps = 50_000
        config.sweep.learning_rate = (0.2,)
    run.run(q_learning.make_experiment(config), config, str(tmp_path), log=lambda _: None)
    arrays = run.result_arrays(str(tmp_path))
    assert np.all(arrays["q_error"][-1] < 1e-3), arrays["q_error"][-1].max()
    assert np.all(arrays["optimal"][-1] == 1.0)


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"variant": "sarsa_max"}, "variant"),
        ({"variant": "n_step_sarsa", "n": 0}, "config.n"),
        ({"restart_every": -1}, "restart_every"),
        ({"step_size": "polynomial", "step_power": 0.4}, "step_power"),
    ],
)
def test_bad_config_is_refused(overrides, match):
    with pytest.raises(ValueError, match=match):
        sarsa.make_experiment(_config(**overrides))


@pytest.mark.parametrize("variant", ["sarsa", "n_step_sarsa"])
def test_sarsa_approaches_the_best_epsilon_greedy_policy(variant):
    """Sarsa and 3-step Sarsa (eps = 0.2, alpha = 1 / n(s, a)^0.6, restarts every 20 steps),
    64 seeds x 500k steps: every seed's epsilon-greedy policy is the best epsilon-greedy policy
    except where its greedy action is wrong within the statistical allowance of
    tests/tabular/near_optimal.py (z standard errors of the estimated action-value difference,
    measured over the seeds; a 1% family-wise error), and the value gap, averaged over seeds,
    shrinks between 250k and 500k steps (95% t-interval of the paired differences below 0)."""
    from jaxrl.run import stats
    from jaxrl.run.experiment import seed_keys
    from tests.tabular.near_optimal import check_epsilon_greedy_near_optimal

    config = _config(variant=variant, n=3, chunk_steps=250_000, restart_every=20)
    experiment = sarsa.make_experiment(config)
    hparams = sarsa.Hparams(jnp.asarray([1.0]), jnp.asarray([0.2]), jnp.asarray([GAMMA]))
    result = run.train(experiment, hparams, seed_keys(1, 64), num_chunks=2)
    first, last = result.metrics["value_gap"][0, 0], result.metrics["value_gap"][1, 0]
    mdp = gridworld.to_mdp(gridworld.book_grid())
    gaps = check_epsilon_greedy_near_optimal(result.carry.q[0], mdp, epsilon=0.2, gamma=GAMMA)
    np.testing.assert_allclose(last, gaps, atol=1e-4)  # evaluations within 1e-5 each
    change = stats.summarize(last - first, axis=0)
    assert change["ci_high"] < 0.0, change


@pytest.mark.parametrize("variant", ["sarsa", "expected_sarsa"])
def test_path_finding_every_seed_learns_the_optimal_path(variant):
    """The book's episodic setting (start (0, 0), r_target = 0, r_forbidden = r_boundary = -10,
    r_step = -1, epsilon 0.1): after 100k steps every one of 64 seeds' greedy path from the start
    has the length of the greedy path of the best epsilon-greedy policy (DP on the same episodic
    MDP, computed here: 11 steps)."""
    from jaxrl import dp
    from jaxrl.configs import sarsa_path_finding
    from jaxrl.run.experiment import seed_keys

    config = sarsa_path_finding.get_config()
    with config.unlocked():
        config.variant = variant
        config.chunk_steps = 100_000
    experiment = sarsa.make_experiment(config)
    hparams = sarsa.Hparams(jnp.asarray([1.0]), jnp.asarray([0.1]), jnp.asarray([GAMMA]))
    metrics = run.train(experiment, hparams, seed_keys(0, 64), num_chunks=1).metrics
    grid = gridworld.book_grid(
        reward_target=0.0,
        reward_forbidden=-10.0,
        reward_boundary=-10.0,
        reward_step=-1.0,
        absorbing_target=True,
    )
    best = dp.epsilon_greedy_value_iteration(
        gridworld.to_mdp(grid), epsilon=0.1, gamma=GAMMA, tol=1e-7
    )
    next_state, _ = gridworld.to_grid_mdp(grid).deterministic_tables()
    s, optimal_length = 0, 0
    while s != grid.state_index(grid.target):
        s = int(next_state[s, int(np.argmax(best.q_values[s]))])
        optimal_length += 1
    assert optimal_length == 11
    np.testing.assert_array_equal(metrics["path_length"][0, 0], np.full(64, 11.0))


def test_episodic_n_step_is_refused():
    from jaxrl.configs import sarsa_path_finding

    config = sarsa_path_finding.get_config()
    with config.unlocked():
        config.variant = "n_step_sarsa"
    with pytest.raises(ValueError, match="episodic"):
        sarsa.make_experiment(config)


def test_n_step_sarsa_never_uses_a_window_across_a_restart():
    """70 steps with a restart every 7 are 10 trajectories of 7 steps; a 3-step window fits 5
    times in each, so exactly 50 pairs are updated (the visit counts sum to 50). Windows that
    ran across a restart made 68 updates before the fix, about 10% of them on returns that
    never happened."""
    config = _config("n_step_sarsa", n=3, chunk_steps=70, restart_every=7, step_size="harmonic")
    experiment = sarsa.make_experiment(config)
    hparams = sarsa.Hparams(jnp.float32(0.5), jnp.float32(0.3), jnp.float32(GAMMA))
    carry = jax.jit(experiment.train_chunk)(experiment.init(jax.random.key(1), hparams), hparams)[0]
    assert float(jnp.sum(carry.visits)) == 10 * (7 - 3 + 1)
