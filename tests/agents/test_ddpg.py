"""DDPG and TD3: the critic's target from the target networks under
stop-gradient, the deterministic policy gradient with the critic fixed, actions inside the
bounds, and one compilation for a sweep (the learning runs: ``test_open_agents.py``'s chains).

The full-size results (8 seeds x 20k steps for DDPG and TD3) live in
``jaxrl/configs/ddpg_pendulum.py`` and BUILD-notes.md; here they run tiny.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import networks, run
from jaxrl.agents import ddpg, off_policy
from jaxrl.configs import ddpg_pendulum
from jaxrl.envs import pendulum
from jaxrl.run.experiment import seed_keys

B, BOUND = 16, pendulum.MAX_TORQUE
LOW, HIGH = jnp.full((1,), -BOUND), jnp.full((1,), BOUND)


def _hparams(variant="td3", **overrides):
    values = {**ddpg_pendulum.get_config(variant).hparams.to_dict(), **overrides}
    return ddpg.Hparams(**{k: jnp.asarray(v) for k, v in values.items()})


def _networks(key, members=2):
    actor, critic = ddpg.Actor((16, 16), (BOUND,)), ddpg.Critic((16, 16))
    obs, action = jnp.zeros(3), jnp.zeros(1)

    @jax.jit  # one program (op by op, each of flax's initialisers would compile on its own)
    def init(key):
        keys = jax.random.split(key, 4)
        return {
            "actor": actor.init(keys[0], obs),
            "actor_target": actor.init(keys[1], obs),
            "critic": jax.vmap(critic.init, in_axes=(0, None, None))(
                jax.random.split(keys[2], members), obs, action
            ),
            "critic_target": jax.vmap(critic.init, in_axes=(0, None, None))(
                jax.random.split(keys[3], members), obs, action
            ),
        }

    return actor, critic, init(key)


@jax.jit
def _batch(key):
    keys = jax.random.split(key, 5)
    return off_policy.Transition(
        obs=jax.random.normal(keys[0], (B, 3)),
        action=jax.random.uniform(keys[1], (B, 1), minval=-BOUND, maxval=BOUND),
        reward=jax.random.normal(keys[2], (B,)),
        terminated=(jax.random.uniform(keys[3], (B,)) < 0.2).astype(jnp.float32),
        next_obs=jax.random.normal(keys[4], (B, 3)),
        extras=(),
    )


def test_the_critic_target_comes_from_the_target_networks_under_stop_gradient():
    """The loss equals a hand computation of ``0.5 (y - Q_k(s, a))^2`` summed over the twin
    critics, with ``y = r + gamma (1 - terminated) min_k Q_T,k(s', clip(mu_T(s') + clip(eps)))``;
    its gradient reaches the online critics only, never the target networks."""
    actor, critic, p = _networks(jax.random.key(0))
    batch, eps = _batch(jax.random.key(1)), 3.0 * jax.random.normal(jax.random.key(2), (B, 1))
    hparams = _hparams("td3")

    def loss(critic_params, actor_target, critic_target):
        target = ddpg.Params(actor_target, critic_target)
        return ddpg.critic_loss(
            actor, critic, critic_params, target, batch, eps, hparams, low=LOW, high=HIGH
        )

    noise = np.clip(0.2 * BOUND * np.asarray(eps), -0.5 * BOUND, 0.5 * BOUND)
    apply_actor, apply_critic = jax.jit(actor.apply), jax.jit(critic.apply)
    next_action = np.clip(np.asarray(apply_actor(p["actor_target"], batch.next_obs)) + noise, -2, 2)
    target = [networks.member(p["critic_target"], k) for k in range(2)]
    q_next = np.stack([apply_critic(c, batch.next_obs, next_action) for c in target])
    y = batch.reward + 0.99 * (1 - batch.terminated) * q_next.min(0)
    online = [networks.member(p["critic"], k) for k in range(2)]
    q = np.stack([apply_critic(c, batch.obs, batch.action) for c in online])
    by_hand = float(np.sum(np.mean(0.5 * (np.asarray(y)[None] - q) ** 2, axis=-1)))
    # One compiled program for the loss and its gradients (op by op, the flax networks' many
    # small operations would each compile on their own).
    value, (online, actor_t, critic_t) = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(
        p["critic"], p["actor_target"], p["critic_target"]
    )
    assert float(value) == pytest.approx(by_hand, rel=1e-5)
    assert max(float(jnp.max(jnp.abs(g))) for g in jax.tree.leaves(online)) > 0
    for grads in (actor_t, critic_t):
        assert all(float(jnp.max(jnp.abs(g))) == 0 for g in jax.tree.leaves(grads))


def test_target_actions_stay_in_the_bounds_and_ddpg_has_no_smoothing():
    actor, _, p = _networks(jax.random.key(3))
    obs, eps = jax.random.normal(jax.random.key(4), (B, 3)), 100.0 * jnp.ones((B, 1))
    smoothed = ddpg.target_actions(
        actor, p["actor_target"], obs, eps, _hparams("td3"), low=LOW, high=HIGH
    )
    assert float(jnp.max(jnp.abs(smoothed))) <= BOUND
    plain = actor.apply(p["actor_target"], obs)
    np.testing.assert_allclose(smoothed, np.clip(plain + 0.5 * BOUND, -BOUND, BOUND), rtol=1e-6)
    ddpg_actions = ddpg.target_actions(
        actor, p["actor_target"], obs, eps, _hparams("ddpg"), low=LOW, high=HIGH
    )
    np.testing.assert_array_equal(ddpg_actions, plain)


def test_the_actor_loss_is_the_deterministic_policy_gradient_with_the_critic_fixed():
    """Its gradient in the actor equals that of ``-mean Q_1(s, mu(s))`` and is zero in the
    critics."""
    actor, critic, p = _networks(jax.random.key(5))
    obs = jax.random.normal(jax.random.key(6), (B, 3))
    grads = jax.jit(jax.grad(lambda a, c: ddpg.actor_loss(actor, critic, a, c, obs), (0, 1)))(
        p["actor"], p["critic"]
    )
    first = jax.tree.map(lambda x: x[0], p["critic"])
    direct = jax.jit(jax.grad(lambda a: -jnp.mean(critic.apply(first, obs, actor.apply(a, obs)))))(
        p["actor"]
    )
    for ours, theirs in zip(jax.tree.leaves(grads[0]), jax.tree.leaves(direct), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-7)
    assert all(float(jnp.max(jnp.abs(g))) == 0 for g in jax.tree.leaves(grads[1]))


def _tiny(variant, **fields):
    config = ddpg_pendulum.get_config(variant)
    with config.unlocked():
        config.hidden = (16, 16)
        config.batch_size, config.learning_starts = 32, 50
        config.eval_episodes = 2
        for name, value in fields.items():
            config[name] = value
    return config


@pytest.mark.parametrize("noise", ["ou"])  # Gaussian noise: the chains of test_open_agents.py
def test_a_sweep_compiles_once_and_keeps_actions_in_the_bounds(noise):
    """Four settings (tau x policy_delay, an int) and two seeds in one program: ``train_chunk``
    is traced once; every stored action is inside [-2, 2]; every metric is finite or an allowed
    NaN (no episode ended, no update yet)."""
    config = _tiny("td3", noise=noise, total_steps=120, chunk_steps=60)
    experiment = ddpg.make_experiment(config)
    traces = []
    chunk = experiment.train_chunk
    experiment = experiment._replace(train_chunk=lambda c, h: (traces.append(1), chunk(c, h))[1])
    settings = run.make_settings(
        experiment,
        dict(config.hparams),
        {"tau": (0.005, 0.5), "policy_delay": (1, 3)},
        mode="product",
    )
    result = run.train(experiment, settings.hparams, seed_keys(0, 2), num_chunks=2)
    assert len(traces) == 1
    actions = np.asarray(result.carry.buffer.data.action)
    assert np.all(np.abs(actions) <= BOUND) and np.max(np.abs(actions)) > 1.0
    for name in experiment.metrics:
        assert np.all(np.isfinite(result.metrics[name]) | np.isnan(result.metrics[name]))
    assert np.all(np.isfinite(result.metrics["q_mean"]))


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("noise", "pink", r"config.noise must be one of \('gaussian', 'ou'\)"),
        ("learning_starts", 10**9, "config.learning_starts = 1000000000 exceeds"),
        ("ou_theta", 2.0, r"config.ou_theta must be a real number in \[0, 1\], got 2.0"),
    ],
)
def test_bad_configs_are_refused_in_one_line(field, value, message):
    config = ddpg_pendulum.get_config()
    with config.unlocked():
        config[field] = value
    with pytest.raises(ValueError, match=message):
        ddpg.make_experiment(config)
