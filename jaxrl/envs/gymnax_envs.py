"""gymnax's environments through the environment protocol: ``config.environment =
"gymnax:NAME"`` (``"gymnax:Acrobot-v1"``, ``"gymnax:Breakout-MinAtar"``, ...).

gymnax (https://github.com/RobertTLange/gymnax) is an optional dependency: ``pip install
'jaxrl[envs]'``. Every environment in ``gymnax.registered_envs`` that needs no download is
available (``MNISTBandit-bsuite`` downloads MNIST, and is refused in one line saying so).

What the adapter keeps from gymnax 1.x and what it changes:

* ``step`` is gymnax's own transition, ``step_env``, on the first half of ``split(key)`` (the
  key gymnax's ``step`` gives it), so from the same state and key the adapter reaches what
  gymnax reaches; ``info["final_observation"]`` is the observation reached.
* ``terminated`` comes from gymnax unchanged; ``truncated`` is gymnax's time limit, but only for
  a step that did not terminate (gymnax may report both on one step; here a terminal step is
  never also a truncation, so only a truncation bootstraps).
* Episodes restart inside ``step`` only with ``auto_reset(params)``: gymnax's own ``step``, which
  draws the new start from the second half of the key.
* Spaces: gymnax's ``Discrete(n)`` becomes ours; its ``Box`` (any shape: MinAtar's 10x10xC
  grids too) becomes ours with the same bounds, observations cast to float32.
"""

from __future__ import annotations

import difflib
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs import checks, spaces
from jaxrl.envs.registry import Environment

PREFIX = "gymnax:"
# Environments that fetch data on construction: refused, rather than downloading from a run.
DOWNLOADS = {"MNISTBandit-bsuite": "downloads the MNIST data set when it is made"}
EXTRA = "pip install 'jaxrl[envs]'"


@struct.dataclass
class Params:
    """gymnax's parameters of the environment, and whether ``step`` restarts episodes."""

    env: Any
    auto_reset: bool = struct.field(pytree_node=False, default=False)


def _gymnax():
    try:
        import gymnax
    except ModuleNotFoundError:
        raise ValueError(f"the gymnax environments need the gymnax package: {EXTRA}") from None
    return gymnax


def _space(space, what: str) -> spaces.Space:
    kind = type(space).__name__
    if kind == "Discrete":
        return spaces.Discrete(int(space.n))
    if kind == "Box":
        return spaces.box(space.low, space.high, tuple(space.shape))
    raise ValueError(f"gymnax's {what} space {kind} has no jaxrl counterpart (Discrete, Box)")


def environment(name: str, *, max_steps: int | None = None) -> Environment:
    """gymnax's environment ``name`` (without the ``gymnax:`` prefix).

    Args:
        name: a name in ``gymnax.registered_envs``.
        max_steps: the time limit, in place of gymnax's ``max_steps_in_episode``.

    Raises:
        ValueError (one line): gymnax missing (naming the extra), an unknown name (listing the
            close matches), an environment that downloads data, a bad ``max_steps``.
    """
    gymnax = _gymnax()
    registered = list(gymnax.registered_envs)
    if name not in registered:
        close = difflib.get_close_matches(name, registered, n=3, cutoff=0.5)
        hint = f"; close matches: {', '.join(PREFIX + c for c in close)}" if close else ""
        raise ValueError(f"{PREFIX}{name} is not a gymnax environment{hint}")
    if name in DOWNLOADS:
        raise ValueError(f"{PREFIX}{name} is not available: it {DOWNLOADS[name]}")
    env, env_params = gymnax.make(name)
    if max_steps is not None:
        env_params = env_params.replace(max_steps_in_episode=checks.time_limit(max_steps))
    observation_space = _space(env.observation_space(env_params), "observation")
    action_space = _space(env.action_space(env_params), "action")

    def reset(key, params: Params):
        obs, state = env.reset_env(key, params.env)
        return jnp.asarray(obs, jnp.float32), state

    def step(key, state, action, params: Params):
        if params.auto_reset:
            obs, state, reward, terminated, truncated, info = env.step(
                key, state, action, params.env
            )
            reached = info["final_observation"]
        else:
            key_step, _ = jax.random.split(key)
            obs, state, reward, terminated, info = env.step_env(key_step, state, action, params.env)
            truncated = env.is_truncated(state, params.env)
            reached = obs
        terminated = jnp.asarray(terminated, bool)
        truncated = jnp.logical_and(jnp.asarray(truncated, bool), jnp.logical_not(terminated))
        info = {
            **{k: v for k, v in info.items() if k not in ("terminated", "truncated")},
            "final_observation": jnp.asarray(reached, jnp.float32),
        }
        obs, reward = jnp.asarray(obs, jnp.float32), jnp.asarray(reward, jnp.float32)
        return obs, state, reward, terminated, truncated, info

    return Environment(
        name=PREFIX + name,
        reset=reset,
        step=step,
        params=Params(env_params),
        observation_space=observation_space,
        action_space=action_space,
        max_steps=int(env_params.max_steps_in_episode),
        auto_reset=lambda params: params.replace(auto_reset=True),
        draw=_drawing(name, env_params, observation_space),
    )


def _drawing(name: str, env_params, observation_space):
    """Our drawing of gymnax's states for the classic-control tasks we draw ourselves (gymnax's
    own renderers need pygame or seaborn), and of an image observation (MinAtar's); else None."""
    from jaxrl.envs import rendering

    if name == "CartPole-v1":
        return rendering.cartpole(float(env_params.x_threshold), float(env_params.length))
    if name == "Pendulum-v1":
        return rendering.pendulum(float(env_params.l))
    if name == "Acrobot-v1":
        return rendering.acrobot()
    if len(observation_space.shape) == 3:
        return rendering.image(int(observation_space.shape[-1]))
    return None


def factory(name: str):
    """The registry's factory of ``"gymnax:NAME"`` (``name`` without the prefix): its one
    option is ``max_steps``."""

    def make(*, max_steps: int | None = None) -> Environment:
        return environment(name, max_steps=max_steps)

    return make
