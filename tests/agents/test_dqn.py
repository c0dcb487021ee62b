"""DQN: its TD errors against a brute-force loop, and a small grid learned to the exact optimum.

The full-size results (the book's 5x5 grid, 16 seeds; CartPole at 500k steps, 16 seeds) live in
``jaxrl/configs/dqn_grid.py`` and ``dqn_cartpole.py`` and BUILD-notes.md; here they run tiny.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import networks, run
from jaxrl.agents import dqn, off_policy
from jaxrl.configs import dqn_cartpole, dqn_grid
from jaxrl.run.experiment import seed_keys
from tests.agents import grid_readout

OBS, ACTIONS, K, B = 2, 3, 3, 6


def _batch(key):
    keys = jax.random.split(key, 6)
    return off_policy.Transition(
        obs=jax.random.normal(keys[0], (K, B, OBS)),
        action=jax.random.randint(keys[1], (K, B), 0, ACTIONS),
        reward=jax.random.normal(keys[2], (K, B)),
        terminated=(jax.random.uniform(keys[3], (K, B)) < 0.3).astype(jnp.float32),
        next_obs=jax.random.normal(keys[4], (K, B, OBS)),
        extras=dqn.bootstrap_weights(keys[5], (K, B), K),  # [K, B, K]
    )


def _brute_force(net, params, target_params, batch, *, gamma, double, kind, pessimism):
    """The TD errors one transition at a time, in float64 numpy."""
    forward = jax.jit(net.apply)
    apply = lambda p, k, x: np.asarray(forward(networks.member(p, k), x), np.float64)  # noqa: E731
    errors = np.zeros((K, B))
    for k, b in itertools.product(range(K), range(B)):
        s, s_next = batch.obs[k, b], batch.next_obs[k, b]
        online = np.stack([apply(params, j, s_next) for j in range(K)])
        target = np.stack([apply(target_params, j, s_next) for j in range(K)])
        if kind == "member":
            value, selector = target[k], online[k]
        else:
            combine = {
                "mean": lambda q: q.mean(0),
                "min": lambda q: q.min(0),
                "lcb": lambda q: q.mean(0) - pessimism * q.std(0),
            }[kind]
            value, selector = combine(target), combine(online)
        best = int(np.argmax(selector if double else value))
        y = float(batch.reward[k, b]) + gamma * (1.0 - float(batch.terminated[k, b])) * value[best]
        errors[k, b] = y - apply(params, k, s)[int(batch.action[k, b])]
    return errors


@pytest.mark.parametrize(
    "double, kind",
    [(False, "member"), (True, "member"), (True, "lcb")],  # "mean"/"min": targets' own tests
)
def test_td_errors_match_a_brute_force_loop(double, kind):
    net = networks.q_network((8,), ACTIONS)
    params = networks.ensemble_init(net, jax.random.key(0), jnp.zeros((OBS,)), K)
    target_params = networks.ensemble_init(net, jax.random.key(1), jnp.zeros((OBS,)), K)
    batch = _batch(jax.random.key(2))
    kwargs = dict(gamma=0.9, double=double, pessimism=0.5)
    errors = dqn.td_errors(net, params, target_params, batch, ensemble_target=kind, **kwargs)
    expected = _brute_force(net, params, target_params, batch, kind=kind, **kwargs)
    np.testing.assert_allclose(errors, expected, rtol=1e-5, atol=1e-5)


def test_the_loss_weights_each_member_by_its_own_bootstrap_weights():
    """sum_k mean_b w[k, b, k] * loss(delta[k, b]), by a loop, for both losses."""
    net = networks.q_network((8,), ACTIONS)
    params = networks.ensemble_init(net, jax.random.key(0), jnp.zeros((OBS,)), K)
    target_params = networks.ensemble_init(net, jax.random.key(1), jnp.zeros((OBS,)), K)
    batch = _batch(jax.random.key(2))
    assert not np.all(np.asarray(batch.extras) == 1.0)  # Poisson(1) draws: some 0s and 2s
    kwargs = dict(gamma=0.9, double=True, ensemble_target="mean", pessimism=0.0)
    errors = np.asarray(dqn.td_errors(net, params, target_params, batch, **kwargs), np.float64)
    for kind, loss in (("squared", lambda d: 0.5 * d**2), ("huber", None)):
        if loss is None:
            loss = lambda d: np.where(np.abs(d) <= 1, 0.5 * d**2, np.abs(d) - 0.5)  # noqa: E731
        expected = sum(
            np.mean([batch.extras[k, b, k] * loss(errors[k, b]) for b in range(B)])
            for k in range(K)
        )
        value = dqn.ensemble_td_loss(net, params, target_params, batch, loss=kind, **kwargs)
        np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_bootstrap_weights():
    """Poisson(1) per transition and member (mean 1, variance 1), ones for one network."""
    np.testing.assert_array_equal(dqn.bootstrap_weights(jax.random.key(0), (3,), 1), 1.0)
    w = np.asarray(dqn.bootstrap_weights(jax.random.key(0), (20_000,), 5))
    assert w.shape == (20_000, 5) and np.all(w == np.round(w)) and w.min() == 0
    # 100k draws: the standard error of the mean is 1/sqrt(1e5) = 0.0032; 5 of them is 0.016.
    assert abs(w.mean() - 1.0) < 0.016 and abs(w.var() - 1.0) < 0.05


def _small_grid_config():
    """A 3x3 grid (target in a corner, one forbidden cell), uniform behaviour."""
    config = dqn_grid.get_config()
    with config.unlocked():
        config.num_seeds = 4
        config.total_steps = 3_000
        config.chunk_steps = 1_000
        config.hidden = (32, 32)
        config.buffer_capacity = 500
        config.batch_size = 50
        config.learning_starts = 500
        config.optimizer.decay_steps = 2_500
        config.env.shape = (3, 3)
        config.env.target = (2, 2)
        config.env.forbidden = ((1, 1),)
        config.hparams.learning_rate = 1e-2
        config.hparams.target_period = 50
    return config


def test_dqn_learns_the_optimal_policy_of_a_small_grid(tmp_path):
    """Every one of 4 seeds ends with a greedy policy whose exact values (jaxrl.dp) equal v*
    (value_error < 1e-4): a check against the exact solution, not a score threshold.

    And seed 2 run alone learns what it learns among the 4: its act, environment and sample
    streams are counters of its own key. Not bit for bit: XLA's CPU code orders the sums of a
    batched gradient (the bias gradients) differently for different batch sizes, a last-bit
    difference that training carries on (measured: value_rmse differs by 3e-6, 3.5e-5 and 1e-4
    after the three chunks, q_mean by at most 9e-5). The tolerance 1e-3 is 10x that; another
    seed's stream would differ by more than 0.1 (the seeds' value_rmse spread).

    The run finishes in a work directory, and its policy readout is read back from there
    (``grid_readout.check``: the dqn_grid config's readout test)."""
    config = _small_grid_config()
    experiment = dqn.make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    result = run.run(experiment, config, str(tmp_path), log=lambda _: None)
    grid_readout.check(tmp_path)
    alone = run.train(experiment, settings.hparams, seed_keys(0, 4)[2:3], num_chunks=3)
    np.testing.assert_array_equal(
        np.asarray(result.metrics["optimal"])[:, :, 2],
        np.asarray(alone.metrics["optimal"])[:, :, 0],
    )
    for name in ("value_rmse", "q_mean"):
        np.testing.assert_allclose(
            np.asarray(result.metrics[name])[:, :, 2],
            np.asarray(alone.metrics[name])[:, :, 0],
            atol=1e-3,
            rtol=1e-3,
        )
    final = {name: np.asarray(result.metrics[name])[-1, 0] for name in ("optimal", "value_error")}
    assert final["optimal"].tolist() == [1.0] * 4, final
    first = np.asarray(result.metrics["value_rmse"])[0, 0]
    last = np.asarray(result.metrics["value_rmse"])[-1, 0]
    assert np.all(last < first), (first, last)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("environment", "atari", r"config.environment must be a registered environment"),
        ("loss", "l1", r"config.loss must be one of \('squared', 'huber'\), got 'l1'"),
        ("ensemble_target", "max", r"config.ensemble_target must be one of"),
        ("batch_size", 0, "config.batch_size must be a positive integer, got 0"),
        ("hidden", (64, 0), r"config.hidden must be a tuple of positive integers"),
        ("learning_starts", 10**6, "config.learning_starts = 1000000 exceeds"),
        ("exploration_steps", -1, "config.exploration_steps must be an integer >= 0, got -1"),
        ("num_envs", 0, "config.num_envs must be a positive integer, got 0"),
    ],
)
def test_bad_config_is_refused_in_one_line(field, value, message):
    config = dqn_grid.get_config()
    with config.unlocked():
        config[field] = value
    with pytest.raises(ValueError, match=message):
        dqn.make_experiment(config)


def test_a_weight_decay_without_adamw_is_refused_before_tracing(tmp_path):
    config = dqn_grid.get_config()
    with config.unlocked():
        config.hparams.weight_decay = 0.01
    experiment = dqn.make_experiment(config)
    message = (
        r"hparams.weight_decay = 0.01 .*outside its domain: it must be a real number in \[0, 0\]"
    )
    with pytest.raises(ValueError, match=message):
        run.settings_from_config(experiment, config)
    with config.unlocked():
        config.optimizer.name = "adamw"
    run.settings_from_config(dqn.make_experiment(config), config)


def test_a_diverging_run_stops_naming_the_chunk_and_seed():
    """A learning rate of 1e30 sends the Q-values to infinity within the first chunk of
    learning; the run stops there with a DivergenceError, not with NaN metrics."""
    config = _small_grid_config()
    with config.unlocked():
        config.num_seeds, config.total_steps, config.chunk_steps = 2, 1_000, 500
        config.hparams.learning_rate = 1e30
    experiment = dqn.make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    message = r"became (nan|inf|-inf) in chunk 0 \(setting 0, seed index 0\)"
    with pytest.raises(run.DivergenceError, match=message):
        run.train(experiment, settings.hparams, seed_keys(0, 2), num_chunks=2)


def _stepper(config, num_seeds=1):
    """The runner's compiled program for one setting, stepped chunk by chunk."""
    experiment = dqn.make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    program = run.Program(experiment, settings.hparams, seed_keys(0, num_seeds))
    return program, program.init()


def _leaves(tree):
    return [np.asarray(x) for x in jax.tree.leaves(tree)]


def test_nothing_learns_before_learning_starts_and_the_target_moves_by_tau_every_period():
    """Chunks of one step: the parameters stay at their initial values until the buffer holds
    learning_starts transitions; then the target moves w_T <- tau w + (1 - tau) w_T exactly
    when the step count is a multiple of target_period (tau 0.5, period 3)."""
    config = _small_grid_config()
    with config.unlocked():
        config.chunk_steps, config.learning_starts, config.batch_size = 1, 4, 4
        config.hparams.tau, config.hparams.target_period = 0.5, 3
    program, carry = _stepper(config)
    initial = _leaves(carry.params)
    history = []
    for _ in range(9):
        carry, metrics = program.chunk(carry)
        history.append((_leaves(carry.params), _leaves(carry.target_params), metrics))
    for t, (params, _, metrics) in enumerate(history, start=1):
        learned = t >= 4  # the buffer holds t transitions after step t
        assert np.isnan(metrics["loss"]).all() != learned, t
        same = all(np.array_equal(a, b) for a, b in zip(params, initial, strict=True))
        assert same != learned, t
    # Steps 1-5: the target is still the initial network (step 3 came before learning).
    for t in range(1, 6):
        assert all(np.array_equal(a, b) for a, b in zip(history[t - 1][1], initial, strict=True))
    # Step 6 moves it halfway to the online network of step 6; steps 7-8 keep it; step 9 again.
    moved = [0.5 * w + 0.5 * w0 for w, w0 in zip(history[5][0], initial, strict=True)]
    for t in (6, 7, 8):
        for a, b in zip(history[t - 1][1], moved, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    again = [0.5 * w + 0.5 * m for w, m in zip(history[8][0], moved, strict=True)]
    for a, b in zip(history[8][1], again, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    # The optimizer counted the 6 updates of steps 4-9, as many as a decay over the whole of a
    # 9-step run would last (off_policy.run_updates).
    counts = [np.asarray(x) for x in jax.tree.leaves(carry.opt_state) if x.dtype == jnp.int32]
    with config.unlocked():
        config.total_steps = 9
    assert counts and all(np.all(c == 6) for c in counts) and off_policy.run_updates(config) == 6


def test_the_buffer_holds_what_the_environment_did_truncations_bootstrapped():
    """CartPole with episodes cut at 5 steps: every stored s' is the physics' step from s with
    the stored action (the reached state, not the next episode's start), terminated only where
    the pole or cart left its bounds, and the truncated episodes stored as not terminated."""
    from jaxrl.envs import cartpole

    config = dqn_cartpole.get_config()
    with config.unlocked():
        config.num_envs, config.learning_starts, config.eval_episodes = 4, 8, 2
        config.buffer_capacity, config.batch_size, config.env.max_steps = 400, 4, 5
        config.total_steps, config.chunk_steps = 50, 50
    program, carry = _stepper(config)
    carry, _ = program.chunk(carry)
    buffer = jax.tree.map(lambda x: np.asarray(x[0]), carry.buffer)
    n = int(buffer.size)
    data = jax.tree.map(lambda x: x[:n], buffer.data)
    assert n == 200
    state = cartpole.EnvState(*(jnp.asarray(data.obs[:, i]) for i in range(4)), jnp.zeros(n))
    reached = jax.vmap(cartpole.dynamics, in_axes=(0, 0, None))(
        state, jnp.asarray(data.action), cartpole.make_params()
    )
    np.testing.assert_allclose(np.stack(reached[:4], -1), data.next_obs, atol=1e-6)
    out = (np.abs(data.next_obs[:, 0]) > cartpole.X_THRESHOLD) | (
        np.abs(data.next_obs[:, 2]) > cartpole.THETA_THRESHOLD_RADIANS
    )
    np.testing.assert_array_equal(data.terminated == 1.0, out)
    # 200 steps of 5-step episodes: at least 20 truncations unless most episodes terminated.
    ends = int(np.asarray(carry.env_state.episodes_finished).sum())
    assert ends - int(out.sum()) >= 20, (ends, int(out.sum()))
