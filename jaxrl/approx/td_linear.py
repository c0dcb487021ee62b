"""TD-linear: TD learning of the state values of a fixed policy with a linear value function on
the grid world (Zhao, ch. 8.2; Sutton and Barto, 9.4, semi-gradient TD(0)).

The value estimate is ``v(s) = phi(s)^T w`` with the features ``config.features`` (see
:mod:`jaxrl.approx.features`). Following a fixed policy ``pi`` (the uniform random policy) on one
long trajectory (the book's continuing task), after each step ``(s_t, r_{t+1}, s_{t+1})``:

    w <- w + alpha_t [r_{t+1} + gamma phi(s_{t+1})^T w - phi(s_t)^T w] phi(s_t)

the TD error from ``jaxrl.targets.td_learning``, with ``alpha_t = learning_rate / (1 + t /
decay_steps)^step_power / max_s ||phi(s)||^2`` (:func:`jaxrl.approx.linear.step_size`;
``step_power = 0`` is constant). With Robbins-Monro steps (``step_power`` in (0.5, 1]) ``w``
converges to the projected Bellman fixed point ``w*`` (:mod:`jaxrl.approx.linear`), not to the
best fit of ``v_pi``; with one-hot features ``w*`` is ``v_pi`` and this is tabular TD(0)
(the tabular family's ``td0``, the same random numbers: with a constant step the two agree bit
for bit).

Ground truths, for this setting's ``gamma`` (traced: a sweep compiles once), computed in
``init`` with matrix-vector products only (no LAPACK in what the runner compiles): ``v_pi``
within 1e-5 (``dp.evaluate_policy_bounded``) and ``Phi w*`` within 1e-5
(:func:`jaxrl.approx.linear.projected_fixed_point_bounded`, iterating the projected Bellman
operator; its projection matrix is a float64 NumPy solve in ``make_experiment``).

Fields: ``SCHEMA`` (the features, the policy and the grid static; ``learning_rate``,
``step_power``, ``decay_steps`` and ``gamma`` swept).

Metrics per chunk: ``fixed_point_error`` = ``max_s |phi(s)^T (w - w*)|`` (what converges to 0),
``weight_error`` = ``max_i |w_i - w*_i|``, ``value_error`` = ``max_s |phi(s)^T w - v_pi(s)|``,
``mean_error`` = ``mean_s |phi(s)^T w - v_pi(s)|``, ``rmse`` = ``sqrt(mean_s (phi(s)^T w -
v_pi(s))^2)`` (unweighted, over the states), ``reward`` = mean reward over the chunk.
The errors to ``v_pi`` keep the approximation's bias: they level off at those of ``Phi w*``.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import exact, targets
from jaxrl.approx import features, linear
from jaxrl.envs import grid_tasks, gridworld, rng
from jaxrl.run import POSITIVE, Experiment, fields, real

POLICIES = ("uniform",)
SCHEMA = grid_tasks.CONTINUING_SCHEMA.extend(
    "jaxrl.approx.td_linear",
    features=fields.static(
        fields.one_of(*features.FEATURE_SETS), "the state features phi(s) (jaxrl.approx.features)"
    ),
    policy=fields.static(fields.one_of(*POLICIES), "the policy evaluated"),
    learning_rate=fields.swept(POSITIVE, "the normalized step size's scale"),
    step_power=fields.swept(
        real(0.0, 1.0), "the step size decays as (1 + t / decay_steps)^-step_power"
    ),
    decay_steps=fields.swept(POSITIVE, "steps before the step size starts to decay"),
    gamma=fields.swept(exact.GAMMA, "the discount"),
)
Hparams = SCHEMA.hparams_type
# The ground truths inside a compiled run are accurate to this bound (before float32 rounding).
FIXED_POINT_ERROR = 1e-5


class Carry(NamedTuple):
    """Training state of one seed and setting."""

    w: jax.Array  # [d] the weights
    env_state: gridworld.EnvState  # the environment's state; the agent sees observe(env_state)
    step: jax.Array  # [] int32 t, the counter of the random streams
    key_data: jax.Array  # [2] uint32 raw key of this seed
    v_pi: jax.Array  # [S] values of the policy, within 1e-5
    w_star: jax.Array  # [d] the projected fixed point, within 1e-5 in values


def td_linear_update(
    w: jax.Array,
    phi_tm1: jax.Array,
    r_t: jax.Array,
    discount_t: jax.Array,
    phi_t: jax.Array,
    *,
    alpha: jax.Array,
) -> jax.Array:
    """One TD-linear update of the weights ``w [d]`` from ``(phi(s_{t-1}), r_t, phi(s_t))``.

    ``w + alpha delta phi_tm1`` with ``delta = r_t + discount_t phi_t^T w - phi_tm1^T w`` from
    ``jaxrl.targets.td_learning`` (the gradient of ``phi_tm1^T w`` is ``phi_tm1``).
    """
    chex.assert_rank([w, phi_tm1, phi_t], 1)
    chex.assert_equal_shape([w, phi_tm1, phi_t])
    delta = targets.td_learning(phi_tm1 @ w, r_t, discount_t, phi_t @ w)
    return w + alpha * delta * phi_tm1


def make_experiment(config) -> Experiment:
    """The runner's view of TD-linear (see ``jaxrl/configs/td_linear.py``)."""
    SCHEMA.check(config)
    grid, params = grid_tasks.task_from_config(config)
    phi64 = features.check_features(config.features, grid.shape, field="config.features")
    mdp = params.mdp
    num_states, num_actions = grid.num_states, gridworld.NUM_ACTIONS
    policy = jnp.full((num_states, num_actions), 1.0 / num_actions, jnp.float32)
    cdf = jnp.cumsum(policy, axis=-1)
    # Outside anything compiled (NumPy and a LAPACK solve are fine here): D and Pi_D.
    distribution = linear.stationary_distribution(gridworld.to_mdp(grid), policy)
    projection = jnp.asarray(linear.projection_matrix(phi64, distribution), jnp.float32)
    distribution = jnp.asarray(distribution, jnp.float32)
    phi = jnp.asarray(phi64, jnp.float32)
    feature_norm = float(np.max(np.sum(np.asarray(phi, np.float64) ** 2, axis=1)))
    chunk_steps = int(config.chunk_steps)

    def init(key: jax.Array, hparams: Hparams) -> Carry:
        start_key, key = jax.random.split(key)
        _, env_state = gridworld.reset(start_key, params)
        w_star = linear.projected_fixed_point_bounded(
            mdp,
            policy,
            phi,
            projection,
            distribution,
            gamma=hparams.gamma,
            error_bound=FIXED_POINT_ERROR,
        ).weights
        return Carry(
            w=jnp.zeros((phi.shape[1],), jnp.float32),
            env_state=env_state,
            step=jnp.int32(0),
            key_data=jax.random.key_data(key),
            v_pi=exact.policy_values(mdp, policy, hparams.gamma),
            w_star=w_star,
        )

    def train_step(carry: Carry, hparams: Hparams) -> tuple[Carry, jax.Array]:
        s, t = gridworld.observe(carry.env_state.position, params), carry.step
        u, _ = rng.counter_uniforms(carry.key_data, t)
        a = jnp.minimum(jnp.sum(u >= cdf[s]), num_actions - 1).astype(jnp.int32)
        s_next, env_state, reward, _, _, _ = gridworld.step(
            rng.env_key(carry.key_data, t), carry.env_state, a, params
        )
        alpha = linear.step_size(
            t,
            learning_rate=hparams.learning_rate,
            step_power=hparams.step_power,
            decay_steps=hparams.decay_steps,
            feature_norm=feature_norm,
        )
        w = td_linear_update(carry.w, phi[s], reward, hparams.gamma, phi[s_next], alpha=alpha)
        return carry._replace(w=w, env_state=env_state, step=t + 1), reward

    def train_chunk(carry: Carry, hparams: Hparams) -> tuple[Carry, dict]:
        carry, rewards = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        v = phi @ carry.w
        error = v - carry.v_pi
        metrics = {
            "fixed_point_error": jnp.max(jnp.abs(v - phi @ carry.w_star)),
            "weight_error": jnp.max(jnp.abs(carry.w - carry.w_star)),
            "value_error": jnp.max(jnp.abs(error)),
            "mean_error": jnp.mean(jnp.abs(error)),
            "rmse": jnp.sqrt(jnp.mean(error * error)),
            "reward": jnp.mean(rewards),
        }
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains=SCHEMA.domains,
        metrics=(
            "fixed_point_error",
            "weight_error",
            "value_error",
            "mean_error",
            "rmse",
            "reward",
        ),
        main_metric="fixed_point_error",
    )
