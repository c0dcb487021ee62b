"""Brax's environments by name (``jaxrl.envs.brax_envs``), against Brax's own ``EpisodeWrapper``
(the wrapper Brax trains with, which folds the time limit into ``done`` and keeps it in
``info["truncation"]``): from the same state with the same action the adapter reaches the same
observation and reward, terminates where Brax's ``done`` is a termination and truncates where
Brax's ``truncation`` is set, never both.

Kept tiny (Brax's CPU compile is slow): one compiled program, a vmapped batch of two action
sequences on inverted_pendulum, stepped 8 times; the time limit is an input, so a second limit
runs the same program.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from brax.envs.wrappers import training as brax_training

from jaxrl import envs
from jaxrl.envs import brax_envs

NAME, BACKEND, STEPS = "inverted_pendulum", "spring", 8  # spring: the quickest CPU compile


def test_each_step_is_braxs_with_truncation_kept_apart_from_termination():
    env = envs.make(f"brax:{NAME}", {"max_steps": STEPS, "backend": BACKEND})
    theirs = brax_training.EpisodeWrapper(brax_envs.make_brax(NAME, BACKEND), STEPS, 1)

    @jax.jit
    @jax.vmap
    @jax.numpy_rank_promotion("allow")  # Brax broadcasts across ranks (the adapter allows it too)
    def run(key, actions, ours_params):
        state = theirs.reset(key)
        assert_obs = env.reset(key, ours_params)[0]

        def body(state, action):  # ours steps from Brax's state, with Brax's step count
            time = state.info["steps"].astype(jnp.int32)
            ours = env.step(key, brax_envs.State(state, time), action, ours_params)
            state = theirs.step(state, action)
            return state, (ours[0], ours[2], ours[3], ours[4], state)

        return assert_obs, state.obs, jax.lax.scan(body, state, actions)[1]

    keys = jax.random.split(jax.random.key(0), 2)
    # Sequence 0 holds the pole up for 8 steps (cut by the time limit); sequence 1 pushes it over.
    actions = jnp.stack([jnp.zeros((STEPS, 1)), jnp.ones((STEPS, 1))])
    limits = env.params.replace(max_steps=jnp.full((2,), STEPS, jnp.int32))
    first, their_first, (obs, reward, terminated, truncated, brax) = run(keys, actions, limits)
    np.testing.assert_array_equal(first, their_first)
    np.testing.assert_allclose(obs, brax.obs, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(reward, brax.reward)
    cut = brax.info["truncation"] > 0
    np.testing.assert_array_equal(truncated, cut)
    np.testing.assert_array_equal(terminated, (brax.done > 0) & ~cut)
    assert truncated[0, -1] and not terminated[0].any() and not truncated[0, :-1].any()
    assert terminated[1].any() and not truncated[1].any()
    # A longer limit is another input to the same program: nothing is cut within 8 steps.
    longer = env.params.replace(max_steps=jnp.full((2,), 100, jnp.int32))
    assert not run(keys, actions, longer)[2][3].any()
    assert run._cache_size() == 1


def test_names_backends_and_a_missing_brax_are_one_line(monkeypatch):
    with pytest.raises(ValueError, match="close matches: brax:inverted_pendulum"):
        envs.make("brax:inverted_pendulam", {})
    with pytest.raises(ValueError, match="backend must be one of generalized, positional"):
        envs.make(f"brax:{NAME}", {"backend": "nope"})
    with pytest.raises(ValueError, match="max_steps must be an integer"):
        envs.make(f"brax:{NAME}", {"max_steps": 0})
    monkeypatch.setitem(__import__("sys").modules, "brax", None)
    with pytest.raises(ValueError, match=r"need the brax package: pip install 'jaxrl\[envs\]'"):
        envs.make(f"brax:{NAME}", {})
