"""Config of the test agent ``tests.run.flax_agent`` (run it through ``experiments.train``).

python -m experiments.train --config=tests/run/flax_agent_config.py --workdir=DIR
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.experiment = "tests.run.flax_agent"  # a module outside jaxrl/, by its dotted path
    config.seed = 0  # base seed; seed index i uses fold_in(key(seed), i)
    config.num_seeds = 2  # independent runs per setting
    config.total_steps = 40  # training steps per seed (4 environment steps each)
    config.chunk_steps = 2  # short chunks, so that some end no episode (a NaN episode_return)
    config.checkpoint_every = 4  # chunks between checkpoints
    config.hidden = 16  # width of the Q-network's hidden layer (static)
    config.hparams = ml_collections.ConfigDict()
    config.hparams.learning_rate = 0.1
    config.hparams.epsilon = 0.3
    config.hparams.gamma = 0.9
    config.hparams.target_period = 4  # an integer hyperparameter
    config.sweep = ml_collections.ConfigDict()
    config.sweep.learning_rate = (0.05, 0.2)
    config.sweep.target_period = (1, 5)
    config.sweep_mode = "product"  # 2 x 2 = 4 settings
    config.lock()
    return config
