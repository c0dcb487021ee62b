"""Benchmark: tabular Q-learning updates per second, many seeds at once vs a plain Python loop.

The algorithm is ``jaxrl.tabular.q_learning`` (Zhao, ch. 7.4) on the book's 5 x 5 grid world
(continuing task, constant step size 0.1, epsilon-greedy behaviour with epsilon 0.8, gamma 0.9):

* ours: ``num_seeds`` seeds of the experiment from the default config
  (``jaxrl/configs/q_learning.py``, ``chunk_steps`` set to ``--steps``), compiled by the runner's
  core (``jaxrl.run.Program``: ``train_chunk`` vmapped over the seeds, jitted, sharded over the
  default device layout of the launcher, one XLA host device per core on a CPU-only host): one
  compiled program runs ``steps`` updates for every seed. Only the ``train_chunk`` call is timed
  (compiled and warmed up first, then the best of ``--rounds``). ``train_chunk`` also evaluates
  each seed's greedy policy once at the end of the chunk (about 130 sweeps of the Bellman
  expectation operator per seed, ``dp.evaluate_policy_bounded``) and returns the chunk's rewards;
  with 20,000 steps per chunk that is a small share of the time, and it is counted against us;
* peer: the same algorithm written as a plain Python loop, one seed: the same next-state and
  reward tables (``deterministic_tables()``, as Python lists), a list-of-lists Q table, one
  ``random.Random`` draw per step, the same epsilon-greedy rule (with probability epsilon a
  uniform action among the five, else the greedy one, lowest index on ties) and the same update
  ``q[s][a] += alpha * (r + gamma * max(q[s']) - q[s][a])``. Lists beat a NumPy ``[S, 5]`` table
  here (NumPy scalar indexing costs more than it saves: about 0.25 M vs 2.5 M updates/s on one
  CPU core), so the peer uses lists. It is checked first: run for ``--check_steps`` steps, its
  greedy policy must be optimal (its exact values equal value iteration's within 1e-4).

``ratio`` is our updates per second / the peer's (goal >= 100). ``sarsa`` reports the same
comparison for ``jaxrl.tabular.sarsa`` (variant ``sarsa``, constant step size, no restarts)
against ``python_sarsa``, the same loop with the next action drawn before the update, and
``mc_epsilon_greedy`` for ``jaxrl.tabular.monte_carlo`` (every-visit, episodes of 100 steps,
epsilon 0.5) against ``python_mc_epsilon_greedy`` (environment steps per second).
``scaling`` reports our updates per second for each seed count in ``--scaling`` (best of
``min(rounds, 2)`` rounds each). ``layout`` compares the default device layout (the devices the
launcher would use for this batch) with one device, for the Q-learning sweep.

    python -m experiments.benchmarks.tabular_sweep [--num_seeds=1024] [--steps=20000] \\
        [--peer_steps=200000] [--rounds=3] [--scaling=1,4,16,64,256,1024,4096]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from experiments import cli, launch
from experiments.benchmarks import common
from experiments.benchmarks.peers import (
    python_mc_epsilon_greedy,
    python_q_learning,
    python_sarsa,
)
from jaxrl import dp
from jaxrl.configs import mc_epsilon_greedy as mc_config
from jaxrl.configs import q_learning as q_learning_config
from jaxrl.configs import sarsa as sarsa_config
from jaxrl.envs import gridworld
from jaxrl.run import Program, seed_keys
from jaxrl.tabular import common as tabular_common
from jaxrl.tabular import monte_carlo, q_learning, sarsa

_NUM_SEEDS = flags.DEFINE_integer("num_seeds", 1024, "Seeds vmapped in our timed program.")
_STEPS = flags.DEFINE_integer("steps", 20_000, "Q-learning updates per seed in our program.")
_PEER_STEPS = flags.DEFINE_integer("peer_steps", 200_000, "Updates of the Python peer (timed).")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Timing rounds; the best round counts.")
_SCALING = flags.DEFINE_list(
    "scaling", ["1", "4", "16", "64", "256", "1024", "4096"], "Seed counts for the scaling table."
)
_CHECK_PEER = flags.DEFINE_bool(
    "check_peer", True, "Check first that the peer's greedy policy becomes optimal."
)
_CHECK_STEPS = flags.DEFINE_integer("check_steps", 300_000, "Peer updates for that check.")

LEARNING_RATE = 0.1
EPSILON = 0.8
GAMMA = 0.9
NUM_ACTIONS = gridworld.NUM_ACTIONS


cli.at_least("num_seeds")
cli.at_least("steps")
cli.at_least("peer_steps")
cli.at_least("rounds")
cli.at_least("check_steps")
cli.positive_int_list("scaling")


def _vmapped_chunk(experiment, num_seeds: int, values, devices=None):
    """A call of the runner's compiled ``train_chunk`` for ``num_seeds`` seeds (seed_keys(0, n))
    of one setting, the hyperparameters ``values`` (in ``experiment.hparams_type`` field order),
    sharded over ``devices`` (default: the launcher's layout for this batch). Each call continues
    training from the previous one's carry."""
    hparams = experiment.hparams_type(*(jnp.asarray([x], jnp.float32) for x in values))
    if devices is None:
        devices, _ = launch.choose_devices(num_seeds)
    program = Program(experiment, hparams, seed_keys(0, num_seeds), devices)
    state = {"carry": common.block(program.init())}

    def call():
        state["carry"], metrics = program.chunk(state["carry"])
        return metrics

    return call


def make_ours(config, num_seeds: int, devices=None):
    """Our compiled, vmapped ``train_chunk`` for ``num_seeds`` seeds (see ``_vmapped_chunk``)."""
    experiment = q_learning.make_experiment(config)
    return _vmapped_chunk(experiment, num_seeds, (LEARNING_RATE, EPSILON, GAMMA), devices)


def make_ours_sarsa(steps: int, num_seeds: int):
    """Our vmapped Sarsa (``jaxrl.tabular.sarsa``, variant ``sarsa``, constant step size)."""
    config = sarsa_config.get_config()
    with config.unlocked():
        config.chunk_steps = steps
        config.step_size = "constant"
        config.restart_every = 0
    experiment = sarsa.make_experiment(config)
    return _vmapped_chunk(experiment, num_seeds, (LEARNING_RATE, EPSILON, GAMMA))


MC_EPISODE_LENGTH = 100
MC_EPSILON = 0.5


def make_ours_mc(steps: int, num_seeds: int):
    """Our vmapped MC epsilon-greedy (``jaxrl.tabular.monte_carlo``, every-visit, episodes of
    100 steps); ``steps`` environment steps per seed (a multiple of 100)."""
    config = mc_config.get_config()
    with config.unlocked():
        config.chunk_steps = steps // MC_EPISODE_LENGTH  # a training step is an episode
        config.episode_length = MC_EPISODE_LENGTH
    experiment = monte_carlo.make_experiment(config)
    return _vmapped_chunk(experiment, num_seeds, (MC_EPSILON, GAMMA))


def check_peer(grid, next_state, reward, steps: int) -> float:
    """Runs the peer for ``steps`` updates; its greedy policy must be optimal. Returns its
    ``max_s |v_pi - v*|``."""
    q = np.asarray(
        python_q_learning(
            next_state,
            reward,
            steps=steps,
            learning_rate=LEARNING_RATE,
            epsilon=EPSILON,
            gamma=GAMMA,
            seed=0,
        )
    )
    dense = gridworld.to_mdp(grid)
    policy = np.eye(NUM_ACTIONS, dtype=np.float32)[np.argmax(q, axis=1)]
    v_pi = np.asarray(dp.evaluate_policy(dense, jnp.asarray(policy), gamma=GAMMA))
    v_star = np.asarray(dp.value_iteration(dense, gamma=GAMMA, tol=1e-7).values)
    error = float(np.max(np.abs(v_pi - v_star)))
    if error > 1e-4:
        raise RuntimeError(
            f"the Python peer's greedy policy after {steps} steps is not optimal: "
            f"max |v_pi - v*| = {error:.3g}"
        )
    return error


def run(
    num_seeds: int,
    steps: int,
    peer_steps: int,
    rounds: int,
    scaling: list[int],
    check: bool = True,
    check_steps: int = 300_000,
) -> dict:
    if min(num_seeds, steps, peer_steps, rounds) < 1 or any(n < 1 for n in scaling):
        raise ValueError("num_seeds, steps, peer_steps, rounds and the scaling counts must be >= 1")
    config = q_learning_config.get_config()
    with config.unlocked():
        config.chunk_steps = steps
    grid = tabular_common.grid_from_config(config.env)
    tables = gridworld.to_grid_mdp(grid).deterministic_tables()
    next_state = np.asarray(tables[0]).tolist()
    reward = np.asarray(tables[1]).astype(np.float64).tolist()

    peer_error = check_peer(grid, next_state, reward, check_steps) if check else None

    def peer():
        return python_q_learning(
            next_state,
            reward,
            steps=peer_steps,
            learning_rate=LEARNING_RATE,
            epsilon=EPSILON,
            gamma=GAMMA,
            seed=1,
        )

    ours = make_ours(config, num_seeds)
    times = common.best_times({"ours": ours, "peer": peer}, rounds=rounds)
    metrics = ours()
    ours_rate = num_seeds * steps / times["ours"]
    peer_rate = peer_steps / times["peer"]

    def peer_sarsa():
        return python_sarsa(
            next_state,
            reward,
            steps=peer_steps,
            learning_rate=LEARNING_RATE,
            epsilon=EPSILON,
            gamma=GAMMA,
            seed=1,
        )

    sarsa_times = common.best_times(
        {"ours": make_ours_sarsa(steps, num_seeds), "peer": peer_sarsa}, rounds=rounds
    )
    sarsa_ours = num_seeds * steps / sarsa_times["ours"]
    sarsa_peer = peer_steps / sarsa_times["peer"]

    def peer_mc():
        return python_mc_epsilon_greedy(
            next_state,
            reward,
            steps=peer_steps,
            episode_length=MC_EPISODE_LENGTH,
            epsilon=MC_EPSILON,
            gamma=GAMMA,
            seed=1,
        )

    mc_steps = max(MC_EPISODE_LENGTH, steps // MC_EPISODE_LENGTH * MC_EPISODE_LENGTH)
    mc_times = common.best_times(
        {"ours": make_ours_mc(mc_steps, num_seeds), "peer": peer_mc}, rounds=rounds
    )
    mc_ours = num_seeds * mc_steps / mc_times["ours"]
    mc_peer = peer_steps // MC_EPISODE_LENGTH * MC_EPISODE_LENGTH / mc_times["peer"]

    table = []
    for n in scaling:
        fn = ours if n == num_seeds else make_ours(config, n)
        seconds = common.best_times({"ours": fn}, rounds=min(rounds, 2))["ours"]
        table.append({"num_seeds": n, "updates_per_s": n * steps / seconds})

    default_devices, _ = launch.choose_devices(num_seeds)
    layout_times = common.best_times(
        {"default": ours, "one_device": make_ours(config, num_seeds, jax.devices()[:1])},
        rounds=rounds,
    )
    layout = {
        "devices": len(default_devices),
        "platform": default_devices[0].platform,
        "default_updates_per_s": num_seeds * steps / layout_times["default"],
        "one_device_updates_per_s": num_seeds * steps / layout_times["one_device"],
        "ratio": layout_times["one_device"] / layout_times["default"],
    }

    return {
        "benchmark": "tabular_sweep",
        "ours": ours_rate,
        "peer": "plain Python loop (lists, random.Random), one seed",
        "peer_value": peer_rate,
        "unit": "Q-learning updates per second",
        "ratio": ours_rate / peer_rate,
        "num_seeds": num_seeds,
        "steps": steps,
        "peer_steps": peer_steps,
        "ours_seconds": times["ours"],
        "peer_seconds": times["peer"],
        # Fraction of our seeds whose greedy policy is optimal after `steps` steps (a sanity
        # check that the timed program learns; it approaches 1 as steps grow).
        "ours_optimal_fraction": float(np.mean(np.asarray(metrics["optimal"]))),
        "peer_checked": check,
        "peer_check_steps": check_steps if check else 0,
        "peer_check_value_error": peer_error,
        "scaling": table,
        "layout": layout,
        "sarsa": {"ours": sarsa_ours, "peer_value": sarsa_peer, "ratio": sarsa_ours / sarsa_peer},
        "mc_epsilon_greedy": {"ours": mc_ours, "peer_value": mc_peer, "ratio": mc_ours / mc_peer},
        "device": common.device_description(),
    }


def main(argv):
    del argv
    launch.configure_cpu_devices(None)  # the launcher's default layout: a device per core
    scaling = [int(x) for x in _SCALING.value]
    result = run(
        _NUM_SEEDS.value,
        _STEPS.value,
        _PEER_STEPS.value,
        _ROUNDS.value,
        scaling,
        check=_CHECK_PEER.value,
        check_steps=_CHECK_STEPS.value,
    )
    if result["peer_checked"]:
        print(
            f"peer check: greedy policy optimal after {result['peer_check_steps']} steps "
            f"(max |v_pi - v*| = {result['peer_check_value_error']:.2g})"
        )
    print(
        f"ours {result['ours'] / 1e6:.2f} M updates/s ({result['num_seeds']} seeds x "
        f"{result['steps']} steps in {result['ours_seconds']:.3f} s; "
        f"{result['ours_optimal_fraction']:.2f} of seeds optimal), "
        f"python {result['peer_value'] / 1e6:.3f} M updates/s (x{result['ratio']:.1f})"
    )
    sarsa_result = result["sarsa"]
    print(
        f"sarsa: ours {sarsa_result['ours'] / 1e6:.2f} M updates/s, python "
        f"{sarsa_result['peer_value'] / 1e6:.3f} M updates/s (x{sarsa_result['ratio']:.1f})"
    )
    mc_result = result["mc_epsilon_greedy"]
    print(
        f"mc epsilon-greedy: ours {mc_result['ours'] / 1e6:.2f} M steps/s, python "
        f"{mc_result['peer_value'] / 1e6:.3f} M steps/s (x{mc_result['ratio']:.1f})"
    )
    print("seeds  M updates/s")
    for row in result["scaling"]:
        print(f"{row['num_seeds']:>5}  {row['updates_per_s'] / 1e6:10.2f}")
    layout = result["layout"]
    print(
        f"layout: {layout['devices']} {layout['platform']} device(s) "
        f"{layout['default_updates_per_s'] / 1e6:.2f} M updates/s, one device "
        f"{layout['one_device_updates_per_s'] / 1e6:.2f} M updates/s (x{layout['ratio']:.2f})"
    )
    print(f"device: {result['device']}")
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
