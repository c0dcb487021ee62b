"""Reward over-optimisation (Gao et al. 2022, "Scaling Laws for Reward Model Over-optimization",
https://arxiv.org/abs/2210.10760): the learned reward and the true score of PPO-RLHF runs
against their KL to the reference, one run per reward model.

    python -m experiments.lm_overoptimisation --ppo_runs=PPO_SMALL_RM,PPO_LARGE_RM --figure_dir=OUT

Each run is a finished ``dpo_lm.py:ppo_rlhf`` run of one setting on a learned reward
(``reward_workdir``): after every chunk it recorded, for responses to held-out prompts, the mean
learned reward (``reward``), the mean true score (``score``) and the sequence KL
(``kl_to_reference``). The figure draws the first two against the third, every seed thin and
the mean over seeds thick, labelled by the pairs its reward model learned from. The table says,
per run, the KL range explored, the learned reward's and the true score's change over it, and
in how many seeds the true score peaks and falls: its last point below the seed's own highest
by more than 5 times the bound ``P / (2 sqrt(eval_prompts))`` on a point's standard error (a
score lies in ``[0, P]``, so its variance is at most ``P^2 / 4``).
"""

from __future__ import annotations

import json
import os

from absl import flags, logging

from experiments import cli

_RUNS = flags.DEFINE_list("ppo_runs", [], "Finished PPO-RLHF runs on learned rewards.")
_OUT = flags.DEFINE_string("figure_dir", None, "The directory the figure goes into.")


def curves(workdir: str):
    """``(label, kl, reward, score, noise)`` of a finished run: the curves ``[points, seeds]``
    and the bound on one point's standard error (module docstring)."""
    import numpy as np

    from jaxrl import run

    config = run.load_config(workdir)
    if config.get("experiment") != "jaxrl.agents.ppo_rlhf" or config.get("task") != "lm":
        cli.fail(f"--ppo_runs: {workdir} is not a language-model run of jaxrl.agents.ppo_rlhf")
    if not config.get("reward_workdir"):
        cli.fail(f"--ppo_runs: {workdir} was trained on the true score, not a learned reward")
    arrays = run.result_arrays(workdir)
    if arrays["score"].shape[1] != 1:
        cli.fail(
            f"--ppo_runs: {workdir} swept {arrays['score'].shape[1]} settings: use runs of one"
        )
    pairs = run.load_config(config.reward_workdir).get("pairs")
    length = run.load_config(config.sft_workdir).length
    with open(os.path.join(workdir, "summary.json")) as f:
        setting = json.load(f)["settings"][0]["label"]  # the swept beta, or "default"
    label = f"reward model of {pairs:,} pairs ({setting}, beta {config.hparams.beta:g} unswept)"
    if setting.startswith("beta="):
        label = f"reward model of {pairs:,} pairs ({setting})"
    # A score lies in [0, length]: its variance is at most length^2 / 4, whatever the copies'
    # dependence on each other.
    noise = float(length / 2 / np.sqrt(config.eval_prompts))

    def get(name):
        return np.asarray(arrays[name][:, 0], np.float64)

    return label, get("kl_to_reference"), get("reward"), get("score"), noise


def verdict(kl, reward, score, noise: float) -> str:
    """Each seed's true score peaks and falls when its last point is below its own highest by
    more than ``5 * noise`` (``noise`` bounds a point's standard error; the highest of 30 noisy
    points sits about 2 of them above the truth, so 5 leaves 3 for the fall)."""
    import numpy as np

    peak = score.max(axis=0)
    falls = peak - score[-1] > 5 * noise
    seeds = "; ".join(
        f"seed {j}: peak {peak[j]:.2f} at KL {kl[np.argmax(score[:, j]), j]:.2f}, last "
        f"{score[-1, j]:.2f} at KL {kl[-1, j]:.2f}"
        for j in range(score.shape[1])
    )
    return (
        f"KL {kl.min():.3f} to {kl.max():.3f}; learned reward (mean over seeds) "
        f"{reward.mean(axis=1)[0]:+.3f} -> {reward.mean(axis=1)[-1]:+.3f}; true score "
        f"{score.mean(axis=1)[0]:.3f} -> {score.mean(axis=1)[-1]:.3f}; peaks and falls (by "
        f"more than {5 * noise:.2f}) in {int(falls.sum())} of {len(falls)} seeds ({seeds})"
    )


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    if not _RUNS.value or not _OUT.value:
        cli.fail("--ppo_runs and --figure_dir are required", code=2)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    results = [curves(w) for w in _RUNS.value]
    os.makedirs(_OUT.value, exist_ok=True)
    fig = Figure(figsize=(11, 4.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    for i, (label, kl, reward, score, _) in enumerate(results):
        colour = f"C{i}"
        for ax, values in zip(axes, (reward, score), strict=True):
            ax.plot(kl, values, color=colour, lw=0.5, alpha=0.5)
            ax.plot(kl.mean(axis=1), values.mean(axis=1), color=colour, lw=2, label=label)
    axes[0].set_ylabel("learned reward of sampled responses")
    axes[1].set_ylabel("true score of sampled responses (tokens copied)")
    for ax in axes:
        ax.set_xlabel("KL(pi || pi_ref), nats per response")
        ax.legend(fontsize=8)
    fig.suptitle("PPO-RLHF on learned rewards: thin lines per seed, thick the mean")
    fig.savefig(os.path.join(_OUT.value, "overoptimisation.png"), dpi=110)
    for label, kl, reward, score, noise in results:
        print(f"{label}: {verdict(kl, reward, score, noise)}", flush=True)


if __name__ == "__main__":
    cli.run(main)
