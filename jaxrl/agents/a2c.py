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

Swept (``Hparams``): ``actor_lr``, ``critic_lr``, ``gamma``, ``gae_lambda``, ``entropy_coef``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax

from jaxrl import losses
from jaxrl.agents import on_policy
from jaxrl.run import PROBABILITY

MODULE = "jaxrl.agents.a2c"
DOMAINS = {**on_policy.DOMAINS, "gae_lambda": PROBABILITY}  # the shared four and GAE's lambda


class Hparams(NamedTuple):
    actor_lr: jax.Array  # alpha_theta
    critic_lr: jax.Array  # alpha_w
    gamma: jax.Array
    gae_lambda: jax.Array  # lambda of the lambda-returns (0: the TD error)
    entropy_coef: jax.Array


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
    env = on_policy.check_config(config, MODULE)
    return on_policy.make_agent(config, on_policy.Algorithm(prepare=prepare, loss=loss), env)


def make_experiment(config):
    """The runner's view of A2C (see ``jaxrl/configs/actor_critic_*.py``)."""
    return on_policy.make_experiment(
        config, make_agent(config), hparams_type=Hparams, domains=DOMAINS
    )
