"""Proximal policy optimization (PPO): A2C's advantages under the clipped surrogate objective.

Schulman et al. (2017), "Proximal policy optimization algorithms",
https://arxiv.org/abs/1707.06347; Schulman et al. (2016), GAE, https://arxiv.org/abs/1506.02438.

On the on-policy scaffold (``jaxrl.agents.on_policy``: its ``epochs`` passes of
``num_minibatches`` shuffled minibatches are PPO's). The advantages and critic targets are A2C's
(GAE lambda-returns, ``jaxrl.agents.a2c.prepare``); the actor minimises
``losses.clipped_surrogate_loss`` of the ratio ``pi(a_t|s_t) / pi_old(a_t|s_t)`` to the
rollout's policy (its log-probability kept in the rollout: a categorical or, on box actions, a
diagonal Gaussian), clipped to ``[1 - clip_epsilon, 1 + clip_epsilon]``; the critic the squared
error to the targets (``losses.weighted_critic_loss`` with weight 1), plus the entropy bonus.

Fields: ``SCHEMA``, A2C's and ``clip_epsilon``.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl import losses
from jaxrl.agents import a2c, on_policy
from jaxrl.run import fields, real

MODULE = "jaxrl.agents.ppo"
SCHEMA = a2c.SCHEMA.extend(
    MODULE,
    clip_epsilon=fields.swept(real(0.0, 1.0, low_open=True), "the probability ratio's clip"),
)
Hparams = SCHEMA.hparams_type


def loss(nets, params, batch, hparams: Hparams) -> losses.ActorCriticLoss:
    pi = nets.policy(params.actor, batch.obs)
    log_prob = pi.log_prob(batch.action)
    actor = losses.clipped_surrogate_loss(
        log_prob, batch.behaviour_log_prob, batch.advantage, epsilon=hparams.clip_epsilon
    )
    value = nets.v(params, batch.obs)
    critic = losses.weighted_critic_loss(value, batch.target, jnp.ones_like(value))
    entropy = losses.entropy_loss(pi.entropy())
    return losses.ActorCriticLoss(
        actor + critic + hparams.entropy_coef * entropy, actor, critic, entropy
    )


def make_agent(config) -> on_policy.Agent:
    env = on_policy.check_config(config, SCHEMA, box_actions=True)
    return on_policy.make_agent(config, on_policy.Algorithm(prepare=a2c.prepare, loss=loss), env)


def make_experiment(config):
    """The runner's view of PPO (see ``jaxrl/configs/actor_critic_cartpole.py``)."""
    return on_policy.make_experiment(config, make_agent(config), SCHEMA)
