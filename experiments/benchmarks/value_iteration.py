"""Benchmark: one value-iteration sweep on a 1000 x 1000 grid world (10% forbidden cells).

Three programs do the same number of sweeps of the same grid, in one process:

* ours: ``jaxrl.dp.optimality_sweeps`` on the structured ``GridMDP`` (a fused 5-point stencil):
  value iteration's sweeps without a stopping test, like the two programs below. The JSON also
  reports ``value_iteration_sweep``, a sweep of ``jaxrl.dp.value_iteration`` including its
  convergence test (the sup-norm change, tested every ``dp.CHECK_EVERY`` sweeps), its ratio to
  our bare sweep (``value_iteration_sweep_ratio``, goal <= 1.5) and to the floor;
* peer: vectorized NumPy, the usual way to write it: a gather of next-state values from an
  ``[S, 5]`` next-state table, ``r + gamma * v[next]``, then a max over actions;
* floor: a jitted ``r + gamma * v`` over the same grid, iterated the same number of times in a
  ``lax.scan``: one action's worth of work, a lower bound for any sweep.

Per-sweep times come from the difference of a long and a short run of the same compiled program
(the number of sweeps is a traced argument), so compilation and fixed costs (such as building
value iteration's final greedy policy) cancel out. ``ratio`` is peer time / our time (goal >= 50);
``floor_ratio`` is our time / floor time (goal <= 4).

    python -m experiments.benchmarks.value_iteration [--size=1000] [--sweeps=100] [--rounds=7]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

from experiments import cli
from experiments.benchmarks import common
from jaxrl import dp
from jaxrl.envs import gridworld

_SIZE = flags.DEFINE_integer("size", 1000, "Grid side length (size x size cells).")
_SWEEPS = flags.DEFINE_integer("sweeps", 100, "Sweeps in the long run (the short run does half).")
_ROUNDS = flags.DEFINE_integer("rounds", 7, "Timing rounds; the best round counts.")
_FORBIDDEN = flags.DEFINE_float("forbidden_prob", 0.1, "Fraction of forbidden cells.")

GAMMA = 0.9


cli.at_least("size", 2)
cli.at_least("sweeps", 2)
cli.at_least("rounds")
cli.in_range("forbidden_prob", 0.0, 1.0)


def run(size: int, sweeps: int, rounds: int, forbidden_prob: float) -> dict:
    if size < 2 or sweeps < 2 or rounds < 1:
        raise ValueError("size >= 2, sweeps >= 2 and rounds >= 1 are required")
    params = gridworld.random_params(jax.random.key(0), (size, size), forbidden_prob=forbidden_prob)
    mdp = params.mdp
    num_states = size * size
    short, long = sweeps // 2, sweeps
    v0 = jnp.zeros((num_states,), jnp.float32)

    def ours(n):
        return dp.optimality_sweeps(mdp, v0, gamma=GAMMA, num_sweeps=n)

    def ours_vi(n):
        # tol far below float32 resolution of these values: every sweep runs.
        return dp.value_iteration(mdp, gamma=GAMMA, tol=1e-30, max_iterations=n).values

    rewards = mdp.cell_rewards().reshape(num_states)

    @jax.jit
    def floor_scan(v, r, n):
        return jax.lax.fori_loop(0, n, lambda _, u: r + GAMMA * u, v)

    next_state, table_rewards = (np.asarray(x) for x in mdp.deterministic_tables())
    gamma32 = np.float32(GAMMA)

    def numpy_sweeps(n):
        v = np.zeros(num_states, np.float32)
        for _ in range(n):
            v = (table_rewards + gamma32 * v[next_state]).max(axis=1)
        return v

    # Correctness first: the same number of sweeps gives the same values.
    check = 5
    reference = numpy_sweeps(check)
    np.testing.assert_allclose(np.asarray(ours(check)), reference, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(ours_vi(check)), reference, rtol=1e-5, atol=1e-5)
    result = dp.value_iteration(mdp, gamma=GAMMA, tol=1e-30, max_iterations=long)
    if int(result.iterations) != long:
        raise RuntimeError(f"value iteration stopped after {int(result.iterations)} sweeps")

    times = common.best_times(
        {
            "ours_short": lambda: ours(short),
            "ours_long": lambda: ours(long),
            "vi_short": lambda: ours_vi(short),
            "vi_long": lambda: ours_vi(long),
            "floor_short": lambda: floor_scan(v0, rewards, short),
            "floor_long": lambda: floor_scan(v0, rewards, long),
        },
        rounds=rounds,
    )
    numpy_sweep_count = 3
    numpy_time = common.best_times(
        {"numpy": lambda: numpy_sweeps(numpy_sweep_count)}, rounds=max(1, rounds // 2)
    )["numpy"]
    per_sweep = (times["ours_long"] - times["ours_short"]) / (long - short)
    vi_sweep = (times["vi_long"] - times["vi_short"]) / (long - short)
    floor = (times["floor_long"] - times["floor_short"]) / (long - short)
    method = "difference of a long and a short run"
    if min(per_sweep, vi_sweep, floor) <= 0:
        # Tiny grids: timing noise exceeds a sweep's cost. Fall back to whole-run averages.
        per_sweep, vi_sweep = times["ours_long"] / long, times["vi_long"] / long
        floor = times["floor_long"] / long
        method = "whole run / sweeps (difference was within noise)"
    peer = numpy_time / numpy_sweep_count
    return {
        "benchmark": "value_iteration",
        "ours": per_sweep,
        "peer": "numpy (vectorized gather + max)",
        "peer_value": peer,
        "unit": "seconds per sweep",
        "ratio": peer / per_sweep,
        "floor": floor,
        "floor_ratio": per_sweep / floor,
        "value_iteration_sweep": vi_sweep,
        "value_iteration_sweep_ratio": vi_sweep / per_sweep,
        "value_iteration_floor_ratio": vi_sweep / floor,
        "value_iteration_end_to_end": times["vi_long"] / long,
        "per_sweep_method": method,
        "grid": f"{size}x{size}",
        "forbidden_cells": int(np.asarray(mdp.forbidden).sum()),
        "sweeps": long,
        "device": common.device_description(),
    }


def main(argv):
    del argv
    result = run(_SIZE.value, _SWEEPS.value, _ROUNDS.value, _FORBIDDEN.value)
    print(
        f"ours {result['ours'] * 1e3:.3f} ms/sweep, numpy {result['peer_value'] * 1e3:.2f} ms "
        f"(x{result['ratio']:.1f}), floor {result['floor'] * 1e3:.3f} ms "
        f"(ours / floor = {result['floor_ratio']:.2f}); value_iteration with its convergence "
        f"test {result['value_iteration_sweep'] * 1e3:.3f} ms/sweep "
        f"(/ ours = {result['value_iteration_sweep_ratio']:.2f}, "
        f"/ floor = {result['value_iteration_floor_ratio']:.2f})"
    )
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
