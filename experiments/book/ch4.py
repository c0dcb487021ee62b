"""Chapter 4: value iteration, policy iteration and truncated policy iteration.

The sequence of policies of policy iteration from "always stay" (section 4.2; the book's Figure
4.4 shows the algorithm with r_forbidden = -10, here it runs on the shared rewards), and
``||v_k - v*||_inf`` against k for value iteration, truncated policy iteration with several
truncation lengths and policy iteration (section 4.3; the book's Figure 4.5 sketches how the three
relate, without numbers). Config block ``config.ch4``.
"""

from __future__ import annotations

import functools
import html

import jax
import jax.numpy as jnp
import numpy as np

from experiments.book import common
from experiments.book.common import S
from jaxrl import dp, plotting
from jaxrl.envs import gridworld as gw

TITLE = "Chapter 4: value iteration and policy iteration"
VALUES_KEY = ("chapter4",)


def check(config) -> None:
    block = config.ch4
    common.check_positive_int("ch4.policy_iteration_steps", block.policy_iteration_steps)
    common.check_positive_int("ch4.num_iterations", block.num_iterations)
    for j in common.check_nonempty("ch4.truncations", block.truncations, "truncation length"):
        common.check_positive_int("ch4.truncations", j)


def policy_iteration_sequence(grid: gw.GridWorld, *, gamma: float, steps: int) -> list[dict]:
    """Policy iteration step by step from "always stay" (Zhao, ch. 4.2), for the figure.

    ``pi_{k+1} = greedy(q_{pi_k})``, keeping ``pi_k``'s action wherever it is already greedy (so
    ties do not flip). Stops when no state can improve, or after ``steps`` policies. This Python
    loop only collects the few policies the figure shows; ``dp.policy_iteration`` is the solver.
    """
    mdp = gw.to_mdp(grid)
    policy = common.one_hot_policy(np.full(grid.shape, S))
    sequence = []
    for k in range(steps):
        v = dp.evaluate_policy(mdp, policy, gamma=gamma)
        q = np.asarray(dp.q_values(mdp, v, gamma=gamma))
        current = np.sum(policy * q, axis=-1)
        improvable = q.max(-1) > current + 1e-5 * (1.0 + np.abs(current))
        stable = not improvable.any()
        sequence.append({"step": k, "policy": policy, "values": np.asarray(v), "stable": stable})
        if stable:
            break
        greedy = np.asarray(dp.greedy_policy(jnp.asarray(q)))
        policy = np.where(improvable[:, None], greedy, policy)
    return sequence


@functools.partial(jax.jit, static_argnames=("num_iterations",))
def convergence_errors(mdp, v_star, gamma, truncations, *, num_iterations: int):
    """``||v_k - v*||_inf`` for k = 0..K of value, truncated policy and policy iteration.

    Zhao, ch. 4.3. From ``v_0 = 0``: value iteration ``v_{k+1} = max_a q_k``; truncated policy
    iteration ``pi_k = greedy(q(v_k))``, ``v_{k+1} = T_{pi_k}^j v_k`` (one run per ``j`` in
    ``truncations``, vmapped: one compile); policy iteration ``v_{k+1} = v_{pi_k}`` exactly.

    Returns:
        ``(vi [K + 1], tpi [len(truncations), K + 1], pi [K + 1])``.
    """
    v0 = jnp.zeros_like(v_star)
    error = lambda v: jnp.max(jnp.abs(v - v_star))  # noqa: E731

    def run(update):
        def body(v, _):
            new_v = update(v)
            return new_v, error(new_v)

        _, errors = jax.lax.scan(body, v0, None, length=num_iterations)
        return jnp.concatenate([error(v0)[None], errors])

    def greedy(v):
        return dp.greedy_policy(dp.q_values(mdp, v, gamma=gamma))

    def truncated(j):
        def update(v):
            policy = greedy(v)
            sweep = lambda _, u: dp.bellman_expectation_backup(mdp, u, policy, gamma=gamma)  # noqa: E731
            return jax.lax.fori_loop(0, j, sweep, v)

        return run(update)

    vi = run(lambda v: dp.bellman_optimality_backup(mdp, v, gamma=gamma))
    tpi = jax.vmap(truncated)(truncations)
    pi = run(lambda v: dp.evaluate_policy(mdp, greedy(v), gamma=gamma))
    return vi, tpi, pi


def compute(config) -> dict:
    """Policy iteration's policies, and the convergence of VI, truncated PI and PI."""
    block, gamma = config.ch4, config.gamma
    grid = common.book_grid(config)
    sequence = policy_iteration_sequence(grid, gamma=gamma, steps=block.policy_iteration_steps)
    # v* by the exact linear solve of the optimal policy: value iteration's own v* is only
    # within tol * gamma / (1 - gamma) of it, which would put a floor under every curve.
    v_star = common.exact_optimal(grid, gamma=gamma, config=config)["values"]
    vi, tpi, pi = convergence_errors(
        gw.to_mdp(grid),
        jnp.asarray(v_star),
        jnp.float32(gamma),
        jnp.asarray(block.truncations, jnp.int32),
        num_iterations=block.num_iterations,
    )
    curves = {"value iteration": np.asarray(vi)}
    for j, errors in zip(block.truncations, np.asarray(tpi), strict=True):
        curves[f"truncated PI, j={j}"] = errors
    curves["policy iteration"] = np.asarray(pi)
    for name, errors in curves.items():
        if not np.all(np.isfinite(errors)):
            raise FloatingPointError(f"non-finite ||v_k - v*|| in the {name} curve")
    return {"grid": grid, "sequence": sequence, "curves": curves, "v_star": v_star}


def figures(config, results, out: common.Figures) -> None:
    grid, gamma = results["grid"], config.gamma
    panels = [
        (f"pi_{e['step']}" + (" (stable)" if e["stable"] else ""), e["policy"], e["values"])
        for e in results["sequence"]
    ]
    out.save(
        common.pair_figure(grid, panels, panel_size=2.5),
        "ch4_policy_iteration.png",
        reproduces="section 4.2 (the book's Figure 4.4 shows it with r_forbidden = -10)",
        settings={**common.grid_settings(grid, gamma), "initial policy": "always stay"},
        caption="Policy iteration from 'always stay': each column is a policy pi_k (top) and its "
        "exact values v_pi_k (bottom); pi_{k+1} is greedy w.r.t. q_pi_k. States near the target "
        "become right first and the improvement spreads outwards until the policy is stable.",
    )
    curves = results["curves"]
    fig, axes = plotting.new_figure(1, 1, panel_size=5.0)
    fig.set_size_inches(7.0, 4.6)
    plotting.plot_convergence(
        axes[0, 0],
        curves,
        title=f"convergence on the 5x5 grid, gamma={gamma}",
        styles={
            "value iteration": {"linewidth": 4.0, "alpha": 0.45},
            "policy iteration": {"color": "black", "linestyle": ":"},
            **{name: {"linestyle": "--"} for name in curves if name.endswith("j=1")},
        },
    )
    truncations = ", ".join(str(j) for j in config.ch4.truncations)
    out.save(
        fig,
        "ch4_convergence.png",
        reproduces="section 4.3 (the book's Figure 4.5 sketches it without numbers)",
        settings={**common.grid_settings(grid, gamma), "v_0": 0, "j": truncations},
        caption="How fast value iteration, truncated policy iteration and policy iteration reach "
        "v*: ||v_k - v*||_inf against the iteration k from v_0 = 0. Truncated policy iteration "
        "takes j evaluation sweeps per step (j = 1 is value iteration, so those two lines "
        "coincide: dashed over the wide pale one), policy iteration an exact evaluation (j = "
        "infinity). Longer "
        "truncations need fewer iterations. v* is the exact linear solve of the optimal policy; "
        "the flat tails near 1e-5 are float32 round-off, and an error of exactly 0 (policy "
        "iteration once it has found the optimal policy) cannot be drawn on a log axis.",
    )


def values(config, results) -> dict:
    grid = results["grid"]
    return {
        "gamma": config.gamma,
        "policy_iteration": [
            {"step": e["step"], "stable": e["stable"], **common.solution_json(grid, e)}
            for e in results["sequence"]
        ],
        "convergence": {
            "v_star": common.round_list(np.asarray(results["v_star"]).reshape(grid.shape)),
            "iterations": config.ch4.num_iterations,
            "errors": {name: common.sig(e) for name, e in results["curves"].items()},
        },
    }


def section(config, results, figures_html: str) -> str:
    grid = results["grid"]
    tables = "".join(
        common.values_table(grid, e["values"], e["policy"], f"pi_{e['step']}")
        for e in results["sequence"]
    )
    k_last = config.ch4.num_iterations
    k_mid = min(10, k_last)
    convergence = common.kv_table(
        ("method", "k=0", f"k={k_mid}", f"k={k_last}"),
        [
            (name, f"{e[0]:.3g}", f"{e[k_mid]:.3g}", f"{e[-1]:.3g}")
            for name, e in results["curves"].items()
        ],
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
{figures_html}
<h3>Policy iteration: values of each policy</h3><div>{tables}</div>
<h3>||v<sub>k</sub> - v*||<sub>&infin;</sub></h3>{convergence}
"""
