"""Pendulum-v1 as a pure, vectorized JAX environment, with gymnasium's constants and semantics.

A pendulum of mass ``m`` and length ``l`` hangs from a fixed pivot; the action is a torque on it,
and the task is to swing it up and hold it upright with as little velocity and torque as
possible. The equations and rules are those of gymnasium's ``Pendulum-v1``:

* state ``(theta, theta_dot)``: the angle (rad, 0 upright, counter-clockwise positive, not
  wrapped) and the angular velocity; the observation is ``[cos theta, sin theta, theta_dot]``,
  float32 ``[3]``;
* the action is a torque, float ``[1]``, clipped to ``[-max_torque, max_torque] = [-2, 2]`` before
  it acts (an action outside the bounds acts as the bound and is charged as the bound);
* the step, with ``u`` the clipped torque::

      cost        = angle_normalize(theta)^2 + 0.1 theta_dot^2 + 0.001 u^2
      theta_dot'  = clip(theta_dot + (3 g / (2 l) sin(theta) + 3 / (m l^2) u) dt, -8, 8)
      theta'      = theta + theta_dot' dt

  with ``angle_normalize(x) = ((x + pi) mod 2 pi) - pi``, and the reward is ``-cost`` (computed
  from the state before the step);
* the episode starts from ``theta ~ U[-pi, pi]``, ``theta_dot ~ U[-1, 1]``; it never terminates,
  and ``truncated`` is set at ``max_steps`` (200). A truncation is not an end: a learner
  bootstraps from ``info["final_observation"]``.

Everything is float32 (gymnasium integrates in float64 and rounds the observation to float32);
``tests/envs/test_pendulum.py`` steps it side by side with ``gymnasium.make("Pendulum-v1")``.

Reference: https://gymnasium.farama.org/environments/classic_control/pendulum/
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
from flax import struct

from jaxrl.envs import checks

OBSERVATION_SIZE = 3
ACTION_SIZE = 1

# gymnasium Pendulum-v1's constants.
MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
GRAVITY = 10.0
MASS = 1.0
LENGTH = 1.0
MAX_STEPS = 200
# The start state: theta uniform on [-pi, pi], theta_dot uniform on [-1, 1].
START_THETA, START_THETA_DOT = math.pi, 1.0


@struct.dataclass
class EnvParams:
    """Everything ``reset`` and ``step`` need; a pytree, so it can be batched (e.g. over gravity).

    Attributes:
        max_speed: ``[]`` float32, the bound on ``|theta_dot|``.
        max_torque: ``[]`` float32, the bound on ``|u|``.
        dt: ``[]`` float32, seconds per step.
        gravity, mass, length: ``[]`` float32 (g, m, l).
        max_steps: ``[]`` int32; an episode is truncated after this many steps.
        auto_reset: if True, ``step`` starts a new episode itself when one ends, drawing the start
            from the step's key. Static.
    """

    max_speed: jax.Array
    max_torque: jax.Array
    dt: jax.Array
    gravity: jax.Array
    mass: jax.Array
    length: jax.Array
    max_steps: jax.Array
    auto_reset: bool = struct.field(pytree_node=False, default=False)


class EnvState(NamedTuple):
    """The pendulum's angle and angular velocity (float32 ``[]``) and the steps taken (int32)."""

    theta: jax.Array
    theta_dot: jax.Array
    time: jax.Array


def make_params(*, max_steps: int = MAX_STEPS, auto_reset: bool = False) -> EnvParams:
    """Pendulum-v1's parameters in float32.

    Raises:
        ValueError: naming the argument, for a ``max_steps`` that is not an integer in
            ``[1, 2^31 - 1]`` or an ``auto_reset`` that is not a bool.
    """
    max_steps = checks.time_limit(max_steps)
    auto_reset = checks.flag("auto_reset", auto_reset)
    f32 = jnp.float32
    return EnvParams(
        max_speed=f32(MAX_SPEED),
        max_torque=f32(MAX_TORQUE),
        dt=f32(DT),
        gravity=f32(GRAVITY),
        mass=f32(MASS),
        length=f32(LENGTH),
        max_steps=jnp.int32(max_steps),
        auto_reset=bool(auto_reset),
    )


def observe(state: EnvState) -> jax.Array:
    """The observation ``[cos theta, sin theta, theta_dot]``, float32 ``[3]``."""
    theta = state.theta
    return jnp.stack([jnp.cos(theta), jnp.sin(theta), state.theta_dot]).astype(jnp.float32)


def angle_normalize(theta: jax.Array) -> jax.Array:
    """``theta`` wrapped to ``[-pi, pi)``: ``((theta + pi) mod 2 pi) - pi``."""
    return jnp.mod(theta + jnp.pi, 2.0 * jnp.pi) - jnp.pi


def _start_state(key: jax.Array) -> EnvState:
    high = jnp.asarray([START_THETA, START_THETA_DOT], jnp.float32)
    u = jax.random.uniform(key, (2,), jnp.float32, minval=-high, maxval=high)
    return EnvState(theta=u[0], theta_dot=u[1], time=jnp.int32(0))


def reset(key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
    """Starts an episode from ``theta ~ U[-pi, pi]``, ``theta_dot ~ U[-1, 1]``.

    Returns:
        ``(obs, state)``: obs float32 ``[3]``, ``state.time == 0``.
    """
    del params
    state = _start_state(key)
    return observe(state), state


def dynamics(state: EnvState, action: jax.Array, params: EnvParams) -> tuple[EnvState, jax.Array]:
    """One step of the pendulum's equations (module docstring); time + 1.

    Args:
        state: the current :class:`EnvState`.
        action: ``[1]`` the torque; clipped to ``[-max_torque, max_torque]``.
        params: :class:`EnvParams`.

    Returns:
        ``(next state, reward)``, float32, with no episode logic (time limit).
    """
    u = jnp.clip(action[0], -params.max_torque, params.max_torque)
    theta, theta_dot = state.theta, state.theta_dot
    cost = jnp.square(angle_normalize(theta)) + 0.1 * jnp.square(theta_dot) + 0.001 * jnp.square(u)
    g, m, length, dt = params.gravity, params.mass, params.length, params.dt
    acceleration = 3.0 * g / (2.0 * length) * jnp.sin(theta) + 3.0 / (m * length**2) * u
    new_theta_dot = jnp.clip(theta_dot + acceleration * dt, -params.max_speed, params.max_speed)
    reached = EnvState(
        theta=theta + new_theta_dot * dt, theta_dot=new_theta_dot, time=state.time + 1
    )
    return reached, (-cost).astype(jnp.float32)


def step(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict]:
    """One step of Pendulum-v1 for one pendulum (vmap for many).

    ``terminated`` is always False; ``truncated`` is set when the episode reaches ``max_steps``.
    With ``params.auto_reset`` a step that ends an episode returns the reward and flags of that
    step but the observation and state of a new start drawn from ``key``; the state the step
    reached is ``info["final_observation"]``.

    Args:
        key: randomness for the new start with ``auto_reset`` (else unused).
        state: the current :class:`EnvState`.
        action: ``[1]`` float, the torque (clipped to the bounds).
        params: :class:`EnvParams`.

    Returns:
        ``(obs, next_state, reward, terminated, truncated, info)``.
    """
    action = jnp.asarray(action)
    chex.assert_shape(action, (ACTION_SIZE,))
    chex.assert_type(action, float)
    reached, reward = dynamics(state, action, params)
    terminated = jnp.zeros((), bool)
    truncated = reached.time >= params.max_steps
    final_observation = observe(reached)
    if params.auto_reset:
        start = _start_state(key)
        next_state = jax.tree.map(lambda a, b: jnp.where(truncated, a, b), start, reached)
        obs = observe(next_state)
    else:
        next_state, obs = reached, final_observation
    return obs, next_state, reward, terminated, truncated, {"final_observation": final_observation}


def environment(*, max_steps: int = MAX_STEPS):
    """Pendulum-v1 as a ``jaxrl.envs.Environment`` (registered as ``"pendulum"``).

    Observations: ``[cos theta, sin theta, theta_dot]`` in ``[-1, 1] x [-1, 1] x [-8, 8]``;
    actions: a torque in the box ``[-2, 2]``. ``max_steps`` is the time limit (a truncation).
    """
    from jaxrl.envs import registry, rendering, spaces

    params = make_params(max_steps=max_steps)
    return registry.Environment(
        name="pendulum",
        reset=reset,
        step=step,
        params=params,
        observation_space=spaces.box((-1.0, -1.0, -MAX_SPEED), (1.0, 1.0, MAX_SPEED), (3,)),
        action_space=spaces.box(-MAX_TORQUE, MAX_TORQUE, (ACTION_SIZE,)),
        max_steps=int(max_steps),
        auto_reset=lambda p: p.replace(auto_reset=True),
        draw=rendering.pendulum(float(params.length)),
    )
