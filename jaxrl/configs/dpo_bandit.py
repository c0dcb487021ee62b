"""DPO on a preference bandit with a closed-form optimum: 3 contexts x 6 responses.

Rewards ``r[x, y]`` uniform on [0, 1) and a reference policy ``softmax(N(0, 0.25^2))`` per context,
drawn from ``problem_seed``; pairs are two distinct responses drawn from the reference and
labelled by the Bradley-Terry model of ``r``. A tabular policy, started at the reference, takes
full-batch adam steps on the DPO (sigmoid) loss. ``:exact`` (the default) weights every ordered
pair by its probability: the exact expected loss, whose minimiser is
``pi* ∝ pi_ref exp(r / beta)``. ``:sampled`` trains each seed on its own 50,000 sampled pairs.
The runner sweeps beta in {0.1, 0.3, 1, 3} in one program.

Run:

    python -m experiments.train --config=jaxrl/configs/dpo_bandit.py --workdir=DIR
    python -m experiments.train --config=jaxrl/configs/dpo_bandit.py:sampled --workdir=DIR

Expected (measured 2026-12-02): ``kl_to_optimum = E_x KL(pi* || pi)`` below 1e-6 for every beta
(exact; below 0.01 from step 200) and at most 0.028 for every beta and seed (sampled; 0.05 is the
goal), 12-19 s; ``tradeoff.png`` draws expected reward against ``KL(pi || pi_ref)`` over the
exact curve. Per-seed figures: BUILD-notes.md ("Direct preference optimization").
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

VARIANTS = ("exact", "sampled")
TOTAL_STEPS = 2_000


def set_bandit(config) -> None:
    """The bandit's fields (the reward model's and GRPO's configs use the same bandit)."""
    config.task = "bandit"
    config.contexts = 3  # X, uniform
    config.responses = 6  # K per context
    config.reference_scale = 0.25  # std of the reference policy's logits (0: uniform)
    config.problem_seed = 0  # draws the rewards and the reference policy


def get_config(variant: str = "exact") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    config = runner.base(
        "jaxrl.agents.dpo",
        num_seeds=1 if variant == "exact" else 8,  # the exact loss leaves nothing to chance
        total_steps=TOTAL_STEPS,  # full-batch optimizer steps
        chunk_steps=TOTAL_STEPS // 20,
        checkpoint_every=10,
    )
    set_bandit(config)
    config.pairs = 0 if variant == "exact" else 50_000  # sampled pairs per seed; 0: exact loss
    config.loss_type = "sigmoid"  # one of jaxrl.losses.dpo.LOSS_TYPES
    config.reference_free = False  # log pi_ref = 0 in the loss (the optimum: softmax(r / beta))
    config.optimizer = optim.default_config()  # adam
    runner.sweep(
        config,
        {
            "beta": 0.1,
            "learning_rate": 0.05,
            "label_smoothing": 0.0,
            "weight_decay": 0.0,
            "load_balancing_coef": 0.0,
        },
        {"beta": (0.1, 0.3, 1.0, 3.0)},
    )
    config.lock()
    return config
