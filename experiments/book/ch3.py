"""Chapter 3: the Bellman optimality equation.

Optimal values and policies by value iteration for several discounts (the book's Figure
3.4(a)-(c)), for a strongly punished forbidden area (Figure 3.4(d)), and the invariance of the
optimal policy under ``r -> r + b`` (Theorem 3.6, section 3.5). Config block ``config.ch3``.
"""

from __future__ import annotations

import html

import numpy as np

from experiments.book import common

TITLE = "Chapter 3: the Bellman optimality equation"
VALUES_KEY = ("chapter3",)


def check(config) -> None:
    block = config.ch3
    for g in common.check_nonempty("ch3.gammas", block.gammas, "discount"):
        common.check_gamma("ch3.gammas", g)
    common.check_finite("ch3.reward_shift", block.reward_shift)
    common.check_finite("ch3.strong_reward_forbidden", block.strong_reward_forbidden)
    common.check_grid(config, reward_forbidden=block.strong_reward_forbidden)


def compute(config) -> dict:
    """Optimal values and policies for several discounts and rewards (value iteration)."""
    block, gamma = config.ch3, config.gamma
    grid = common.book_grid(config)
    gammas = [common.solve(grid, gamma=float(g), config=config) for g in block.gammas]
    strong_grid = common.book_grid(config, reward_forbidden=block.strong_reward_forbidden)
    strong = common.solve(strong_grid, gamma=gamma, config=config)
    b = block.reward_shift
    shifted_grid = common.book_grid(
        config, **{name: config[name] + b for name in common.REWARD_FIELDS}
    )
    base = common.solve(grid, gamma=gamma, config=config)
    shifted = common.solve(shifted_grid, gamma=gamma, config=config)
    # Zhao, ch. 3.5: r -> r + b gives v' = v + b / (1 - gamma) and the same optimal policies.
    predicted = base["values"] + b / (1.0 - gamma)
    q_shift = shifted["q_values"]
    base_actions = base["policy"].argmax(-1)
    base_action_q = q_shift[np.arange(grid.num_states), base_actions]
    scale = 1e-4 * (1.0 + np.abs(q_shift).max())
    affine = {
        "shift": b,
        "base": base,
        "shifted": shifted,
        "shifted_grid": shifted_grid,
        "max_abs_value_error": float(np.abs(shifted["values"] - predicted).max()),
        "same_greedy_actions": bool(np.array_equal(base_actions, shifted["policy"].argmax(-1))),
        "base_policy_optimal_after_shift": bool(np.all(base_action_q >= q_shift.max(-1) - scale)),
    }
    return {
        "grid": grid,
        "gammas": gammas,
        "strong": strong,
        "strong_grid": strong_grid,
        "affine": affine,
    }


def figures(config, results, out: common.Figures) -> None:
    grid, gamma = results["grid"], config.gamma
    panels = [(f"gamma = {e['gamma']:g}", e["policy"], e["values"]) for e in results["gammas"]]
    settings = common.grid_settings(grid, gamma)
    del settings["gamma"]
    out.save(
        common.pair_figure(grid, panels),
        "ch3_gammas.png",
        reproduces="Figure 3.4(a)-(c)",
        settings={**settings, "gammas": ", ".join(f"{g:g}" for g in config.ch3.gammas)},
        caption="Optimal policies (top) and optimal state values (bottom) by value iteration for "
        "several discounts. A far-sighted agent (gamma=0.9) accepts a forbidden-cell penalty to "
        "reach the target sooner; a short-sighted one (gamma=0.5) avoids the forbidden area; at "
        "gamma=0 only the immediate reward counts (ties go to the lowest action index, UP first).",
    )
    strong, strong_grid = results["strong"], results["strong_grid"]
    title = f"r_forbidden = {strong_grid.reward_forbidden:g}"
    out.save(
        common.pair_figure(strong_grid, [(title, strong["policy"], strong["values"])]),
        "ch3_strong_punishment.png",
        reproduces="Figure 3.4(d)",
        settings=common.grid_settings(strong_grid, gamma),
        caption="Optimal policy and values with a strongly punished forbidden area "
        f"(r_forbidden = {strong_grid.reward_forbidden:g}, gamma={gamma}): the optimal policy "
        "now avoids every forbidden cell.",
    )
    aff = results["affine"]
    panels = [
        ("original rewards", aff["base"]["policy"], aff["base"]["values"]),
        (f"rewards + {aff['shift']:g}", aff["shifted"]["policy"], aff["shifted"]["values"]),
    ]
    out.save(
        common.pair_figure(grid, panels),
        "ch3_affine.png",
        reproduces="Theorem 3.6 (section 3.5; the book prints no figure of it)",
        settings={**common.grid_settings(grid, gamma), "b": aff["shift"]},
        caption=f"Adding b={aff['shift']:g} to every reward leaves the optimal policy unchanged "
        f"and shifts every optimal value by b/(1-gamma) = {aff['shift'] / (1 - gamma):.3g}; "
        f"largest deviation from that prediction: {aff['max_abs_value_error']:.1e}.",
    )


def values(config, results) -> dict:
    grid, aff = results["grid"], results["affine"]
    return {
        "optimal": [common.solution_json(grid, e) for e in results["gammas"]],
        "strong_punishment": {
            "grid": common.grid_json(results["strong_grid"]),
            **common.solution_json(results["strong_grid"], results["strong"]),
        },
        "affine": {
            "shift": aff["shift"],
            "gamma": config.gamma,
            "value_shift": aff["shift"] / (1.0 - config.gamma),
            "max_abs_value_error": float(f"{aff['max_abs_value_error']:.3g}"),
            "same_greedy_actions": aff["same_greedy_actions"],
            "base_policy_optimal_after_shift": aff["base_policy_optimal_after_shift"],
            "original": common.solution_json(grid, aff["base"]),
            "shifted": {
                "grid": common.grid_json(aff["shifted_grid"]),
                **common.solution_json(aff["shifted_grid"], aff["shifted"]),
            },
        },
    }


def section(config, results, figures_html: str) -> str:
    grid, aff = results["grid"], results["affine"]
    tables = "".join(
        common.values_table(grid, e["values"], e["policy"], f"optimal, gamma={e['gamma']:g}")
        for e in results["gammas"]
    )
    strong_grid, strong = results["strong_grid"], results["strong"]
    caption = f"optimal, r_forbidden={strong_grid.reward_forbidden:g}"
    tables += common.values_table(strong_grid, strong["values"], strong["policy"], caption)
    shifted = aff["shifted"]
    caption = f"optimal, rewards + {aff['shift']:g}"
    tables += common.values_table(
        aff["shifted_grid"], shifted["values"], shifted["policy"], caption
    )
    affine = common.kv_table(
        None,
        [
            ("reward shift b", f"{aff['shift']:g}"),
            ("predicted value shift b/(1-gamma)", f"{aff['shift'] / (1 - config.gamma):.4g}"),
            ("max |v'* - (v* + b/(1-gamma))|", f"{aff['max_abs_value_error']:.2e}"),
            ("same greedy actions", str(aff["same_greedy_actions"])),
            ("original optimal policy still optimal", str(aff["base_policy_optimal_after_shift"])),
        ],
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>Optimal values and greedy optimal policies by value iteration (tolerance {config.tol:g}).</p>
{figures_html}
<h3>Optimal state values</h3><div>{tables}</div>
<h3>Affine reward invariance</h3>{affine}
"""
