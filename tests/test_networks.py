"""Networks and ensembles: an ensemble is K networks in one pytree, applied and trained with vmap.

The key check: training the stacked ensemble with one optimizer on bootstrap minibatches gives
exactly what K separately initialised and separately trained networks give with the same keys.
"""

import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxrl import networks, replay
from jaxrl.agents import dqn, off_policy

OBS, ACTIONS, K = 3, 4, 3


def _network():
    return networks.q_network((16, 8), ACTIONS)


def test_q_network_shapes_and_bad_arguments():
    net = _network()
    params = net.init(jax.random.key(0), jnp.zeros((OBS,)))
    assert net.apply(params, jnp.zeros((5, OBS))).shape == (5, ACTIONS)
    with pytest.raises(
        ValueError, match=r"hidden must be a tuple of positive integers, got \(0,\)"
    ):
        networks.q_network((0,), 2)
    with pytest.raises(ValueError, match="num_actions must be a positive integer, got 0"):
        networks.q_network((4,), 0)
    with pytest.raises(ValueError, match="size must be a positive integer, got 0"):
        networks.ensemble_init(net, jax.random.key(0), jnp.zeros((OBS,)), 0)


def test_members_are_separate_initialisations_and_differ():
    """(Each side compiled whole: op by op, every small operation would compile on its own.)"""
    net, key = _network(), jax.random.key(1)
    init, apply = jax.jit(net.init), jax.jit(net.apply)
    params = jax.jit(lambda k: networks.ensemble_init(net, k, jnp.zeros((OBS,)), K))(key)
    assert all(leaf.shape[0] == K for leaf in jax.tree.leaves(params))
    x = jax.random.normal(jax.random.key(2), (7, OBS))
    outputs = jax.jit(lambda p: networks.ensemble_apply(net, p, x))(params)
    assert outputs.shape == (K, 7, ACTIONS)
    for k, member_key in enumerate(jax.random.split(key, K)):
        alone = init(member_key, jnp.zeros((OBS,)))
        jax.tree.map(np.testing.assert_array_equal, networks.member(params, k), alone)
        np.testing.assert_allclose(outputs[k], apply(alone, x), rtol=1e-6, atol=1e-6)
    for i in range(K):
        for j in range(i + 1, K):
            assert not np.allclose(outputs[i], outputs[j])
    # ensemble_apply_each gives member k its own input.
    xs = jax.random.normal(jax.random.key(3), (K, 5, OBS))
    each = jax.jit(lambda p: networks.ensemble_apply_each(net, p, xs))(params)
    for k in range(K):
        np.testing.assert_allclose(
            each[k], apply(networks.member(params, k), xs[k]), rtol=1e-6, atol=1e-6
        )


@jax.jit
def _random_buffer(key, size=64):
    keys = jax.random.split(key, 5)
    items = off_policy.Transition(
        obs=jax.random.normal(keys[0], (size, OBS)),
        action=jax.random.randint(keys[1], (size,), 0, ACTIONS),
        reward=jax.random.normal(keys[2], (size,)),
        terminated=(jax.random.uniform(keys[3], (size,)) < 0.2).astype(jnp.float32),
        next_obs=jax.random.normal(keys[0], (size, OBS)) * 0.5 + 0.1,
        extras=dqn.bootstrap_weights(keys[4], (size,), K),  # online bagging: Poisson(1)
    )
    example = jax.tree.map(lambda x: x[0], items)
    return replay.add_batch(replay.init(size, example), items)


def test_the_vmapped_ensemble_equals_separately_trained_networks():
    """25 adam steps of DQN's ensemble loss (each member on its own bootstrap minibatch, its own
    target network copied every 5 steps) against K single networks trained one after another
    with the same initial keys and the same minibatches."""
    net = _network()
    buffer = _random_buffer(jax.random.key(4))
    init_key, data_key = jax.random.split(jax.random.key(5))
    optimizer = optax.adam(1e-2)
    kwargs = dict(gamma=0.9, double=True, ensemble_target="member", pessimism=0.0)

    @jax.jit
    def step(params, target, opt_state, batch):
        grads = jax.grad(dqn.ensemble_td_loss, argnums=1)(
            net, params, target, batch, loss="huber", **kwargs
        )
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    def train(params, batches):
        """Trains an ensemble (leaves [M, ...]) on per-step batches with leaves [steps, M, B]."""
        opt_state, target = optimizer.init(params), params
        for t in range(batches.reward.shape[0]):
            batch = jax.tree.map(lambda x, t=t: x[t], batches)
            params, opt_state = step(params, target, opt_state, batch)
            if (t + 1) % 5 == 0:
                target = params
        return params

    # (Initialisations and forward passes compiled whole, not op by op.)
    sample = jax.jit(jax.vmap(lambda key: dqn.bootstrap_batches(buffer, key, K, 16)))
    batches = sample(jax.random.split(data_key, 25))  # [steps, K, B, ...]
    init = jax.jit(lambda k: networks.ensemble_init(net, k, jnp.zeros((OBS,)), K))
    ensemble = train(init(init_key), batches)
    x = jax.random.normal(jax.random.key(6), (9, OBS))
    trained = jax.jit(networks.ensemble_apply, static_argnums=0)(net, ensemble, x)
    init_one = jax.jit(lambda k: networks.stack([net.init(k, jnp.zeros((OBS,)))]))
    apply = jax.jit(net.apply)
    for k, member_key in enumerate(jax.random.split(init_key, K)):
        alone = init_one(member_key)  # an ensemble of one
        member_batches = jax.tree.map(lambda b, k=k: b[:, k : k + 1], batches)
        # Its own bootstrap weight of each transition, as an ensemble of one sees it.
        own = batches.extras[:, k : k + 1, :, k : k + 1]
        member_batches = member_batches._replace(extras=own)
        alone = train(alone, member_batches)
        np.testing.assert_allclose(
            trained[k], apply(networks.member(alone, 0), x), rtol=2e-5, atol=2e-5
        )
    # The members were trained on different resamples and from different starts: they differ.
    assert not np.allclose(trained[0], trained[1], atol=1e-3)
    # Bagging: the members' minibatches differ.
    assert not np.array_equal(batches.obs[0, 0], batches.obs[0, 1])


@pytest.mark.parametrize("shape", [(4, 64), (64, 64), (64, 2), (3, 5)])
def test_orthogonal_equals_jax_orthogonal_without_a_lapack_call(shape):
    """The Gram-Schmidt initializer draws the matrix jax.nn.initializers.orthogonal draws from
    the same key (its QR, sign-fixed, is unique), to float32 rounding; its columns (rows when
    wide) are orthonormal times the scale; and its compiled program calls no LAPACK routine
    (jax's does: a QR)."""
    key = jax.random.key(11)
    ours = networks.orthogonal(1.5)(key, shape)
    np.testing.assert_allclose(ours, jax.nn.initializers.orthogonal(1.5)(key, shape), atol=2e-6)
    tall = ours if shape[0] >= shape[1] else ours.T
    np.testing.assert_allclose(tall.T @ tall, 2.25 * np.eye(min(shape)), atol=1e-5)

    def calls(init):
        text = jax.jit(lambda k: init(k, shape)).lower(key).compile().as_text()
        return {t for t in re.findall(r'custom_call_target="([^"]+)"', text) if "lapack" in t}

    assert calls(networks.orthogonal(1.5)) == set()
    assert calls(jax.nn.initializers.orthogonal(1.5))  # the control: jax's calls LAPACK


def test_the_mlp_initialisation_of_policy_gradient_methods():
    """``output_scale`` switches to orthogonal kernels (gain sqrt(2) hidden, the scale at the
    output) and zero biases; ``activation`` picks tanh."""
    mlp = networks.MLP((8, 8), 2, activation="tanh", output_scale=0.01)
    params = mlp.init(jax.random.key(0), jnp.zeros(3))["params"]
    hidden = params["Dense_1"]["kernel"]
    np.testing.assert_allclose(hidden.T @ hidden, 2.0 * np.eye(8), atol=1e-5)
    out = params["Dense_2"]["kernel"]
    np.testing.assert_allclose(out.T @ out, 1e-4 * np.eye(2), atol=1e-9)
    assert all(float(jnp.max(jnp.abs(p["bias"]))) == 0.0 for p in params.values())
    x = jnp.ones(3)
    by_hand = jnp.tanh(jnp.tanh(x @ params["Dense_0"]["kernel"]) @ hidden) @ out
    np.testing.assert_allclose(mlp.apply({"params": params}, x), by_hand, rtol=1e-6)


def test_a_tabular_network_reads_its_table():
    table = networks.Tabular(num_states=4, out=3, init_value=0.5)
    params = table.init(jax.random.key(0), jnp.int32(0))
    np.testing.assert_array_equal(params["params"]["table"], np.full((4, 3), 0.5))
    params = {"params": {"table": jnp.arange(12.0).reshape(4, 3)}}
    np.testing.assert_array_equal(table.apply(params, jnp.array([2, 0])), [[6, 7, 8], [0, 1, 2]])
    grad = jax.grad(lambda p: table.apply(p, jnp.int32(1))[2])(params)["params"]["table"]
    np.testing.assert_array_equal(grad, np.eye(12)[5].reshape(4, 3))  # one-hot in (s, a)


def test_an_image_observation_is_flattened_before_the_first_layer():
    """``input_dims=3``: a [..., 10, 10, 4] observation (MinAtar's) goes through the MLP as its
    flattened [..., 400] vector: the same parameters, the same outputs, any batch shape."""
    image = networks.MLP((8,), 3, input_dims=3)
    flat = networks.MLP((8,), 3)
    x = jax.random.uniform(jax.random.key(0), (2, 5, 10, 10, 4))

    @jax.jit
    def both(key):
        params = image.init(key, x[0, 0])
        assert jax.tree.map(jnp.shape, params) == jax.tree.map(
            jnp.shape, flat.init(key, x[0, 0].reshape(-1))
        )
        return image.apply(params, x), flat.apply(params, x.reshape(2, 5, 400))

    ours, expected = both(jax.random.key(1))
    assert ours.shape == (2, 5, 3)
    np.testing.assert_array_equal(ours, expected)


def test_the_diagonal_gaussian_policy_against_its_closed_forms():
    """PPO's policy on box actions: log N(a; mu, diag(sigma)^2) = -sum_i [(a_i - mu_i)^2 /
    (2 sigma_i^2) + log sigma_i + log(2 pi) / 2] and entropy sum_i [log sigma_i + log(2 pi e) /
    2], in float64 NumPy; the actor's free log-std starts at init_log_std in every state, its
    state-dependent one near it (a small output layer), and the mean near 0."""
    rng = np.random.default_rng(0)
    mean, log_std = rng.normal(size=(5, 3)), rng.normal(scale=0.5, size=(5, 3))
    action = rng.normal(size=(5, 3))
    dist = networks.diagonal_gaussian(
        jnp.asarray(mean, jnp.float32), jnp.asarray(log_std, jnp.float32)
    )
    sigma = np.exp(log_std)
    log_prob = -np.sum((action - mean) ** 2 / (2 * sigma**2) + log_std + np.log(2 * np.pi) / 2, -1)
    entropy = np.sum(log_std + np.log(2 * np.pi * np.e) / 2, -1)
    np.testing.assert_allclose(dist.log_prob(jnp.asarray(action, jnp.float32)), log_prob, rtol=1e-5)
    np.testing.assert_allclose(dist.entropy(), entropy, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dist.mode(), mean, rtol=1e-6)
    obs = jnp.asarray(rng.normal(size=(4, 2)), jnp.float32)
    for kind in networks.LOG_STDS:
        actor = networks.GaussianActor((8,), action_dims=3, log_std=kind, init_log_std=-0.5)
        mu, s = actor.apply(actor.init(jax.random.key(0), obs), obs)
        assert mu.shape == s.shape == (4, 3)
        assert np.max(np.abs(mu)) < 0.1, kind
        np.testing.assert_allclose(s, -0.5, atol=0.0 if kind == "free" else 0.1)
