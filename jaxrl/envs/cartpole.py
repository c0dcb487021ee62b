"""CartPole-v1 as a pure, vectorized JAX environment, with gymnasium's constants and semantics.

A pole is hinged to a cart that runs on a frictionless track; each step pushes the cart left or
right with a force of fixed size, and the task is to keep the pole upright and the cart on the
track. The dynamics are those of Barto, Sutton and Anderson (1983), "Neuronlike adaptive elements
that can solve difficult learning control problems", IEEE Trans. SMC 13(5), without
friction (derived in R. V. Florian (2007), "Correct equations for the dynamics of the cart-pole
system"), and the constants and episode rules of gymnasium's ``CartPole-v1``:

* state ``(x, x_dot, theta, theta_dot)``: cart position (m) and velocity, pole angle (rad, 0 is
  upright, positive leaning toward +x) and angular velocity; the observation is the state,
  float32 ``[4]``;
* actions ``0`` (push left, force ``-force_mag``) and ``1`` (push right, ``+force_mag``);
* with ``F`` the force, ``M = masscart + masspole`` and ``l`` the half-length of the pole::

      temp        = (F + masspole * l * theta_dot^2 * sin(theta)) / M
      theta_acc   = (gravity * sin(theta) - cos(theta) * temp)
                    / (l * (4/3 - masspole * cos(theta)^2 / M))
      x_acc       = temp - masspole * l * theta_acc * cos(theta) / M

  integrated by explicit Euler with step ``tau`` (positions from the old velocities, velocities
  from the old accelerations);
* the episode starts from a state drawn uniformly from ``[-0.05, 0.05)^4``;
* reward ``1`` for every step, the terminating one included;
* ``terminated`` when the new state has ``|x| > x_threshold`` (2.4) or
  ``|theta| > theta_threshold_radians`` (12 degrees); ``truncated`` when the episode reaches
  ``max_steps`` (500) steps without terminating. Gymnasium's ``TimeLimit`` sets both flags when
  the 500th step also terminates; here, as in every ``jaxrl`` environment, the two stay apart and
  such a step is only ``terminated`` (nothing to bootstrap from).

Everything is float32 (gymnasium integrates in float64 and rounds the observation to float32):
one step from the same state agrees with gymnasium's to float32 rounding, a few ulp, and
``tests/envs/test_cartpole.py`` checks it against ``gymnasium.make("CartPole-v1")``. A step after
a terminating one is outside the contract (gymnasium warns and pays 0); start a new episode, or
set ``auto_reset``.

Reference: https://gymnasium.farama.org/environments/classic_control/cart_pole/
"""

from __future__ import annotations

import math
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxrl.envs import checks

OBSERVATION_SIZE = 4
NUM_ACTIONS = 2
LEFT, RIGHT = 0, 1

# gymnasium CartPole-v1's constants.
GRAVITY = 9.8
MASSCART = 1.0
MASSPOLE = 0.1
LENGTH = 0.5  # half the pole's length
FORCE_MAG = 10.0
TAU = 0.02  # seconds per step
THETA_THRESHOLD_RADIANS = 12 * 2 * math.pi / 360
X_THRESHOLD = 2.4
MAX_STEPS = 500
# The start state is uniform on [-RESET_BOUND, RESET_BOUND)^4.
RESET_BOUND = 0.05


@struct.dataclass
class EnvParams:
    """Everything ``reset`` and ``step`` need; a pytree, so it can be batched (e.g. over gravity).

    Build it with :func:`make_params`; change a physical constant with
    ``params.replace(gravity=jnp.float32(3.7))``.

    Attributes:
        gravity: ``[]`` float32, m/s^2.
        masscart, masspole: ``[]`` float32, kg.
        length: ``[]`` float32, half the pole's length, m.
        force_mag: ``[]`` float32, the size of the push, N.
        tau: ``[]`` float32, seconds per step (the Euler step).
        theta_threshold_radians: ``[]`` float32, the pole angle beyond which the episode ends.
        x_threshold: ``[]`` float32, the cart position beyond which the episode ends. Both
            thresholds are gymnasium's float64 values rounded down to float32 (2.3999999 and
            0.2094395), so the same float32 state ends both episodes or neither.
        max_steps: ``[]`` int32; an episode is truncated after this many steps.
        auto_reset: if True, ``step`` starts a new episode itself when one ends, drawing the start
            state from the step's key (as ``wrappers.auto_reset`` does, without splitting the key
            or calling ``reset`` a second time). Static.
    """

    gravity: jax.Array
    masscart: jax.Array
    masspole: jax.Array
    length: jax.Array
    force_mag: jax.Array
    tau: jax.Array
    theta_threshold_radians: jax.Array
    x_threshold: jax.Array
    max_steps: jax.Array
    auto_reset: bool = struct.field(pytree_node=False, default=False)


class EnvState(NamedTuple):
    """The cart-pole's physical state (float32 ``[]`` each) and the steps taken (int32 ``[]``)."""

    x: jax.Array
    x_dot: jax.Array
    theta: jax.Array
    theta_dot: jax.Array
    time: jax.Array


def _float32_at_most(value: float) -> np.float32:
    """The largest float32 not above ``value`` (a positive threshold).

    For every float32 ``v``, ``v > _float32_at_most(t)`` exactly when ``float(v) > t``: a float32
    state crosses the threshold exactly when gymnasium's float64 comparison of the same value
    would. Rounding to nearest would not do: float32(2.4) and float32(12 degrees) both lie above
    the float64 values, so a state exactly there would end gymnasium's episode and not ours.
    """
    rounded = np.float32(value)
    if float(rounded) > value:
        rounded = np.nextafter(rounded, np.float32(0))
    return rounded


def make_params(*, max_steps: int = MAX_STEPS, auto_reset: bool = False) -> EnvParams:
    """CartPole-v1's parameters: gymnasium's constants, in float32 (thresholds rounded down).

    Args:
        max_steps: episode length after which ``truncated`` is set (CartPole-v1: 500).
        auto_reset: whether ``step`` starts a new episode when one ends (see :class:`EnvParams`).

    Raises:
        ValueError: naming the argument, for a ``max_steps`` that is not an integer in
            ``[1, 2^31 - 1]`` or an ``auto_reset`` that is not a bool.
    """
    max_steps = checks.time_limit(max_steps)
    auto_reset = checks.flag("auto_reset", auto_reset)
    f32 = jnp.float32
    return EnvParams(
        gravity=f32(GRAVITY),
        masscart=f32(MASSCART),
        masspole=f32(MASSPOLE),
        length=f32(LENGTH),
        force_mag=f32(FORCE_MAG),
        tau=f32(TAU),
        theta_threshold_radians=f32(_float32_at_most(THETA_THRESHOLD_RADIANS)),
        x_threshold=f32(_float32_at_most(X_THRESHOLD)),
        max_steps=jnp.int32(max_steps),
        auto_reset=bool(auto_reset),
    )


def observe(state: EnvState) -> jax.Array:
    """The observation: ``[x, x_dot, theta, theta_dot]``, float32 ``[4]``."""
    return jnp.stack([state.x, state.x_dot, state.theta, state.theta_dot]).astype(jnp.float32)


def _start_state(key: jax.Array) -> EnvState:
    """A start state uniform on ``[-0.05, 0.05)^4`` (four float32 uniforms), at time 0."""
    u = jax.random.uniform(key, (4,), jnp.float32, minval=-RESET_BOUND, maxval=RESET_BOUND)
    return EnvState(x=u[0], x_dot=u[1], theta=u[2], theta_dot=u[3], time=jnp.int32(0))


def reset(key: jax.Array, params: EnvParams) -> tuple[jax.Array, EnvState]:
    """Starts an episode from a state drawn uniformly from ``[-0.05, 0.05)^4``.

    Args:
        key: randomness for the start state.
        params: :class:`EnvParams` (unused but for the API's sake: the start is the same for all).

    Returns:
        ``(obs, state)``: obs float32 ``[4]``, ``state.time == 0``.
    """
    del params
    state = _start_state(key)
    return observe(state), state


def dynamics(state: EnvState, action: jax.Array, params: EnvParams) -> EnvState:
    """One explicit-Euler step of the cart-pole equations (module docstring); time + 1.

    Args:
        state: the current :class:`EnvState`.
        action: ``[]`` integer; ``1`` pushes right, anything else left (as gymnasium).
        params: :class:`EnvParams`.

    Returns:
        The next :class:`EnvState`, float32, with no episode logic (thresholds, time limit).
    """
    force = jnp.where(action == RIGHT, params.force_mag, -params.force_mag)
    total_mass = params.masspole + params.masscart
    polemass_length = params.masspole * params.length
    cos_theta = jnp.cos(state.theta)
    sin_theta = jnp.sin(state.theta)
    temp = (force + polemass_length * jnp.square(state.theta_dot) * sin_theta) / total_mass
    theta_acc = (params.gravity * sin_theta - cos_theta * temp) / (
        params.length * (4.0 / 3.0 - params.masspole * jnp.square(cos_theta) / total_mass)
    )
    x_acc = temp - polemass_length * theta_acc * cos_theta / total_mass
    return EnvState(
        x=state.x + params.tau * state.x_dot,
        x_dot=state.x_dot + params.tau * x_acc,
        theta=state.theta + params.tau * state.theta_dot,
        theta_dot=state.theta_dot + params.tau * theta_acc,
        time=state.time + 1,
    )


def step(
    key: jax.Array, state: EnvState, action: jax.Array, params: EnvParams
) -> tuple[jax.Array, EnvState, jax.Array, jax.Array, jax.Array, dict]:
    """One step of CartPole-v1 for one cart (vmap for many).

    The push moves the state by :func:`dynamics`; the step pays 1, ``terminated`` is set when the
    new state leaves ``|x| <= x_threshold`` or ``|theta| <= theta_threshold_radians``, and
    ``truncated`` when the episode reaches ``max_steps`` without terminating. With
    ``params.auto_reset``, a step that ends an episode returns the reward and flags of that step
    but the observation and state of a new start drawn from ``key``; the state the step reached
    is ``info["final_observation"]`` (what a learner bootstraps from on truncation).

    Args:
        key: randomness for the new start state with ``auto_reset`` (else unused: the dynamics are
            deterministic).
        state: the current :class:`EnvState`.
        action: ``[]`` integer in ``{0, 1}`` (LEFT, RIGHT).
        params: :class:`EnvParams`.

    Returns:
        ``(obs, next_state, reward, terminated, truncated, info)``: obs float32 ``[4]``, reward
        float32 ``[]``, flags bool ``[]``, ``info = {"final_observation": ...}`` the observation
        of the state reached (equal to ``obs`` unless ``auto_reset`` started a new episode).
    """
    action = jnp.asarray(action)
    chex.assert_rank(action, 0)
    chex.assert_type(action, int)
    reached = dynamics(state, action, params)
    terminated = jnp.logical_or(
        jnp.abs(reached.x) > params.x_threshold,
        jnp.abs(reached.theta) > params.theta_threshold_radians,
    )
    truncated = jnp.logical_and(reached.time >= params.max_steps, jnp.logical_not(terminated))
    reward = jnp.float32(1.0)
    final_observation = observe(reached)
    if params.auto_reset:
        done = jnp.logical_or(terminated, truncated)
        start = _start_state(key)
        next_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), start, reached)
        obs = observe(next_state)
    else:
        next_state = reached
        obs = final_observation
    info = {"final_observation": final_observation}
    return obs, next_state, reward, terminated, truncated, info


def environment(*, max_steps: int = MAX_STEPS):
    """CartPole-v1 as a ``jaxrl.envs.Environment`` (registered as ``"cartpole"``).

    Observations: a box of 4 reals (unbounded); actions: ``Discrete(2)``. ``max_steps`` is the
    time limit (a truncation).
    """
    from jaxrl.envs import registry, rendering, spaces

    params = make_params(max_steps=max_steps)
    return registry.Environment(
        name="cartpole",
        reset=reset,
        step=step,
        params=params,
        observation_space=spaces.box(-np.inf, np.inf, (OBSERVATION_SIZE,)),
        action_space=spaces.Discrete(NUM_ACTIONS),
        max_steps=int(max_steps),
        auto_reset=lambda p: p.replace(auto_reset=True),
        draw=rendering.cartpole(float(params.x_threshold), float(params.length)),
    )
