"""Smoke runs of experiments.tabular for every tabular config, with a tiny budget."""

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = [
    "q_learning",
    "q_learning_off_policy",
    "q_learning_path_finding",
    "sarsa_path_finding",
    "sarsa",
    "expected_sarsa",
    "n_step_sarsa",
    "td0",
    "mc_exploring_starts",
    "mc_epsilon_greedy",
    "mean_estimation",
]


@pytest.mark.parametrize("name", CONFIGS)
def test_binary_runs_each_config(tmp_path, name):
    workdir = tmp_path / name
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.tabular",
            f"--config=jaxrl/configs/{name}.py",
            f"--workdir={workdir}",
            "--config.num_seeds=4",
            "--config.total_steps=600",
            "--config.chunk_steps=200",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("chunk ") >= 3  # a progress line per chunk (absl logs to stderr)
    summary = json.loads((workdir / "summary.json").read_text())
    assert summary["config"]["algorithm"] in (
        "q_learning",
        "sarsa",
        "td0",
        "monte_carlo",
        "mean_estimation",
    )
    for name_ in ("metrics.csv", "per_seed.npz", "curves.png"):
        assert (workdir / name_).stat().st_size > 0
