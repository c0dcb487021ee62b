"""TD3 on Brax's inverted pendulum (``"brax:inverted_pendulum"``; needs
``pip install 'jaxrl[envs]'``).

The pendulum config's TD3 (``ddpg_pendulum.py:td3``: ``jaxrl.agents.ddpg`` with twin critics,
delayed actor steps and target smoothing; actor and critics of 64 and 64 units, adam at 1e-3,
tau 0.005, minibatches of 256, one update per environment step, 1,000 uniformly random steps
first) on Brax's generalized pipeline (its default), episodes of at most 1,000 steps (a reward
of 1 per step while the pole stays within 0.2 rad of upright), 4 seeds of 50k environment steps.
The pipeline's mass-matrix solve is a Cholesky, a LAPACK call on CPU, so on a CPU-only host the
runner runs the seeds on one device (it says so: sharded, such calls can deadlock).

The result is the deterministic policy's mean return over ``eval_episodes = 20`` fresh episodes
per seed after every chunk.

Run:

    python -m experiments.train --config=jaxrl/configs/td3_brax.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores, the seeds on one device, 2 min 40 s wall with a
34 s compile): every seed's deterministic policy at 1,000 after 50k steps (1,000, 1,000, 1,000,
1,000), and from 35k steps on; the median over seeds reached 1,000 at 25k.
"""

import ml_collections

from jaxrl.configs import ddpg_pendulum

TOTAL_STEPS = 50_000  # training steps per seed, one environment step each


def on_brax(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """An off-policy pendulum config moved to Brax's inverted pendulum, at this file's budget."""
    with config.unlocked():
        config.num_seeds = 4
        config.total_steps = TOTAL_STEPS
        config.chunk_steps = TOTAL_STEPS // 10
        config.checkpoint_every = 5
        config.environment = "brax:inverted_pendulum"  # Brax's environment by name (jaxrl[envs])
        config.env = ml_collections.ConfigDict({"max_steps": 1000, "backend": "generalized"})
        config.eval_episodes = 20  # deterministic-policy episodes scored after every chunk
        config.buffer_capacity = TOTAL_STEPS  # replay buffer size (transitions per seed)
    config.lock()
    return config


def get_config() -> ml_collections.ConfigDict:
    return on_brax(ddpg_pendulum.get_config("td3"))
