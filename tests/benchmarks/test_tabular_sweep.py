"""Smoke test of the tabular Q-learning sweep benchmark on tiny sizes (the peer check stays on)."""

import json
import os
import subprocess
import sys

REQUIRED = ("benchmark", "ours", "peer", "peer_value", "unit", "ratio")


def test_tabular_sweep_benchmark_runs():
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    # A smoke run whose timings are only checked to be positive: XLA compiles it with LLVM's
    # backend optimizations off, the same programs in less time (see test_benchmarks._run).
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.benchmarks.tabular_sweep",
            "--num_seeds=8",
            "--steps=200",
            "--peer_steps=2000",
            "--rounds=1",
            "--scaling=1,8",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in REQUIRED:
        assert key in result, key
    assert result["benchmark"] == "tabular_sweep"
    assert result["unit"] == "Q-learning updates per second"
    assert result["peer"].startswith("plain Python loop")
    assert result["ours"] > 0 and result["peer_value"] > 0
    assert abs(result["ratio"] - result["ours"] / result["peer_value"]) < 1e-9 * result["ratio"]
    assert result["num_seeds"] == 8 and result["steps"] == 200
    assert result["peer_checked"] is True
    assert result["peer_check_value_error"] < 1e-4
    assert 0.0 <= result["ours_optimal_fraction"] <= 1.0
    assert [row["num_seeds"] for row in result["scaling"]] == [1, 8]
    assert all(row["updates_per_s"] > 0 for row in result["scaling"])
    assert result["device"]
    assert result["sarsa"]["ours"] > 0 and result["sarsa"]["peer_value"] > 0
    mc = result["mc_epsilon_greedy"]
    assert mc["ours"] > 0 and mc["peer_value"] > 0


def test_python_sarsa_peer_is_sarsa():
    """The Sarsa peer with epsilon = 1 (a uniform behaviour) evaluates the uniform policy: its
    q is q_pi of the uniform policy, whose state values (the mean over actions) are the book's
    figure for the random policy (top row -3.8, -3.8, -3.6, -3.1, -3.2), up to the noise of a
    constant step size 0.02 (a stationary standard deviation of about sqrt(0.02 / 2) times the
    target's spread, about 0.15; the mean over a row of five states is tighter)."""
    import numpy as np

    from experiments.benchmarks.peers import python_sarsa
    from jaxrl.envs import gridworld

    tables = gridworld.to_grid_mdp(gridworld.book_grid()).deterministic_tables()
    q = np.asarray(
        python_sarsa(
            np.asarray(tables[0]).tolist(),
            np.asarray(tables[1]).astype(float).tolist(),
            steps=300_000,
            learning_rate=0.02,
            epsilon=1.0,
            gamma=0.9,
            seed=0,
        )
    )
    top_row = q.mean(axis=1)[:5]
    assert abs(top_row.mean() - np.mean([-3.8, -3.8, -3.6, -3.1, -3.2])) < 0.3


def test_python_mc_peer_averages_every_visit_returns():
    """On a 1x2 corridor (target on the right) with epsilon = 1, one episode of 3 steps: the
    peer's q is the average of the discounted returns that followed each visit, by hand."""
    import random

    from experiments.benchmarks.peers import python_mc_epsilon_greedy

    # States 0 (left) and 1 (target); actions UP, RIGHT, DOWN, LEFT, STAY.
    next_state = [[0, 1, 0, 0, 0], [1, 1, 1, 0, 1]]
    reward = [[-1.0, 1.0, -1.0, -1.0, 0.0], [-1.0, -1.0, -1.0, 0.0, 1.0]]
    q = python_mc_epsilon_greedy(
        next_state, reward, steps=3, episode_length=3, epsilon=1.0, gamma=0.5, seed=7
    )
    rnd = random.Random(7)  # replay the peer's draws: the start, then one uniform per step
    s = rnd.randrange(2)
    visited = []
    for _ in range(3):
        a = min(int(rnd.random() * 5), 4)
        visited.append((s, a, reward[s][a]))
        s = next_state[s][a]
    expected, counts, g = {}, {}, 0.0
    for s, a, r in reversed(visited):
        g = r + 0.5 * g
        counts[(s, a)] = counts.get((s, a), 0) + 1
        expected[(s, a)] = (
            expected.get((s, a), 0.0) + (g - expected.get((s, a), 0.0)) / counts[(s, a)]
        )
    for (s, a), value in expected.items():
        assert abs(q[s][a] - value) < 1e-12
