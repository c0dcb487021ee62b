"""The README's "write your own agent" example (``experiments/examples/``): launched from its own
config by the launcher, read back with ``run.load``, acting through its policy readout, and its
estimates equal to a plain Python replay of the same random numbers."""

import jax
import numpy as np

from experiments.examples import bandit
from jaxrl import run
from jaxrl.envs import rng
from tests.run.binary import train_in_process

STEPS = 200


def test_the_bandit_example_runs_loads_acts_and_matches_a_python_replay(tmp_path):
    workdir = tmp_path / "bandit"
    train_in_process(
        "--config=experiments/examples/bandit_config.py",
        f"--workdir={workdir}",
        "--config.num_seeds=2",
        f"--config.total_steps={STEPS}",
        f"--config.chunk_steps={STEPS // 2}",
    )
    loaded = run.load(str(workdir))
    assert loaded.chunks_done == 2 and loaded.config.experiment == "experiments.examples.bandit"
    q = loaded.carry.q  # [settings, seeds, arms]
    arms = np.asarray(loaded.policy(setting=2, seed=1)(np.zeros(3), jax.random.key(0)))
    np.testing.assert_array_equal(arms, [np.argmax(q[2, 1])] * 3)
    sampled = np.asarray(
        loaded.policy(setting=2, seed=1, mode="sample")(np.zeros(50), jax.random.key(1))
    )
    assert sampled.shape == (50,) and set(sampled) <= set(range(q.shape[-1]))

    # Seed 1 of setting 2 (epsilon 0.1), replayed pull by pull in Python from its stream.
    means = np.asarray(loaded.config.arm_means, np.float64)
    epsilon = float(loaded.config.sweep.epsilon[2])
    key_data = jax.random.key_data(run.seed_keys(int(loaded.config.seed), 2)[1])
    uniforms = jax.jit(jax.vmap(rng.counter_uniforms, in_axes=(None, 0, None)), static_argnums=2)
    explore = np.asarray(uniforms(key_data, np.arange(STEPS), 0)[0], np.float64)
    u1, u2 = (np.asarray(u, np.float64) for u in uniforms(key_data, np.arange(STEPS), 1))
    estimates, pulls = np.zeros_like(means), np.zeros_like(means)
    for t in range(STEPS):
        k = len(means)
        u = explore[t]
        arm = min(int(k * u / epsilon), k - 1) if u < epsilon else int(np.argmax(estimates))
        reward = means[arm] + np.sqrt(-2.0 * np.log1p(-u1[t])) * np.cos(2.0 * np.pi * u2[t])
        pulls[arm] += 1
        estimates[arm] += (reward - estimates[arm]) / pulls[arm]
    np.testing.assert_allclose(q[2, 1], estimates, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(loaded.carry.n[2, 1], pulls)
    assert bandit.make_experiment(loaded.config).metrics == ("regret", "best_arm")
