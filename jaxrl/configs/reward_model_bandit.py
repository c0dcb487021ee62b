"""A reward model on DPO's preference bandit (3 contexts x 6 responses): RLHF's second stage.

The same bandit as ``dpo_bandit.py`` (``problem_seed`` 0: rewards uniform on [0, 1), a
reference ``softmax(N(0, 0.25^2))`` per context) and the same pairs: ``:exact`` (the default)
weights every ordered pair by its probability, ``:sampled`` trains each seed on the 50,000 pairs
DPO's ``:sampled`` draws for it. A table ``r_phi[x, y]`` takes full-batch adam steps on the
Bradley-Terry loss; ``reward_error`` is the largest spread over a context of ``r_phi - r``
(0: the true reward recovered up to a constant per context).

Run:

    python -m experiments.train --config=jaxrl/configs/reward_model_bandit.py --workdir=DIR
    python -m experiments.train --config=jaxrl/configs/reward_model_bandit.py:sampled \\
        --workdir=DIR

Expected: ``:exact`` recovers ``r`` to float rounding (``reward_error`` below 1e-4);
``:sampled``'s error is the sampling noise of 50,000 pairs (BUILD-notes.md, "RLHF").
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import dpo_bandit, runner

VARIANTS = ("exact", "sampled")
TOTAL_STEPS = 2_000


def get_config(variant: str = "exact") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    config = runner.base(
        "jaxrl.agents.reward_model",
        num_seeds=1 if variant == "exact" else 8,  # the exact loss leaves nothing to chance
        total_steps=TOTAL_STEPS,  # full-batch optimizer steps
        chunk_steps=TOTAL_STEPS // 20,
        checkpoint_every=10,
    )
    dpo_bandit.set_bandit(config)  # 3 contexts x 6 responses, problem_seed 0
    config.pairs = 0 if variant == "exact" else 50_000  # sampled pairs per seed; 0: exact loss
    config.optimizer = optim.default_config()  # adam
    runner.sweep(
        config,
        {"learning_rate": 0.05, "weight_decay": 0.0, "margin": 0.0, "load_balancing_coef": 0.0},
        {},
    )
    config.lock()
    return config
