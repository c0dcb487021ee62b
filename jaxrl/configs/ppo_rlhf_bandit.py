"""PPO-RLHF on DPO's preference bandit (3 contexts x 6 responses) with the true reward: RLHF's
RL stage with a critic, against the same closed-form optimum as DPO and GRPO.

The bandit of ``dpo_bandit.py``. Every step draws 64 responses per context from the tabular
policy (started at the reference), shapes their rewards with ``beta`` times the KL estimate
``k1``, and takes 4 adam steps on PPO's clipped loss with a tabular critic's baseline
(``jaxrl/agents/ppo_rlhf.py``); the learning rate decays linearly over the run. The runner
sweeps beta in {0.1, 0.3, 1, 3} over 8 seeds in one program.

Run:

    python -m experiments.train --config=jaxrl/configs/ppo_rlhf_bandit.py --workdir=DIR

Expected: ``kl_to_optimum = E_x KL(pi* || pi)`` at most 0.01 for every beta and seed after
2,000 steps; measured figures in BUILD-notes.md ("RLHF").
"""

import ml_collections

from jaxrl import optim
from jaxrl.configs import dpo_bandit, runner

TOTAL_STEPS = 2_000


def get_config() -> ml_collections.ConfigDict:
    config = runner.base(
        "jaxrl.agents.ppo_rlhf",
        num_seeds=8,
        total_steps=TOTAL_STEPS,  # batches of responses, each trained on for `epochs` steps
        chunk_steps=TOTAL_STEPS // 20,
        checkpoint_every=10,
    )
    dpo_bandit.set_bandit(config)  # 3 contexts x 6 responses, problem_seed 0
    config.samples = 64  # responses per context and step
    config.epochs = 4  # optimizer steps per batch (PPO's epochs, one minibatch)
    config.reward_workdir = ""  # a finished reward_model_bandit run; "": the true reward
    config.optimizer = optim.default_config()  # adam
    config.optimizer.schedule = "linear"  # to 0 over the run (decay_steps 0: the run's own)
    runner.sweep(
        config,
        {
            "beta": 0.1,
            "learning_rate": 0.02,
            "weight_decay": 0.0,
            "clip_epsilon": 0.2,
            "value_coef": 1.0,
            "gae_lambda": 1.0,  # one-token responses: unused (pinned to 1)
        },
        {"beta": (0.1, 0.3, 1.0, 3.0)},
    )
    config.lock()
    return config
