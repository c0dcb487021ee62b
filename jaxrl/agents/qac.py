"""Q actor-critic (QAC): the policy gradient weighted by a learned action value.

Zhao, ch. 10.1 (Algorithm 10.1); Sutton and Barto (2018), ch. 13.

On the on-policy scaffold (``jaxrl.agents.on_policy``), with an action-value critic
``q(s, .)``. The actor's weight is ``A_t = q(s_t, a_t)`` (the book's actor step ``theta += alpha
q grad ln pi``); the critic learns ``q`` by expected Sarsa, ``y_t = r + discount sum_a'
pi(a'|s') q(s', a')`` (``targets.expected_sarsa``: the book's Sarsa critic in expectation over
``a'``, which needs no next action at a rollout's end or a time limit). The loss is
``losses.actor_critic_loss`` with the critic's value ``q(s_t, a_t)``.

Fields: ``SCHEMA``, the scaffold's (``jaxrl.agents.on_policy``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxrl import losses, targets
from jaxrl.agents import on_policy

MODULE = "jaxrl.agents.qac"


SCHEMA = on_policy.SCHEMA.extend(MODULE)  # the scaffold's fields, nothing more
Hparams = SCHEMA.hparams_type


def _taken(q: jax.Array, action: jax.Array) -> jax.Array:
    """``q[..., a]`` of the actions taken."""
    return jnp.take_along_axis(q, action[..., None], axis=-1)[..., 0]


def prepare(nets, params, rollout, hparams: Hparams):
    discount = hparams.gamma * (1.0 - rollout.terminated)
    q_tm1 = nets.critic_values(params, rollout.obs)  # [L, N, A]
    q_t = nets.critic_values(params, rollout.next_obs)
    pi_t = nets.policy(params.actor, rollout.next_obs).probs
    delta = jax.vmap(jax.vmap(targets.expected_sarsa))(
        q_tm1, rollout.action, rollout.reward, discount, q_t, pi_t
    )
    q_a = _taken(q_tm1, rollout.action)
    return q_a, delta + q_a


def loss(nets, params, batch, hparams: Hparams) -> losses.ActorCriticLoss:
    pi = nets.policy(params.actor, batch.obs)
    return losses.actor_critic_loss(
        pi.log_prob(batch.action),
        batch.advantage,
        _taken(nets.critic_values(params, batch.obs), batch.action),
        batch.target,
        pi.entropy(),
        critic_coef=1.0,
        entropy_coef=hparams.entropy_coef,
    )


def make_agent(config) -> on_policy.Agent:
    env = on_policy.check_config(config, SCHEMA)
    algorithm = on_policy.Algorithm(prepare=prepare, loss=loss, critic_outputs="action")
    return on_policy.make_agent(config, algorithm, env)


def make_experiment(config):
    """The runner's view of QAC (see ``jaxrl/configs/actor_critic_grid.py``)."""
    return on_policy.make_experiment(config, make_agent(config), SCHEMA)
