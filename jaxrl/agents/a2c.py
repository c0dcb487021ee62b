"""Advantage actor-critic (A2C): the TD or GAE advantage with a state-value critic.

Zhao, ch. 10.2 (Algorithm 10.2); Mnih et al. (2016), "Asynchronous methods for deep
reinforcement learning", https://arxiv.org/abs/1602.01783; Schulman et al. (2016), GAE,
https://arxiv.org/abs/1506.02438.

On the on-policy scaffold (``jaxrl.agents.on_policy``). Each step's critic target is the
lambda-return ``y_t`` (``targets.lambda_returns``, cut at episode ends) and its weight the
advantage ``A_t = y_t - v(s_t)``: ``gae_lambda = 0`` gives the book's TD error
``r + discount v(s') - v(s)``, ``gae_lambda`` in (0, 1) GAE. The loss is
``losses.actor_critic_loss``: ``-A_t log pi(a_t|s_t)`` plus ``0.5 (y_t - v(s_t))^2`` and the
entropy bonus.

Fields: ``SCHEMA``, the scaffold's and ``gae_lambda``.
"""

from __future__ import annotations

from jaxrl import losses
from jaxrl.agents import on_policy
from jaxrl.run import PROBABILITY, fields

MODULE = "jaxrl.agents.a2c"
SCHEMA = on_policy.SCHEMA.extend(
    MODULE,
    after="gamma",
    gae_lambda=fields.swept(PROBABILITY, "lambda of the lambda-returns (0: the TD error)"),
)
Hparams = SCHEMA.hparams_type


def prepare(nets, params, rollout, hparams):
    """GAE advantages and lambda-return targets (also PPO's)."""
    return on_policy.lambda_return_targets(
        nets, params, rollout, gamma=hparams.gamma, lambda_=hparams.gae_lambda
    )


def loss(nets, params, batch, hparams: Hparams) -> losses.ActorCriticLoss:
    pi = nets.policy(params.actor, batch.obs)
    return losses.actor_critic_loss(
        pi.log_prob(batch.action),
        batch.advantage,
        nets.v(params, batch.obs),
        batch.target,
        pi.entropy(),
        critic_coef=1.0,
        entropy_coef=hparams.entropy_coef,
    )


def make_agent(config) -> on_policy.Agent:
    env = on_policy.check_config(config, SCHEMA, box_actions=True)
    return on_policy.make_agent(config, on_policy.Algorithm(prepare=prepare, loss=loss), env)


def make_experiment(config):
    """The runner's view of A2C (see ``jaxrl/configs/actor_critic_*.py``)."""
    return on_policy.make_experiment(config, make_agent(config), SCHEMA)
