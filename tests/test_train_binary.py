"""Smoke runs of the launcher ``experiments.train`` for every library config, with a tiny budget."""

import json

import pytest

from tests.run.binary import train

CONFIGS = [
    "q_learning",
    "q_learning_off_policy",
    "q_learning_path_finding",
    "double_q_learning",
    "sarsa_path_finding",
    "sarsa",
    "expected_sarsa",
    "n_step_sarsa",
    "td0",
    "mc_basic",
    "mc_exploring_starts",
    "mc_epsilon_greedy",
    "mean_estimation",
    "td_linear",
    "linear_sarsa",  # linear_q_learning is the same module (another variant): registry tests
    "dqn_cartpole",  # dqn_grid is the same module: the main job's tests run it
    "actor_critic_cartpole",  # ppo; actor_critic_grid is the same module (agent tests, main job)
    "ddpg_pendulum",  # ddpg; the td3 variant is the same module
    "sac_pendulum",
    "dpo_bandit",  # exact; :sampled is the same module, and so is dpo_lm:dpo
    # dpo_lm (SFT, then DPO from it): tests/agents/test_dpo.py runs both through run.run
]


@pytest.mark.parametrize("name", CONFIGS)
def test_the_launcher_runs_each_config(tmp_path, name):
    workdir = tmp_path / name
    code, out, err = train(
        workdir,
        f"--config=jaxrl/configs/{name}.py",
        "--config.num_seeds=2",
        "--config.total_steps=6",
        "--config.chunk_steps=2",
    )
    assert code == 0, err[-3000:]
    assert out.count("\nchunk ") == 3  # a progress line per chunk, after the compile line
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["config"]["experiment"].startswith(
        ("jaxrl.tabular.", "jaxrl.approx.", "jaxrl.agents.")
    )
    for name_ in ("metrics.csv", "per_seed.npz", "curves.png"):
        assert (workdir / name_).stat().st_size > 0
    if summary["config"]["experiment"].startswith("jaxrl.agents."):
        _acts(workdir)


def _acts(workdir) -> None:
    """The finished run's policy readout, ``run.load(workdir).policy(setting, seed)``, acts on a
    batch of observations in both modes, each action in the environment's action space (the
    DPO bandit's: a response per context)."""
    import jax
    import numpy as np

    from jaxrl import envs, run

    loaded = run.load(str(workdir))
    config = loaded.config
    if "environment" in config:
        env = envs.make(config.environment, config.env)
        keys = jax.random.split(jax.random.key(0), 3)
        obs, _ = jax.vmap(env.reset, in_axes=(0, None))(keys, env.params)
        space = env.action_space
    else:  # the DPO bandit: contexts in, responses out
        obs = np.arange(config.contexts)
        space = envs.spaces.Discrete(config.responses)
    for mode in ("greedy", "sample"):
        actions = np.asarray(loaded.policy(setting=0, seed=1, mode=mode)(obs, jax.random.key(1)))
        assert actions.shape == (len(obs), *space.shape), (mode, actions.shape)
        assert all(space.contains(a) for a in actions), (mode, actions)
