"""gymnax's environments by name (``jaxrl.envs.gymnax_envs``), against gymnax itself: from the
same state with the same keys, the adapter reaches the same observations, rewards and flags
(truncation apart from termination), its auto-reset is gymnax's, and a vmapped batch compiles
once.

Observations agree to float32 rounding (``OBS``), rewards and flags exactly: both steps are one
compiled program, and XLA fuses the two copies of Acrobot's integration differently (measured:
at most 1.2e-7 apart, one ulp).
"""

import gymnax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs

STEPS = 40
OBS = {"rtol": 1e-6, "atol": 1e-6}


_PROGRAMS = {}  # name -> (ours, gymnax's env, the compiled rollout): one compile per name


def _rollouts(name, max_steps=None):
    """``STEPS`` steps of ours and of gymnax's ``step`` from the same reset, with the same keys
    and actions, in one compiled program (``lax.scan``) per environment, the parameters (the
    time limit among them) its inputs; gymnax restarts an episode itself, ours is given gymnax's
    state after each step, so both step from the same state."""
    if name not in _PROGRAMS:
        env, (theirs, _) = envs.make(f"gymnax:{name}", {}), gymnax.make(name)

        @jax.jit
        def run(key, ours_params, params):
            obs, state = theirs.reset(key, params)

            def body(state, t):
                key_t = jax.random.fold_in(key, t)
                action = env.action_space.sample(jax.random.fold_in(key_t, 1))
                ours = env.step(key_t, state, action, ours_params)
                gym = theirs.step(key_t, state, action, params)
                return gym[1], (ours, gym)

            first = env.reset(key, ours_params)[0]
            return first, obs, jax.lax.scan(body, state, jnp.arange(STEPS))[1]

        _PROGRAMS[name] = (env, theirs, run)
    env, theirs, run = _PROGRAMS[name]
    params = theirs.default_params
    if max_steps is not None:
        params = params.replace(max_steps_in_episode=max_steps)
    return env, run(jax.random.key(3), env.params.replace(env=params), params)


@pytest.mark.parametrize(
    "name", ["Acrobot-v1", "Breakout-MinAtar", "Catch-bsuite", "MountainCarContinuous-v0"]
)
def test_each_step_is_gymnaxs_from_the_same_state_and_keys(name):
    env, (first, their_first, (ours, gym)) = _rollouts(name)
    np.testing.assert_allclose(first, np.asarray(their_first, np.float32), **OBS)
    obs, _, reward, terminated, truncated, info = ours
    g_obs, _, g_reward, g_terminated, g_truncated, g_info = gym
    reached = np.asarray(g_info["final_observation"], np.float32)
    np.testing.assert_allclose(info["final_observation"], reached, **OBS)
    np.testing.assert_array_equal(reward, np.asarray(g_reward, np.float32))
    np.testing.assert_array_equal(terminated, g_terminated)
    np.testing.assert_array_equal(truncated, np.asarray(g_truncated) & ~np.asarray(g_terminated))
    # Without an auto-reset, the observation is the one reached, where gymnax's restarted.
    np.testing.assert_array_equal(obs, info["final_observation"])
    going = ~(np.asarray(g_terminated) | np.asarray(g_truncated))
    np.testing.assert_allclose(obs[going], np.asarray(g_obs, np.float32)[going], **OBS)
    assert obs.shape[1:] == env.observation_space.shape and obs.dtype == np.float32
    if name == "MountainCarContinuous-v0":
        assert env.action_space.shape == (1,)
    else:
        assert isinstance(env.action_space, envs.registry.spaces.Discrete)


def test_truncation_is_not_termination_and_the_auto_reset_is_gymnaxs():
    """Acrobot with a time limit of 5 steps: truncated (bootstrapped), never terminated; Catch
    ends by termination (the ball lands after 9 steps), and with a time limit of 9 gymnax flags
    both on that step, the adapter termination alone."""
    _, (_, _, (ours, gym)) = _rollouts("Acrobot-v1", max_steps=5)
    assert not np.any(ours[3]) and ours[4][4] and ours[4].sum() == STEPS // 5
    for limit in (1000, 9):
        _, (_, _, (ours, gym)) = _rollouts("Catch-bsuite", max_steps=limit)
        assert ours[3][8] and not np.any(ours[4]), limit
        assert bool(gym[4][8]) == (limit == 9)
    # With auto_reset, step is gymnax's own: it restarts the episode from the same key.
    env = envs.make("gymnax:Catch-bsuite", {})
    theirs, params = gymnax.make("Catch-bsuite")
    params_reset = env.auto_reset(env.params)
    obs, state = env.reset(jax.random.key(0), env.params)
    step = jax.jit(env.step)
    for t in range(12):
        key = jax.random.key(t)
        ours = step(key, state, jnp.int32(1), params_reset)
        gym = theirs.step(key, state, jnp.int32(1), params)
        np.testing.assert_allclose(ours[0], np.asarray(gym[0], np.float32), **OBS)
        state = ours[1]


def test_a_vmapped_batch_compiles_once_and_names_are_checked():
    env = envs.make("gymnax:Acrobot-v1", {})
    step = jax.jit(jax.vmap(env.step, in_axes=(0, 0, 0, None)))
    keys = jax.random.split(jax.random.key(0), 8)
    _, states = jax.vmap(env.reset, in_axes=(0, None))(keys, env.params)
    for t in range(2):
        actions = jnp.full((8,), t, jnp.int32)
        states = step(keys, states, actions, env.params)[1]
    assert step._cache_size() == 1
    limited = envs.make("gymnax:Acrobot-v1", {"max_steps": 5})  # the time-limit option
    assert limited.max_steps == 5 and int(limited.params.env.max_steps_in_episode) == 5
    with pytest.raises(ValueError, match="close matches: gymnax:Acrobot-v1"):
        envs.make("gymnax:Acrobat-v1", {})
    with pytest.raises(ValueError, match="MNISTBandit-bsuite is not available: it downloads"):
        envs.make("gymnax:MNISTBandit-bsuite", {})
    with pytest.raises(ValueError, match=r"config.env.width is not an option of environment"):
        envs.make("gymnax:Acrobot-v1", {"width": 3})
