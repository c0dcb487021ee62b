"""Section 10.5 and beyond: deterministic actor-critic (DPG), DDPG and TD3 on Pendulum.

The book's deterministic policy gradient (Zhao, ch. 10.5) with neural networks, replay and target
networks is DDPG; TD3 adds twin critics, target policy smoothing and delayed actor updates. Both
run through the runner (``jaxrl.agents.ddpg`` with the ``ddpg_pendulum`` library config and its
``td3`` variant, ``common.run_seeds``) on the pure-JAX Pendulum-v1, a continuous action the grid
world does not have. The figures: the deterministic policy's return over training, and the
learned policy itself, the torque ``mu(theta, theta_dot)`` over the angle and the velocity.
"""

from __future__ import annotations

import html

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.book import common
from jaxrl import plotting
from jaxrl.agents import ddpg
from jaxrl.configs import ddpg_pendulum
from jaxrl.envs import pendulum

TITLE = "Section 10.5: deterministic actor-critic (DDPG, TD3) on Pendulum"
VALUES_KEY = ("dpg",)
VARIANTS = (("ddpg", "DDPG"), ("td3", "TD3"))
METRICS = ("eval_return", "q_mean")
# The policy figure's grid: angles (0 upright) and angular velocities.
ANGLES = np.linspace(-np.pi, np.pi, 73)
VELOCITIES = np.linspace(-pendulum.MAX_SPEED, pendulum.MAX_SPEED, 65)
# Published DDPG reaches about -150 on Pendulum-v1 after 20k steps; -200 is the bar.
GOOD_RETURN = -200.0


def check(config) -> None:
    common.check_seed_block(config, "dpg")
    common.check_algorithms("dpg", config.dpg.algorithms, VARIANTS)


def library_config(config, variant: str) -> ml_collections.ConfigDict:
    block = config.dpg
    cfg = ddpg_pendulum.get_config(variant)
    with cfg.unlocked():
        cfg.num_seeds = block.num_seeds
        cfg.total_steps = block.steps
        cfg.chunk_steps = block.steps // block.chunks
        cfg.buffer_capacity = max(cfg.buffer_capacity, block.steps)
    return cfg


def policy_surface(act) -> np.ndarray:
    """``mu(theta, theta_dot)`` of a deterministic policy ``act`` (the run's readout) on the
    grid ``[velocities, angles]``."""
    theta, theta_dot = np.meshgrid(ANGLES, VELOCITIES)
    obs = np.stack([np.cos(theta), np.sin(theta), theta_dot], axis=-1).astype(np.float32)
    return np.asarray(act(jnp.asarray(obs), jax.random.key(0)))[..., 0]


def compute(config) -> dict:
    block = config.dpg
    runs = {}
    for variant, label in common.check_algorithms("dpg", block.algorithms, VARIANTS):
        cfg = library_config(config, variant)
        seeds, metrics = common.run_seeds(ddpg, cfg, block, metric=METRICS, label=label)
        final = np.asarray(metrics["eval_return"][-1], np.float64)
        runs[variant] = {
            "label": label,
            "cfg": cfg,
            "steps": common.chunk_ends(block),
            "surface_seed0": policy_surface(seeds.policy(0)),
            "final_return": final,
            "good_seeds": int(np.sum(final >= GOOD_RETURN)),
            "metrics": {
                m: {"values": metrics[m], **common.summary(metrics[m], axis=1)} for m in METRICS
            },
        }
    return {"runs": runs}


def _settings(config, cfg) -> dict:
    block = config.dpg
    return {
        "environment": "Pendulum-v1",
        "gamma": float(cfg.hparams.gamma),
        "seeds": block.num_seeds,
        "steps": block.steps,
        "hidden": "-".join(str(w) for w in cfg.hidden),
        "batch": cfg.batch_size,
        "tau": float(cfg.hparams.tau),
    }


def figures(config, results, out: common.Figures) -> None:
    runs, block = results["runs"], config.dpg
    first = next(iter(runs.values()))
    settings = _settings(config, first["cfg"])
    fig, axes = plotting.new_figure(1, 1, panel_size=4.6)
    stats = [run["metrics"]["eval_return"] for run in runs.values()]
    plotting.plot_learning_curves(
        axes[0, 0],
        first["steps"],
        np.stack([s["mean"] for s in stats]),
        np.stack([s["ci_low"] for s in stats]),
        np.stack([s["ci_high"] for s in stats]),
        labels=[run["label"] for run in runs.values()],
        ylabel="mean return, 100 episodes",
        title="the deterministic policy's return",
    )
    axes[0, 0].axhline(GOOD_RETURN, color="0.5", linestyle=":", lw=1.0)
    finals = "; ".join(
        f"{run['label']}: {', '.join(f'{r:.0f}' for r in run['final_return'])}"
        for run in runs.values()
    )
    out.save(
        fig,
        "dpg_curves.png",
        reproduces="section 10.5 (learning curves)",
        settings=settings,
        caption=f"{' and '.join(run['label'] for run in runs.values())} on Pendulum-v1, the mean "
        f"over {block.num_seeds} seeds with its 95% "
        f"t-interval (shaded), after every {block.steps // block.chunks} environment steps: the "
        "deterministic policy mu(s)'s mean return over 100 episodes from random starts (200 "
        f"steps each; dotted: {GOOD_RETURN:g}). Every seed's final return: {finals}. Settings: "
        "one update per environment step on minibatches of 256 from the replay buffer, random "
        "actions for the first 1,000 steps, Gaussian exploration noise of 0.1 times the bound.",
    )
    fig, axes = plotting.new_figure(1, len(runs), panel_size=4.0)
    extent = (ANGLES[0], ANGLES[-1], VELOCITIES[0], VELOCITIES[-1])
    for ax, run in zip(axes[0], runs.values(), strict=True):
        image = ax.imshow(
            run["surface_seed0"],
            origin="lower",
            extent=extent,
            aspect="auto",
            cmap="RdBu",
            vmin=-pendulum.MAX_TORQUE,
            vmax=pendulum.MAX_TORQUE,
        )
        ax.set_xlabel("angle theta (0: upright)")
        ax.set_ylabel("angular velocity theta_dot")
        ax.set_title(f"{run['label']}, seed 0: mu(theta, theta_dot)")
        fig.colorbar(image, ax=ax, label="torque")
    out.save(
        fig,
        "dpg_policy.png",
        reproduces="section 10.5 (the learned deterministic policy)",
        settings=settings,
        caption=f"Seed 0's learned policies after {block.steps} steps: the torque each applies "
        "at every angle (horizontal, 0 upright, +-pi hanging down) and angular velocity "
        "(vertical). Near upright they push against the fall (the sign flips across theta = "
        "0, tilted by the velocity); away from it they saturate at +-2 and pump energy into "
        "the swing.",
    )


def values(config, results) -> dict:
    def curve(stats):
        return {k: common.sig(stats[k]) for k in ("mean", "ci_low", "ci_high")}

    return {
        "num_seeds": config.dpg.num_seeds,
        "steps": [int(x) for x in next(iter(results["runs"].values()))["steps"]],
        "good_return": GOOD_RETURN,
        "algorithms": {
            variant: {
                "label": run["label"],
                "hparams": common.hparams_dict(run["cfg"]),
                "final_return": common.sig(run["final_return"]),
                "good_seeds": run["good_seeds"],
                "curves": {m: curve(run["metrics"][m]) for m in METRICS},
                "angles": common.round_list(ANGLES),
                "velocities": common.round_list(VELOCITIES),
                "policy_seed0": common.round_list(run["surface_seed0"]),
            }
            for variant, run in results["runs"].items()
        },
    }


def section(config, results, figures_html: str) -> str:
    block = config.dpg
    rows = [
        (
            run["label"],
            f"{run['good_seeds']} of {block.num_seeds}",
            ", ".join(f"{r:.1f}" for r in run["final_return"]),
        )
        for run in results["runs"].values()
    ]
    table = common.kv_table(
        ("algorithm", f"seeds at or above {GOOD_RETURN:g}", "every seed's final return"), rows
    )
    return f"""<h2>{html.escape(TITLE)}</h2>
<p>{block.num_seeds} seeds per algorithm, {block.steps} environment steps each, on Pendulum-v1
(continuous torque in [-2, 2], 200-step episodes). The full-size results (8 seeds x 20k steps)
are in BUILD-notes.md.</p>
{figures_html}
<h3>Final returns</h3>{table}
"""
