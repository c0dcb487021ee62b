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
