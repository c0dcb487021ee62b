"""The runner's fields of a config (see ``jaxrl.run``), shared by every experiment config."""

import ml_collections


def base(
    experiment: str,
    *,
    num_seeds: int,
    total_steps: int,
    chunk_steps: int,
    checkpoint_every: int,
    seed: int = 0,
) -> ml_collections.ConfigDict:
    """A config with the runner's fields; the experiment adds its own, then ``sweep``."""
    config = ml_collections.ConfigDict()
    config.experiment = experiment  # module providing make_experiment(config)
    config.seed = seed  # base seed; seed index i uses fold_in(key(seed), i)
    config.num_seeds = num_seeds  # independent runs per hyperparameter setting
    config.total_steps = total_steps  # training steps per seed
    config.chunk_steps = chunk_steps  # training steps per compiled chunk (a progress line each)
    config.checkpoint_every = checkpoint_every  # chunks between orbax checkpoints
    config.log_every = 0  # training steps between recorded points (0: one point per chunk)
    return config


def sweep(config, hparams: dict, swept: dict, *, mode: str = "zip") -> None:
    """Sets the defaults of the swept values, the swept tuples and how they combine.

    Tuples, overridable on the command line as ``--config.sweep.learning_rate="(0.1,0.2)"``;
    ``mode`` is ``"zip"`` (setting h takes entry h of each) or ``"product"`` (the grid).
    """
    config.hparams = ml_collections.ConfigDict(hparams)  # defaults of the swept values
    config.sweep = ml_collections.ConfigDict(swept)  # the swept values
    config.sweep_mode = mode  # "zip" the sweep tuples, or cross them ("product")
