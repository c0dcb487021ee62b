"""Losses, one concept per function: value regression (``value.py``) and policy losses
(``policy.py``: policy gradient, entropy, actor-critic, off-policy actor, PPO's clipped surrogate,
deterministic policy gradient), preference optimization (``dpo.py``: sequence log-probabilities
and the DPO loss family) and reward models (``reward_model.py``: the Bradley-Terry loss).
"""

from jaxrl.losses.dpo import DPOLoss, dpo_loss, preference_metrics, sequence_log_probs
from jaxrl.losses.policy import (
    ActorCriticLoss,
    actor_critic_loss,
    clipped_surrogate_loss,
    deterministic_policy_gradient_loss,
    entropy_loss,
    off_policy_actor_loss,
    policy_gradient_loss,
    soft_actor_loss,
    temperature_loss,
    weighted_critic_loss,
)
from jaxrl.losses.reward_model import RewardModelLoss, bradley_terry_loss
from jaxrl.losses.value import huber_loss, squared_loss, td_loss

__all__ = [
    "ActorCriticLoss",
    "DPOLoss",
    "RewardModelLoss",
    "actor_critic_loss",
    "bradley_terry_loss",
    "clipped_surrogate_loss",
    "deterministic_policy_gradient_loss",
    "dpo_loss",
    "entropy_loss",
    "huber_loss",
    "off_policy_actor_loss",
    "policy_gradient_loss",
    "preference_metrics",
    "sequence_log_probs",
    "squared_loss",
    "soft_actor_loss",
    "td_loss",
    "temperature_loss",
    "weighted_critic_loss",
]
