"""Smoke runs of the launcher ``experiments.train`` for every library config, with a tiny budget.

One config runs as a real ``python -m experiments.train`` subprocess, end to end (its exit code,
its stdout and its files); the others run the same launcher in the test's process (its own flag
parsing and ``main``, ``tests.run.binary.train_in_process``), which spares each a second JAX
import and start-up: what differs between the configs is the experiment, not the process.
"""

import json

import numpy as np
import pytest

from tests.run import evaluated
from tests.run.binary import train, train_in_process

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
    # The deep agents' configs (dqn_cartpole, actor_critic_cartpole, ddpg_pendulum, sac_pendulum)
    # run through this launcher in tests/agents/test_open_agents.py, on a fork's environments,
    # where their finished runs are read back with run.load(...).policy; the registry tests
    # compile each of them on its own environment, and the main job's tests run the grid ones.
    "dpo_bandit",  # exact; :sampled is the same module, and so is dpo_lm:dpo
    # dpo_lm (SFT, then DPO from it): tests/agents/test_dpo.py runs both through run.run
]


SUBPROCESS = "q_learning"  # the config launched as a subprocess; the others in-process
LOG_EVERY = "dpo_bandit"  # the config launched with a point every step


@pytest.mark.parametrize("name", CONFIGS)
def test_the_launcher_runs_each_config(tmp_path, capsys, name):
    workdir = tmp_path / name
    flags = (
        f"--config=jaxrl/configs/{name}.py",
        "--config.num_seeds=2",
        "--config.total_steps=4",
        "--config.chunk_steps=2",
        # One launch records a point every step (config.log_every): the launcher builds its
        # experiment for one step a window, and its 2 chunks record 4 points.
        *(("--config.log_every=1",) if name == LOG_EVERY else ()),
    )
    if name == SUBPROCESS:
        code, out, err = train(workdir, *flags)
        assert code == 0, err[-3000:]
    else:
        train_in_process(f"--workdir={workdir}", *flags)  # raises if the launch fails
        out = capsys.readouterr().out  # the launcher prints its lines on stdout
    assert out.count("\nchunk ") == 2  # a progress line per chunk, after the compile line
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["config"]["experiment"].startswith(
        ("jaxrl.tabular.", "jaxrl.approx.", "jaxrl.agents.")
    )
    for name_ in ("metrics.csv", "per_seed.npz", "curves.png"):
        assert (workdir / name_).stat().st_size > 0
    with np.load(workdir / "per_seed.npz") as data:  # a point per chunk, or per step
        assert list(data["step"]) == ([1, 2, 3, 4] if name == LOG_EVERY else [2, 4]), name
    if summary["config"]["experiment"].startswith("jaxrl.agents."):
        _acts(workdir)


def _acts(workdir) -> None:
    """The finished run's policy readout, ``run.load(workdir).policy(setting, seed, mode)``,
    acts: the DPO bandit's is a response per context, greedy or sampled. (The other deep
    configs' readouts are read in tests/agents/test_open_agents.py, the language models' in
    tests/agents/test_dpo.py.)"""
    import jax
    import numpy as np

    from jaxrl import run

    loaded = run.load(str(workdir))
    contexts = np.arange(loaded.config.contexts)
    for mode in ("greedy", "sample"):
        act = loaded.policy(setting=0, seed=1, mode=mode)
        responses = np.asarray(act(contexts, jax.random.key(1)))
        assert responses.shape == contexts.shape and responses.dtype == np.int32, mode
        assert np.all((responses >= 0) & (responses < loaded.config.responses)), mode
    greedy = loaded.policy(setting=0, seed=1)(contexts, jax.random.key(2))
    np.testing.assert_array_equal(greedy, np.argmax(loaded.carry.logits[0, 1], axis=-1))
    # experiments.evaluate: no environment, so the held-out metrics of the checkpoint.
    evaluated.check(workdir, workdir.parent, video=False)


def test_the_configs_command_lists_every_config_and_one_configs_fields():
    """``python -m experiments.configs`` (its functions, in this process): a line per registered
    config with its variants, default first, and its module; one config's fields as the
    ``--config.<field>`` overrides take them; an unknown name or variant is one error line."""
    import importlib

    from experiments import configs

    lines = configs.listing()
    assert lines[0].startswith("run one with: python -m experiments.train --config=")
    assert len(lines) == 1 + len(configs._modules()) and len(lines) > len(CONFIGS)
    by_name = {line.split(" ")[0].rstrip(":"): line for line in lines[1:]}
    for name in CONFIGS:
        assert by_name[name].split(": ")[1] == importlib.import_module(
            f"jaxrl.configs.{name}"
        ).get_config().get("experiment"), by_name[name]
    assert by_name["ddpg_pendulum"].startswith("ddpg_pendulum [ddpg, td3]: jaxrl.agents.ddpg: ")
    td3 = configs.fields("ddpg_pendulum:td3")
    assert "config.hparams.policy_delay = 2" in td3 and "config.environment = 'pendulum'" in td3
    with pytest.raises(ValueError, match=r"no config 'dqn_gird' \(did you mean dqn_grid"):
        configs.fields("dqn_gird")
    with pytest.raises(ValueError, match=r"ddpg_pendulum has no variant 'sac'; its variants: "):
        configs.fields("ddpg_pendulum:sac")
