"""Open agents: environments defined only in ``tests/agents/chain.py`` (a fork's own, named by
import path, no registration and no edit of ``jaxrl``) run every deep agent through the launcher
``experiments.train`` (in the test's process: one JAX import), and each finished run hands back
its policy with ``run.load(workdir).policy(seed=i)``.

The chains' optimal returns are known exactly (-5 for the discrete chain of 6 cells, -2 for the
continuous one), and they are deterministic, so one greedy episode is the policy's return. Each
agent must come within 5% of the optimum in at least 7 of its 8 seeds; with returns on the
integers that is the optimal return itself.

Why 7 of 8 (a binomial bound): at these settings each agent reached the optimum in every one of
32 seeds (measured 2026-12-06, BUILD-notes.md), so its per-seed failure probability ``q`` is
below 0.11 with 97.5% confidence (the Clopper-Pearson bound for 0 of 32: ``1 - 0.025^(1/32)``).
For ``q = 0.02`` this test fails by chance (2 or more failures of 8) with probability 1.0%; for
``q = 0.11``, 23%: a real regression shows up, a lucky seed does not hide one.

The runs are shared: one launcher call per agent (8 seeds in one compiled program), and the same
finished runs serve the policy readout, in both of its modes, and ``experiments.evaluate``
(``tests/run/evaluated.py``). (The grid configs' readouts are
checked on the finished runs of their own learning tests: ``tests/agents/grid_readout.py``.)
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jaxrl import envs, run
from tests.agents import chain_configs
from tests.run import evaluated
from tests.run.binary import train_in_process

SEEDS = 8
CONFIG_FILE = '''"""A fork's config: a library agent on a chain of tests/agents/chain.py."""

from tests.agents import chain_configs
from tests.run import evaluated
from tests.run.binary import train_in_process


def get_config():
    return chain_configs.config({name!r}, num_seeds={seeds})
'''
DISCRETE = ("dqn", "reinforce", "qac", "a2c", "off_policy_ac", "ppo")
CONTINUOUS = ("ddpg", "td3", "sac", "ppo_box")
VIDEO = ("dqn", "ppo_box")  # a GIF of one agent on each chain (the fork's own drawing)
STEPPED = ("dqn", "ddpg")  # their scores checked against episodes stepped from Python


def _check_agents(names, tmp_path) -> None:
    for name in names:
        path = tmp_path / f"{name}_config.py"
        path.write_text(CONFIG_FILE.format(name=name, seeds=SEEDS))
        workdir = tmp_path / name
        train_in_process(f"--config={path}", f"--workdir={workdir}")
        loaded = run.load(str(workdir))
        env = envs.make(loaded.config.environment, loaded.config.env)
        optimal = chain_configs.OPTIMAL[loaded.config.environment]
        # experiments.evaluate scores every seed's greedy policy in one program (the chains are
        # deterministic: one episode is the policy's return) ...
        scored = evaluated.check(
            workdir, tmp_path, episodes=1, video=name in VIDEO, alone=name == "dqn"
        )
        returns = scored["returns"][0, :, 0]
        good = sum(abs(r - optimal) <= 0.05 * abs(optimal) for r in returns)
        assert good >= 7, (name, returns)
        if name in STEPPED:  # ... which are the returns of the readout stepped from Python
            stepped = [
                chain_configs.greedy_return(env, loaded.policy(seed=i)) for i in range(SEEDS)
            ]
            np.testing.assert_allclose(returns, stepped, rtol=1e-6, err_msg=name)
        # The sampled readout acts too: a batch of observations, one action each, in the space.
        obs, _ = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(jax.random.key(0), 5), ())
        actions = np.asarray(loaded.policy(seed=0, mode="sample")(obs, jax.random.key(1)))
        assert actions.shape == (5, *env.action_space.shape), name
        assert all(env.action_space.contains(a) for a in actions), (name, actions)
        if name == "ppo_box":
            _check_normalised_readout(loaded, obs)


def _check_normalised_readout(loaded, obs) -> None:
    """PPO's Gaussian policy reads observations through the running moments the run carried and
    checkpointed: the greedy readout is the clipped mean of the actor at the normalised
    observation, computed here by hand from the restored carry."""
    from jaxrl.agents import ppo

    carry = jax.tree.map(lambda x: x[0, 0], loaded.carry)  # setting 0, seed 0
    moments = carry.normalizer.obs
    assert moments.count > 0 and np.all(moments.var > 0), moments
    seen = np.clip((np.asarray(obs) - moments.mean) / np.sqrt(moments.var + 1e-8), -10.0, 10.0)
    mean, _ = ppo.make_agent(loaded.config).nets.actor.apply(carry.params.actor, seen)
    expected = np.clip(mean, -1.0, 1.0)
    np.testing.assert_allclose(loaded.policy(seed=0)(obs, None), expected, rtol=1e-5, atol=1e-6)


def test_every_discrete_action_agent_reaches_the_optimal_return_of_a_forks_chain(tmp_path):
    """DQN and each actor-critic algorithm (REINFORCE, QAC, A2C, off-policy AC, PPO)."""
    _check_agents(DISCRETE, tmp_path)


def test_every_continuous_action_agent_reaches_the_optimal_return_of_a_forks_chain(tmp_path):
    """DDPG, TD3, SAC, and PPO with its Gaussian policy, observation normalisation and reward
    scaling."""
    _check_agents(CONTINUOUS, tmp_path)


def test_a_registered_name_works_as_the_import_path_does():
    """A fork may register its environment under a name instead; the registry hands out the
    same environment either way, and an unknown name is one line listing the registered ones."""
    from tests.agents import chain

    envs.register("test chain", chain.discrete)
    try:
        by_name = envs.make("test chain", {"length": 4})
        by_path = envs.make(chain_configs.DISCRETE, {"length": 4})
        assert by_name.observation_space == by_path.observation_space
        assert "test chain" in envs.names()
    finally:
        envs.registry._FACTORIES.pop("test chain")
    with pytest.raises(ValueError, match=r"config.environment must be a registered environment"):
        envs.make("no such chain", {})
    with pytest.raises(ValueError, match=r"config.env.width is not an option of environment"):
        envs.make(chain_configs.DISCRETE, {"width": 3})
