"""Off-policy actor-critic: learning the policy from a uniform behaviour's data, weighted by
importance ratios.

Zhao, ch. 10.3 (Algorithm 10.3); Degris, White and Sutton (2012), "Off-policy actor-critic",
https://arxiv.org/abs/1205.4839.

On the on-policy scaffold (``jaxrl.agents.on_policy``), whose rollouts here act with the
uniform behaviour policy ``beta``. The actor's weight is the TD error ``A_t = delta_t``
(``targets.td_learning``, from a state-value critic), and both steps are weighted by the
importance ratio ``rho_t = pi(a_t|s_t) / beta(a_t|s_t)`` (``targets.importance_sampling_ratios``):
``losses.off_policy_actor_loss`` for the actor, ``losses.weighted_critic_loss`` for the critic,
plus the entropy bonus.

Fields: ``SCHEMA``, the scaffold's (``jaxrl.agents.on_policy``).
"""

from __future__ import annotations

import distrax
import jax
import jax.numpy as jnp

from jaxrl import losses, targets
from jaxrl.agents import on_policy

MODULE = "jaxrl.agents.off_policy_ac"


SCHEMA = on_policy.SCHEMA.extend(MODULE)  # the scaffold's fields, nothing more
Hparams = SCHEMA.hparams_type


def prepare(nets, params, rollout, hparams: Hparams):
    discount = hparams.gamma * (1.0 - rollout.terminated)
    v_tm1, v_t = nets.v(params, rollout.obs), nets.v(params, rollout.next_obs)
    delta = jax.vmap(jax.vmap(targets.td_learning))(v_tm1, rollout.reward, discount, v_t)
    return delta, delta + v_tm1


def loss(nets, params, batch, hparams: Hparams) -> losses.ActorCriticLoss:
    """rho-weighted actor and critic steps (Zhao, Algorithm 10.3)."""
    pi = nets.policy(params.actor, batch.obs)
    rho = targets.importance_sampling_ratios(pi.probs, batch.behaviour_probs, batch.action)
    rho = jax.lax.stop_gradient(rho)
    actor = losses.off_policy_actor_loss(pi.log_prob(batch.action), rho, batch.advantage)
    critic = losses.weighted_critic_loss(nets.v(params, batch.obs), batch.target, rho)
    entropy = losses.entropy_loss(pi.entropy())
    return losses.ActorCriticLoss(
        actor + critic + hparams.entropy_coef * entropy, actor, critic, entropy
    )


def uniform_behaviour(nets, params, obs) -> distrax.Categorical:
    """The behaviour policy beta: uniform over the actions."""
    num_actions = nets.actor.apply(params.actor, obs).shape[-1]
    return distrax.Categorical(logits=jnp.zeros((*jnp.shape(obs)[:1], num_actions)))


def make_agent(config) -> on_policy.Agent:
    env = on_policy.check_config(config, SCHEMA)
    algorithm = on_policy.Algorithm(prepare=prepare, loss=loss, behaviour=uniform_behaviour)
    return on_policy.make_agent(config, algorithm, env)


def make_experiment(config):
    """The runner's view of off-policy actor-critic (see ``jaxrl/configs/actor_critic_grid.py``)."""
    return on_policy.make_experiment(config, make_agent(config), SCHEMA)
