"""Brax's environments through the environment protocol: ``config.environment = "brax:NAME"``
(``"brax:inverted_pendulum"``, ``"brax:reacher"``, ...).

Brax (https://github.com/google/brax) is an optional dependency: ``pip install 'jaxrl[envs]'``.
Every environment of ``brax.envs`` with a flat observation vector is available, made with
``brax.envs.get_environment(name, backend=...)``: the bare environment, without Brax's training
wrappers. What the adapter does around it:

* ``reset`` is Brax's ``reset(key)``; ``step`` is Brax's ``step(state, action)`` (Brax's
  dynamics draw nothing, so the step's key is unused), actions in ``[-1, 1]^d`` (Brax scales
  them to the actuators' ranges);
* ``terminated`` is Brax's ``done`` (a fallen pendulum, an unhealthy hopper);
* ``truncated`` is our own time limit, ``max_steps`` steps into an episode (Brax's
  ``episode_length``, 1,000 by default), and only for a step that did not terminate. Brax's
  ``EpisodeWrapper`` folds this into ``done`` and keeps it in ``info["truncation"]``; here the
  two stay apart from the start, so a truncated step bootstraps and a terminal one does not;
* episodes restart through ``jaxrl.envs.wrappers.auto_reset`` (a fresh ``reset`` from the
  second half of the step's key), ``info["final_observation"]`` the observation reached.

The state is Brax's ``State`` and the step count of the episode. ``params`` holds the time
limit as an array, so changing it does not recompile.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import io
import warnings
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs import checks, spaces
from jaxrl.envs.registry import Environment

PREFIX = "brax:"
EXTRA = "pip install 'jaxrl[envs]'"
DEFAULT_MAX_STEPS = 1000  # Brax's default episode_length
BACKENDS = ("generalized", "positional", "spring", "mjx")


@struct.dataclass
class Params:
    """The time limit: an episode is truncated after ``max_steps`` steps."""

    max_steps: jax.Array


class State(NamedTuple):
    brax: Any  # brax.envs.State
    time: jax.Array  # int32 steps taken in the episode


def _brax_envs():
    try:
        # mujoco's MJX prints to stdout when it finds no warp (a GPU-only backend) on import.
        with contextlib.redirect_stdout(io.StringIO()):
            from brax import envs as brax_envs
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] not in ("brax", "mujoco"):
            raise
        raise ValueError(f"the Brax environments need the brax package: {EXTRA}") from None
    return brax_envs


def _brax_numpy():
    """Brax's own code broadcasts arrays of different ranks: allowed there, whatever the caller's
    ``jax_numpy_rank_promotion`` (jaxrl's tests raise on it)."""
    return jax.numpy_rank_promotion("allow")


@functools.lru_cache(maxsize=32)
def make_brax(name: str, backend: str | None = None):
    """Brax's bare environment ``name`` (the object the adapter wraps; tests step it too), made
    once per name and backend in a process (Brax parses the model's MJCF file each time).

    Raises:
        ValueError (one line): brax missing (naming the extra), an unknown name (listing the
            close matches), an unknown backend.
    """
    brax_envs = _brax_envs()
    registered = sorted(brax_envs._envs)  # brax.envs.get_environment's registry
    if name not in registered:
        close = difflib.get_close_matches(name, registered, n=3, cutoff=0.5)
        hint = f"; close matches: {', '.join(PREFIX + c for c in close)}" if close else ""
        raise ValueError(f"{PREFIX}{name} is not a Brax environment{hint}")
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)} (or None), got {backend!r}")
    kwargs = {} if backend is None else {"backend": backend}
    with warnings.catch_warnings():  # Brax warns on every load that it is not maintained
        warnings.filterwarnings("ignore", message="Brax System", category=UserWarning)
        return brax_envs.get_environment(name, **kwargs)


@functools.lru_cache(maxsize=32)
def _traced_once(name: str, backend: str | None):
    """Brax's ``reset`` and ``step`` of ``name``, each under ``jax.jit``: inside the programs
    that call them (an agent's chunk, its evaluation, the evaluation command's scoring and
    drawing) JAX traces Brax's Python once per shape of the arguments and reuses the traced
    program, instead of tracing the physics again at every call site (about 0.8 s each for
    ``inverted_pendulum``'s). XLA inlines the inner programs: what runs is the same."""
    env = make_brax(name, backend)
    return jax.jit(env.reset), jax.jit(env.step)


@functools.lru_cache(maxsize=32)
def _reset_shapes(name: str, backend: str | None) -> tuple[tuple[int, ...] | None, bool]:
    """From a reset of Brax's ``name`` traced abstractly: the observation's shape (None if it is
    not one array), and whether the pipeline state keeps the links' positions (``x.pos``, what
    the drawing draws). Brax's own ``observation_size`` runs a reset eagerly, one dispatch per
    operation: about 6 s on CPU for ``inverted_pendulum``, against 0.3 s. The reset traced is
    :func:`_traced_once`'s, so the programs that call it later reuse this trace."""
    brax_reset, _ = _traced_once(name, backend)
    with _brax_numpy():
        state = jax.eval_shape(brax_reset, jax.random.key(0))
    shape = getattr(state.obs, "shape", None)
    positions = getattr(getattr(state.pipeline_state, "x", None), "pos", None) is not None
    return (None if shape is None else tuple(int(n) for n in shape)), positions


def environment(
    name: str, *, max_steps: int = DEFAULT_MAX_STEPS, backend: str | None = None
) -> Environment:
    """Brax's environment ``name`` (without the ``brax:`` prefix).

    Args:
        name: a name in ``brax.envs`` (``inverted_pendulum``, ``reacher``, ``ant``, ...).
        max_steps: the time limit (Brax's ``episode_length``).
        backend: Brax's physics pipeline (``generalized``, ``positional``, ``spring``, ``mjx``);
            ``None``: the environment's default.
    """
    max_steps = checks.time_limit(max_steps)
    _brax_envs()  # brax installed (checked on every call: make_brax remembers what it made)
    env = make_brax(name, backend)
    obs_shape, positions = _reset_shapes(name, backend)
    if obs_shape is None:
        raise ValueError(f"{PREFIX}{name} has structured observations; jaxrl takes flat vectors")
    dims = int(env.action_size)
    brax_reset, brax_step = _traced_once(name, backend)

    def reset(key, params: Params):
        with _brax_numpy():
            state = brax_reset(key)
        return jnp.asarray(state.obs, jnp.float32), State(state, jnp.int32(0))

    def step(key, state: State, action, params: Params):
        del key  # Brax's transitions are deterministic
        with _brax_numpy():
            brax_state = brax_step(state.brax, jnp.asarray(action, jnp.float32))
        time = state.time + 1
        terminated = jnp.asarray(brax_state.done, jnp.float32) > 0.5
        truncated = jnp.logical_and(time >= params.max_steps, jnp.logical_not(terminated))
        obs = jnp.asarray(brax_state.obs, jnp.float32)
        reward = jnp.asarray(brax_state.reward, jnp.float32)
        info = {"final_observation": obs}
        return obs, State(brax_state, time), reward, terminated, truncated, info

    return Environment(
        name=PREFIX + name,
        reset=reset,
        step=step,
        params=Params(jnp.int32(max_steps)),
        observation_space=spaces.box(-np.inf, np.inf, (int(obs_shape[-1]),)),
        action_space=spaces.box(-1.0, 1.0, (dims,)),
        max_steps=max_steps,
        draw=_drawing(env) if positions else None,
    )


def _drawing(env):
    """The bodies' drawing (``rendering.bodies``) of the links' frames Brax's pipeline state
    keeps (``x``), with the links' centres of mass from its system."""
    from jaxrl.envs import rendering

    def frames(state):
        return state.brax.pipeline_state.x.pos, state.brax.pipeline_state.x.rot

    return rendering.bodies(env.sys.link_parents, env.sys.link.inertia.transform.pos, frames)


def factory(name: str):
    """The registry's factory of ``"brax:NAME"`` (``name`` without the prefix): its options are
    ``max_steps`` and ``backend``."""

    def make(*, max_steps: int = DEFAULT_MAX_STEPS, backend: str | None = None) -> Environment:
        return environment(name, max_steps=max_steps, backend=backend)

    return make
