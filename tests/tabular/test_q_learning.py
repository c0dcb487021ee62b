"""Tabular Q-learning: a brute-force replay of the same trajectory, and convergence to q*."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import dp, run
from jaxrl.configs import q_learning as q_config
from jaxrl.envs import gridworld, rng
from jaxrl.run.experiment import seed_keys
from jaxrl.tabular import common, q_learning


def _config(**overrides):
    config = q_config.get_config()
    with config.unlocked():
        for key, value in overrides.items():
            config[key] = value
    return config


def test_update_by_hand():
    q = jnp.zeros((3, 5)).at[2].set(jnp.array([0.0, 4.0, 1.0, 0.0, 0.0]))
    transition = q_learning.Transition(s=0, a=1, r=1.0, discount=0.9, s_next=2)
    out = q_learning.q_learning_update(q, transition, alpha=0.5)
    # target = 1 + 0.9 * 4 = 4.6; q(0, 1) = 0 + 0.5 * 4.6
    assert float(out[0, 1]) == pytest.approx(2.3)
    assert float(jnp.abs(out - q).sum()) == pytest.approx(2.3)


def test_epsilon_greedy_action_distribution():
    q_s = jnp.array([0.0, 3.0, 3.0, 1.0, 0.0])  # greedy: action 1 (lowest index of the tie)
    u = (jnp.arange(100_000) + 0.5) / 100_000  # an exact grid of uniforms
    actions = jax.vmap(q_learning.epsilon_greedy_action, in_axes=(None, 0, None))(q_s, u, 0.3)
    freq = np.bincount(np.asarray(actions), minlength=5) / u.size
    expected = np.full(5, 0.3 / 5)
    expected[1] += 0.7  # the book's 1 - eps (|A| - 1) / |A| for the greedy action
    np.testing.assert_allclose(freq, expected, atol=1e-4)


@pytest.mark.parametrize("step_size", ["constant", "harmonic"])
def test_matches_a_plain_python_replay_of_the_same_random_numbers(step_size):
    """The scan equals a Python loop over the same uniforms, with moves from the brute tables."""
    steps = 400
    config = _config(chunk_steps=steps, step_size=step_size)
    experiment = q_learning.make_experiment(config)
    hparams = q_learning.Hparams(jnp.float32(0.3), jnp.float32(0.6), jnp.float32(0.9))
    carry0 = experiment.init(jax.random.key(11), hparams)
    carry, metrics = jax.jit(experiment.train_chunk)(carry0, hparams)

    grid = common.grid_from_config(config.env)
    next_state, reward = (np.asarray(x) for x in gridworld.to_grid_mdp(grid).deterministic_tables())
    uniforms = np.asarray(
        jax.vmap(lambda t: rng.counter_uniforms(carry0.key_data, t)[0])(jnp.arange(steps))
    )
    q = np.zeros((25, 5), np.float64)
    visits = np.zeros((25, 5))
    s = int(carry0.env_state.position)
    rewards = []
    for t in range(steps):
        u = float(uniforms[t])
        if u < 0.6:
            a = min(int(5 * u / 0.6), 4)
        else:
            a = int(np.argmax(q[s]))
        s2, r = int(next_state[s, a]), float(reward[s, a])
        visits[s, a] += 1
        alpha = 0.3 / visits[s, a] if step_size == "harmonic" else 0.3
        q[s, a] += alpha * (r + 0.9 * q[s2].max() - q[s, a])
        rewards.append(r)
        s = s2
    np.testing.assert_allclose(np.asarray(carry.tables), q, atol=1e-5)
    assert int(carry.env_state.position) == s
    assert float(metrics["reward"]) == pytest.approx(np.mean(rewards), abs=1e-6)


def test_every_one_of_64_seeds_reaches_the_optimal_policy(tmp_path):
    """Book 5x5 grid, r_b = r_f = -1, r_t = 1, gamma = 0.9: after 100k steps the greedy policy's
    exact values equal v* of value iteration (to float32 rounding) for all 64 seeds."""
    config = _config(num_seeds=64, total_steps=100_000, chunk_steps=50_000)
    with config.unlocked():
        config.sweep.learning_rate = (0.1,)
    run.run(q_learning.make_experiment(config), config, str(tmp_path), log=lambda _: None)
    final = run.result_arrays(str(tmp_path))["value_error"][-1, 0]  # [64 seeds]
    assert final.shape == (64,)
    assert np.all(final < q_learning.OPTIMAL_TOL), final.max()
    # And v* itself is the book's: recompute it independently by exact policy iteration.
    grid = common.grid_from_config(config.env)
    v_star = dp.policy_iteration(gridworld.to_mdp(grid), gamma=0.9).values
    np.testing.assert_allclose(np.asarray(v_star)[0], 5.832, atol=1e-3)


def test_a_1024_seed_by_4_rate_sweep_is_one_compilation(tmp_path):
    config = _config(num_seeds=1024, total_steps=300, chunk_steps=100)
    experiment = q_learning.make_experiment(config)
    traced = experiment._replace(train_chunk=chex.assert_max_traces(experiment.train_chunk, n=1))
    summary = run.run(traced, config, str(tmp_path), log=lambda _: None).summary
    assert len(summary["settings"]) == 4
    arrays = run.result_arrays(str(tmp_path))
    assert arrays["value_error"].shape == (3, 4, 1024)
    # Seed 5 of the sweep equals seed 5 run alone (setting 2: learning rate 0.1).
    hparams = q_learning.Hparams(jnp.float32(0.1), jnp.float32(0.8), jnp.float32(0.9))
    carry = experiment.init(seed_keys(0, 1024)[5], hparams)
    for chunk in range(3):
        carry, metrics = jax.jit(experiment.train_chunk)(carry, hparams)
        assert float(metrics["q_error"]) == arrays["q_error"][chunk, 2, 5]


def test_bad_step_size_is_refused():
    with pytest.raises(ValueError, match="step_size"):
        q_learning.make_experiment(_config(step_size="adaptive"))


def test_path_finding_every_seed_learns_the_optimal_path(tmp_path):
    """The book's episodic setting (start (0, 0), r_target = 0, r_forbidden = r_boundary = -10,
    r_step = -1, episodes end at the target): after 100k steps every one of 64 seeds' greedy
    policy walks from the start to the target in exactly as many steps as the optimal policy of
    value iteration on the same episodic MDP (an exact ground truth, computed here)."""
    from jaxrl.configs import q_learning_path_finding

    config = q_learning_path_finding.get_config()
    with config.unlocked():
        config.sweep.learning_rate = (0.1,)
    run.run(q_learning.make_experiment(config), config, str(tmp_path), log=lambda _: None)
    lengths = run.result_arrays(str(tmp_path))["path_length"][-1, 0]
    grid = gridworld.book_grid(
        reward_target=0.0,
        reward_forbidden=-10.0,
        reward_boundary=-10.0,
        reward_step=-1.0,
        absorbing_target=True,
    )
    best = dp.value_iteration(gridworld.to_mdp(grid), gamma=0.9, tol=1e-7)
    next_state, _ = gridworld.to_grid_mdp(grid).deterministic_tables()
    s, optimal_length = 0, 0
    while s != grid.state_index(grid.target):
        s = int(next_state[s, int(np.argmax(best.q_values[s]))])
        optimal_length += 1
    assert optimal_length == 11
    np.testing.assert_array_equal(lengths, np.full(64, optimal_length))


def test_a_seed_alone_equals_the_same_seed_in_a_sweep_bit_for_bit():
    """Seed 3 run alone (one setting, one seed) gives the same Q table as seed 3 of a 64-seed
    sweep, after 300k steps at learning rate 0.02 (where a batch of one, compiled as such,
    differed by 2e-6: the runner pads it with a copy)."""
    config = _config(chunk_steps=100_000)
    experiment = q_learning.make_experiment(config)
    hparams = q_learning.Hparams(jnp.asarray([0.02]), jnp.asarray([0.8]), jnp.asarray([0.9]))
    keys = seed_keys(0, 64)
    one_device = jax.devices()[:1]
    sweep = run.train(experiment, hparams, keys, num_chunks=3, devices=one_device)
    alone = run.train(experiment, hparams, keys[3:4], num_chunks=3, devices=one_device)
    np.testing.assert_array_equal(
        np.asarray(alone.carry.tables[0, 0]), np.asarray(sweep.carry.tables[0, 3])
    )
    for name, values in alone.metrics.items():
        np.testing.assert_array_equal(values[:, 0, 0], sweep.metrics[name][:, 0, 3])
