"""Benchmark: DDPG on Pendulum, environment steps per second, 8 seeds in one program vs the usual
loop.

The agent is ``jaxrl.agents.ddpg`` at the settings of ``jaxrl/configs/ddpg_pendulum.py`` (the
result's: one environment per seed, one update per environment step on minibatches of 256,
64-64 actor and critic), past ``learning_starts`` so that every timed step learns:

* ours: ``--num_seeds`` seeds in one compiled program (the runner's ``train_chunk``, vmapped over
  the seeds and sharded over the launcher's device layout), ``--steps`` environment steps per
  seed per call; the chunk's closing evaluation runs one episode (counted against us);
* sequential (a): the same program for one seed, called once per seed one after another in the
  same process: what vmapping the seeds gains on this machine;
* peer (b): the usual single-process pattern, one seed: gymnasium's ``Pendulum-v1`` stepped from
  Python, a jitted forward pass per step for the noisy action, a NumPy ring buffer, and the SAME
  jitted update (``ddpg.update``) every step on a minibatch of the same size.

``ratio`` is ours / peer (b) in environment steps per second (goal >= 3 on 2 CPU cores);
``vmap_ratio`` is ours / sequential (a).

    python -m experiments.benchmarks.ddpg [--num_seeds=8] [--steps=2000] [--peer_steps=2000] \\
        [--rounds=2] [--variant=ddpg]
"""

from __future__ import annotations

from absl import flags

from experiments import cli, launch
from experiments.benchmarks import common
from experiments.benchmarks.ddpg_peer import PythonDDPG, benchmark_config
from jaxrl.agents import ddpg

_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 8, "Seeds vmapped in our timed program.")
_STEPS = flags.DEFINE_integer("steps", 2_000, "Environment steps per seed per timed call.")
_PEER_STEPS = flags.DEFINE_integer("peer_steps", 2_000, "Environment steps of the peer (timed).")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Timing rounds; the best round counts.")
_VARIANT = flags.DEFINE_enum("variant", "ddpg", ["ddpg", "td3"], "The config's variant.")
_WARM = flags.DEFINE_bool(
    "warm", True, "Run past learning_starts before timing (--nowarm: smoke tests)."
)

cli.at_least("num_seeds")
cli.at_least("steps")
cli.at_least("peer_steps")
cli.at_least("rounds")


def make_ours(config, num_seeds: int, warm: bool = True):
    """Our compiled ``train_chunk`` for ``num_seeds`` seeds, run past ``learning_starts``."""
    warm_calls = -(-config.learning_starts // config.chunk_steps) * warm
    return common.compiled_chunk(
        ddpg.make_experiment(config), config, num_seeds, warm_calls=warm_calls
    )


def run(num_seeds, steps, peer_steps, rounds, variant="ddpg", warm=True) -> dict:
    config = benchmark_config(steps, variant)
    ours = make_ours(config, num_seeds, warm)
    one = ours if num_seeds == 1 else make_ours(config, 1, warm)
    sequential = lambda: [common.block(one()) for _ in range(num_seeds)]  # noqa: E731
    peer = PythonDDPG(config)
    peer.run(config.learning_starts if warm else 1)
    times = common.best_times(
        {"ours": ours, "sequential": sequential, "peer": lambda: peer.run(peer_steps)},
        rounds=rounds,
    )
    ours_rate = num_seeds * steps / times["ours"]
    sequential_rate = num_seeds * steps / times["sequential"]
    peer_rate = peer_steps / times["peer"]
    return {
        "benchmark": f"{variant}_pendulum",
        "ours": ours_rate,
        "peer": "gymnasium Pendulum-v1 from Python, same jitted update, 1 seed",
        "peer_value": peer_rate,
        "unit": "environment steps/s",
        "ratio": ours_rate / peer_rate,
        "sequential": sequential_rate,
        "vmap_ratio": ours_rate / sequential_rate,
        "num_seeds": num_seeds,
        "env_steps_per_call": steps,
        "peer_steps": peer_steps,
        "batch_size": config.batch_size,
        "hidden": list(config.hidden),
        "warm": warm,
        "devices": common.device_description(),
    }


def main(argv):
    del argv
    launch.configure_cpu_devices(None)  # the launcher's default layout: a device per core
    result = run(
        _NUM_SEEDS.value,
        _STEPS.value,
        _PEER_STEPS.value,
        _ROUNDS.value,
        _VARIANT.value,
        _WARM.value,
    )
    print(common.seeds_summary(result))
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
