"""Chapter 5: Monte Carlo methods.

MC basic's values and policies for several episode lengths (the book's Figure 5.4), and the best
epsilon-greedy policies and their values for several epsilons (Figure 5.7). Both figures of the
book use r_forbidden = -10 (``config.ch5.reward_forbidden``), the other rewards and gamma as
everywhere else. Config block ``config.ch5``.

One convention differs in the book's chapter-5 figures: an agent in a forbidden cell on the border
(the book's grid has one, (4, 1)) that bumps into the wall earns r_boundary + r_forbidden (-11),
where the environment (and the book's Figure 8.6) gives r_boundary. Only an epsilon-greedy policy
ever takes that move, so the epsilon-greedy part uses :func:`chapter5_mdp`, and its values are the
printed ones (``tests/test_book.py``); MC basic's policies never take it.
"""

from __future__ import annotations

import html

import numpy as np
from absl import logging

from experiments.book import common
from jaxrl import dp
from jaxrl.envs import gridworld as gw
from jaxrl.tabular import monte_carlo

TITLE = "Chapter 5: Monte Carlo methods"
VALUES_KEY = ("chapter5",)


def check(config) -> None:
    block = config.ch5
    lengths = common.check_nonempty("ch5.episode_lengths", block.episode_lengths, "episode length")
    for n in lengths:
        common.check_positive_int("ch5.episode_lengths", n)
    common.check_positive_int("ch5.iterations", block.iterations)
    for e in common.check_nonempty("ch5.epsilons", block.epsilons, "epsilon"):
        if isinstance(e, bool) or not isinstance(e, (int, float)) or not 0.0 <= e <= 1.0:
            raise ValueError(f"config.ch5.epsilons must each be in [0, 1], got {e!r}")
    common.check_finite("ch5.reward_forbidden", block.reward_forbidden)
    common.check_grid(config, reward_forbidden=block.reward_forbidden)


def chapter5_mdp(grid: gw.GridWorld) -> dp.FiniteMDP:
    """``gw.to_mdp(grid)`` with the book's chapter-5 reward for bumping into the wall from a
    forbidden cell: r_boundary + r_forbidden instead of r_boundary."""
    mdp = gw.to_mdp(grid)
    next_state, _ = (np.asarray(x) for x in gw.to_grid_mdp(grid).deterministic_tables())
    states = np.arange(grid.num_states)[:, None]
    # A move other than "stay" that leaves the agent where it was hit the wall.
    bumps = (next_state == states) & (np.arange(gw.NUM_ACTIONS) != gw.STAY)
    forbidden = grid.forbidden_mask().reshape(-1, 1)
    rewards = np.where(
        bumps & forbidden, grid.reward_boundary + grid.reward_forbidden, np.asarray(mdp.rewards)
    )
    return mdp._replace(rewards=rewards.astype(np.float32))


def compute(config) -> dict:
    """MC basic for several episode lengths, and optimal epsilon-greedy policies (Zhao, ch. 5)."""
    block, gamma = config.ch5, config.gamma
    grid = common.book_grid(config, reward_forbidden=block.reward_forbidden)
    mdp = gw.to_mdp(grid)
    optimal = common.exact_optimal(grid, gamma=gamma, config=config)
    v_star, q_star = optimal["values"], optimal["q_values"]
    mc = []
    for length in block.episode_lengths:
        result = monte_carlo.mc_basic(
            grid, gamma=gamma, episode_length=int(length), num_iterations=block.iterations
        )
        q = np.asarray(result.q)
        policy = common.one_hot_policy(np.asarray(result.policy))
        exact = np.asarray(dp.evaluate_policy(mdp, policy, gamma=gamma))
        mc.append(
            {
                "episode_length": int(length),
                # The estimated state values max_a q(s, a) (q of the last evaluated policy).
                "values": q.max(-1),
                "policy": policy,
                "value_error": float(np.abs(q.max(-1) - v_star).max()),
                "policy_optimal": bool(np.abs(exact - v_star).max() < 1e-3),
            }
        )
    # v* and the optimal actions are the same on both MDPs (no optimal policy bumps there).
    eps, mdp = [], chapter5_mdp(grid)
    for epsilon in block.epsilons:
        result = dp.epsilon_greedy_value_iteration(
            mdp, epsilon=float(epsilon), gamma=gamma, tol=config.tol
        )
        if not bool(result.converged):
            logging.warning("epsilon-greedy value iteration did not converge, eps=%s", epsilon)
        policy = np.asarray(result.policy)
        # Exact values of that policy (a linear solve), as in chapter 4.
        values = np.asarray(dp.evaluate_policy(mdp, policy, gamma=gamma))
        # States whose greedy action (the most likely one) is not optimal (not argmax of q*).
        chosen = q_star[np.arange(grid.num_states), policy.argmax(-1)]
        not_optimal = int(np.sum(chosen < q_star.max(-1) - 1e-4 * (1 + np.abs(q_star).max())))
        eps.append(
            {
                "epsilon": float(epsilon),
                "policy": policy,
                "values": values,
                "non_optimal_greedy_states": not_optimal,
            }
        )
    return {"grid": grid, "v_star": v_star, "mc_basic": mc, "epsilon_greedy": eps}


def figures(config, results, out: common.Figures) -> None:
    grid, block = results["grid"], config.ch5
    mc = results["mc_basic"]
    panels = [(f"L = {e['episode_length']}", e["policy"], e["values"]) for e in mc]
    optimal_lengths = [e["episode_length"] for e in mc if e["policy_optimal"]]
    if optimal_lengths:
        reach = (
            f"From L = {optimal_lengths[0]} (of those shown) the final policy is optimal (its "
            "exact values are v*), but the values are truncated sums of rewards"
        )
    else:
        reach = "For none of these lengths is the final policy optimal"
    settings = common.grid_settings(grid, config.gamma)
    out.save(
        common.pair_rows(grid, panels),
        "ch5_episode_length.png",
        reproduces="Figure 5.4",
        settings={
            **settings,
            "L": ", ".join(str(e["episode_length"]) for e in mc),
            "initial policy": "always up",
            "iterations": block.iterations,
        },
        caption="MC basic's final greedy policy (top) and estimated state values max_a q(s, a) "
        "(bottom) for each episode length L (Algorithm 5.1). They come after "
        f"{block.iterations} evaluate-improve iterations from 'always up', one L-step episode "
        "per state-action pair (the grid is deterministic). With a short episode only states "
        "from which the target can be reached within L steps see a positive return (L = 1: the "
        "target and its four neighbours); the others keep an action that avoids every penalty. "
        "The reach grows with L: the bottom-left cell needs 15 steps around the forbidden "
        "cells, so its value is 0 for L = 14 and 0.9^14 = 0.23 for L = 15. "
        f"{reach}; at L = {mc[-1]['episode_length']} the largest difference from the optimal "
        f"values is {mc[-1]['value_error']:.1e}.",
    )
    eps = results["epsilon_greedy"]
    panels = [(f"epsilon = {e['epsilon']:g}", e["policy"], e["values"]) for e in eps]
    top = ", ".join(f"{e['values'][0]:.2f}" for e in eps)
    changed = ", ".join(
        f"{e['non_optimal_greedy_states']} (epsilon = {e['epsilon']:g})" for e in eps
    )
    bump = grid.reward_boundary + grid.reward_forbidden
    out.save(
        common.pair_figure(grid, panels),
        "ch5_epsilon.png",
        reproduces="Figure 5.7",
        settings={
            **settings,
            "bump from a forbidden cell": bump,
            "epsilons": ", ".join(f"{e['epsilon']:g}" for e in eps),
        },
        caption="The best epsilon-greedy policy (top) and its exact values (bottom) for each "
        "epsilon (section 5.5), by value iteration over epsilon-greedy policies. Arrow length and "
        "opacity show the probabilities: greedy action 1 - 4 epsilon / 5, every other action "
        "epsilon / 5. The values fall in every state as epsilon grows, since the "
        "random actions lead into forbidden cells and off the boundary: v(0, 0) = "
        f"{top} for epsilon = {', '.join(f'{e:g}' for e in block.epsilons)}. States whose greedy "
        f"action is not optimal for the original problem: {changed}. With a large epsilon the "
        "greedy part of the best epsilon-greedy policy can stop being optimal (it weighs the "
        "random moves into the forbidden cells; at epsilon = 0.5 the target's best action is to "
        "leave it), one reason to keep epsilon small or let it decay. As in the book's figure, "
        f"bumping into the wall from the forbidden cell (4, 1) earns {bump:g} here.",
    )


def values(config, results) -> dict:
    grid = results["grid"]
    return {
        "gamma": config.gamma,
        "grid": common.grid_json(grid),
        "v_star": common.round_list(np.asarray(results["v_star"]).reshape(grid.shape)),
        "mc_basic": [
            {
                "episode_length": e["episode_length"],
                "policy_optimal": e["policy_optimal"],
                "max_abs_error_to_v_star": float(f"{e['value_error']:.3g}"),
                **common.solution_json(grid, e),
            }
            for e in results["mc_basic"]
        ],
        "mc_iterations": config.ch5.iterations,
        "epsilon_greedy": [
            {
                "epsilon": e["epsilon"],
                "non_optimal_greedy_states": e["non_optimal_greedy_states"],
                **common.solution_json(grid, e),
            }
            for e in results["epsilon_greedy"]
        ],
    }


def section(config, results, figures_html: str) -> str:
    grid = results["grid"]
    mc_tables = "".join(
        common.values_table(grid, e["values"], e["policy"], f"MC basic, L={e['episode_length']}")
        for e in results["mc_basic"]
    )
    eps_tables = "".join(
        common.values_table(grid, e["values"], e["policy"], f"epsilon={e['epsilon']:g}")
        for e in results["epsilon_greedy"]
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>The chapter's examples punish the forbidden cells harder than the others: r_forbidden =
{grid.reward_forbidden:g} (r_boundary = {grid.reward_boundary:g}, r_target =
{grid.reward_target:g}, &gamma; = {config.gamma}). MC basic (Algorithm 5.1) replaces the
model-based policy evaluation of policy iteration by the return of one episode of length L from
every state-action pair (one is enough: the grid is deterministic), starting from "always up",
{config.ch5.iterations} iterations. The second figure shows the best epsilon-greedy policies, the
target of MC epsilon-greedy (and of Sarsa) with a fixed &epsilon;: exploration costs value, the
more the larger &epsilon;.</p>
{figures_html}
<h3>MC basic: estimated state values max<sub>a</sub> q(s, a)</h3><div>{mc_tables}</div>
<h3>Best epsilon-greedy policies: exact state values</h3><div>{eps_tables}</div>
"""
