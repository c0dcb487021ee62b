"""The experiment runner: seeds x hyperparameter settings in one compiled, sharded program.

``run(experiment, config, workdir)`` does, in order:

1. checks the shared config fields (``seed``, ``num_seeds``, ``total_steps``, ``chunk_steps``,
   ``checkpoint_every``, the ``hparams`` defaults and the ``sweep`` lists), raising
   ``ValueError`` naming the field before anything is compiled;
2. refuses a work directory that holds a run of a different config, unless ``overwrite``;
3. flattens ``settings x seeds`` into one batch axis (item ``h * num_seeds + i`` is setting
   ``h``, seed ``i``), shards it over all devices with a 1-D ``Mesh`` and ``NamedSharding``, and
   compiles ``jit(vmap(train_chunk))`` once;
4. resumes from the latest orbax checkpoint in ``<workdir>/checkpoints`` if there is one;
5. loops over chunks on the host: after each one, logs a progress line (step, env steps per
   second, ETA, mean and 95% interval over seeds of the main metric per setting), rewrites
   ``metrics.csv`` and writes that chunk's per-seed arrays, and checkpoints every
   ``checkpoint_every`` chunks and after the last;
6. writes ``summary.json``, ``per_seed.npz`` and ``curves.png``.

Every file is written to a temporary name and renamed into place, and orbax checkpoints are
atomic, so a run killed at any moment (even SIGKILL) leaves no corrupt file and loses at most the
chunks since its last checkpoint. A resumed run recomputes those chunks from the checkpointed
carry, so its results are bit-identical to a run never interrupted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxrl.run import stats
from jaxrl.run.experiment import (
    Experiment,
    make_settings,
    seed_keys,
    settings_label,
    tile_settings,
    unflatten,
)

SHARED_FIELDS = ("seed", "num_seeds", "total_steps", "chunk_steps", "checkpoint_every")
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CHUNK_DIR = "per_seed_chunks"


class DivergenceError(RuntimeError):
    """Training produced a non-finite metric."""


# ---------------------------------------------------------------------------------------------
# Config checks.


def _positive_int(config, name: str) -> int:
    value = config[name]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"config.{name} must be a positive integer, got {value!r}")
    return int(value)


def check_config(config, *, device_count: int) -> None:
    """Raises ``ValueError`` naming the field for any bad shared field (before compilation)."""
    for name in (*SHARED_FIELDS, "hparams", "sweep"):
        if name not in config:
            raise ValueError(f"config lacks the field {name!r}")
    seed = config.seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"config.seed must be a non-negative integer, got {seed!r}")
    num_seeds = _positive_int(config, "num_seeds")
    total_steps = _positive_int(config, "total_steps")
    chunk_steps = _positive_int(config, "chunk_steps")
    _positive_int(config, "checkpoint_every")
    if total_steps % chunk_steps:
        raise ValueError(
            f"config.total_steps ({total_steps}) must be a multiple of config.chunk_steps "
            f"({chunk_steps})"
        )
    if num_seeds % device_count:
        raise ValueError(
            f"config.num_seeds ({num_seeds}) must be a multiple of the device count "
            f"({device_count}) so that seeds shard evenly; the runner refuses rather than pads"
        )


def _config_dict(config) -> dict:
    return json.loads(config.to_json_best_effort(sort_keys=True))


# ---------------------------------------------------------------------------------------------
# Files: written to a temporary name, then renamed (atomic on POSIX).


def _atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _atomic_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    _atomic_write(path, buffer.getvalue())


def _prepare_workdir(workdir: str, config_json: dict, overwrite: bool) -> bool:
    """Creates or checks the work directory; returns whether it holds this config's run."""
    os.makedirs(workdir, exist_ok=True)
    path = os.path.join(workdir, CONFIG_FILE)
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        if previous == config_json:
            return True
        if not overwrite:
            changed = sorted(
                k for k in set(previous) | set(config_json) if previous.get(k) != config_json.get(k)
            )
            raise ValueError(
                f"workdir {workdir} holds a run with a different config (fields differ: "
                f"{', '.join(changed)}); use another workdir or pass overwrite (--overwrite)"
            )
        for name in (CONFIG_FILE, METRICS_FILE, "summary.json", "per_seed.npz", "curves.png"):
            if os.path.exists(os.path.join(workdir, name)):
                os.remove(os.path.join(workdir, name))
        for name in ("checkpoints", CHUNK_DIR):
            shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    _atomic_write(path, json.dumps(config_json, indent=2, sort_keys=True).encode())
    return False


# ---------------------------------------------------------------------------------------------
# The run.


def _metric_rows(chunk, step, settings, swept, names, per_setting):
    rows = []
    for h, setting in enumerate(settings):
        row = {"chunk": chunk, "step": step, "setting": h, "label": settings_label(setting, swept)}
        row.update({k: setting[k] for k in setting})
        for name in names:
            for stat, values in per_setting[name].items():
                row[f"{name}_{stat}"] = float(values[h])
        rows.append(row)
    return rows


def _write_csv(path: str, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _atomic_write(path, buffer.getvalue().encode())


def _format_eta(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _host(x) -> np.ndarray:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)


def run(
    experiment: Experiment,
    config,
    workdir: str,
    *,
    overwrite: bool = False,
    log: Callable[[str], None] = print,
    devices: list | None = None,
) -> dict:
    """Runs (or resumes) a sweep and writes its results under ``workdir``.

    Args:
        experiment: the algorithm's pure functions (:class:`Experiment`).
        config: an ``ml_collections.ConfigDict`` with the shared fields, ``hparams`` (a default
            for every field of ``experiment.hparams_type``) and ``sweep`` (lists, zipped).
        workdir: where results go; created if missing.
        overwrite: replace a run of a different config found in ``workdir``.
        log: where progress lines go.
        devices: the devices to shard over (default: all of them).

    Returns:
        The summary (also written to ``summary.json``).

    Raises:
        ValueError: bad config or a workdir holding another run, before any compilation.
        DivergenceError: a metric became non-finite; names the chunk, step, setting and seed.
    """
    import orbax.checkpoint as ocp

    devices = list(jax.devices() if devices is None else devices)
    check_config(config, device_count=len(devices))
    hparams, settings = make_settings(
        experiment.hparams_type, dict(config.hparams), dict(config.sweep)
    )
    swept = [name for name in experiment.hparams_type._fields if name in config.sweep]
    num_settings, num_seeds = len(settings), int(config.num_seeds)
    batch = num_settings * num_seeds
    num_chunks = config.total_steps // config.chunk_steps
    config_json = _config_dict(config)
    is_writer = jax.process_index() == 0
    resumable = _prepare_workdir(workdir, config_json, overwrite) if is_writer else True

    mesh = Mesh(np.asarray(devices), ("batch",))
    sharding = NamedSharding(mesh, PartitionSpec("batch"))
    keys = jnp.tile(seed_keys(int(config.seed), num_seeds), num_settings)
    flat_hparams = jax.device_put(tile_settings(hparams, num_seeds), sharding)
    init_fn = jax.jit(jax.vmap(experiment.init), out_shardings=sharding)
    chunk_fn = jax.jit(
        jax.vmap(experiment.train_chunk),
        in_shardings=(sharding, sharding),
        out_shardings=(sharding, sharding),
        donate_argnums=0,
    )

    carry = init_fn(jax.device_put(keys, sharding), flat_hparams)
    checkpoint_dir = os.path.abspath(os.path.join(workdir, "checkpoints"))
    manager = ocp.CheckpointManager(
        checkpoint_dir,
        options=ocp.CheckpointManagerOptions(
            max_to_keep=2, enable_async_checkpointing=False, cleanup_tmp_directories=True
        ),
    )
    start_chunk = 0
    latest = manager.latest_step() if resumable else None
    if latest is not None:
        abstract = jax.tree.map(
            lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), carry
        )
        carry = manager.restore(latest, args=ocp.args.StandardRestore(abstract))
        start_chunk = int(latest)
        log(f"resuming from the checkpoint after chunk {start_chunk} of {num_chunks}")

    chunk_dir = os.path.join(workdir, CHUNK_DIR)
    rows: list[dict] = []
    if is_writer:
        os.makedirs(chunk_dir, exist_ok=True)
        # Keep only what the checkpoint covers; later chunks are recomputed identically.
        for name in os.listdir(chunk_dir):
            if not name.startswith("chunk_") or int(name[6:12]) >= start_chunk:
                os.remove(os.path.join(chunk_dir, name))
        metrics_path = os.path.join(workdir, METRICS_FILE)
        if os.path.exists(metrics_path):
            with open(metrics_path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["chunk"]) < start_chunk]
        _write_csv(metrics_path, rows)

    steps_per_chunk = experiment.env_steps_per_chunk
    start_time = time.perf_counter()
    run_steps = 0
    for chunk in range(start_chunk, num_chunks):
        carry, metrics = chunk_fn(carry, flat_hparams)
        host = {
            name: unflatten(_host(metrics[name]), num_settings, num_seeds)
            for name in experiment.metrics
        }
        step = (chunk + 1) * config.chunk_steps
        for name, values in host.items():
            bad = np.argwhere(~np.isfinite(values))
            if bad.size:
                h, i = (int(x) for x in bad[0])
                raise DivergenceError(
                    f"{name} became {values[h, i]} in chunk {chunk} (step {step}) for setting "
                    f"{h} ({settings_label(settings[h], swept)}), seed index {i} "
                    f"(seed {config.seed}, fold_in {i})"
                )
        per_setting = {name: stats.summarize(values, axis=1) for name, values in host.items()}
        run_steps += steps_per_chunk * batch
        elapsed = time.perf_counter() - start_time
        rate = run_steps / elapsed if elapsed > 0 else float("inf")
        eta = (num_chunks - chunk - 1) * steps_per_chunk * batch / rate if rate else float("nan")
        main = per_setting[experiment.main_metric]
        shown = "; ".join(
            f"{settings_label(settings[h], swept)}: {main['mean'][h]:.4g} "
            f"[{main['ci_low'][h]:.4g}, {main['ci_high'][h]:.4g}]"
            for h in range(min(num_settings, 6))
        )
        log(
            f"chunk {chunk + 1}/{num_chunks} step {step}/{config.total_steps} | "
            f"{rate:,.0f} env steps/s | ETA {_format_eta(eta)} | {experiment.main_metric} "
            f"(mean [95% CI] over {num_seeds} seeds) {shown}"
        )
        if is_writer:
            _atomic_npz(
                os.path.join(chunk_dir, f"chunk_{chunk:06d}.npz"),
                {name: values for name, values in host.items()},
            )
            rows.extend(_metric_rows(chunk, step, settings, swept, experiment.metrics, per_setting))
            _write_csv(os.path.join(workdir, METRICS_FILE), rows)
        if (chunk + 1) % config.checkpoint_every == 0 or chunk + 1 == num_chunks:
            manager.save(chunk + 1, args=ocp.args.StandardSave(carry))
            manager.wait_until_finished()
    wall = time.perf_counter() - start_time
    manager.close()
    if not is_writer:
        return {}
    summary = _finish(
        experiment,
        config,
        workdir,
        settings=settings,
        swept=swept,
        wall=wall,
        run_steps=run_steps,
        device_count=len(devices),
        config_json=config_json,
    )
    return summary


def _finish(
    experiment, config, workdir, *, settings, swept, wall, run_steps, device_count, config_json
) -> dict:
    """Collects the per-chunk files into ``per_seed.npz``, ``summary.json`` and ``curves.png``."""
    chunk_dir = os.path.join(workdir, CHUNK_DIR)
    num_chunks = config.total_steps // config.chunk_steps
    per_chunk = [np.load(os.path.join(chunk_dir, f"chunk_{c:06d}.npz")) for c in range(num_chunks)]
    arrays = {name: np.stack([p[name] for p in per_chunk]) for name in experiment.metrics}
    steps = (np.arange(num_chunks) + 1) * config.chunk_steps
    _atomic_npz(os.path.join(workdir, "per_seed.npz"), {"step": steps, **arrays})
    final = {name: values[-1] for name, values in arrays.items()}  # [H, seeds]
    summary = {
        "config": config_json,
        "settings": [
            {
                "label": settings_label(s, swept),
                "hparams": s,
                "final": {
                    name: {k: float(v[h]) for k, v in stats.summarize(final[name], 1).items()}
                    for name in experiment.metrics
                },
                "final_per_seed": {name: final[name][h].tolist() for name in experiment.metrics},
            }
            for h, s in enumerate(settings)
        ],
        "main_metric": experiment.main_metric,
        "wall_time_s": wall,
        "env_steps_per_s_this_session": run_steps / wall if wall > 0 else None,
        "device_count": device_count,
        "devices": str(jax.devices()[0].device_kind),
    }
    _atomic_write(os.path.join(workdir, "summary.json"), json.dumps(summary, indent=2).encode())
    from jaxrl import plotting

    fig, axes = plotting.new_figure(1, 1, panel_size=4.5)
    curves = stats.summarize(arrays[experiment.main_metric], axis=2)  # [chunks, H]
    plotting.plot_learning_curves(
        axes[0, 0],
        steps,
        curves["mean"].T,
        curves["ci_low"].T,
        curves["ci_high"].T,
        labels=[settings_label(s, swept) for s in settings],
        ylabel=experiment.main_metric,
        title=f"{experiment.main_metric}: mean and 95% CI over {config.num_seeds} seeds",
    )
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    _atomic_write(os.path.join(workdir, "curves.png"), buffer.getvalue())
    return summary


def result_arrays(workdir: str) -> dict[str, np.ndarray]:
    """The per-seed metrics of a finished run: ``{name: [chunks, settings, seeds]}``."""
    with np.load(os.path.join(workdir, "per_seed.npz")) as data:
        return {k: data[k] for k in data.files}


__all__ = ["DivergenceError", "check_config", "result_arrays", "run"]
