"""Learning targets, one concept per function: returns, TD errors, off-policy corrections, and
RL fine-tuning's KL estimators, KL-penalised rewards and group-relative advantages (``rlhf.py``).

Each function handles one stream (``[T]`` arrays) or one transition; batch with ``jax.vmap``.
Names carry the time index (``r_t``, ``discount_t``, ``v_t``, ``q_tm1``, ``a_tm1``), a TD error is
``target - prediction``, and targets are wrapped in ``jax.lax.stop_gradient`` unless
``stop_target_gradients=False``.
"""

from jaxrl.targets.ensemble import ENSEMBLE_VALUES, ensemble_value
from jaxrl.targets.off_policy import (
    clipped_importance_sampling_ratios,
    importance_sampling_ratios,
    ordinary_is_returns,
    per_decision_is_returns,
)
from jaxrl.targets.returns import (
    discounted_returns,
    generalized_advantage_estimation,
    lambda_returns,
    n_step_bootstrapped_returns,
)
from jaxrl.targets.rlhf import (
    BASELINES,
    KL_ESTIMATORS,
    group_advantages,
    kl_estimate,
    kl_penalised_rewards,
)
from jaxrl.targets.td import (
    double_q_learning,
    expected_sarsa,
    n_step_sarsa_error,
    n_step_sarsa_target,
    q_learning,
    sarsa,
    soft_value,
    td_learning,
)

__all__ = [
    "BASELINES",
    "KL_ESTIMATORS",
    "group_advantages",
    "kl_estimate",
    "kl_penalised_rewards",
    "ENSEMBLE_VALUES",
    "ensemble_value",
    "clipped_importance_sampling_ratios",
    "discounted_returns",
    "double_q_learning",
    "expected_sarsa",
    "generalized_advantage_estimation",
    "importance_sampling_ratios",
    "lambda_returns",
    "n_step_bootstrapped_returns",
    "n_step_sarsa_error",
    "n_step_sarsa_target",
    "ordinary_is_returns",
    "per_decision_is_returns",
    "q_learning",
    "sarsa",
    "soft_value",
    "td_learning",
]
