"""Chapter 2: state values and the Bellman equation.

Each policy is evaluated exactly, ``v_pi = (I - gamma P_pi)^-1 r_pi``: the 2x2 example with
``v = [9, 10, 10, 10]`` (the book's Figure 2.4) and several policies on the 5x5 grid (Figure 2.7:
a good policy around the forbidden cells, bad ones with negative values). Reads only the shared
fields of the config (gamma and the rewards).
"""

from __future__ import annotations

import html

import numpy as np

from experiments.book import common
from experiments.book.common import D, L, R, S, U
from jaxrl import dp, plotting
from jaxrl.envs import gridworld as gw

TITLE = "Chapter 2: state values and the Bellman equation"
VALUES_KEY = ("chapter2",)

# A hand-made "good" policy, as in the book's Figure 2.7(a): around the forbidden area to the
# target. Its values are the ones the book prints (first row 3.5 3.9 4.3 4.8 5.3).
GOOD_POLICY = (
    (R, R, R, R, D),
    (U, U, R, R, D),
    (U, L, D, R, D),
    (U, R, S, L, D),
    (U, R, U, L, L),
)
# The 2x2 example (s1 s2 / s3 s4, s2 forbidden, s4 the target): down, down, right, stay.
SMALL_POLICY = ((D, D), (R, S))


def check(config) -> None:
    del config  # only the shared fields, checked by the report


def compute(config) -> dict:
    """State values of several policies by the closed form v = (I - gamma P_pi)^-1 r_pi."""
    grid = common.book_grid(config)
    mdp = gw.to_mdp(grid)
    optimal = common.solve(grid, gamma=config.gamma, config=config)
    policies = {
        "good": common.one_hot_policy(GOOD_POLICY),
        "optimal": optimal["policy"],
        "always right": common.one_hot_policy(np.full(grid.shape, R)),
        "uniform random": np.full((grid.num_states, gw.NUM_ACTIONS), 1.0 / gw.NUM_ACTIONS),
    }
    evaluated = {
        name: {"policy": pi, "values": np.asarray(dp.evaluate_policy(mdp, pi, gamma=config.gamma))}
        for name, pi in policies.items()
    }
    rewards = {name: config[name] for name in common.REWARD_FIELDS}
    small = gw.GridWorld(shape=(2, 2), target=(1, 1), forbidden=((0, 1),), **rewards)
    small_pi = common.one_hot_policy(SMALL_POLICY)
    small_v = np.asarray(dp.evaluate_policy(gw.to_mdp(small), small_pi, gamma=config.gamma))
    return {
        "grid": grid,
        "policies": evaluated,
        "small": {"grid": small, "policy": small_pi, "values": small_v},
    }


def figures(config, results, out: common.Figures) -> None:
    gamma, small = config.gamma, results["small"]
    fig, axes = plotting.new_figure(1, 2, panel_size=2.6)
    plotting.plot_grid(axes[0, 0], small["grid"], policy=small["policy"], title="policy")
    plotting.plot_grid(axes[0, 1], small["grid"], values=small["values"], title="state values")
    out.save(
        fig,
        "ch2_2x2.png",
        reproduces="Figure 2.4",
        settings=common.grid_settings(small["grid"], gamma),
        caption="The 2x2 example: s1 s2 on top, s3 s4 below; s2 is forbidden and s4 the target. "
        f"The policy goes down, down, right, stay; solving the Bellman equation at gamma={gamma} "
        "gives v = [9, 10, 10, 10] with the book's rewards.",
    )
    panels = [(name, e["policy"], e["values"]) for name, e in results["policies"].items()]
    out.save(
        common.pair_figure(results["grid"], panels),
        "ch2_policies.png",
        reproduces="Figure 2.7 (good and bad policies)",
        settings=common.grid_settings(results["grid"], gamma),
        caption="Policies (top) and their state values (bottom) on the book's 5x5 grid, by the "
        f"closed form v = (I - gamma P_pi)^-1 r_pi at gamma={gamma}. The 'good' policy walks "
        "around the forbidden (orange) cells to the target (cyan); the optimal one cuts through "
        "a forbidden cell where that pays; always-right and the uniform random policy have low, "
        "mostly negative values. For the random policy arrow length and opacity show "
        "probabilities.",
    )


def values(config, results) -> dict:
    small = results["small"]
    return {
        "gamma": config.gamma,
        "policies": {
            name: common.solution_json(results["grid"], e)
            for name, e in results["policies"].items()
        },
        "example_2x2": {
            "grid": common.grid_json(small["grid"]),
            **common.solution_json(small["grid"], small),
        },
    }


def section(config, results, figures_html: str) -> str:
    grid, small = results["grid"], results["small"]
    tables = "".join(
        common.values_table(grid, e["values"], e["policy"], name)
        for name, e in results["policies"].items()
    )
    tables += common.values_table(small["grid"], small["values"], small["policy"], "2x2 example")
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>Each policy is evaluated exactly, v<sub>&pi;</sub> = (I - &gamma; P<sub>&pi;</sub>)<sup>-1</sup>
r<sub>&pi;</sub>, with &gamma; = {config.gamma}.</p>
{figures_html}
<h3>State values</h3><div>{tables}</div>
"""
