"""GRPO on the preference bandit reaches DPO's closed-form optimum pi* for every beta."""

import json

import numpy as np

from jaxrl import run
from jaxrl.agents import grpo
from jaxrl.configs import grpo_bandit
from tests.run import evaluated


def test_every_beta_and_seed_reaches_the_optimum(tmp_path):
    """A short run (1,000 steps of 64 responses per context, 4 seeds x 4 betas in one program):
    ``E_x KL(pi* || pi) <= 0.01`` in every one. Measured at these settings over 8 seeds: at most
    0.0012 (beta 0.1; 1e-7 for the others) with groups of 16, and 0.0004 after the config's
    2,000 steps (BUILD-notes.md): the bar, the issue's, is 8x the largest seed seen."""
    config = grpo_bandit.get_config()
    with config.unlocked():
        config.num_seeds, config.total_steps, config.chunk_steps = 4, 1_000, 500
    run.run(grpo.make_experiment(config), config, str(tmp_path / "grpo"), log=lambda _: None)
    summary = json.loads((tmp_path / "grpo" / "summary.json").read_text())
    kl = np.array([s["final_per_seed"]["kl_to_optimum"] for s in summary["settings"]])
    assert kl.shape == (4, 4) and np.all(kl <= 0.01), kl
    assert (tmp_path / "grpo" / "tradeoff.png").stat().st_size > 0
    evaluated.check(tmp_path / "grpo", tmp_path, video=False)
