"""Benchmark: random-action rollouts of many grid worlds at once, ours vs gymnax FourRooms.

Both environments run in one process under the same harness: ``num_envs`` environments vmapped,
``num_steps`` steps in a ``lax.scan``, uniformly random actions drawn each step, episodes reset
automatically when they end, rewards summed so nothing is optimized away, one jitted program each.

* ours: ``jaxrl.envs.gridworld`` on the same 13 x 13 four-rooms map (walls as forbidden cells),
  absorbing target at the same goal (8, 9), start at (4, 1), 500-step episodes, slip 1/3 (a
  random action a third of the time, like gymnax's ``fail_prob``), with the grid world's built-in
  auto-reset (``make_params(..., auto_reset=True)``; ``--wrapper`` uses the generic
  ``wrappers.auto_reset`` instead, which splits the key each step and is slower);
* peer: gymnax ``FourRooms-misc`` with its default parameters (its ``step`` auto-resets).

``ratio`` is our env steps per second / gymnax's (goal >= 3).

    python -m experiments.benchmarks.gridworld_env [--num_envs=4096] [--num_steps=1000]
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from absl import flags

from experiments import cli
from experiments.benchmarks import common
from jaxrl.envs import gridworld, wrappers

_NUM_ENVS = flags.DEFINE_integer("num_envs", 4096, "Environments stepped in parallel.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 1000, "Steps per environment.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Timing rounds; the best round counts.")
_WRAPPER = flags.DEFINE_bool("wrapper", False, "Auto-reset with wrappers.auto_reset instead.")

FOUR_ROOMS = """
xxxxxxxxxxxxx
x     x     x
x     x     x
x           x
x     x     x
x     x     x
xx xxxx     x
x     xxx xxx
x     x     x
x     x     x
x           x
x     x     x
xxxxxxxxxxxxx"""


cli.at_least("num_envs")
cli.at_least("num_steps")
cli.at_least("rounds")


def four_rooms_grid() -> gridworld.GridWorld:
    rows = FOUR_ROOMS.strip("\n").split("\n")
    walls = tuple((r, c) for r, line in enumerate(rows) for c, ch in enumerate(line) if ch == "x")
    return gridworld.GridWorld(
        shape=(len(rows), len(rows[0])),
        target=(8, 9),
        forbidden=walls,
        reward_boundary=0.0,
        reward_forbidden=0.0,
        reward_target=1.0,
        reward_step=0.0,
        slip=1.0 / 3.0,
        absorbing_target=True,
    )


def make_rollout(reset_fn, step_fn, params, num_actions, num_envs, num_steps):
    """One jitted program: vmapped reset, then a scan of vmapped random-action steps."""

    @jax.jit
    def rollout(key):
        reset_key, key = jax.random.split(key)
        _, states = jax.vmap(reset_fn, in_axes=(0, None))(
            jax.random.split(reset_key, num_envs), params
        )

        def body(carry, step_key):
            # The usual pattern of vectorized RL code: split a key per env at every step.
            states, total = carry
            action_key, env_key = jax.random.split(step_key)
            actions = jax.random.randint(action_key, (num_envs,), 0, num_actions)
            env_keys = jax.random.split(env_key, num_envs)
            out = jax.vmap(step_fn, in_axes=(0, 0, 0, None))(env_keys, states, actions, params)
            states, reward = out[1], out[2]  # (obs, state, reward, ...) in both APIs
            return (states, total + jnp.sum(reward)), None

        step_keys = jax.random.split(key, num_steps)
        (_, total), _ = jax.lax.scan(body, (states, jnp.float32(0)), step_keys)
        return total

    return rollout


def run(num_envs: int, num_steps: int, rounds: int, wrapper: bool = False) -> dict:
    if num_envs < 1 or num_steps < 1 or rounds < 1:
        raise ValueError("num_envs, num_steps and rounds must be positive")
    import gymnax  # the peer; installed by the `bench` extra

    grid = four_rooms_grid()
    params = gridworld.make_params(
        grid, start=(4, 1), max_steps=500, observation="coords", auto_reset=not wrapper
    )
    if wrapper:
        reset_fn, step_fn = wrappers.auto_reset(gridworld.reset, gridworld.step)
    else:
        reset_fn, step_fn = gridworld.reset, gridworld.step
    ours = make_rollout(reset_fn, step_fn, params, gridworld.NUM_ACTIONS, num_envs, num_steps)

    peer_env, peer_params = gymnax.make("FourRooms-misc")
    peer = make_rollout(
        peer_env.reset, peer_env.step, peer_params, peer_env.num_actions, num_envs, num_steps
    )

    key = jax.random.key(0)
    times = common.best_times({"ours": lambda: ours(key), "peer": lambda: peer(key)}, rounds=rounds)
    env_steps = num_envs * num_steps
    ours_sps, peer_sps = env_steps / times["ours"], env_steps / times["peer"]
    return {
        "benchmark": "gridworld_env",
        "ours": ours_sps,
        "peer": "gymnax FourRooms-misc",
        "peer_value": peer_sps,
        "unit": "env steps per second",
        "ratio": ours_sps / peer_sps,
        "auto_reset": "wrappers.auto_reset" if wrapper else "built-in",
        "num_envs": num_envs,
        "num_steps": num_steps,
        "ours_seconds": times["ours"],
        "peer_seconds": times["peer"],
        "device": common.device_description(),
    }


def main(argv):
    del argv
    result = run(_NUM_ENVS.value, _NUM_STEPS.value, _ROUNDS.value, _WRAPPER.value)
    print(
        f"ours {result['ours'] / 1e6:.1f} M steps/s, gymnax {result['peer_value'] / 1e6:.1f} M "
        f"steps/s, ratio {result['ratio']:.2f}"
    )
    common.emit(result)


if __name__ == "__main__":
    cli.run(main)
