"""The files of a run's work directory: written atomically, locked, checked against a config.

Every file is written to a temporary name and renamed into place (atomic on POSIX). One process
holds ``<workdir>/.lock`` (an ``fcntl.flock``, dropped by the kernel when its holder dies) for
the whole run. :func:`prepare` compares the directory's ``config.json`` with the new config:
the run-control fields may change, anything else is refused unless overwriting.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import io
import json
import os
import re
import shutil
import socket
import zipfile

import numpy as np

from jaxrl.run.experiment import ConfigError, Experiment

RUN_CONTROL_FIELDS = ("total_steps", "checkpoint_every")
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.csv"
CHUNK_DIR = "per_seed_chunks"
CHECKPOINT_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"  # jaxrl.run.tracking's event files
WANDB_DIR = "wandb"  # W&B's own files (jaxrl.run.tracking.Wandb)
WANDB_ID_FILE = "wandb_id"  # the work directory's W&B run
LOCK_FILE = ".lock"


class WorkdirBusyError(ConfigError):
    """Another process holds the work directory."""


def check_writable(workdir: str) -> None:
    """Creates ``workdir`` if needed; ``ConfigError`` if it is not a directory this process can
    create and write (a regular file, a path below one, no permission)."""
    try:
        os.makedirs(workdir, exist_ok=True)
        probe = os.path.join(workdir, f".write-test-{os.getpid()}")
        with open(probe, "w"):
            pass
        os.remove(probe)
    except OSError as e:
        raise ConfigError(
            f"workdir {workdir} cannot be used: {e.strerror or e} (it must be a directory this "
            f"process can create and write)"
        ) from None


def atomic_write(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_npz(path: str, arrays: dict[str, np.ndarray]) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def read_config_json(path: str) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(
            f"{path} cannot be read as JSON ({e}); delete it to start afresh, or rerun with "
            f"--overwrite"
        ) from None


class Lock:
    """An exclusive ``fcntl.flock`` on ``<workdir>/.lock``, released when its holder dies."""

    def __init__(self, workdir: str):
        self.path = os.path.join(workdir, LOCK_FILE)
        self._file = None

    def acquire(self) -> None:
        f = open(self.path, "a+")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            f.close()
            raise WorkdirBusyError(
                f"workdir {os.path.dirname(self.path)} is in use by {holder}; wait for it to "
                f"finish, or use another workdir"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(f"process {os.getpid()} on host {socket.gethostname()}")
        f.flush()
        self._file = f

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def checkpoints_done(checkpoint_dir: str) -> int:
    """The number of chunks the latest finished checkpoint covers (0 if none)."""
    if not os.path.isdir(checkpoint_dir):
        return 0
    steps = [int(name) for name in os.listdir(checkpoint_dir) if name.isdigit()]
    return max(steps, default=0)


def wipe(workdir: str) -> None:
    """Removes a previous run's results, the checkpoints first and ``config.json`` last (so that
    a process killed half-way leaves a directory that is still refused, or is empty)."""
    for name in (CHECKPOINT_DIR, CHUNK_DIR, TENSORBOARD_DIR, WANDB_DIR):
        shutil.rmtree(os.path.join(workdir, name), ignore_errors=True)
    results = (METRICS_FILE, "summary.json", "per_seed.npz", "curves.png", WANDB_ID_FILE)
    for name in (*results, CONFIG_FILE):
        if os.path.exists(os.path.join(workdir, name)):
            os.remove(os.path.join(workdir, name))


def prepare(
    workdir: str, config_json: dict, *, overwrite: bool, experiment: Experiment, num_chunks: int
) -> int:
    """Checks the work directory against this config; returns the chunks already done.

    Writes ``config.json`` only once every check has passed.
    """
    path = os.path.join(workdir, CONFIG_FILE)
    done = 0
    if not os.path.exists(path):
        # No config: any checkpoints or per-chunk files here belong to no known run (e.g. its
        # config.json was deleted); they must not be resumed into this one.
        wipe(workdir)
    else:
        previous = read_config_json(path)
        changed = sorted(
            k
            for k in set(previous) | set(config_json)
            if k not in RUN_CONTROL_FIELDS and previous.get(k) != config_json.get(k)
        )
        old_total, new_total = previous.get("total_steps"), config_json.get("total_steps")
        if changed and not overwrite:
            raise ConfigError(
                f"workdir {workdir} holds a run with a different config (fields differ: "
                f"{', '.join(changed)}); use another workdir or pass overwrite (--overwrite)"
            )
        horizon_changed = old_total != new_total and experiment.depends_on_total_steps
        if horizon_changed and not overwrite:
            raise ConfigError(
                f"config.total_steps changed from {old_total} to {new_total}, but this "
                f"experiment's schedules depend on total_steps (e.g. a decay to the end of "
                f"training), so the steps already taken would differ; use another workdir or "
                f"pass overwrite (--overwrite)"
            )
        if changed or horizon_changed:
            wipe(workdir)
        else:
            done = checkpoints_done(os.path.join(workdir, CHECKPOINT_DIR))
            if done > num_chunks:
                raise ConfigError(
                    f"workdir {workdir} holds a run of {done} chunks (total_steps "
                    f"{old_total}), more than config.total_steps = {new_total} asks for "
                    f"({num_chunks} chunks); use a larger total_steps, another workdir or "
                    f"--overwrite"
                )
    atomic_write(path, json.dumps(config_json, indent=2, sort_keys=True).encode())
    return done


def write_csv(path: str, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    atomic_write(path, buffer.getvalue().encode())


def remove_stray_temporaries(workdir: str) -> list[str]:
    """Removes the ``*.tmp-PID`` files that a process killed while writing left behind (under
    the lock no other process writes here); returns their names."""
    removed = []
    for folder in (workdir, os.path.join(workdir, CHUNK_DIR)):
        if not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            path = os.path.join(folder, name)
            if re.fullmatch(r".+\.tmp-\d+", name) and os.path.isfile(path):
                os.remove(path)
                removed.append(os.path.relpath(path, workdir))
    return sorted(removed)


def chunk_path(workdir: str, chunk: int) -> str:
    return os.path.join(workdir, CHUNK_DIR, f"chunk_{chunk:06d}.npz")


def read_chunks(workdir: str, num_chunks: int, names) -> list[dict[str, np.ndarray]]:
    """The per-seed metrics of chunks ``0 .. num_chunks - 1`` from their files.

    Raises ``ConfigError`` naming the first file that is missing or damaged (each ``.npz`` member
    carries a CRC-32, so flipped bytes show when it is read).
    """
    chunks = []
    for chunk in range(num_chunks):
        path = chunk_path(workdir, chunk)
        try:
            with np.load(path) as data:
                chunks.append({name: np.asarray(data[name]) for name in names})
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            raise ConfigError(
                f"{os.path.relpath(path, workdir)} in {workdir} is missing or damaged "
                f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); the results "
                f"of the chunks before the last checkpoint cannot be rebuilt without it: restore "
                f"the file, or rerun with --overwrite to start afresh"
            ) from None
    return chunks


def disk_full(error: BaseException | None) -> OSError | None:
    """The "no space left" error (``ENOSPC``, or ``EDQUOT``: a quota) in ``error``'s chain of
    causes, if there is one (a library such as orbax may raise its own error from it)."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return error
        error = error.__cause__ or error.__context__
    return None


def disk_full_message(workdir: str, num_chunks: int) -> str:
    """One line for a run stopped by a full disk: the file system, the work directory, what it
    still holds (every file is written whole or not at all) and how to go on."""
    path = os.path.abspath(workdir)
    mount = path
    while not os.path.ismount(mount):
        mount = os.path.dirname(mount)
    try:
        free = f"{shutil.disk_usage(path).free / 2**20:.0f} MiB free"
    except OSError:
        free = "free space unknown"
    done = checkpoints_done(os.path.join(workdir, CHECKPOINT_DIR))
    held = f"the checkpoint after chunk {done} of {num_chunks}" if done else "no checkpoint yet"
    return (
        f"no space left on the disk mounted at {mount} ({free}) while writing to {workdir}; it "
        f"holds {held}, and nothing written before is lost: free some space and rerun the same "
        f"command to resume"
    )
