"""A statistically grounded check that learned epsilon-greedy policies are near the best one."""

import statistics

import jax.numpy as jnp
import numpy as np

from jaxrl import dp


def check_epsilon_greedy_near_optimal(q_hat, mdp, *, epsilon, gamma, family_error=0.01):
    """Checks every seed's epsilon-greedy policy against the best epsilon-greedy policy.

    For seed i let a_i(s) be its greedy action and pi_i its epsilon-greedy policy, evaluated
    exactly (no sampling noise in the comparison). The performance-difference identity for
    epsilon-greedy policies,

        v*(s) - v_pi_i(s) = (1 - eps) [(I - gamma P_pi_i)^-1 Delta_i](s),
        Delta_i(s) = q*(s, a*(s)) - q*(s, a_i(s)) >= 0,

    says the values can fall short only through states whose greedy action is wrong. A wrong
    choice happens when the estimated difference qhat(s, a*) - qhat(s, a_i) comes out <= 0 while
    the true one is Delta_i(s); the standard error of that estimated difference, sd(s, a), is
    measured as its spread over the independent seeds. The tolerance is therefore

        tol_i(s) = (1 - eps) [(I - gamma P_pi_i)^-1 (z sd(s, a_i(s)) [a_i(s) != a*(s)])](s),

    with z the one-sided normal quantile for a ``family_error`` family-wise error over the
    seeds x states decisions (Bonferroni); it is 0 (exact optimality) for seeds whose greedy
    actions are all right.

    Args:
        q_hat: ``[seeds, S, A]`` learned action values.
        mdp: the dense ``FiniteMDP``.

    Returns:
        ``[seeds]`` the value gaps ``max_s v*(s) - v_pi_i(s)``.
    """
    q_hat = np.asarray(q_hat, np.float64)
    num_seeds, num_states, num_actions = q_hat.shape
    best = dp.epsilon_greedy_value_iteration(mdp, epsilon=epsilon, gamma=gamma, tol=1e-7)
    q_star = np.asarray(best.q_values, np.float64)
    v_star = np.asarray(dp.evaluate_policy(mdp, best.policy, gamma=gamma), np.float64)
    a_star = q_star.argmax(-1)
    a_hat = q_hat.argmax(-1)
    states = np.arange(num_states)
    diff = q_hat[:, states, a_star][:, :, None] - q_hat  # qhat(s, a*) - qhat(s, a)
    sd = diff.std(axis=0, ddof=1)  # [S, A]
    z = statistics.NormalDist().inv_cdf(1.0 - family_error / (num_seeds * num_states))
    gaps = []
    for i in range(num_seeds):
        policy = dp.epsilon_greedy_policy(jnp.asarray(q_hat[i], jnp.float32), epsilon=epsilon)
        v_i = np.asarray(dp.evaluate_policy(mdp, policy, gamma=gamma), np.float64)
        gap = v_star - v_i
        assert np.all(gap > -1e-4), "no epsilon-greedy policy beats the DP optimum"
        allowed = np.where(a_hat[i] != a_star, z * sd[states, a_hat[i]], 0.0)
        # (I - gamma P_pi)^-1 b is the value of the policy for the reward b(s) in every action.
        rewards = jnp.asarray(np.repeat(allowed[:, None], num_actions, 1), jnp.float32)
        tol = (1 - epsilon) * np.asarray(
            dp.evaluate_policy(dp.FiniteMDP(mdp.transitions, rewards), policy, gamma=gamma)
        )
        np.testing.assert_array_less(gap, tol + 1e-4, err_msg=f"seed {i}")
        gaps.append(gap.max())
    return np.asarray(gaps)
