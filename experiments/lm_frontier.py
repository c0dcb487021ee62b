"""The language model's frontier: the true score against ``KL(pi || pi_ref)`` of DPO, PPO-RLHF and
GRPO runs from one SFT run, beside best-of-n sampling from that SFT run's reference.

    python -m experiments.lm_frontier --sft_workdir=SFT --runs=DPO,PPO,GRPO --out=OUT \\
        [--sft_seed=0] [--prompts=256] [--samples=1024] [--max_n=64] [--scores=4.5,5,5.5]

Each run (a finished run of ``dpo_lm.py:dpo``, ``:ppo_rlhf`` or ``:grpo``, started from seed
``sft_seed`` of the SFT run) gives a point per beta and seed: its last recorded ``score`` (the mean
true score of responses sampled for held-out prompts) and ``kl_to_reference`` (the sequence KL,
from the exact per-token KLs). Best-of-n draws ``--samples`` responses from the reference for
each of ``--prompts`` prompts, takes each prompt's distribution of the score's levels, and
computes best-of-n's KL and mean score from it exactly for n = 1, 2, 4, ..., ``--max_n``
(``jaxrl.envs.preferences.best_of_n_frontier``: the levels tie, so ``log n - (n - 1) / n``
would overstate the KL); the levels are estimated, with a binomial error of at most
``0.5 / sqrt(samples)`` per level. The ideal SFT model's ``pi*`` curve is drawn for comparison.

Writes ``OUT/frontier.png`` and ``OUT/frontier.json`` (every point, and for each score of
``--scores`` the least KL at which each method reaches it, from its per-beta means joined by
straight lines), and prints the same table.
"""

from __future__ import annotations

import json
import os

from absl import flags, logging

from experiments import cli

_SFT = flags.DEFINE_string("sft_workdir", None, "The SFT run the other runs start from.")
_SFT_SEED = flags.DEFINE_integer("sft_seed", 0, "Its seed: the reference.")
_RUNS = flags.DEFINE_list("runs", [], "Finished DPO, PPO-RLHF and GRPO runs from it.")
_OUT = flags.DEFINE_string("out", None, "The directory the figure and the table go into.")
_PROMPTS = flags.DEFINE_integer("prompts", 256, "Prompts of best-of-n's score levels.")
_SAMPLES = flags.DEFINE_integer("samples", 1024, "Reference responses per prompt.")
_MAX_N = flags.DEFINE_integer("max_n", 64, "The largest n of best-of-n (powers of 2 up to it).")
_SCORES = flags.DEFINE_list("scores", ["4.5", "5", "5.5"], "Scores to read the least KL at.")
_SEED = flags.DEFINE_integer("sampling_seed", 0, "The seed of best-of-n's prompts and responses.")
for _name in ("prompts", "samples", "max_n"):
    cli.at_least(_name)

METHODS = {
    "jaxrl.agents.dpo": "DPO",
    "jaxrl.agents.ppo_rlhf": "PPO-RLHF",
    "jaxrl.agents.grpo": "GRPO",
}
BLOCK = 128  # responses per prompt sampled at once


def reference_levels(model, reference, task, key, prompts: int, samples: int):
    """``[prompts, P + 1]`` the reference's score-level frequencies per prompt."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxrl.agents import sft
    from jaxrl.envs import preferences

    prompt_key, sample_key = jax.random.split(key)
    chosen = preferences.prompts(prompt_key, task, prompts)

    @jax.jit
    def block(key):
        repeated = jnp.repeat(chosen, BLOCK, axis=0)
        sequences = sft.sample_responses(model, reference, task, key, repeated)
        return preferences.score(task, sequences).reshape(prompts, BLOCK)

    blocks = -(-samples // BLOCK)
    scores = np.concatenate(
        [np.asarray(block(jax.random.fold_in(sample_key, i))) for i in range(blocks)], axis=1
    )
    return preferences.score_levels(task, scores[:, :samples])


def run_points(workdir: str, sft_workdir: str, sft_seed: int):
    """``(method, labels, score [settings, seeds], kl [settings, seeds])`` of a finished run."""
    import numpy as np

    from jaxrl import run

    config = run.load_config(workdir)
    method = METHODS.get(config.get("experiment"))
    if method is None or config.get("task") != "lm":
        cli.fail(f"--runs: {workdir} is not a language-model run of {', '.join(METHODS)}")
    if os.path.abspath(config.sft_workdir) != os.path.abspath(sft_workdir):
        cli.fail(f"--runs: {workdir} started from {config.sft_workdir}, not --sft_workdir")
    if config.sft_seed != sft_seed:
        cli.fail(f"--runs: {workdir} started from SFT seed {config.sft_seed}, not {sft_seed}")
    arrays = run.result_arrays(workdir)
    labels = json.load(open(os.path.join(workdir, "summary.json")))["settings"]
    return (
        method,
        [s["label"] for s in labels],
        np.asarray(arrays["score"][-1], np.float64),
        np.asarray(arrays["kl_to_reference"][-1], np.float64),
    )


def least_kl(kl_means, score_means, target: float):
    """The least KL at which a curve of per-beta means, joined by straight lines in order of KL,
    reaches ``target`` (None if it never does)."""
    import numpy as np

    order = np.argsort(kl_means)
    kl, score = np.asarray(kl_means)[order], np.asarray(score_means)[order]
    if score[0] >= target:
        return float(kl[0])
    for i in range(1, len(kl)):
        if score[i] >= target:
            t = (target - score[i - 1]) / (score[i] - score[i - 1])
            return float(kl[i - 1] + t * (kl[i] - kl[i - 1]))
    return None


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    if not _SFT.value or not _OUT.value:
        cli.fail("--sft_workdir and --out are required", code=2)
    try:
        targets = [float(s) for s in _SCORES.value]
    except ValueError:
        cli.fail(f"--scores must be numbers, got {_SCORES.value}", code=2)
    import jax
    import ml_collections
    import numpy as np

    from jaxrl.agents import dpo
    from jaxrl.envs import preferences
    from jaxrl.run import ConfigError

    points = [run_points(w, _SFT.value, _SFT_SEED.value) for w in _RUNS.value]
    try:
        model, task, reference = dpo.load_reference(
            ml_collections.ConfigDict({"sft_workdir": _SFT.value, "sft_seed": _SFT_SEED.value})
        )
    except ConfigError as e:
        cli.fail(str(e))
    os.makedirs(_OUT.value, exist_ok=True)

    levels = reference_levels(
        model, reference, task, jax.random.key(_SEED.value), _PROMPTS.value, _SAMPLES.value
    )
    ns = [2**i for i in range(int(np.log2(_MAX_N.value)) + 1)]
    bon_kl, bon_score = preferences.best_of_n_frontier(levels, ns)

    curves = {"best-of-n": (bon_kl, bon_score, [f"n={n}" for n in ns])}
    table = {"best-of-n": [[f"n={n}", k, s] for n, k, s in zip(ns, bon_kl, bon_score, strict=True)]}
    methods = [p[0] for p in points]
    for (method, labels, score, kl), workdir in zip(points, _RUNS.value, strict=True):
        if methods.count(method) > 1:  # two runs of one method: each its own curve
            method = f"{method} ({os.path.basename(os.path.normpath(workdir))})"
        curves[method] = (kl.mean(axis=1), score.mean(axis=1), labels)
        table[method] = [
            [label, kl[i].tolist(), score[i].tolist()] for i, label in enumerate(labels)
        ]
    least = {str(t): {m: least_kl(c[0], c[1], t) for m, c in curves.items()} for t in targets}
    lines = [
        f"the least KL(pi || pi_ref) to reach a mean score ({_SFT.value}, seed "
        f"{_SFT_SEED.value}; best-of-n from {_SAMPLES.value} responses x {_PROMPTS.value} "
        "prompts)"
    ]
    for t, by_method in least.items():
        reached = {m: v for m, v in by_method.items() if v is not None}
        best = min(reached, key=reached.get) if reached else "none"
        row = ", ".join(
            f"{m} {'not reached' if v is None else f'{v:.3f}'}" for m, v in by_method.items()
        )
        lines.append(f"score {t}: {row}; least: {best}")
    with open(os.path.join(_OUT.value, "frontier.json"), "w") as f:
        json.dump({"points": table, "least_kl": least}, f, indent=1)
    _figure(curves, points, task, os.path.join(_OUT.value, "frontier.png"), ns[-1])
    print("\n".join(lines), flush=True)


def _figure(curves, points, task, path, max_n: int) -> None:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from jaxrl.envs import preferences

    fig = Figure(figsize=(7, 5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    betas = np.geomspace(0.05, 10.0, 60)
    ideal = np.array([preferences.optimal_copy_tradeoff(task, float(b)) for b in betas])
    ax.plot(ideal[:, 0], ideal[:, 1], "k--", lw=1, label="pi* of the ideal SFT model")
    kl, score, _ = curves["best-of-n"]
    ax.plot(kl, score, "o-", color="0.4", label=f"best-of-n (n = 1 .. {max_n})")
    colours = {"DPO": "C0", "PPO-RLHF": "C1", "GRPO": "C2"}
    for method, labels, score, kl in points:
        colour = colours[method]
        ax.plot(kl.ravel(), score.ravel(), ".", color=colour, alpha=0.4)
        ax.plot(kl.mean(axis=1), score.mean(axis=1), "s-", color=colour, label=method)
        for i, label in enumerate(labels):
            ax.annotate(label, (kl[i].mean(), score[i].mean()), fontsize=7, color=colour)
    ax.set_xlabel("KL(pi || pi_ref), nats per response")
    ax.set_ylabel("mean true score (tokens copied)")
    ax.set_xlim(left=0)
    ax.set_title("the frontier: dots per seed, squares the mean over seeds at each beta")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    cli.run(main)
