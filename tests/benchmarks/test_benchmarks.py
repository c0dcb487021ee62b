"""Smoke tests of the benchmark binaries on tiny sizes: they run, and close with the JSON line."""

import json
import os
import subprocess
import sys

import pytest

REQUIRED = ("benchmark", "ours", "peer", "peer_value", "unit", "ratio")


def _run(module: str, *flags: str) -> dict:
    """Runs the benchmark binary: it exits 0 and its last line of output is the JSON result.

    The runs are smoke runs whose timings are only checked to be positive, so XLA compiles them
    with LLVM's backend optimizations off (``--xla_backend_optimization_level=0``): the same
    programs (XLA's own passes, hence its FLOP counts, unchanged), compiled in about half the
    time."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = f"{env.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()
    proc = subprocess.run(
        [sys.executable, "-m", module, *flags],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    return _checked(json.loads(last))


def _checked(result: dict) -> dict:
    for key in REQUIRED:
        assert key in result, key
    assert result["ours"] > 0 and result["peer_value"] > 0 and result["ratio"] > 0
    return result


def test_value_iteration_benchmark_runs():
    result = _run("experiments.benchmarks.value_iteration", "--size=40", "--sweeps=6", "--rounds=1")
    assert result["benchmark"] == "value_iteration"
    assert result["floor_ratio"] > 0
    assert result["value_iteration_sweep_ratio"] > 0
    assert result["grid"] == "40x40"


@pytest.mark.parametrize("wrapper", [True, False], ids=["--wrapper", "built-in"])
def test_gridworld_env_benchmark_runs(wrapper):
    """Both auto-resets: ``--wrapper`` through the binary, end to end (the flag reaches the run);
    the built-in one (the default) through the same ``run`` in this process."""
    if wrapper:
        result = _run(
            "experiments.benchmarks.gridworld_env",
            "--num_envs=8",
            "--num_steps=20",
            "--rounds=1",
            "--wrapper",
        )
    else:
        from experiments.benchmarks.gridworld_env import run

        result = _checked(json.loads(json.dumps(run(8, 20, 1, wrapper=False))))
    assert result["benchmark"] == "gridworld_env"
    assert result["num_envs"] == 8
    assert result["auto_reset"] == ("wrappers.auto_reset" if wrapper else "built-in")


def test_four_rooms_layout_matches_gymnax():
    """Our benchmark grid is gymnax's four-rooms map: walls where gymnax cannot walk."""
    import numpy as np
    from gymnax.environments.misc.rooms import FourRooms

    from experiments.benchmarks.gridworld_env import four_rooms_grid

    grid = four_rooms_grid()
    walkable = np.asarray(FourRooms().env_map)
    assert grid.shape == walkable.shape
    np.testing.assert_array_equal(grid.forbidden_mask(), ~walkable)


def test_dqn_benchmark_runs():
    result = _run(
        "experiments.benchmarks.dqn",
        "--num_seeds=1",
        "--steps=40",
        "--peer_steps=200",
        "--rounds=1",
        "--nowarm",
    )
    assert result["benchmark"] == "dqn_cartpole"
    assert result["vmap_ratio"] > 0 and result["sequential"] > 0
    assert result["env_steps_per_call"] == 400  # 40 training steps x 10 environments


def test_the_dqn_peer_learns_from_gymnasium_transitions():
    """The peer's buffer holds gymnasium's transitions, checked against our CartPole's physics
    (the same step from the same state), and its update changes the parameters."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from experiments.benchmarks.dqn_peer import PythonDQN, benchmark_config
    from jaxrl.envs import cartpole

    config = benchmark_config(10)
    with config.unlocked():
        config.learning_starts, config.batch_size = 50, 8
    peer = PythonDQN(config, seed=1)
    before = jax.tree.leaves(peer.params)[0].copy()
    peer.run(300)
    n = peer.size
    assert n == 300 and peer.updates > 0
    assert not np.allclose(before, jax.tree.leaves(peer.params)[0])
    obs = peer.obs_buf[:n]
    state = cartpole.EnvState(*(jnp.asarray(obs[:, i]) for i in range(4)), jnp.zeros(n, jnp.int32))
    params = cartpole.make_params()
    reached = jax.vmap(cartpole.dynamics, in_axes=(0, 0, None))(
        state, jnp.asarray(peer.action_buf[:n]), params
    )
    np.testing.assert_allclose(np.stack(reached[:4], -1), peer.next_buf[:n], atol=1e-5)


def test_actor_critic_benchmark_runs():
    result = _run(
        "experiments.benchmarks.actor_critic",
        "--num_seeds=1",
        "--steps=2",
        "--peer_rollouts=1",
        "--rounds=1",
    )
    assert result["benchmark"] == "ppo_cartpole"
    assert result["vmap_ratio"] > 0 and result["sequential"] > 0
    assert result["env_steps_per_call"] == 512  # 2 rollouts x 8 environments x 32 steps
    assert result["epochs"] == 4


def test_the_ppo_peer_collects_gymnasium_rollouts_and_learns_from_them():
    """The peer's rollout holds gymnasium's transitions, checked against our CartPole's physics
    (the same step from the same state); an episode's next observation is the following step's
    observation unless it ended; and the shared jitted update changes the parameters."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from experiments.benchmarks.actor_critic_peer import PythonPPO, benchmark_config
    from jaxrl.envs import cartpole

    peer = PythonPPO(benchmark_config(1), seed=1)
    rollout = peer.rollout()
    obs = rollout.obs.reshape(-1, 4)
    n = len(obs)
    state = cartpole.EnvState(*(jnp.asarray(obs[:, i]) for i in range(4)), jnp.zeros(n, jnp.int32))
    reached = jax.vmap(cartpole.dynamics, in_axes=(0, 0, None))(
        state, jnp.asarray(rollout.action.reshape(-1)), cartpole.make_params()
    )
    np.testing.assert_allclose(
        np.stack(reached[:4], -1), rollout.next_obs.reshape(-1, 4), atol=1e-5
    )
    going = rollout.done[:-1] == 0
    np.testing.assert_array_equal(rollout.obs[1:][going], rollout.next_obs[:-1][going])
    np.testing.assert_allclose(rollout.behaviour_probs.sum(-1), 1.0, atol=1e-6)
    before = np.asarray(jax.tree.leaves(peer.params)[0]).copy()
    peer.run(1)
    assert peer.updates == 1 and peer.env_steps == 2 * 256
    assert not np.allclose(before, jax.tree.leaves(peer.params)[0])


def test_ddpg_benchmark_runs():
    result = _run(
        "experiments.benchmarks.ddpg",
        "--num_seeds=1",
        "--steps=20",
        "--peer_steps=20",
        "--rounds=1",
        "--nowarm",
    )
    assert result["benchmark"] == "ddpg_pendulum"
    assert result["vmap_ratio"] > 0 and result["sequential"] > 0
    assert result["env_steps_per_call"] == 20 and result["hidden"] == [64, 64]


def test_the_ddpg_peer_learns_from_gymnasium_transitions():
    """The peer's buffer holds gymnasium's Pendulum transitions, checked against our dynamics
    from the same state, its actions stay in the bounds, and the shared jitted update changes the
    parameters."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from experiments.benchmarks.ddpg_peer import PythonDDPG, benchmark_config
    from jaxrl.envs import pendulum

    config = benchmark_config(10)
    with config.unlocked():
        config.learning_starts, config.batch_size = 50, 16
    peer = PythonDDPG(config, seed=2)
    before = np.asarray(jax.tree.leaves(peer.params.actor)[0]).copy()
    peer.run(120)
    n = peer.size
    assert n == 120 and np.all(np.abs(peer.action_buf[:n]) <= 2.0)
    obs = peer.obs_buf[:n]
    theta = np.arctan2(obs[:, 1], obs[:, 0])
    state = pendulum.EnvState(jnp.asarray(theta), jnp.asarray(obs[:, 2]), jnp.zeros(n, jnp.int32))
    reached, reward = jax.vmap(pendulum.dynamics, in_axes=(0, 0, None))(
        state, jnp.asarray(peer.action_buf[:n]), pendulum.make_params()
    )
    np.testing.assert_allclose(jax.vmap(pendulum.observe)(reached), peer.next_buf[:n], atol=1e-4)
    np.testing.assert_allclose(reward, peer.reward_buf[:n], rtol=1e-4, atol=1e-4)
    assert not np.allclose(before, jax.tree.leaves(peer.params.actor)[0])


def test_rlhf_benchmark_runs():
    """PPO-RLHF's and GRPO's steps stage by stage: every stage timed; the forward stages execute
    what the model counts (XLA's count within 10%), and so does the update, whose scan over
    epochs XLA counts once."""
    result = _run("experiments.benchmarks.rlhf", "--batch=8", "--matmul=64", "--rounds=1")
    assert result["benchmark"] == "rlhf_step" and result["unit"] == "FLOP/s"
    for name, epochs in (("ppo_rlhf", 4), ("grpo", 1)):
        figures = result["agents"][name]
        assert figures["epochs"] == epochs
        assert figures["tokens"]["step"] == 8 * 13 and figures["tokens"]["generation"] == 8 * 6
        assert all(figures["ms"][s] > 0 and figures["tokens_per_s"][s] > 0 for s in figures["ms"])
        model, xla = figures["model_flops"], figures["xla_flops"]
        for stage in ("reward", "reference", "policy"):
            assert 0.9 < xla[stage] / model[stage] < 1.1, (name, stage)
        assert 0.9 < xla["update"] * epochs / model["update"] < 1.1, name


def test_dpo_benchmark_runs():
    result = _run(
        "experiments.benchmarks.dpo",
        "--batch=4",
        "--matmul=64",
        "--rounds=1",
        "--steps=1",
        "--responses=4",
        "--generation_batch=2",
        "--generation_rounds=1",
    )
    assert result["benchmark"] == "dpo_step" and result["unit"] == "FLOP/s"
    assert result["tokens_per_step"] == 2 * 4 * 13
    assert result["tokens_per_s_dense"] > 0 and result["tokens_per_s_moe"] > 0
    assert result["moe_fraction"] > 0
    # the dense step executes what the model counts (XLA's count, within 10%); the mixture's
    # capacity dispatch at most 1.3x (its 2 active experts' FLOPs times the capacity factor,
    # 1.25: 65 slots per expert for the 52 assignments' mean share here)
    assert 0.9 < result["xla_flops_per_step_dense"] / result["model_flops_per_step_dense"] < 1.1
    assert 1.0 < result["xla_flops_per_step_moe"] / result["model_flops_per_step_moe"] <= 1.3
    dispatch = result["moe_dispatch"]
    assert dispatch["capacity_factor"] == 1.25
    for name in ("dense", "ragged", "capacity", "capacity_0"):  # the same outputs
        assert dispatch[name]["ms"] > 0 and dispatch[name]["max_diff"] < 1e-5, name
    assert dispatch["capacity"]["xla_flops"] < dispatch["dense"]["xla_flops"]
    rates = result["generation_tokens_per_s"]["4"]
    assert rates["full"] > 0 and rates["cached"] > 0 and rates["speedup"] > 0
