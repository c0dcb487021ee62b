"""REINFORCE: Monte Carlo policy gradient, with or without a learned baseline.

Zhao, ch. 9 (Algorithm 9.1); Williams (1992), "Simple statistical gradient-following algorithms
for connectionist reinforcement learning"; Sutton and Barto (2018), sec. 13.3-13.4.

On the on-policy scaffold (``jaxrl.agents.on_policy``: rollouts, epochs x minibatches,
evaluation). Each step's weight is the Monte Carlo return of the rest of its episode,
``y_t = G_t`` (``targets.lambda_returns`` with lambda = 1 inside each episode), minus the
critic's ``v(s_t)`` with ``baseline`` (which then also bootstraps a return cut by a time limit or
the rollout's end), else ``A_t = G_t`` and the return stops at the end of the rollout. The loss
is ``losses.actor_critic_loss``: ``-A_t log pi(a_t|s_t)`` plus ``0.5 (y_t - v(s_t))^2`` and the
entropy bonus. With the scaffold's ``discount_weighting`` the estimate is unbiased for
``J(theta) = sum_s d0(s) v_pi(s)``.

Fields: ``SCHEMA``, the scaffold's (``jaxrl.agents.on_policy``).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxrl import losses
from jaxrl.agents import on_policy
from jaxrl.run import fields

MODULE = "jaxrl.agents.reinforce"


SCHEMA = on_policy.SCHEMA.extend(
    MODULE, baseline=fields.static(fields.BOOLEAN, "subtract the critic's v(s) from the return")
)
Hparams = SCHEMA.hparams_type


def make_agent(config) -> on_policy.Agent:
    env = on_policy.check_config(config, SCHEMA, box_actions=True)
    baseline = bool(config.baseline)

    def prepare(nets, params, rollout, hparams: Hparams):
        critic = nets if baseline else None
        return on_policy.lambda_return_targets(
            critic, params, rollout, gamma=hparams.gamma, lambda_=1.0
        )

    def loss(nets, params, batch, hparams: Hparams) -> losses.ActorCriticLoss:
        pi = nets.policy(params.actor, batch.obs)
        value = nets.v(params, batch.obs) if baseline else jnp.zeros_like(batch.target)
        target = batch.target if baseline else value
        return losses.actor_critic_loss(
            pi.log_prob(batch.action),
            batch.advantage,
            value,
            target,
            pi.entropy(),
            critic_coef=1.0,
            entropy_coef=hparams.entropy_coef,
        )

    algorithm = on_policy.Algorithm(prepare=prepare, loss=loss, baseline=baseline)
    return on_policy.make_agent(config, algorithm, env)


def make_experiment(config):
    """The runner's view of REINFORCE (see ``jaxrl/configs/actor_critic_grid.py``)."""
    return on_policy.make_experiment(config, make_agent(config), SCHEMA)
