"""Benchmark: the deep agents on gymnax environments, 16 seeds in one program vs one after another.

Each algorithm that has a benchmark of its own (DQN, PPO, TD3 of ``jaxrl.agents.ddpg``) runs one
chunk of its gymnax result config, at that config's settings (network, environments per seed,
batch, updates per environment step; the chunk's closing evaluation counted against both):

* ``dqn``: ``jaxrl/configs/dqn_acrobot.py`` on ``gymnax:Acrobot-v1``, past ``learning_starts``
  so that every timed step learns;
* ``ppo``: ``jaxrl/configs/ppo_acrobot.py`` on ``gymnax:Acrobot-v1``;
* ``td3``: ``jaxrl/configs/ddpg_pendulum.py:td3`` moved to ``gymnax:Pendulum-v1``, past
  ``learning_starts``.

``ours`` is ``--num_seeds`` seeds in one compiled program (the runner's ``train_chunk``, vmapped
over the seeds and sharded over the launcher's device layout); the peer is the same program for
one seed, called once per seed one after another in the same process (what vmapping the seeds
gains). ``ratio`` is ours / peer in environment steps per second.

    python -m experiments.benchmarks.gymnax_seeds --algorithm=ppo [--num_seeds=16] \\
        [--steps=N] [--rounds=1]

``--steps`` replaces the config's chunk (training steps per seed per timed call), for smoke runs.
"""

from __future__ import annotations

import importlib

from absl import flags

from experiments import cli, launch
from experiments.benchmarks import common

ALGORITHMS = {  # name -> (config module, its variant or None, environment or None: the config's)
    "dqn": ("jaxrl.configs.dqn_acrobot", None, None),
    "ppo": ("jaxrl.configs.ppo_acrobot", None, None),
    "td3": ("jaxrl.configs.ddpg_pendulum", "td3", "gymnax:Pendulum-v1"),
}
_ALGORITHM = flags.DEFINE_enum("algorithm", "ppo", list(ALGORITHMS), "The agent to time.")
_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 16, "Seeds vmapped in our timed program.")
_STEPS = flags.DEFINE_integer("steps", None, "Training steps per timed call (default: a chunk).")
_ROUNDS = flags.DEFINE_integer("rounds", 1, "Timing rounds; the best round counts.")
cli.at_least("num_seeds")
cli.at_least("rounds")
flags.register_validator("steps", lambda v: v is None or v >= 1, "--steps must be >= 1")


def benchmark_config(algorithm: str, steps: int | None = None):
    """The algorithm's result config on its gymnax environment, ``steps`` training steps a
    chunk (default: the config's own chunk)."""
    module, variant, environment = ALGORITHMS[algorithm]
    get_config = importlib.import_module(module).get_config
    config = get_config() if variant is None else get_config(variant)
    with config.unlocked():
        if environment is not None:
            config.environment, config.env = environment, {}
        if steps is not None:
            config.chunk_steps = steps
    return config


def run(algorithm: str, num_seeds: int, steps: int | None, rounds: int) -> dict:
    config = benchmark_config(algorithm, steps)
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    env_steps = config.chunk_steps * experiment.env_steps_per_step  # per seed per call
    starts = config.get("learning_starts", 0)
    warm_calls = -(-starts // env_steps)  # past the warm-up: every timed step learns
    ours = common.compiled_chunk(experiment, config, num_seeds, warm_calls=warm_calls)
    one = (
        ours
        if num_seeds == 1
        else common.compiled_chunk(experiment, config, 1, warm_calls=warm_calls)
    )

    def sequential():
        return [common.block(one()) for _ in range(num_seeds)]

    times = common.best_times({"ours": ours, "sequential": sequential}, rounds=rounds)
    ours_rate = num_seeds * env_steps / times["ours"]
    sequential_rate = num_seeds * env_steps / times["sequential"]
    return {
        "benchmark": f"gymnax_seeds_{algorithm}",
        "ours": ours_rate,
        "peer": f"the same {num_seeds} seeds one after another (one-seed program)",
        "peer_value": sequential_rate,
        "unit": "environment steps/s",
        "ratio": ours_rate / sequential_rate,
        "environment": config.environment,
        "num_seeds": num_seeds,
        "env_steps_per_call": env_steps,
        "num_envs": config.num_envs,
        "seconds": {name: round(t, 3) for name, t in times.items()},
        "devices": common.device_description(),
    }


def main(argv):
    del argv
    launch.configure_cpu_devices(None)  # the launcher's default layout: a device per core
    result = run(_ALGORITHM.value, _NUM_SEEDS.value, _STEPS.value, _ROUNDS.value)
    print(
        f"{result['benchmark']} on {result['environment']}: {result['ours']:,.0f} env steps/s "
        f"({result['num_seeds']} seeds in one program), {result['peer_value']:,.0f} one seed "
        f"after another: {result['ratio']:.1f}x"
    )
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
