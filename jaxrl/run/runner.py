"""The experiment runner: the in-memory core plus files, checkpoints, resume and extension.

``run(experiment, config, workdir)`` does, in order:

1. checks the shared config fields (``seed``, ``num_seeds``, ``total_steps``, ``chunk_steps``,
   ``checkpoint_every``, ``sweep_mode``) and every hyperparameter setting against the
   experiment's domains, raising ``ConfigError`` (a ``ValueError``) naming the field before
   anything is compiled;
2. takes the work directory's lock (``<workdir>/.lock``, an ``fcntl.flock`` that the kernel
   releases when its holder dies), so a second process on the same directory is refused at once;
3. refuses a work directory that holds a run of a different config, unless ``overwrite``; the
   run-control fields (``total_steps``, ``checkpoint_every``) may change: a larger
   ``total_steps`` extends a run from its last checkpoint, unless the experiment declares that
   its schedules depend on ``total_steps``;
4. refuses a batch whose carries would not fit in memory (:mod:`jaxrl.run.memory`), then
   compiles ``jit(vmap(init))`` and ``jit(vmap(train_chunk))`` once, over the flattened
   ``settings x seeds`` batch sharded over the devices (:class:`jaxrl.run.core.Program`), and
   reports the compile time apart from the throughput;
5. resumes from the latest orbax checkpoint in ``<workdir>/checkpoints`` if there is one;
6. loops over chunks on the host: after each one, logs a progress line (training and
   environment steps, environment steps per second, ETA, mean and 95% interval over seeds of
   the main metric per setting), rewrites ``metrics.csv``, writes that chunk's per-seed arrays,
   and checkpoints every ``checkpoint_every`` chunks and after the last;
7. writes ``summary.json``, ``per_seed.npz``, ``curves.png`` (x-axis: environment steps; a
   panel per ``curve_metrics``) and the experiment's own ``figures``.

Every file is written to a temporary name and renamed into place, and orbax checkpoints are
atomic, so a run killed at any moment (even SIGKILL) leaves no corrupt file and loses at most the
chunks since its last checkpoint. A resumed run recomputes those chunks from the checkpointed
carry, so its results are bit-identical to a run never interrupted.

In a multi-process run (``jax.distributed`` initialized), every process calls ``run`` with the
same arguments: each builds its own shard of the batch, process 0 alone holds the lock and
writes files, and orbax writes each process's shards of the checkpoint.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxrl.run import checkpoints, fields, memory, results, stats, tracking
from jaxrl.run import workdir as workdir_files
from jaxrl.run.core import (
    DivergenceError,
    Program,
    check_batch,
    check_finite,
    gather,
)
from jaxrl.run.experiment import ConfigError, Experiment, seed_keys
from jaxrl.run.fields import SHARED_FIELDS
from jaxrl.run.hparams import Settings, settings_from_config
from jaxrl.run.results import curves_figure, window_steps, windows_of  # noqa: F401 (re-exported)
from jaxrl.run.workdir import WorkdirBusyError


class RunResult(NamedTuple):
    """What :func:`run` returns.

    Attributes:
        summary: the summary written to ``summary.json`` (empty on processes other than 0).
        carry: the final carry, leaves ``[settings, seeds, ...]``.
        metrics: ``{name: [chunks, settings, seeds]}`` for the chunks run in this session.
    """

    summary: dict
    carry: Any
    metrics: dict[str, np.ndarray]


# ---------------------------------------------------------------------------------------------
# Config checks.


def check_config(config) -> None:
    """Raises ``ConfigError`` naming the field for any bad shared field (before compilation)."""
    for name in (*SHARED_FIELDS, "hparams", "sweep"):
        if name not in config:
            raise ConfigError(f"config lacks the field {name!r}")
    for name, field in fields.RUNNER.items():
        fields.check_value(f"config.{name}", config[name], field.kind)
    total_steps, chunk_steps = config.total_steps, config.chunk_steps
    if total_steps % chunk_steps:
        raise ConfigError(
            f"config.total_steps ({total_steps}) must be a multiple of config.chunk_steps "
            f"({chunk_steps})"
        )
    if "log_every" in config:
        fields.check_value("config.log_every", config.log_every, fields.COUNT)
        if config.log_every and chunk_steps % config.log_every:
            raise ConfigError(
                f"config.log_every ({config.log_every}) must divide config.chunk_steps "
                f"({chunk_steps}): a chunk's metrics are recorded every log_every steps"
            )


def experiment_config(config):
    """The config to build the experiment from (``make_experiment(experiment_config(config))``):
    ``config`` itself, or, with ``config.log_every``, a copy whose ``chunk_steps`` is
    ``log_every``, so that the experiment's ``train_chunk`` covers one recorded window and the
    runner calls it ``chunk_steps / log_every`` times per chunk, in one compiled program. The
    launcher and :func:`jaxrl.run.load` build experiments this way."""
    if window_steps(config) == int(config.chunk_steps):
        return config
    check_config(config)
    window = config.copy_and_resolve_references()
    with window.unlocked():
        window.chunk_steps = window_steps(config)
    window.lock()
    return window


def config_settings(experiment: Experiment, config) -> Settings:
    """Checks a config (shared fields, the experiment's declarations, hyperparameter domains)
    and returns its settings."""
    check_config(config)
    return settings_from_config(experiment, config)  # make_settings checks the experiment


def _config_dict(config) -> dict:
    return json.loads(config.to_json_best_effort(sort_keys=True))


def _broadcast_from_writer(values: list[int]) -> list[int]:
    """Process 0's integers, on every process (a no-op in a single-process run)."""
    if jax.process_count() == 1:
        return values
    from jax.experimental import multihost_utils

    out = multihost_utils.broadcast_one_to_all(np.asarray(values, np.int64))
    return [int(x) for x in np.asarray(out)]


# ---------------------------------------------------------------------------------------------
# Progress lines, CSV rows and the final files.


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _format_rate(rate: float) -> str:
    if not math.isfinite(rate):
        return "?"
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if rate >= scale:
            return f"{rate / scale:.3g}{suffix}"
    return f"{rate:.3g}"


def _progress_line(experiment, settings, per_setting, *, num_seeds, shown=6) -> str:
    main = per_setting[experiment.main_metric]
    parts = []
    for h in range(min(len(settings.values), shown)):
        text = (
            f"{settings.labels[h]}: {main['mean'][h]:.4g} "
            f"[{main['ci_low'][h]:.4g}, {main['ci_high'][h]:.4g}]"
        )
        if experiment.main_metric in experiment.nan_metrics and main["count"][h] < num_seeds:
            text += f" ({main['count'][h]} of {num_seeds} seeds)"
        parts.append(text)
    more = len(settings.values) - shown
    return "; ".join(parts) + (f"; ... {more} more settings" if more > 0 else "")


def run(
    experiment: Experiment,
    config,
    workdir: str,
    *,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    devices: list | None = None,
    settings: Settings | None = None,
    tensorboard: bool = True,
    trackers: Sequence[Callable[[str, dict], Any]] = (),
) -> RunResult:
    """Runs (or resumes, or extends) a sweep and writes its results under ``workdir``.

    Args:
        experiment: the algorithm's pure functions (:class:`Experiment`).
        config: an ``ml_collections.ConfigDict`` with the shared fields, ``hparams`` (a default
            for every field of ``experiment.hparams_type``), ``sweep`` (lists) and optionally
            ``sweep_mode`` (``"zip"``, the default, or ``"product"``) and ``log_every`` (a
            recorded point every that many steps; then ``experiment`` must be built from
            :func:`experiment_config`, as the launcher does).
        workdir: where results go; created if missing.
        overwrite: replace a run of a different config found in ``workdir``.
        log: where progress lines go.
        devices: the devices to shard over (default: all of them; the batch of settings x seeds
            must be a multiple of their number).
        settings: the config's settings if the caller has checked them already
            (:func:`config_settings`, as the launcher does before choosing devices), so that a
            launch validates once; by default they are made and checked here.
        tensorboard: write TensorBoard event files of every chunk into
            ``<workdir>/tensorboard`` (:mod:`jaxrl.run.tracking`).
        trackers: more trackers, each made by ``make(workdir, config_dict)`` on process 0 once
            the work directory is ready and before the compile (a tracker that cannot start,
            W&B without a login, stops the run there), and given every chunk as TensorBoard is:
            ``tracker.chunk(env_steps, labels, per_setting, rate)``, then ``tracker.close()``
            (e.g. :class:`jaxrl.run.tracking.Wandb`).

    Returns:
        :class:`RunResult`: the summary (also written to ``summary.json``), the final carry and
        this session's per-chunk metrics.

    Raises:
        ConfigError: (a ``ValueError``) bad config, out-of-domain hyperparameters or a work
            directory holding another run, before any compilation; :class:`WorkdirBusyError`
            when another process holds the work directory.
        DivergenceError: a metric became non-finite; names the chunk, steps, setting and seed.
    """
    import orbax.checkpoint as ocp

    settings = config_settings(experiment, config) if settings is None else settings
    devices = list(jax.devices() if devices is None else devices)
    num_settings, num_seeds = len(settings.values), int(config.num_seeds)
    batch = num_settings * num_seeds
    check_batch(batch, len(devices), num_settings=num_settings)
    memory.check(experiment, settings.hparams, num_seeds, devices)  # before the files, the compile
    chunk_steps = int(config.chunk_steps)
    num_chunks = int(config.total_steps) // chunk_steps
    env_per_chunk = chunk_steps * experiment.env_steps_per_step
    windows = chunk_steps // window_steps(config)  # recorded points per chunk
    config_json = _config_dict(config)
    is_writer = jax.process_index() == 0
    workdir_files.check_writable(workdir)
    lock = workdir_files.Lock(workdir)
    status = [0, 0]
    active = []  # the trackers, given every chunk ...
    closing = contextlib.ExitStack()  # ... and closed when the run ends or fails
    try:
        if is_writer:
            try:
                lock.acquire()
                removed = workdir_files.remove_stray_temporaries(workdir)
                if removed:
                    log(f"removed {len(removed)} temporary file(s) of an interrupted run")
                status[1] = workdir_files.prepare(
                    workdir,
                    config_json,
                    overwrite=overwrite,
                    experiment=experiment,
                    num_chunks=num_chunks,
                )
            except BaseException:
                _broadcast_from_writer([1, 0])  # the others stop too, rather than wait
                raise
        status = _broadcast_from_writer(status)
        if status[0]:
            raise ConfigError("process 0 refused the run (see its output)")
        for make in trackers if is_writer else ():
            active.append(make(workdir, config_json))
            closing.callback(active[-1].close)

        keys = seed_keys(int(config.seed), num_seeds)
        log(
            f"compiling: {num_settings} settings x {num_seeds} seeds = {batch} runs on "
            f"{len(devices)} {devices[0].platform} device(s) ..."
        )
        # The settings are checked (make_settings): the program need not check them again.
        program = Program(
            experiment, settings.hparams, keys, devices, checked=True, windows=windows
        )
        if program.note:
            log(program.note)
        devices = program.devices
        log(f"compiled in {program.compile_seconds:.1f} s")
        checkpoint_dir = os.path.abspath(os.path.join(workdir, workdir_files.CHECKPOINT_DIR))
        start_chunk, carry = 0, None
        if status[1]:
            start_chunk, carry = checkpoints.restore_latest(
                workdir,
                checkpoint_dir,
                program.abstract_carry,
                max_step=num_chunks,
                is_writer=is_writer,
                log=log,
            )
            if start_chunk:
                log(f"resuming from the checkpoint after chunk {start_chunk} of {num_chunks}")
            else:
                log("no checkpoint could be read back: starting from scratch")
        if carry is None:
            carry = program.init()
        # The per-chunk results before the checkpoint: the CSV is rebuilt from them.
        previous = []
        if is_writer:
            try:
                previous = workdir_files.read_chunks(workdir, start_chunk, experiment.metrics)
            except BaseException:
                _broadcast_from_writer([1])
                raise
        if _broadcast_from_writer([0])[0]:
            raise ConfigError("process 0 refused the run (see its output)")
        if tensorboard and is_writer:
            first_step = start_chunk * env_per_chunk + env_per_chunk // windows
            active.append(tracking.TensorBoard(workdir, first_step=first_step))
            closing.callback(active[-1].close)
        with ocp.CheckpointManager(
            checkpoint_dir,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=2, enable_async_checkpointing=False, cleanup_tmp_directories=True
            ),
        ) as manager:
            summary, carry, metrics = _loop(
                experiment,
                config,
                workdir,
                program=program,
                manager=manager,
                carry=carry,
                settings=settings,
                start_chunk=start_chunk,
                previous=previous,
                num_chunks=num_chunks,
                env_per_chunk=env_per_chunk,
                config_json=config_json,
                is_writer=is_writer,
                log=log,
                trackers=active,
            )
    finally:
        try:
            closing.close()
        finally:
            lock.release()
    return RunResult(summary, program.unflatten(carry), metrics)


def _loop(
    experiment,
    config,
    workdir,
    *,
    program,
    manager,
    carry,
    settings,
    start_chunk,
    previous,
    num_chunks,
    env_per_chunk,
    config_json,
    is_writer,
    log,
    trackers,
):
    num_seeds, batch = program.num_seeds, program.batch
    chunk_steps, window = int(config.chunk_steps), window_steps(config)
    env_per_window = window * experiment.env_steps_per_step
    chunk_dir = os.path.join(workdir, workdir_files.CHUNK_DIR)
    metrics_path = os.path.join(workdir, workdir_files.METRICS_FILE)
    rows: list[dict] = []

    def recorded(chunk, host):
        """The points of one chunk: ``(index, step, env steps, per-setting summaries)`` of each
        window of ``window`` steps (one per chunk without ``config.log_every``)."""
        for w, arrays in enumerate(results.windows_of(host)):
            point = chunk * program.windows + w
            summaries = {name: stats.summarize(values, axis=1) for name, values in arrays.items()}
            yield point, (point + 1) * window, (point + 1) * env_per_window, arrays, summaries

    if is_writer:
        os.makedirs(chunk_dir, exist_ok=True)
        # Keep only what the checkpoint covers; later chunks are recomputed identically.
        for name in os.listdir(chunk_dir):
            match = re.fullmatch(r"chunk_(\d{6})\.npz", name)
            if match and int(match.group(1)) >= start_chunk:
                os.remove(os.path.join(chunk_dir, name))
        # metrics.csv is rebuilt from the per-chunk files (a damaged CSV does not survive).
        for chunk, host in enumerate(previous):
            for point, step, env_steps, _, per_setting in recorded(chunk, host):
                rows.extend(
                    results.metric_rows(point, step, env_steps, settings, experiment, per_setting)
                )
        workdir_files.write_csv(metrics_path, rows)

    def describe(step):
        return lambda h, i: (
            f"step {step}, env step {step * experiment.env_steps_per_step} per seed; setting "
            f"{h} ({settings.labels[h]}), seed index {i} (seed {config.seed}, fold_in {i})"
        )

    session: list[dict] = []
    start_time = time.perf_counter()
    for chunk in range(start_chunk, num_chunks):
        carry, metrics = program.chunk(carry)
        host = program.host_metrics(metrics)
        points = list(recorded(chunk, host))
        for _, step, _, arrays, _ in points:
            check_finite(experiment, arrays, chunk=chunk, describe=describe(step))
            session.append(arrays)
        step = (chunk + 1) * chunk_steps
        env_steps = (chunk + 1) * env_per_chunk
        elapsed = time.perf_counter() - start_time
        done = chunk + 1 - start_chunk
        rate = done * env_per_chunk * batch / elapsed if elapsed > 0 else math.inf
        eta = (num_chunks - chunk - 1) * elapsed / done
        shown = _progress_line(experiment, settings, points[-1][-1], num_seeds=num_seeds)
        unit = "env steps" if experiment.step_unit == "environment steps" else experiment.step_unit
        log(
            f"chunk {chunk + 1}/{num_chunks} | step {step:,}/{config.total_steps:,} | {unit} "
            f"{env_steps:,}/{num_chunks * env_per_chunk:,} per seed | {_format_rate(rate)} "
            f"{unit}/s | ETA {_format_eta(eta)} | {experiment.main_metric} (mean [95% CI] over "
            f"{num_seeds} seeds) {shown}"
        )
        for _, _, point_env_steps, _, per_setting in points:
            for tracker in trackers:
                tracker.chunk(point_env_steps, settings.labels, per_setting, rate)
        if is_writer:
            workdir_files.atomic_npz(os.path.join(chunk_dir, f"chunk_{chunk:06d}.npz"), host)
            for point, point_step, point_env_steps, _, per_setting in points:
                rows.extend(
                    results.metric_rows(
                        point, point_step, point_env_steps, settings, experiment, per_setting
                    )
                )
            workdir_files.write_csv(metrics_path, rows)
        if (chunk + 1) % config.checkpoint_every == 0 or chunk + 1 == num_chunks:
            checkpoints.save(manager, chunk + 1, carry, is_writer=is_writer)
    wall = time.perf_counter() - start_time
    empty = np.zeros((0, program.num_settings, num_seeds))
    metrics = {
        name: np.stack([m[name] for m in session]) if session else empty
        for name in experiment.metrics
    }
    if not is_writer:
        return {}, carry, metrics
    summary = results.finish(
        experiment,
        config,
        workdir,
        settings=settings,
        wall=wall,
        run_env_steps=(num_chunks - start_chunk) * env_per_chunk * batch,
        compile_seconds=program.compile_seconds,
        device_count=len(program.devices),
        config_json=config_json,
    )
    return summary, carry, metrics


__all__ = [
    "DivergenceError",
    "RunResult",
    "WorkdirBusyError",
    "check_config",
    "config_settings",
    "gather",
    "run",
]
