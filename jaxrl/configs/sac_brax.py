"""SAC on Brax's inverted pendulum (``"brax:inverted_pendulum"``; needs
``pip install 'jaxrl[envs]'``).

The pendulum config's SAC (``sac_pendulum.py``: actor and twin critics of 64 and 64 units, adam
at 1e-3, tau 0.005, a learned temperature from 1, minibatches of 256, one update per environment
step, 1,000 uniformly random steps first) at ``td3_brax.py``'s settings: Brax's generalized
pipeline, episodes of at most 1,000 steps, 4 seeds of 50k environment steps.

The result is the mean action's mean return over ``eval_episodes = 20`` fresh episodes per seed
after every chunk.

Run:

    python -m experiments.train --config=jaxrl/configs/sac_brax.py --workdir=DIR

Expected (measured 2026-12-06, 2 CPU cores, the seeds on one device, 2 min 53 s wall with a
31 s compile): every seed's mean action at 1,000 after 50k steps (1,000, 1,000, 1,000, 1,000),
and from 15k steps on.
"""

import ml_collections

from jaxrl.configs import sac_pendulum, td3_brax


def get_config() -> ml_collections.ConfigDict:
    return td3_brax.on_brax(sac_pendulum.get_config())
