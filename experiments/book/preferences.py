"""Beyond the book: learning from preferences on a bandit whose optimum is known in closed form.

DPO (``jaxrl.agents.dpo``, the exact expected loss), PPO-RLHF (``jaxrl.agents.ppo_rlhf``) and GRPO
(``jaxrl.agents.grpo``), each on its library config (``dpo_bandit``, ``ppo_rlhf_bandit``,
``grpo_bandit``: the same 3 contexts x 6 responses, rewards and reference), the RL agents with
the true reward. All three maximise ``E_pi[r] - beta KL(pi || pi_ref)``, whose maximiser is
``pi* ∝ pi_ref exp(r / beta)``: the figure puts every seed's final policy, for each beta of one
vmapped sweep, on the exact curve of ``pi*`` as beta varies, and the table gives each method's
largest ``E_x KL(pi* || pi)`` over its seeds for each beta.
"""

from __future__ import annotations

import html

import numpy as np

from experiments.book import common
from jaxrl import plotting
from jaxrl import run as runner
from jaxrl.agents import dpo, grpo, ppo_rlhf, preference_bandit
from jaxrl.configs import dpo_bandit, grpo_bandit, ppo_rlhf_bandit
from jaxrl.run.experiment import seed_keys

TITLE = "Beyond the book: preference optimisation on a bandit (DPO, PPO-RLHF, GRPO)"
VALUES_KEY = ("preferences",)
METHODS = (
    ("dpo", "DPO", dpo, dpo_bandit),
    ("ppo_rlhf", "PPO-RLHF", ppo_rlhf, ppo_rlhf_bandit),
    ("grpo", "GRPO", grpo, grpo_bandit),
)
METRICS = ("kl_to_optimum", "kl_to_reference", "expected_reward")
CURVE_BETAS = np.geomspace(0.03, 30.0, 60)  # the exact curve's betas


def check(config) -> None:
    common.check_seed_block(config, "preferences")
    betas = config.preferences.betas
    if not betas or any(
        isinstance(b, bool) or not isinstance(b, (int, float)) or not b > 0 for b in betas
    ):
        raise ValueError(
            f"config.preferences.betas must be a non-empty tuple of positive numbers, got {betas!r}"
        )


def compute(config) -> dict:
    block = config.preferences
    runs = {}
    for name, label, module, library in METHODS:
        cfg = common.library_config(library, block)
        experiment = module.make_experiment(cfg)
        hparams = runner.make_settings(
            experiment, dict(cfg.hparams), {"beta": tuple(block.betas)}
        ).hparams
        result = runner.train(
            experiment, hparams, seed_keys(block.seed, block.num_seeds), num_chunks=block.chunks
        )
        runs[name] = {
            "label": label,
            "cfg": cfg,
            # [settings, seeds] at the end of training
            **{m: np.asarray(result.metrics[m][-1], np.float64) for m in METRICS},
        }
    bandit = preference_bandit.config_bandit(runs["dpo"]["cfg"])
    curve = preference_bandit.optimum_curve(bandit, bandit.reference_logits, CURVE_BETAS)
    stars = preference_bandit.optimum_curve(bandit, bandit.reference_logits, block.betas)
    return {"runs": runs, "curve": curve, "stars": stars}


def figures(config, results, out: common.Figures) -> None:
    block, runs = config.preferences, results["runs"]
    fig, axes = plotting.new_figure(1, 1, panel_size=5.2)
    ax = axes[0, 0]
    curve = results["curve"]
    ax.plot(curve[:, 0], curve[:, 1], color="0.4", lw=1.5, label="pi* = pi_ref exp(r / beta) / Z")
    stars = results["stars"]
    ax.scatter(
        stars[:, 0],
        stars[:, 1],
        s=90,
        marker="*",
        facecolor="none",
        edgecolor="k",
        zorder=4,
        label="pi* at each beta",
    )
    # Nested sizes, largest drawn first: the methods land on the same points, and each stays
    # visible inside the other.
    markers = {"dpo": ("o", 120), "ppo_rlhf": ("s", 50), "grpo": ("^", 14)}
    for i, (name, run) in enumerate(runs.items()):
        marker, size = markers[name]
        ax.scatter(
            run["kl_to_reference"].ravel(),
            run["expected_reward"].ravel(),
            s=size,
            marker=marker,
            facecolor="none",
            edgecolor=f"C{i}",
            label=run["label"],
            zorder=3,
        )
    ax.set_xscale("symlog", linthresh=1e-2)
    ax.set_xlabel("E_x KL(pi || pi_ref)")
    ax.set_ylabel("expected reward E_x E_pi r")
    ax.set_title("every seed's final policy, each beta")
    ax.legend(fontsize=8)
    betas = ", ".join(f"{b:g}" for b in block.betas)
    out.save(
        fig,
        "preferences_tradeoff.png",
        reproduces="beyond the book: DPO, PPO-RLHF and GRPO against the closed-form optimum",
        settings={
            "bandit": "3 contexts x 6 responses",
            "betas": betas,
            "seeds": block.num_seeds,
            "steps": block.steps,
        },
        caption="Each method's final policy, every seed and beta, on the exact curve of the "
        "KL-regularised optimum pi* as beta varies (stars: pi* at the swept betas; the "
        "methods' markers nest, as their points coincide). The bandit "
        f"is DPO's library config's; beta in {{{betas}}}, one vmapped sweep per method. DPO "
        "minimises its exact expected loss; PPO-RLHF and GRPO sample responses and use the true "
        f"reward. {block.steps} steps per run (PPO-RLHF: 4 optimizer epochs each); the largest "
        "distance to pi* of each "
        "method and beta is in the table below.",
    )


def values(config, results) -> dict:
    return {
        "num_seeds": config.preferences.num_seeds,
        "steps": config.preferences.steps,
        "betas": [float(b) for b in config.preferences.betas],
        "curve": common.round_list(results["curve"]),
        "methods": {
            name: {
                "label": run["label"],
                "hparams": common.hparams_dict(run["cfg"]),
                **{m: common.sig(run[m]) for m in METRICS},
            }
            for name, run in results["runs"].items()
        },
    }


def section(config, results, figures_html: str) -> str:
    block = config.preferences
    rows = [
        (run["label"], *(f"{run['kl_to_optimum'][h].max():.2g}" for h in range(len(block.betas))))
        for run in results["runs"].values()
    ]
    header = ("method", *(f"beta = {b:g}" for b in block.betas))
    table = common.kv_table(header, rows)
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>The preference bandit of <code>jaxrl/configs/dpo_bandit.py</code> (rewards and reference
known), {block.num_seeds} seeds per method and beta, {block.steps} optimizer steps. The three
methods optimise the same KL-regularised objective, so each should land on pi* of its beta.
The full-size figures (8 seeds, learned rewards, the language model) are in BUILD-notes.md.</p>
{figures_html}
<h3>The largest E_x KL(pi* || pi) over the seeds</h3>{table}
"""
