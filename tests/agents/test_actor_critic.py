"""Policy gradient and actor-critic: the REINFORCE estimator against the exact gradient of
``J(theta) = sum_s d0(s) v_pi(s)``, each algorithm's weights and targets against a plain Python
loop, the losses it composes, and short learning runs.

The full-size results (the book's 5x5 grid, 16 seeds per algorithm; CartPole at 500k steps,
16 seeds) live in ``jaxrl/configs/actor_critic_grid.py`` and ``actor_critic_cartpole.py`` and
BUILD-notes.md; here they run tiny.
"""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import dp, envs, run
from jaxrl.configs import actor_critic_cartpole, actor_critic_grid
from jaxrl.envs import gridworld
from jaxrl.run.experiment import seed_keys
from tests.agents import grid_readout

# The algorithm of each grid variant, as the plain loop below names it.
ALGORITHMS = {"reinforce_no_baseline": "reinforce", "off_policy": "off_policy"}


def _module(config):
    """The agent module a config names (jaxrl.agents.reinforce, qac, a2c, off_policy_ac, ppo)."""
    return importlib.import_module(config.experiment)


def _grid_config(variant, **fields):
    """The grid config of a variant, on a 2x3 grid unless ``env`` is given; ``max_steps`` is the
    environment's time limit."""
    config = actor_critic_grid.get_config(variant)
    with config.unlocked():
        config.env.shape = (2, 3)
        config.env.target = (1, 2)
        config.env.forbidden = ((0, 1),)
        for name, value in fields.items():
            if name == "max_steps":
                config.env.max_steps = value
            elif name in config.hparams:
                config.hparams[name] = value
            else:
                config[name] = value
    return config


def _hparams(config):
    return _module(config).Hparams(**{k: jnp.float32(v) for k, v in config.hparams.items()})


def _random_params(agent, key, scale=1.0):
    """Parameters with random entries (tables or networks)."""
    params = agent.init_params(key)
    leaves, tree = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.fold_in(key, 1), len(leaves))
    noisy = [x + scale * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(tree, noisy)


def _rollout(agent, params, num_envs, seed=0, step=0):
    reset, _, env_params = envs.training(agent.env)
    obs, env_state = jax.vmap(reset, in_axes=(0, None))(
        jax.random.split(jax.random.key(seed), num_envs), env_params
    )
    key_data = jax.random.key_data(jax.random.key(seed + 1))
    time = jnp.zeros((num_envs,), jnp.int32)
    normalizer, hparams = agent.init_normalizer(), None  # hparams: only reward scaling reads them
    collect = jax.jit(lambda *args: agent.collect(*args, hparams)[-1])
    return collect(params, obs, env_state, time, normalizer, key_data, jnp.int32(step))


# ---------------------------------------------------------------------------------------------
# Ground truth: the REINFORCE gradient is unbiased.


def test_the_reinforce_gradient_is_unbiased_for_the_exact_gradient():
    """On a 2x3 grid (gamma 0.9, d0 uniform) with a random tabular softmax policy, the mean over
    M = 20,000 episodes of ``sum_t gamma^t G_t grad log pi(a_t|s_t)`` (the agent's own rollout,
    targets and loss: ``-T`` times the gradient of its per-step mean loss on one episode) equals
    ``grad J`` with ``J(theta) = d0 . v_pi``, ``v_pi`` the exact solve of ``jaxrl.dp``,
    differentiated by JAX.

    Tolerance, per component: 4.5 standard errors (the estimate is a mean of M i.i.d. episodes,
    so by the central limit theorem each component is within 4.5 SE with probability 1 - 7e-6;
    over the 30 components the test fails by chance with probability < 2e-4), plus the
    truncation bias: episodes are cut at T = 200 steps, which drops at most
    ``(T + 1 / (1 - gamma)) gamma^T max|r| / (1 - gamma) = 1.5e-6`` per component (each
    component of ``grad log pi`` is in [-1, 1]); 1e-4 covers it and float32 sums.

    The test can fail: the estimator without the ``gamma^t`` weights (the book's Algorithm 9.1
    with an episode from d0) estimates another vector, and is rejected by the same tolerance.
    """
    episodes, horizon, gamma = 20_000, 200, 0.9

    def agent(weighting):
        config = _grid_config(
            "reinforce_no_baseline",
            num_envs=episodes,
            rollout_length=horizon,
            max_steps=horizon,
            discount_weighting=weighting,
            gamma=gamma,
            entropy_coef=0.0,  # the plain estimator: no entropy bonus
        )
        return _module(config).make_agent(config), _hparams(config)

    weighted, hparams = agent(True)
    params = _random_params(weighted, jax.random.key(7))
    # One rollout for both estimators: the weighting enters in prepare, not in collect.
    rollout = _rollout(weighted, params, episodes)

    def estimates(agent):
        @jax.jit
        def per_episode_estimates(params, rollout):
            batch = agent.prepare(params, rollout, hparams)
            per_episode = jax.tree.map(  # time-major [T * M] -> [M, T]
                lambda x: jnp.swapaxes(x.reshape((horizon, episodes, *x.shape[1:])), 0, 1), batch
            )

            def estimate(episode):
                def loss(actor):
                    return agent.loss(params._replace(actor=actor), episode, hparams).total

                return -horizon * jax.grad(loss)(params.actor)["params"]["table"]

            return jax.vmap(estimate)(per_episode)

        g = np.asarray(per_episode_estimates(params, rollout), np.float64)  # [M, S, A]
        return g.mean(0), g.std(0, ddof=1) / np.sqrt(episodes)

    mean, se = estimates(weighted)
    mdp = gridworld.to_mdp(gridworld.layout_of(weighted.env.params))
    d0 = weighted.env.params.start_probs

    def objective(theta):
        v = dp.evaluate_policy(mdp, jax.nn.softmax(theta, axis=-1), gamma=gamma)
        return jnp.dot(d0, v)

    exact = np.asarray(jax.jit(jax.grad(objective))(params.actor["params"]["table"]))
    tolerance = 4.5 * se + 1e-4
    assert np.all(np.abs(mean - exact) <= tolerance), np.max(np.abs(mean - exact) / tolerance)
    assert np.max(np.abs(exact)) > 10 * np.max(tolerance)  # a gradient well above the noise
    unweighted, _ = estimates(agent(False)[0])
    assert np.any(np.abs(unweighted - exact) > tolerance)


# ---------------------------------------------------------------------------------------------
# Each algorithm's actor weights and critic targets against a plain Python loop.


def _reference(algorithm, rollout, params, agent, gamma, lambda_, baseline):
    """Weights ``A`` and targets ``y`` of one rollout, step by step in float64."""
    r = np.asarray(rollout.reward, np.float64)
    term = np.asarray(rollout.terminated, np.float64)
    done = np.asarray(rollout.done, np.float64)
    length, num_envs = r.shape
    table = lambda p: np.asarray(p["params"]["table"], np.float64)  # noqa: E731
    critic, theta = table(params.critic), table(params.actor)
    pi = np.exp(theta - theta.max(-1, keepdims=True))
    pi /= pi.sum(-1, keepdims=True)
    s, s_next = np.asarray(rollout.obs), np.asarray(rollout.next_obs)
    a = np.asarray(rollout.action)
    weights, targets = np.zeros_like(r), np.zeros_like(r)
    for n in range(num_envs):
        follow = 0.0  # the lambda-return of the next step in this rollout
        for t in reversed(range(length)):
            discount = gamma * (1.0 - term[t, n])
            if algorithm == "qac":
                q = critic[s[t, n]]
                y = r[t, n] + discount * pi[s_next[t, n]] @ critic[s_next[t, n]]
                weights[t, n], targets[t, n] = q[a[t, n]], y
                continue
            v = critic[s[t, n], 0] if baseline else 0.0
            v_next = critic[s_next[t, n], 0] if baseline else 0.0
            if algorithm == "off_policy":
                y = r[t, n] + discount * v_next
            else:
                lam = 1.0 if algorithm == "reinforce" else lambda_
                if t == length - 1 or done[t, n]:
                    y = r[t, n] + discount * v_next  # the episode or the rollout ends here
                else:
                    y = r[t, n] + discount * ((1 - lam) * v_next + lam * follow)
            follow = y
            weights[t, n], targets[t, n] = y - v, y
    return weights, targets


@pytest.mark.parametrize(
    "variant", ["reinforce", "reinforce_no_baseline", "qac", "a2c", "off_policy"]
)
def test_weights_and_targets_match_a_plain_loop(variant):
    """Rollouts of 12 steps in episodes of 5: episode ends inside the rollout (cut, then
    bootstrapped from the critic) and a rollout end inside an episode (bootstrapped too)."""
    config = _grid_config(variant, num_envs=3, rollout_length=12, max_steps=5)
    if variant == "a2c":
        with config.unlocked():
            config.hparams.gae_lambda = 0.7
    agent = _module(config).make_agent(config)
    params = _random_params(agent, jax.random.key(3))
    rollout = _rollout(agent, params, 3)
    assert 0 < float(jnp.mean(rollout.done)) < 1
    batch = agent.prepare(params, rollout, _hparams(config))
    weights, targets = _reference(
        ALGORITHMS.get(variant, variant),
        rollout,
        params,
        agent,
        config.hparams.gamma,
        config.hparams.get("gae_lambda", 0.0),
        config.get("baseline", True),
    )
    np.testing.assert_allclose(batch.advantage, weights.reshape(-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(batch.target, targets.reshape(-1), rtol=1e-5, atol=1e-5)


def test_discount_weighting_multiplies_by_gamma_to_the_step_in_the_episode():
    config = _grid_config("reinforce", num_envs=2, rollout_length=9, max_steps=4)
    agent = _module(config).make_agent(config)
    params = _random_params(agent, jax.random.key(0))
    rollout = _rollout(agent, params, 2)
    np.testing.assert_array_equal(rollout.time[:, 0], [0, 1, 2, 3, 0, 1, 2, 3, 0])
    plain = agent.prepare(params, rollout, _hparams(config))
    with config.unlocked():
        config.discount_weighting = True
    weighted = _module(config).make_agent(config).prepare(params, rollout, _hparams(config))
    gamma_t = 0.9 ** np.asarray(rollout.time, np.float64).reshape(-1)
    np.testing.assert_allclose(weighted.advantage, gamma_t * plain.advantage, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# The losses each algorithm composes.


@pytest.mark.parametrize("algorithm", ["off_policy", "ppo", "qac", "a2c"])
def test_the_loss_is_the_algorithms_update(algorithm):
    """The gradient of the agent's loss, in the tabular case, is each algorithm's update:
    ``-mean_t w_t grad log pi(a_t|s_t)`` for the actor with ``w = rho A`` (off-policy,
    ``rho = pi / beta = 5 pi`` under the uniform behaviour), the clipped ratio's gradient (PPO,
    on a policy that moved since the rollout), ``w = q(s, a)`` (QAC) or ``w = A`` (A2C); and
    ``-mean_t c_t (y_t - critic) grad critic`` for the critic with ``c = rho`` (off-policy) or 1.
    """
    variant = "a2c" if algorithm == "ppo" else algorithm
    config = _grid_config(variant, num_envs=4, rollout_length=6, max_steps=6, entropy_coef=0.0)
    if algorithm == "ppo":  # PPO on A2C's grid config
        with config.unlocked():
            config.experiment = "jaxrl.agents.ppo"
            config.hparams.clip_epsilon = 0.1
    agent = _module(config).make_agent(config)
    params = _random_params(agent, jax.random.key(5))
    rollout = _rollout(agent, params, 4)
    hparams = _hparams(config)
    batch = agent.prepare(params, rollout, hparams)
    if algorithm == "ppo":  # a policy that moved since the rollout, so that some ratios clip
        params = _random_params(agent, jax.random.key(6), scale=0.3)._replace(critic=params.critic)
    grads = jax.grad(lambda p: agent.loss(p, batch, hparams).total)(params)

    theta = np.asarray(params.actor["params"]["table"], np.float64)
    table = np.asarray(params.critic["params"]["table"], np.float64)
    pi = np.exp(theta - theta.max(-1, keepdims=True))
    pi /= pi.sum(-1, keepdims=True)
    s, a = np.asarray(batch.obs), np.asarray(batch.action)
    adv, y = np.asarray(batch.advantage, np.float64), np.asarray(batch.target, np.float64)
    mu = np.asarray(batch.behaviour_probs, np.float64)
    size = len(s)
    actor, critic = np.zeros_like(theta), np.zeros_like(table)
    for i in range(size):
        score = -pi[s[i]]
        score[a[i]] += 1.0  # grad_theta[s] log pi(a|s)
        column = a[i] if algorithm == "qac" else 0
        value = table[s[i], column]
        if algorithm == "off_policy":
            rho = pi[s[i], a[i]] / mu[i, a[i]]
            assert mu[i, a[i]] == pytest.approx(0.2)
            actor[s[i]] -= rho * adv[i] * score / size
            critic[s[i], column] -= rho * (y[i] - value) / size
            continue
        if algorithm == "ppo":
            ratio = pi[s[i], a[i]] / mu[i, a[i]]
            inside = (adv[i] > 0 and ratio < 1.1) or (adv[i] < 0 and ratio > 0.9)
            actor[s[i]] -= inside * ratio * adv[i] * score / size
        else:
            actor[s[i]] -= adv[i] * score / size
        critic[s[i], column] -= (y[i] - value) / size
    np.testing.assert_allclose(grads.actor["params"]["table"], actor, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(grads.critic["params"]["table"], critic, rtol=1e-4, atol=1e-6)
    if algorithm == "ppo":
        ratios = pi[s, a] / mu[np.arange(size), a]
        assert np.any(np.abs(ratios - 1) > 0.1)  # the clip is exercised


# ---------------------------------------------------------------------------------------------
# Runs through the runner.


def test_a2c_learns_the_book_grid_to_near_optimal_in_every_seed(tmp_path):
    """4 seeds of A2C (64 environments, episodes of 5 steps, 6,000 updates) on the book's 5x5
    grid: each seed's softmax policy is within 0.1 of v* at every state (exact values,
    ``jaxrl.dp``), the tolerance the grid results use. The first 16 seeds at these settings
    ended between 0.006 and 0.012 (median 0.44 after 2,000 updates). The run finishes in a work
    directory, and its policy readout is read back from there (``grid_readout.check``: the
    actor_critic_grid config's readout test)."""
    config = actor_critic_grid.get_config("a2c")
    with config.unlocked():
        config.num_seeds = 4
        config.num_envs, config.rollout_length, config.env.max_steps = 64, 5, 5
        config.hparams.critic_lr = 1.0
        config.total_steps, config.chunk_steps = 6_000, 3_000
    experiment = _module(config).make_experiment(config)
    result = run.run(experiment, config, str(tmp_path), log=lambda _: None)
    grid_readout.check(tmp_path)
    final = result.metrics["value_error"][-1, 0]
    assert np.all(final < 0.1), final
    assert np.all(result.metrics["value_error"][0, 0] > final)


def test_ppo_on_cartpole_runs_its_epochs_and_minibatches():
    """Two seeds, one training step: ``epochs * num_minibatches`` optimizer steps per rollout,
    finite metrics, and a seed in the sweep gives what it gives alone (the sampled actions are
    counter-based; values to float32 rounding: XLA's CPU reductions may order a batched sum
    differently for another batch size)."""
    config = actor_critic_cartpole.get_config("ppo")
    with config.unlocked():
        config.epochs, config.num_minibatches = 3, 2
        config.total_steps = config.chunk_steps = 1
        config.eval_episodes = 2
    experiment = _module(config).make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    both = run.train(experiment, settings.hparams, seed_keys(0, 2), num_chunks=1)
    counts = [np.ravel(x) for x in jax.tree.leaves(both.carry.opt_state) if x.dtype == jnp.int32]
    assert counts and set(np.concatenate(counts).tolist()) == {6}  # adam's and the schedule's
    for name in experiment.metrics:
        assert np.all(np.isfinite(both.metrics[name])), name
    alone = run.train(experiment, settings.hparams, seed_keys(0, 1), num_chunks=1)
    np.testing.assert_array_equal(alone.carry.obs[0, 0], both.carry.obs[0, 0])
    np.testing.assert_allclose(
        alone.metrics["value_mean"][:, :, 0], both.metrics["value_mean"][:, :, 0], rtol=1e-4
    )


# ---------------------------------------------------------------------------------------------
# Bad configs: one line naming the field, before anything compiles.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("environment", "pendulum", "jaxrl.agents.qac needs discrete actions; environment"),
        ("baseline", False, "config.baseline is not a field of jaxrl.agents.a2c"),
        ("num_minibatches", 7, "config.num_minibatches = 7 must divide the rollout's"),
        ("rollout_length", 0, "config.rollout_length must be a positive integer, got 0"),
    ],
)
def test_bad_configs_are_refused_in_one_line(field, value, message):
    # QAC's critic is q(s, .) over discrete actions; A2C, REINFORCE and PPO also take boxes.
    config = actor_critic_grid.get_config("qac" if field == "environment" else "a2c")
    with config.unlocked():
        config[field] = value
        if field == "environment":
            config.env = {"max_steps": 200}
    with pytest.raises(ValueError, match=message):
        _module(config).make_experiment(config)


def test_a_bad_environment_option_is_refused_naming_it():
    config = actor_critic_grid.get_config("a2c")
    with config.unlocked():
        config.env.max_steps = 0
    with pytest.raises(ValueError, match=r"config.env \(grid\): max_steps must be a positive"):
        _module(config).make_experiment(config)


def test_a_bad_activation_is_refused():
    config = actor_critic_cartpole.get_config("a2c")
    with config.unlocked():
        config.activation = "gelu"
    with pytest.raises(ValueError, match=r"config.activation must be one of \('relu', 'tanh'\)"):
        _module(config).make_experiment(config)


def test_a_value_the_algorithm_does_not_read_cannot_be_swept():
    """QAC's critic is one-step expected Sarsa: it has no GAE lambda to sweep, and only PPO has
    a clip range."""
    config = actor_critic_grid.get_config("qac")
    experiment = _module(config).make_experiment(config)
    for name in ("gae_lambda", "clip_epsilon"):
        with pytest.raises(ValueError, match=rf"sweep.{name} is not a hyperparameter; allowed"):
            run.make_settings(experiment, dict(config.hparams), {name: [0.5]})
