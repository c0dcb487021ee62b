"""The policy readout of a finished run of a deep config on the book's grid (``dqn_grid``: a
box of coordinates, action values; ``actor_critic_grid``: a table, a softmax policy), read back
with ``run.load`` and checked on every cell's observation from the environment's ``Finite``
hook: the greedy readout is the argmax of what the agent computes (DQN's action values, the
softmax policy's most likely action), and both modes act inside the action space. The learning
tests of both agents finish their runs in a work directory and call it; it evaluates the run
with ``experiments.evaluate`` too (``tests/run/evaluated.py``: DQN's continuing grid with
``max_steps`` given, and a GIF of its episode drawn on the grid)."""

from __future__ import annotations

import importlib

import jax
import numpy as np

from jaxrl import envs, run
from tests.run import evaluated


def check(workdir, seed: int = 1) -> None:
    loaded = run.load(str(workdir))
    env = envs.make(loaded.config.environment, loaded.config.env)
    obs = env.finite.observations  # [S, ...]
    greedy = np.asarray(loaded.policy(seed=seed)(obs, jax.random.key(0)))
    sampled = np.asarray(loaded.policy(seed=seed, mode="sample")(obs, jax.random.key(0)))
    assert greedy.shape == sampled.shape == (obs.shape[0],)
    assert all(env.action_space.contains(a) for a in (*greedy, *sampled))
    if loaded.config.experiment == "jaxrl.agents.dqn":
        np.testing.assert_array_equal(greedy, np.argmax(loaded.values(seed=seed)(obs), axis=-1))
    else:
        module = importlib.import_module(loaded.config.experiment)
        actor = jax.tree.map(lambda leaf: leaf[0, seed], loaded.carry.params.actor)
        probs = module.make_agent(loaded.config).nets.policy(actor, obs).probs
        np.testing.assert_array_equal(greedy, np.argmax(probs, axis=-1))
    dqn = loaded.config.experiment == "jaxrl.agents.dqn"
    evaluated.check(workdir, workdir, episodes=2, max_steps=8 if dqn else None, video=dqn)
