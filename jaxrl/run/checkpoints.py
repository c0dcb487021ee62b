"""Checkpoints that are checked on restore: orbax saves plus a checksum of every array.

Each checkpoint ``<workdir>/checkpoints/<chunks done>`` holds two orbax items, ``state`` (the
carry) and ``checksum`` (JSON: two 32-bit sums per leaf of the carry's bits, computed when it is
saved), and, written by process 0 once orbax has finished, ``files.sha256``:
the SHA-256 of every file of the checkpoint. On restore the files are checked first (a missing,
truncated or changed file is found before orbax reads anything), then the arrays are read and
their sums computed again; any disagreement, or a failure to read, means the checkpoint is
damaged. A checkpoint without ``files.sha256`` (its writer died before writing it) counts as
damaged too. :func:`restore_latest`
then moves it aside to ``<workdir>/damaged_checkpoints/`` (nothing is deleted), says so in one
line, and tries the previous one; with none left the run starts from scratch. Either way the
run recomputes the chunks after the checkpoint it resumes from, so its results are those of a
run never interrupted.

The sums: for a leaf's bits as 32-bit words ``w_0 .. w_{n-1}`` (smaller types widened, wider
ones split), ``s1 = sum w_i`` and ``s2 = sum (2 i + 1) w_i``, both modulo 2^32. Integer sums are
exact, so they do not depend on how the batch is sharded; any change of one word changes ``s1``
(and of a word and its position, ``s2``). This is a check against damage, not against tampering.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator

import jax
import jax.numpy as jnp
import numpy as np

DAMAGED_DIR = "damaged_checkpoints"
FILES = "files.sha256"


def _file_digests(step_dir: str) -> dict[str, str]:
    digests = {}
    for root, _, names in os.walk(step_dir):
        for name in names:
            path = os.path.join(root, name)
            relative = os.path.relpath(path, step_dir)
            if relative == FILES:
                continue
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            digests[relative] = digest.hexdigest()
    return dict(sorted(digests.items()))


def write_file_digests(step_dir: str) -> None:
    """Writes ``files.sha256`` (JSON) into a finished checkpoint, atomically."""
    from jaxrl.run.workdir import atomic_write

    atomic_write(os.path.join(step_dir, FILES), json.dumps(_file_digests(step_dir)).encode())


def check_file_digests(step_dir: str) -> None:
    """Raises ``ValueError`` naming the first file that is missing, added or changed."""
    path = os.path.join(step_dir, FILES)
    if not os.path.exists(path):
        raise ValueError(f"{FILES} is missing (its writer stopped before finishing it)")
    with open(path, "rb") as f:
        expected = json.loads(f.read().decode())
    actual = _file_digests(step_dir)
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            raise ValueError(f"{name} is missing")
        if name not in expected:
            raise ValueError(f"{name} was not part of it")
        if actual[name] != expected[name]:
            raise ValueError(f"{name} does not match its SHA-256")


def _words(x: jax.Array) -> jax.Array:
    """The bits of ``x`` as a flat uint32 array."""
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.uint8)
    size = jnp.dtype(x.dtype).itemsize
    if size == 4:
        words = jax.lax.bitcast_convert_type(x, jnp.uint32)
    elif size == 8:
        words = jax.lax.bitcast_convert_type(x, jnp.uint32)  # a trailing axis of 2 words
    elif size == 2:
        words = jax.lax.bitcast_convert_type(x, jnp.uint16).astype(jnp.uint32)
    else:
        words = jax.lax.bitcast_convert_type(x, jnp.uint8).astype(jnp.uint32)
    return words.reshape(-1)


@jax.jit
def _sums(leaves):
    out = []
    for leaf in leaves:
        words = _words(leaf)
        weights = jnp.arange(words.shape[0], dtype=jnp.uint32) * jnp.uint32(2) + jnp.uint32(1)
        out.append(jnp.stack([jnp.sum(words, dtype=jnp.uint32), jnp.sum(words * weights)]))
    return out


_BLOCK = 1 << 16  # words per row of the host's weighted sum


def _host_sums(leaf) -> np.ndarray:
    """:func:`_sums` of one leaf in NumPy: the same words and the same sums modulo 2^32.

    Without a copy of the leaf widened to 32-bit words (a replay buffer of MinAtar frames is
    tens of megabytes of bytes): the words are summed in uint64, whose wrap-around modulo 2^64
    keeps every sum right modulo 2^32. The weighted sum ``sum_i i w_i`` is taken by rows of
    ``B`` words, ``i = b B + j``: ``B sum_b b S_b + sum_j j T_j`` with ``S_b`` the rows' sums and
    ``T_j`` the columns' (the words after the last whole row added one by one)."""
    x = np.ascontiguousarray(np.asarray(leaf)).reshape(-1)
    if x.dtype == np.bool_:
        x = x.view(np.uint8)
    words = x.view({1: np.uint8, 2: np.uint16}.get(x.dtype.itemsize, np.uint32))
    n = words.shape[0]
    rows = n // _BLOCK
    whole = words[: rows * _BLOCK].reshape(rows, _BLOCK)
    rest = words[rows * _BLOCK :].astype(np.uint64)
    total = int(np.sum(words, dtype=np.uint64))
    index = (
        int(np.sum(np.arange(rows, dtype=np.uint64) * whole.sum(axis=1, dtype=np.uint64))) * _BLOCK
        + int(np.sum(np.arange(_BLOCK, dtype=np.uint64) * whole.sum(axis=0, dtype=np.uint64)))
        + int(np.sum(np.arange(rows * _BLOCK, n, dtype=np.uint64) * rest))
    )
    mask = (1 << 32) - 1
    return np.array([total & mask, (2 * index + total) & mask], np.uint32)


def checksum(tree) -> dict[str, list[int]]:
    """``{leaf path: [s1, s2]}`` of a pytree of (possibly sharded, multi-process) arrays.

    One process sums on the host (NumPy: no program to compile for each carry's structure);
    several sum on the devices, where every process holds only its shards.
    """
    paths_leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    if jax.process_count() == 1:
        host = [_host_sums(leaf) for _, leaf in paths_leaves]
    else:
        sums = _sums([leaf for _, leaf in paths_leaves])
        # The sums are replicated: every process reads its own copy.
        host = [np.asarray(s.addressable_data(0)) for s in sums]
    return {
        jax.tree_util.keystr(path): [int(v) for v in values]
        for (path, _), values in zip(paths_leaves, host, strict=True)
    }


def save(manager, step: int, carry, *, is_writer: bool) -> None:
    """Saves ``carry`` and its checksum as checkpoint ``step`` (synchronously), then the SHA-256
    of its files (process 0, once every process has written its part).

    Ctrl-C during the save is held back until the checkpoint is complete, then raised (see
    :func:`interrupts_deferred`)."""
    import orbax.checkpoint as ocp

    with interrupts_deferred():
        manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(carry), checksum=ocp.args.JsonSave(checksum(carry))
            ),
        )
        manager.wait_until_finished()
        _barrier(f"jaxrl checkpoint {step} saved")
        if is_writer:
            write_file_digests(os.path.join(str(manager.directory), str(step)))
        _barrier(f"jaxrl checkpoint {step} digests")


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Runs the block with SIGINT (Ctrl-C) recorded instead of handled; the handler that was in
    place (Python's default raises ``KeyboardInterrupt``) is called when the block ends, if one
    came.

    Why: orbax's ``wait_until_finished`` catches every exception raised while it joins its
    finalize thread, ``KeyboardInterrupt`` included, and only logs it, so a Ctrl-C that lands
    there would be lost and the run would go on. Held back, it stops the run a few
    milliseconds later with the checkpoint complete. Only in the main thread and only over a
    handler written in Python (a signal ignored stays ignored).
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        previous(signal.SIGINT, None)


def steps(directory: str) -> list[int]:
    """The finished checkpoints in ``directory`` (orbax renames a finished one to its step)."""
    if not os.path.isdir(directory):
        return []
    return sorted(int(name) for name in os.listdir(directory) if name.isdigit())


def _all_processes(flag: bool) -> bool:
    """Whether ``flag`` holds on every process (they must all decide alike)."""
    if jax.process_count() == 1:
        return flag
    from jax.experimental import multihost_utils

    flags = multihost_utils.process_allgather(np.asarray([int(flag)], np.int32))
    return bool(np.all(np.asarray(flags)))


def _barrier(name: str) -> None:
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def restore(directory: str, step: int, abstract):
    """Checkpoint ``step`` restored onto ``abstract`` (shapes, dtypes and shardings) and checked.

    Raises ``ValueError`` if a file does not match its SHA-256 or the arrays their checksum;
    whatever orbax raises if it cannot be read.
    """
    import orbax.checkpoint as ocp

    check_file_digests(os.path.join(directory, str(step)))
    with ocp.Checkpointer(ocp.CompositeCheckpointHandler()) as checkpointer:
        restored = checkpointer.restore(
            os.path.abspath(os.path.join(directory, str(step))),
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), checksum=ocp.args.JsonRestore()
            ),
        )
    expected, carry = restored["checksum"], restored["state"]
    actual = checksum(carry)
    if actual != expected:
        bad = sorted(k for k in set(actual) | set(expected) if actual.get(k) != expected.get(k))
        raise ValueError(f"checksum mismatch in {', '.join(bad[:3])}")
    return carry


def restore_latest(
    workdir: str,
    directory: str,
    abstract,
    *,
    max_step: int,
    is_writer: bool,
    log: Callable[[str], None],
):
    """The newest checkpoint at most ``max_step`` that reads back intact: ``(step, carry)``, or
    ``(0, None)`` when there is none. Damaged ones are moved to ``<workdir>/damaged_checkpoints``
    (by process 0) with one line each."""
    for step in reversed([s for s in steps(directory) if s <= max_step]):
        try:
            carry, problem = restore(directory, step, abstract), None
        except Exception as e:  # noqa: BLE001 (any failure to read it back means damage)
            carry, problem = None, _first_line(e)
        if _all_processes(problem is None):
            return step, carry
        if is_writer:
            target = os.path.join(workdir, DAMAGED_DIR, f"{step}-{time.time_ns()}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.move(os.path.join(directory, str(step)), target)
            log(
                f"checkpoint after chunk {step} is damaged ({problem or 'on another process'}); "
                f"moved to {os.path.relpath(target, workdir)}, trying the previous one"
            )
        _barrier(f"jaxrl damaged checkpoint {step}")
    return 0, None
