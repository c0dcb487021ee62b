"""A tiny causal transformer: supervised fine-tuning on the copy task, then DPO from it, or RLHF's
reward model and RL stage (PPO-RLHF, GRPO) from it.

Two runs. First SFT (``:sft``, or ``:sft_moe`` for mixture-of-experts feed-forward blocks), on
noisy demonstrations of copying a 6-token prompt (each token replaced by a uniform one of 16 with
probability 0.5, so the demonstrations copy 53% of tokens). Then DPO (``:dpo``), which loads the
SFT run's parameters (seed ``sft_seed``) as both the initial policy and the frozen reference:
each seed draws 4,096 pairs of responses sampled from the reference, labelled by the
Bradley-Terry model of the true score (tokens copied), and the runner sweeps beta in {0.1, 0.3,
1, 3} over 4 seeds in one program. Copying is the scored behaviour, so DPO should copy more, the
more the smaller beta (``pi* ∝ pi_ref exp(score / beta)`` copies each token with probability
``q e^{1/beta} / (q e^{1/beta} + 1 - q)``).

Run (the DPO command names the SFT run's work directory):

    python -m experiments.train --config=jaxrl/configs/dpo_lm.py:sft --workdir=SFT
    python -m experiments.train --config=jaxrl/configs/dpo_lm.py:dpo --workdir=DPO \\
        --config.sft_workdir=SFT

and likewise ``:sft_moe`` then ``:dpo`` on its work directory (4 experts of hidden width 128,
top-2 routing: the active feed-forward width of the dense model's 256). DPO rebuilds the model
and the task from the SFT run's config.

Expected (measured 2026-12-02, 2 busy CPU cores): SFT reaches a held-out NLL within 0.02 nats
per token of the entropy floor (79 s dense, 158 s mixture); DPO's win rate against the reference
after 600 steps is 0.96-0.98 / 0.91-0.95 / 0.77-0.80 / 0.62-0.67 and its KL to the reference
3.05-3.09 / 2.23-2.28 / 0.63-0.66 / 0.11-0.12 for beta 0.1 / 0.3 / 1 / 3 (dense, 4 seeds, 8.5
minutes). Per-seed figures: BUILD-notes.md ("Direct preference optimization"). Since issue 22
(the cached sampler, the reference's log-probabilities kept, the pairs sampled once per seed
for every beta, the mixture's capacity dispatch; 2026-12-07, 2 idle cores): the same dense
figures in 146 s (SFT 47 s); the mixture's SFT 61 s, its DPO (2 seeds) 88 s, with at most 1.5%
of its expert assignments dropped.

RLHF from the same SFT run (issue 23; each command with ``--config.sft_workdir=SFT``):
``:reward_model`` (the SFT transformer with a scalar head on its last token, 16,384 pairs drawn
as DPO draws them, 800 steps of 64: held-out accuracy 0.61-0.68 against the labels' own
0.70-0.78; 94 s), then ``:ppo_rlhf`` or ``:grpo`` on the true score or, with
``--config.reward_workdir=RM``, on each seed's reward model (4 seeds x beta in {0.1, 0.3, 1, 3},
300 steps of 64 responses: with the true score, mean score 5.45-5.80 / 5.27-5.69 / 4.49-4.72 /
3.75-3.92 at KL 1.8-2.5 / 1.4-2.2 / 0.44-0.61 / 0.05-0.08; PPO-RLHF 4 min, GRPO 1.5 min on 2
cores). Per-seed figures, the frontier against DPO and best-of-n, and reward over-optimisation:
BUILD-notes.md ("RLHF").
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import runner

VARIANTS = ("sft", "sft_moe", "dpo", "reward_model", "ppo_rlhf", "grpo")
SFT_STEPS = 2_000
DPO_STEPS = 600
REWARD_MODEL_STEPS = 800
RL_STEPS = 300  # PPO-RLHF's and GRPO's


def _model(config, moe: bool) -> None:
    config.width = 64  # model width
    config.depth = 2  # transformer blocks
    config.heads = 4  # attention heads per block
    config.hidden = 128 if moe else 256  # feed-forward hidden width (of each expert)
    config.experts = 4 if moe else 0  # 0: dense feed-forward blocks; E >= 1: mixtures of E
    config.top_k = 2 if moe else 1  # experts per token (mixtures only)
    if moe:  # each expert's slots: 1.25 times its mean share of the tokens (0: none dropped)
        config.capacity_factor = 1.25


def _pairs(config) -> None:
    """DPO's and the reward model's data: the same pairs for the same seed."""
    config.task = "lm"  # a language model trained by jaxrl.agents.sft
    config.sft_workdir = ""  # the SFT run's work directory (required)
    config.sft_seed = 0  # which of its seeds is the initial policy (or body) and the reference
    config.pairs = 4_096  # preference pairs per seed, responses sampled from the reference
    config.batch_size = 32  # pairs per step
    config.eval_pairs = 256  # held-out pairs and prompts scored after every chunk


def get_config(variant: str = "sft") -> ml_collections.ConfigDict:
    if variant not in VARIANTS:
        raise ValueError(f"the variant must be one of {VARIANTS}, got {variant!r}")
    moe = variant.endswith("_moe")
    optimizer = optim.default_config()
    optimizer.name = "adamw"
    if variant.startswith("sft"):
        config = runner.base(
            "jaxrl.agents.sft",
            num_seeds=2,
            total_steps=SFT_STEPS,
            chunk_steps=SFT_STEPS // 10,
            checkpoint_every=5,
        )
        config.task = "copy"  # the synthetic task (jaxrl.envs.preferences)
        config.vocab = 16  # content tokens; a separator token is added
        config.length = 6  # prompt and response length
        config.noise = 0.5  # probability that a demonstration token is uniform, not the copy
        _model(config, moe)
        config.batch_size = 64  # demonstrations per step (fresh each step)
        config.eval_size = 512  # held-out demonstrations scored after every chunk
        config.optimizer = optimizer
        runner.sweep(
            config,
            {"learning_rate": 1e-3, "weight_decay": 0.01, "load_balancing_coef": 0.01},
            {},
        )
    elif variant == "reward_model":
        config = runner.base(
            "jaxrl.agents.reward_model",
            num_seeds=4,
            total_steps=REWARD_MODEL_STEPS,
            chunk_steps=REWARD_MODEL_STEPS // 20,
            checkpoint_every=5,
        )
        _pairs(config)
        # A head on the last token must learn to count copies: with DPO's 4,096 pairs its
        # held-out accuracy stays at chance (0.49-0.59 over 4 seeds at learning rates 3e-5 to
        # 1e-3, 2026-12-07); 16,384 reach 0.63-0.68 (the score's own: 0.70-0.77) after about
        # 800 steps of 64, then overfit. --config.pairs=4096 gives DPO's very pairs.
        config.pairs = 16_384
        config.batch_size = 64
        config.optimizer = optimizer
        runner.sweep(
            config,
            {
                "learning_rate": 3e-4,
                "weight_decay": 0.0,
                "margin": 0.0,
                "load_balancing_coef": 0.01,
            },
            {},
        )
    elif variant in ("ppo_rlhf", "grpo"):
        config = runner.base(
            f"jaxrl.agents.{variant}",
            num_seeds=4,
            total_steps=RL_STEPS,
            chunk_steps=RL_STEPS // 30,
            checkpoint_every=5,
        )
        config.task = "lm"
        config.sft_workdir = ""  # the SFT run's work directory (required)
        config.sft_seed = 0  # its seed that is the initial policy and the reference
        config.reward_workdir = ""  # a finished :reward_model run; "": the true score
        config.eval_prompts = 256  # held-out prompts scored after every chunk
        config.optimizer = optimizer
        hparams = {"beta": 0.1, "learning_rate": 1e-4, "weight_decay": 0.0, "clip_epsilon": 0.2}
        if variant == "ppo_rlhf":
            config.samples = 64  # prompts per step, a response sampled to each
            config.epochs = 4  # optimizer steps per batch (PPO's epochs, one minibatch)
            config.kl_estimator = "k1"  # the per-token KL penalty (k1: the objective's own)
            hparams.update(value_coef=0.5, gae_lambda=0.95)
        else:
            config.samples = 16  # prompts per step, a group of responses to each
            config.group_size = 4  # responses per prompt (G): 64 per step, as PPO-RLHF's
            config.scale_std = False  # the fixed point pi* (grpo.py)
            config.kl_penalty = "reward"  # k1 in the reward; "loss": DeepSeek's k3 in the loss
        runner.sweep(config, hparams, {"beta": (0.1, 0.3, 1.0, 3.0)})
    else:
        config = runner.base(
            "jaxrl.agents.dpo",
            num_seeds=4,
            total_steps=DPO_STEPS,
            chunk_steps=DPO_STEPS // 30,
            checkpoint_every=5,
        )
        _pairs(config)
        config.loss_type = "sigmoid"  # one of jaxrl.losses.dpo.LOSS_TYPES
        config.reference_free = False  # log pi_ref = 0 in the loss
        config.optimizer = optimizer
        runner.sweep(
            config,
            {
                "beta": 0.1,
                "learning_rate": 1e-4,
                "label_smoothing": 0.0,
                "weight_decay": 0.0,
                "load_balancing_coef": 0.01,
            },
            {"beta": (0.1, 0.3, 1.0, 3.0)},
        )
    config.lock()
    return config
