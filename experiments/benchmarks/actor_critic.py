"""Benchmark: PPO on CartPole, environment steps per second, 16 seeds in one program vs the usual
loop.

The agent is ``jaxrl.agents.ppo`` at the settings of
``jaxrl/configs/actor_critic_cartpole.py:ppo`` (the settings of the CartPole result: 8
environments per seed, rollouts of 32 steps, 4 epochs of adam over each, 64-64 tanh actor and
critic):

* ours: ``--num_seeds`` seeds in one compiled program (the runner's ``train_chunk``, vmapped over
  the seeds and sharded over the launcher's device layout), ``--steps`` rollouts per seed per
  call; the chunk's closing evaluation runs one episode (counted against us);
* sequential (a): the same program for one seed, called once per seed one after another in the
  same process: what vmapping the seeds gains on this machine;
* peer (b): the usual single-process pattern, one seed: gymnasium's ``CartPole-v1``, one
  environment object per ``num_envs``, stepped from Python; a jitted forward pass of the policy
  per vector step for the sampled actions; NumPy rollout arrays; and the SAME jitted targets and
  update (``agent.prepare`` and ``agent.update``: GAE, 4 epochs of the clipped objective) once
  per rollout.

``ratio`` is ours / peer (b) in environment steps per second (goal >= 20 on 2 CPU cores);
``vmap_ratio`` is ours / sequential (a).

    python -m experiments.benchmarks.actor_critic [--num_seeds=16] [--steps=196] \\
        [--peer_rollouts=40] [--rounds=2] [--epochs=4]
"""

from __future__ import annotations

from absl import flags

from experiments import cli, launch
from experiments.benchmarks import common
from experiments.benchmarks.actor_critic_peer import PythonPPO, benchmark_config
from jaxrl.agents import ppo

_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 16, "Seeds vmapped in our timed program.")
_STEPS = flags.DEFINE_integer(
    "steps", 196, "Rollouts per seed per timed call (the config's chunk: 50k env steps)."
)
_PEER_ROLLOUTS = flags.DEFINE_integer(
    "peer_rollouts", 40, "Rollouts (and updates) of the peer per timed call."
)
_ROUNDS = flags.DEFINE_integer("rounds", 2, "Timing rounds; the best round counts.")
_EPOCHS = flags.DEFINE_integer(
    "epochs", 4, "Epochs over each rollout, ours and the peer's (4: the config's)."
)

cli.at_least("num_seeds")
cli.at_least("steps")
cli.at_least("peer_rollouts")
cli.at_least("rounds")
cli.at_least("epochs")


def make_ours(config, num_seeds: int):
    """Our compiled ``train_chunk`` for ``num_seeds`` seeds."""
    return common.compiled_chunk(ppo.make_experiment(config), config, num_seeds)


def make_sequential(config, num_seeds: int, one=None):
    """The one-seed program called once per seed, one after another (the seeds differ only in
    their keys, so one program stands for all of them). ``one``: that program, if built."""
    one = one or make_ours(config, 1)

    def call():
        return [common.block(one()) for _ in range(num_seeds)]

    return call


def run(num_seeds: int, steps: int, peer_rollouts: int, rounds: int, epochs: int = 4) -> dict:
    config = benchmark_config(steps)
    with config.unlocked():  # the learning-rate decay spans every update of a full run
        config.epochs = epochs
        config.optimizer.decay_steps = config.total_steps * epochs
    per_rollout = config.num_envs * config.rollout_length
    env_steps = steps * per_rollout  # per seed per call
    ours = make_ours(config, num_seeds)
    sequential = make_sequential(config, num_seeds, one=ours if num_seeds == 1 else None)
    peer = PythonPPO(config)
    times = common.best_times(
        {"ours": ours, "sequential": sequential, "peer": lambda: peer.run(peer_rollouts)},
        rounds=rounds,
    )
    ours_rate = num_seeds * env_steps / times["ours"]
    sequential_rate = num_seeds * env_steps / times["sequential"]
    peer_rate = peer_rollouts * per_rollout / times["peer"]
    return {
        "benchmark": "ppo_cartpole",
        "ours": ours_rate,
        "peer": "gymnasium CartPole-v1 from Python, same jitted policy and update, 1 seed",
        "peer_value": peer_rate,
        "unit": "environment steps/s",
        "ratio": ours_rate / peer_rate,
        "sequential": sequential_rate,
        "vmap_ratio": ours_rate / sequential_rate,
        "num_seeds": num_seeds,
        "env_steps_per_call": env_steps,
        "peer_env_steps_per_call": peer_rollouts * per_rollout,
        "num_envs": config.num_envs,
        "rollout_length": config.rollout_length,
        "epochs": config.epochs,
        "num_minibatches": config.num_minibatches,
        "hidden": list(config.hidden),
        "devices": common.device_description(),
    }


def main(argv):
    del argv
    launch.configure_cpu_devices(None)  # the launcher's default layout: a device per core
    result = run(_NUM_SEEDS.value, _STEPS.value, _PEER_ROLLOUTS.value, _ROUNDS.value, _EPOCHS.value)
    print(common.seeds_summary(result))
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
