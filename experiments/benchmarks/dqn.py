"""Benchmark: CartPole DQN environment steps per second, 16 seeds in one program vs the usual loop.

The agent is ``jaxrl.agents.dqn`` at the settings of ``jaxrl/configs/dqn_cartpole.py`` (the
network, batch size, environments per seed and updates per environment step of the CartPole
result), past ``learning_starts`` so that every timed step also learns, and with epsilon held at
its final value (0.05) in both, so that both take a greedy forward pass on the same share of
steps:

* ours: ``--num_seeds`` seeds in one compiled program (the runner's ``train_chunk``, vmapped over
  the seeds and sharded over the launcher's device layout), ``--steps`` training steps per seed
  per call (each ``num_envs`` environment steps; the chunk's closing greedy evaluation, as the
  config runs it, is counted against us);
* sequential (a): the same program for one seed, called once per seed one after another in the
  same process: what vmapping the seeds gains on this machine;
* peer (b): the usual single-process pattern, one seed: gymnasium's ``CartPole-v1`` stepped from
  Python, a jitted forward pass per step for the epsilon-greedy action, a NumPy ring buffer, and
  the SAME jitted update (``dqn.ensemble_td_loss`` + the config's optax optimizer) once every
  ``num_envs`` environment steps, ``updates_per_step`` times, on minibatches of the same size.

``ratio`` is ours / peer (b) in environment steps per second (goal >= 5 on 2 CPU cores);
``vmap_ratio`` is ours / sequential (a).

    python -m experiments.benchmarks.dqn [--num_seeds=16] [--steps=3125] [--peer_steps=20000] \\
        [--rounds=2]
"""

from __future__ import annotations

from absl import flags

from experiments import cli, launch
from experiments.benchmarks import common
from experiments.benchmarks.dqn_peer import PythonDQN, benchmark_config
from jaxrl.agents import dqn

_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 16, "Seeds vmapped in our timed program.")
_STEPS = flags.DEFINE_integer(
    "steps", 3125, "Training steps per seed per timed call (the config's chunk: 25k env steps)."
)
_PEER_STEPS = flags.DEFINE_integer("peer_steps", 20_000, "Environment steps of the peer (timed).")
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Timing rounds; the best round counts.")
_WARM = flags.DEFINE_bool(
    "warm",
    True,
    "Run past learning_starts before timing (--nowarm, for smoke tests: the peer learns from a "
    "batch_size buffer, ours times chunks that may not learn yet).",
)

cli.at_least("num_seeds")
cli.at_least("steps")
cli.at_least("peer_steps")
cli.at_least("rounds")


def make_ours(config, num_seeds: int, warm: bool = True):
    """Our compiled ``train_chunk`` for ``num_seeds`` seeds, run past ``learning_starts``
    (unless not ``warm``) so that every timed step learns."""
    warm_calls = -(-config.learning_starts // (config.num_envs * config.chunk_steps)) * warm
    return common.compiled_chunk(
        dqn.make_experiment(config), config, num_seeds, warm_calls=warm_calls
    )


def make_sequential(config, num_seeds: int, warm: bool = True, one=None):
    """The one-seed program called once per seed, one after another (the seeds would differ
    only in their keys, so one program stands for all of them). ``one``: that program, if
    already built (with one seed, ours is it)."""
    one = one or make_ours(config, 1, warm)

    def call():
        return [common.block(one()) for _ in range(num_seeds)]

    return call


def run(num_seeds: int, steps: int, peer_steps: int, rounds: int, warm: bool = True) -> dict:
    config = benchmark_config(steps)
    env_steps = steps * config.num_envs  # per seed per call
    ours = make_ours(config, num_seeds, warm)
    sequential = make_sequential(config, num_seeds, warm, one=ours if num_seeds == 1 else None)
    # Fill the buffer and compile, so that every timed step learns (a smoke run: a batch).
    peer = PythonDQN(config, learning_starts=None if warm else config.batch_size)
    peer.run(peer.learning_starts)

    times = common.best_times(
        {"ours": ours, "sequential": sequential, "peer": lambda: peer.run(peer_steps)},
        rounds=rounds,
    )
    ours_rate = num_seeds * env_steps / times["ours"]
    sequential_rate = num_seeds * env_steps / times["sequential"]
    peer_rate = peer_steps / times["peer"]
    return {
        "benchmark": "dqn_cartpole",
        "ours": ours_rate,
        "peer": "gymnasium CartPole-v1 from Python, same jitted update, 1 seed",
        "peer_value": peer_rate,
        "unit": "environment steps/s",
        "ratio": ours_rate / peer_rate,
        "sequential": sequential_rate,
        "vmap_ratio": ours_rate / sequential_rate,
        "num_seeds": num_seeds,
        "env_steps_per_call": env_steps,
        "peer_steps": peer_steps,
        "num_envs": config.num_envs,
        "updates_per_step": config.updates_per_step,
        "hidden": list(config.hidden),
        "batch_size": config.batch_size,
        "warm": warm,
        "devices": common.device_description(),
    }


def main(argv):
    del argv
    launch.configure_cpu_devices(None)  # the launcher's default layout: a device per core
    result = run(_NUM_SEEDS.value, _STEPS.value, _PEER_STEPS.value, _ROUNDS.value, _WARM.value)
    print(common.seeds_summary(result))
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
