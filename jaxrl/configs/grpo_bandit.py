"""GRPO on DPO's preference bandit (3 contexts x 6 responses) with the true reward: RLHF's RL
stage against the same closed-form optimum as DPO.

The bandit of ``dpo_bandit.py`` (``problem_seed`` 0). Every step draws 64 responses per context
from the tabular policy (started at the reference), shapes their rewards with ``beta`` times
the KL estimate ``k1``, and takes one adam step on the clipped loss with group-relative
advantages, without the std (``jaxrl/agents/grpo.py`` derives why the fixed point is then
``pi* ∝ pi_ref exp(r / beta)``). The runner sweeps beta in {0.1, 0.3, 1, 3} over 8 seeds in
one program; the learning rate decays linearly over the run.

``:deepseek`` is DeepSeek's form: advantages divided by the group's std, and the KL in the loss
as ``k3``; it settles at another policy (``jaxrl/agents/grpo.py``), which ``kl_to_fixed_point``
measures against. ``--config.reward_workdir=DIR`` trains on the reward a finished
``reward_model_bandit.py`` run learned (each seed on its own seed's ``r_phi``).

Run:

    python -m experiments.train --config=jaxrl/configs/grpo_bandit.py --workdir=DIR
    python -m experiments.train --config=jaxrl/configs/reward_model_bandit.py:sampled \
        --workdir=RM
    python -m experiments.train --config=jaxrl/configs/grpo_bandit.py --workdir=DIR2 \
        --config.reward_workdir=RM

Expected: ``kl_to_optimum = E_x KL(pi* || pi)`` at most 0.01 for every beta and seed (the
issue's bar) after 2,000 steps with the true reward, at most 0.05 with the learned one; measured
figures in BUILD-notes.md ("RLHF").
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import dpo_bandit, runner

TOTAL_STEPS = 2_000
VARIANTS = ("default", "deepseek")


def get_config(variant: str = "default") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    config = runner.base(
        "jaxrl.agents.grpo",
        num_seeds=8,
        total_steps=TOTAL_STEPS,  # optimizer steps, one group per context each
        chunk_steps=TOTAL_STEPS // 20,
        checkpoint_every=10,
    )
    dpo_bandit.set_bandit(config)  # 3 contexts x 6 responses, problem_seed 0
    config.group_size = 64  # G responses per context and step
    deepseek = variant == "deepseek"
    config.scale_std = deepseek  # divide the advantages by the group's std
    config.kl_penalty = "loss" if deepseek else "reward"  # k3 in the loss, or k1 in the reward
    config.reward_workdir = ""  # a finished reward_model_bandit run; "": the true reward
    config.optimizer = optim.default_config()  # adam
    config.optimizer.schedule = "linear"  # to 0 over the run (decay_steps 0: the run's own)
    runner.sweep(
        config,
        {"beta": 0.1, "learning_rate": 0.05, "weight_decay": 0.0, "clip_epsilon": 0.2},
        {"beta": (0.1, 0.3, 1.0, 3.0)},
    )
    config.lock()
    return config
