"""The one launcher: runs any experiment of a config through the runner (``jaxrl.run``).

    python -m experiments.train --config=jaxrl/configs/q_learning.py --workdir=DIR \
        [--config.num_seeds=1024] [--config.<field>=...] [--overwrite] [-v 0]

The config names its experiment module (``config.experiment = "jaxrl.tabular.q_learning"``): any
importable module with ``make_experiment(config)``, so a fork's own package runs without editing
this file. Rerunning the same command on the same work directory resumes from the latest
checkpoint; a larger ``--config.total_steps`` extends a finished run.

Tracking: TensorBoard event files in ``--workdir/tensorboard`` (``--notensorboard`` to skip);
``--wandb [--wandb_project=P --wandb_entity=E --wandb_name=N]`` logs the same scalars to
Weights & Biases too (``WANDB_MODE=offline`` without a network; ``jaxrl.run.tracking``).

Output: one compile line, then one progress line per chunk, on stdout; library logs (orbax, jax)
only with ``-v 0`` (INFO) or above. On a CPU-only host the seeds are spread over one XLA host
device per core (``--cpu_devices=N`` to choose, or set ``XLA_FLAGS`` yourself). For a
multi-process run start the same command in every process with
``--coordinator_address=HOST:PORT --num_processes=N --process_id=I`` (see BUILD-notes.md).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import cli, launch

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Experiment config file.", lock_config=True
)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for results and checkpoints.")
_OVERWRITE = flags.DEFINE_bool(
    "overwrite", False, "Replace a run of a different config found in --workdir."
)
_TENSORBOARD = flags.DEFINE_bool(
    "tensorboard", True, "Write TensorBoard event files into --workdir/tensorboard."
)
_WANDB = flags.DEFINE_bool(
    "wandb", False, "Also log every chunk to Weights & Biases (pip install 'jaxrl[tracking]')."
)
_WANDB_PROJECT = flags.DEFINE_string("wandb_project", "jaxrl", "The W&B project.")
_WANDB_ENTITY = flags.DEFINE_string("wandb_entity", None, "The W&B entity (default: yours).")
_WANDB_NAME = flags.DEFINE_string(
    "wandb_name", None, "The W&B run's name (default: the workdir's)."
)
_CPU_DEVICES = flags.DEFINE_integer(
    "cpu_devices",
    None,
    "XLA host devices on a CPU-only host (default: one per core; ignored if XLA_FLAGS sets it).",
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0, for multi-process runs."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Number of processes (multi-process).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (multi-process).")
flags.mark_flags_as_required(["config", "workdir"])


def _trackers() -> list:
    if not _WANDB.value:
        return []
    from jaxrl.run import tracking

    return [
        tracking.Wandb.factory(
            project=_WANDB_PROJECT.value, entity=_WANDB_ENTITY.value, name=_WANDB_NAME.value
        )
    ]


def _fail(message: str, *, multiprocess: bool, code: int = 1) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    if multiprocess:
        # Skip the exit-time shutdown barrier of jax.distributed, which would wait for the other
        # processes (possibly dead) and then abort with pages of C++ logs.
        sys.stdout.flush()
        os._exit(code)
    sys.exit(code)


def _lost_peer(error: BaseException) -> bool:
    """Whether an error of a multi-process run says another process is gone: a gloo collective
    that failed (the peer's connection closed) or the coordination service that stopped."""
    text = str(error)
    return "Gloo" in text or "gloo" in text or "coordination service" in text.lower()


def _import(name) -> object:
    """The experiment module; a missing module is a config error, any other failure a bug."""
    if not isinstance(name, str) or not name:
        raise ValueError(
            f"config.experiment must be a module name such as 'jaxrl.tabular.td0', got {name!r}"
        )
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as e:
        parents = {".".join(name.split(".")[: i + 1]) for i in range(name.count(".") + 1)}
        if e.name not in parents:
            raise  # the module exists but imports something missing: a bug, with its traceback
        raise ValueError(f"config.experiment: cannot import {name!r} ({e})") from None
    if not hasattr(module, "make_experiment"):
        raise ValueError(f"config.experiment: module {name!r} has no make_experiment(config)")
    return module


def _interrupted(workdir: str, config) -> str:
    """What a Ctrl-C leaves: the last checkpoint (every file is written whole or not at all)."""
    from jaxrl.run import workdir as files

    done = files.checkpoints_done(os.path.join(workdir, files.CHECKPOINT_DIR))
    total = int(config.total_steps) // int(config.chunk_steps)
    if not done:
        return f"interrupted (Ctrl-C) before the first checkpoint of {workdir}: rerun to start"
    return (
        f"interrupted (Ctrl-C): {workdir} holds the checkpoint after chunk {done} of {total}; "
        f"rerun the same command to resume from it"
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # progress lines only; -v 0 shows library INFO
    config = cli.config_value(_CONFIG)
    cli.refuse_swept_overrides(sys.argv, config)
    multiprocess = _COORDINATOR.value is not None
    # Configuration: everything here is checked before anything is compiled, and a ValueError
    # is the user's (one line).
    try:
        if "experiment" not in config:
            raise ValueError(
                "the config must name its experiment module, e.g. "
                'config.experiment = "jaxrl.tabular.q_learning"'
            )
        if _WANDB.value and importlib.util.find_spec("wandb") is None:
            raise ValueError("--wandb needs the wandb package: pip install 'jaxrl[tracking]'")
        launch.configure_cpu_devices(_CPU_DEVICES.value)
        if multiprocess:
            launch.initialize_distributed(
                _COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value
            )
        module = _import(config.experiment)
        import jax

        from jaxrl import run

        # With config.log_every, the experiment covers one recorded window per train_chunk.
        experiment = module.make_experiment(run.experiment_config(config))
        settings = run.config_settings(experiment, config)  # domains checked, nothing compiled
        devices, note = launch.choose_devices(len(settings.values) * int(config.num_seeds))
    except ValueError as e:
        _fail(str(e), multiprocess=multiprocess)
    writer = jax.process_index() == 0
    interrupts = cli.Interrupts()

    def log(line: str) -> None:  # the runner's: after each chunk too, where a Ctrl-C can stop
        interrupts.check()
        if writer:
            print(line, flush=True)

    if note:
        log(note)
    try:
        result = run.run(
            experiment,
            config,
            _WORKDIR.value,
            overwrite=_OVERWRITE.value,
            log=log,
            devices=devices,
            settings=settings,  # checked above: the launch validates once
            tensorboard=_TENSORBOARD.value,
            trackers=_trackers(),
        )
    except (run.ConfigError, run.DivergenceError) as e:
        _fail(str(e), multiprocess=multiprocess)
    except KeyboardInterrupt:
        _fail(_interrupted(_WORKDIR.value, config), multiprocess=multiprocess, code=130)
    except Exception as e:
        from jaxrl.run import workdir as files

        if files.disk_full(e) is not None:
            chunks = int(config.total_steps) // int(config.chunk_steps)
            _fail(files.disk_full_message(_WORKDIR.value, chunks), multiprocess=multiprocess)
        if multiprocess and _lost_peer(e):
            first_line = str(e).splitlines()[0] if str(e) else type(e).__name__
            _fail(
                f"another process of this run stopped or cannot be reached ({first_line}); "
                f"stopping. Rerun every process to resume from the last checkpoint",
                multiprocess=True,
            )
        if multiprocess:  # a bug of ours: show it, then leave without waiting for the others
            import traceback

            traceback.print_exc()
            _fail(f"{type(e).__name__}: {e}", multiprocess=True)
        raise
    summary = result.summary
    if summary:
        main_metric = summary["main_metric"]
        for setting in summary["settings"]:
            final = {
                k: float("nan") if v is None else v
                for k, v in setting["final"][main_metric].items()
            }
            print(
                f"{setting['label']}: final {main_metric} {final['mean']:.4g} "
                f"[{final['ci_low']:.4g}, {final['ci_high']:.4g}] over {final['count']} seeds",
                flush=True,
            )
        print(f"wrote results to {_WORKDIR.value}", flush=True)


if __name__ == "__main__":
    cli.run(main)
