"""Tabular control on the grid world, swept over seeds and hyperparameters by jaxrl.run.

    python -m experiments.tabular --config=jaxrl/configs/q_learning.py --workdir=DIR \
        [--config.num_seeds=1024] [--config.<field>=...] [--overwrite]

Rerunning the same command on the same work directory resumes from the latest checkpoint. For a
multi-host run, start the same command on every host with --coordinator_address=HOST:PORT
--num_processes=N --process_id=I (see BUILD-notes.md).
"""

from __future__ import annotations

import importlib

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config", "jaxrl/configs/q_learning.py", "Experiment config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results and checkpoints.")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Replace a run of a different config found in --workdir."
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0, for multi-host runs."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of hosts (multi-host).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This host's index (multi-host).")
flags.mark_flag_as_required("workdir")

ALGORITHMS = ("q_learning", "sarsa", "td0", "monte_carlo", "mean_estimation")


def main(argv):
    del argv
    config = _CONFIG.value
    if config.algorithm not in ALGORITHMS:
        raise SystemExit(
            f"error: config.algorithm must be one of {ALGORITHMS}, got {config.algorithm!r}"
        )
    if _COORDINATOR.value is not None:
        import jax

        jax.distributed.initialize(
            coordinator_address=_COORDINATOR.value,
            num_processes=_NUM_PROCESSES.value,
            process_id=_PROCESS_ID.value,
        )
    from jaxrl import run

    module = importlib.import_module(f"jaxrl.tabular.{config.algorithm}")
    try:
        experiment = module.make_experiment(config)
        summary = run.run(
            experiment, config, _WORKDIR.value, overwrite=_OVERWRITE.value, log=logging.info
        )
    except (ValueError, run.DivergenceError) as e:
        raise SystemExit(f"error: {e}") from None
    if summary:
        for setting in summary["settings"]:
            final = setting["final"][summary["main_metric"]]
            logging.info(
                "%s: final %s %.4g [%.4g, %.4g]",
                setting["label"],
                summary["main_metric"],
                final["mean"],
                final["ci_low"],
                final["ci_high"],
            )
        logging.info("wrote results to %s", _WORKDIR.value)


if __name__ == "__main__":
    app.run(main)
