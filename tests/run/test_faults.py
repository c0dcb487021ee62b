"""Runs that survive faults: damaged checkpoints and result files, stray temporaries, a second
process, and a SIGKILL in the middle of each kind of write.

The reference is a run never interrupted. Each fault is applied to a run interrupted after chunk
5 of 6 (its checkpoints cover chunks 2 and 4), and the rerun must either end with results
bit-identical to the reference, or refuse in one line that names the file, with no file of the
previous run lost.
"""

import csv
import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jaxrl import run
from tests.run.binary import ROOT, Binary
from tests.run.toy import toy_experiment, toy_module_config


class Crash(Exception):
    pass


def _crash_after_chunk_5(line):
    if line.startswith("chunk 5/"):
        raise Crash


def _quiet(_):
    pass


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """``(clean, interrupted)``: an uninterrupted run, and one interrupted after chunk 5."""
    base = tmp_path_factory.mktemp("faults")
    run.run(toy_experiment(10), toy_module_config(), str(base / "clean"), log=_quiet)
    with pytest.raises(Crash):
        run.run(
            toy_experiment(10),
            toy_module_config(),
            str(base / "interrupted"),
            log=_crash_after_chunk_5,
        )
    assert sorted(os.listdir(base / "interrupted" / "checkpoints")) == ["2", "4"]
    return base / "clean", base / "interrupted"


def _copy(source, tmp_path):
    target = tmp_path / "w"
    shutil.copytree(source, target)
    return target


def _files(root):
    return sorted(
        os.path.relpath(p, root)
        for p in glob.glob(f"{root}/**", recursive=True)
        if os.path.isfile(p)
    )


def _csv_text(workdir):
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        return list(csv.reader(f))


def _assert_same_as(clean, workdir):
    a, b = run.result_arrays(str(clean)), run.result_arrays(str(workdir))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert _csv_text(clean) == _csv_text(workdir)


def _damage(path, how):
    if how == "delete":
        os.remove(path)
        return
    data = bytearray(open(path, "rb").read())
    if how == "flip":
        start = max(0, len(data) // 2 - 32)
        for i in range(start, min(len(data), start + 64)):
            data[i] ^= 0xFF
    elif how == "truncate":
        data = data[: len(data) // 2]
    elif how == "empty":
        data = bytearray()
    with open(path, "wb") as f:
        f.write(data)


def _checkpoint_files():
    """Every kind of file of a checkpoint (the data files by their folder)."""
    return [
        "_CHECKPOINT_METADATA",
        "commit_success.txt",
        "checksum/metadata",
        "state/_METADATA",
        "state/_sharding",
        "state/manifest.ocdbt",
        "state/ocdbt.process_0/manifest.ocdbt",
        "state/ocdbt.process_0/d/*",
        "state/d/*",
        "state/array_metadatas/process_0",
    ]


CASES = [(name, "flip") for name in _checkpoint_files()] + [
    ("state/ocdbt.process_0/d/*", "truncate"),
    ("state/ocdbt.process_0/d/*", "empty"),
    ("state/ocdbt.process_0/d/*", "delete"),
    ("state/_METADATA", "delete"),
    ("state/manifest.ocdbt", "truncate"),
    ("checksum/metadata", "empty"),
    ("_CHECKPOINT_METADATA", "delete"),
]


@pytest.mark.parametrize("name, how", CASES)
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, reference, name, how):
    clean, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    paths = sorted(glob.glob(str(workdir / "checkpoints" / "4" / name)), key=os.path.getsize)
    assert paths, name
    before = _files(workdir / "checkpoints" / "4")
    _damage(paths[-1], how)  # the largest file of that kind
    lines = []
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=lines.append)
    _assert_same_as(clean, workdir)
    # Every file of a checkpoint has its SHA-256 in files.sha256: any damage is seen before
    # orbax reads anything, reported in one line naming the file, and the previous checkpoint
    # is used.
    relative = os.path.relpath(paths[-1], workdir / "checkpoints" / "4")
    verb = "is missing" if how == "delete" else "does not match its SHA-256"
    expected = f"checkpoint after chunk 4 is damaged (ValueError: {relative} {verb}); moved to "
    assert any(line.startswith(expected) for line in lines), lines
    assert "resuming from the checkpoint after chunk 2 of 6" in lines
    # Nothing of the damaged checkpoint is lost: it was moved aside, whole.
    (moved,) = glob.glob(str(workdir / "damaged_checkpoints" / "4-*"))
    assert _files(moved) == (before if how != "delete" else [f for f in before if f != relative])


def test_a_checkpoint_whose_arrays_do_not_match_their_checksum_is_not_used(tmp_path, reference):
    """A checkpoint whose files are consistent (their SHA-256 match) but whose arrays are not
    what was saved: the stored sums of one leaf are changed and files.sha256 rewritten, so only
    the check of the arrays read back can see it."""
    import json

    from jaxrl.run import checkpoints

    clean, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    path = workdir / "checkpoints" / "4" / "checksum" / "metadata"
    sums = json.loads(path.read_text())
    leaf = sorted(sums)[0]
    sums[leaf][0] = (sums[leaf][0] + 1) % 2**32
    path.write_text(json.dumps(sums))
    checkpoints.write_file_digests(str(workdir / "checkpoints" / "4"))
    lines = []
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=lines.append)
    assert any(
        line.startswith("checkpoint after chunk 4 is damaged (ValueError: checksum mismatch in ")
        for line in lines
    ), lines
    assert "resuming from the checkpoint after chunk 2 of 6" in lines
    _assert_same_as(clean, workdir)


def test_every_checkpoint_damaged_starts_from_scratch(tmp_path, reference):
    clean, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    for step in ("2", "4"):
        for path in glob.glob(str(workdir / "checkpoints" / step / "state/d/*")):
            _damage(path, "flip")
    lines = []
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=lines.append)
    assert "no checkpoint could be read back: starting from scratch" in lines
    assert len(glob.glob(str(workdir / "damaged_checkpoints" / "*"))) == 2
    _assert_same_as(clean, workdir)


@pytest.mark.parametrize("how", ["truncate", "flip", "delete"])
def test_a_damaged_metrics_csv_is_rebuilt_from_the_per_chunk_files(tmp_path, reference, how):
    clean, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    _damage(str(workdir / "metrics.csv"), how)
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=_quiet)
    _assert_same_as(clean, workdir)


@pytest.mark.parametrize("how", ["delete", "flip", "truncate"])
def test_a_damaged_per_chunk_file_is_named_and_nothing_is_lost(tmp_path, reference, how):
    _, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    _damage(str(workdir / "per_seed_chunks" / "chunk_000001.npz"), how)
    before = {f: open(workdir / f, "rb").read() for f in _files(workdir) if ".lock" not in f}
    with pytest.raises(run.ConfigError) as error:
        run.run(toy_experiment(10), toy_module_config(), str(workdir), log=_quiet)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("per_seed_chunks/chunk_000001.npz in ") and "--overwrite" in message
    after = {f: open(workdir / f, "rb").read() for f in _files(workdir) if ".lock" not in f}
    assert after == before  # refused before touching anything


def test_a_config_json_that_is_not_json_is_named(tmp_path, reference):
    _, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    _damage(str(workdir / "config.json"), "flip")
    with pytest.raises(run.ConfigError, match=r"config.json cannot be read as JSON .*--overwrite"):
        run.run(toy_experiment(10), toy_module_config(), str(workdir), log=_quiet)
    assert os.path.isdir(workdir / "checkpoints" / "4")


def test_stray_temporaries_of_a_killed_process_are_removed(tmp_path, reference):
    clean, interrupted = reference
    workdir = _copy(interrupted, tmp_path)
    for name in (
        "per_seed.npz.tmp-4242",
        "metrics.csv.tmp-17",
        "per_seed_chunks/chunk_000005.npz.tmp-9",
    ):
        (workdir / name).write_bytes(b"\0" * 262_144)
    lines = []
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=lines.append)
    assert "removed 3 temporary file(s) of an interrupted run" in lines
    assert not [f for f in _files(workdir) if ".tmp-" in f]
    _assert_same_as(clean, workdir)


# ---------------------------------------------------------------------------------------------
# SIGKILL in the middle of each kind of write, and a second process, through subprocesses.

KILL_SCRIPT = r"""
import os, signal, sys
kind, workdir = sys.argv[1], sys.argv[2]
targets = {"chunk": ("chunk_000002.npz", 1), "csv": ("metrics.csv", 3),
           "config": ("config.json", 1), "summary": ("summary.json", 1),
           "per_seed": ("per_seed.npz", 1), "curves": ("curves.png", 1),
           "digests": ("files.sha256", 2)}
if kind == "checkpoint":  # orbax renames a finished checkpoint's temporary folder into place
    from orbax.checkpoint._src.path import async_path
    real_rename = async_path.rename
    async def rename(src, dst):
        if os.path.basename(str(dst)) == "4":
            os.kill(os.getpid(), signal.SIGKILL)
        return await real_rename(src, dst)
    async_path.rename = rename
else:  # every other file is written to NAME.tmp-PID, then os.replace'd into place
    name, nth = targets[kind]
    real_replace, seen = os.replace, [0]
    def replace(src, dst):
        if os.path.basename(dst) == name:
            seen[0] += 1
            if seen[0] == nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst)
    os.replace = replace
from jaxrl import run
from tests.run.toy import toy_experiment, toy_module_config
run.run(toy_experiment(10), toy_module_config(), workdir, log=lambda s: None)
"""


@pytest.fixture(scope="module")
def kill_env(tmp_path_factory):
    """The environment of the killed processes: a persistent compilation cache of this module's
    own, so that each after the first reads the same programs back instead of compiling them."""
    return {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("jax_cache")),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }


@pytest.mark.parametrize(
    "kind", ["config", "chunk", "csv", "checkpoint", "digests", "per_seed", "summary", "curves"]
)
def test_a_sigkill_during_each_kind_of_write_resumes_to_identical_results(
    tmp_path, reference, kill_env, kind
):
    clean, _ = reference
    workdir = tmp_path / "w"
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, kind, str(workdir)],
        cwd=ROOT,
        env=kill_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    assert [f for f in _files(workdir) if ".tmp-" in f or "orbax-checkpoint-tmp" in f]
    run.run(toy_experiment(10), toy_module_config(), str(workdir), log=_quiet)
    # No temporary file is left, except inside a checkpoint set aside whole as damaged (a kill
    # while writing its files.sha256 leaves it without one).
    left = [f for f in _files(workdir) if ".tmp-" in f or "orbax-checkpoint-tmp" in f]
    assert all(f.startswith("damaged_checkpoints/") for f in left), left
    _assert_same_as(clean, workdir)


def test_a_second_process_on_a_workdir_is_refused_naming_the_first(tmp_path):
    workdir = tmp_path / "w"
    flags = [
        f"--workdir={workdir}",
        "--config=jaxrl/configs/q_learning.py",
        "--config.num_seeds=4",
        "--config.total_steps=100000000",
        "--config.chunk_steps=10000",
        "--config.checkpoint_every=1000000",
    ]
    first = Binary(*flags, log_path=f"{workdir}.first")
    try:
        deadline = time.time() + 120
        while not (workdir / "config.json").exists():
            assert first.proc.poll() is None and time.time() < deadline
            time.sleep(0.05)
        # Stopped, the first process still holds the workdir (its lock is the kernel's), and
        # leaves the CPU to the second one.
        first.proc.send_signal(signal.SIGSTOP)
        second = Binary(*flags, log_path=f"{workdir}.second")
        code, _, err = second.finish(timeout=120)
        assert code == 1
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines == [
            f"error: workdir {workdir} is in use by process {first.proc.pid} on host "
            f"{os.uname().nodename}; wait for it to finish, or use another workdir"
        ], err[-2000:]
    finally:
        first.proc.kill()
        first.finish(timeout=60)


def test_the_host_checksum_is_the_device_checksum():
    """One process sums a checkpoint's words in NumPy, several on the devices (jitted): both
    give the same two sums for every dtype a carry holds, a sharded leaf included, so a
    checkpoint written by either reads back under the other."""
    import jax
    import jax.numpy as jnp
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    from jaxrl.run import checkpoints

    rng = np.random.default_rng(0)
    mesh = Mesh(np.asarray(jax.devices()[:1]), ("batch",))
    sharded = jax.device_put(
        jnp.asarray(rng.normal(size=(4, 3)), jnp.float32),
        NamedSharding(mesh, PartitionSpec("batch")),
    )
    tree = {
        "f32": jnp.asarray(rng.normal(size=(5, 7)) * 1e6, jnp.float32),
        "i32": jnp.asarray(rng.integers(-(2**31), 2**31 - 1, size=(1000,)), jnp.int32),
        "u32": jnp.asarray(rng.integers(0, 2**32, size=(3, 2)), jnp.uint32),
        "bool": jnp.asarray(rng.random(9) < 0.5),
        "bf16": jnp.asarray(rng.normal(size=(6,)), jnp.bfloat16),
        "u8": jnp.asarray(rng.integers(0, 256, size=(11,)), jnp.uint8),
        "scalar": jnp.float32(-0.0),
        "sharded": sharded,
        # over the host's rows of 2^16 words, with a partial row after them
        "frames": jnp.asarray(rng.integers(0, 256, size=(3 * 2**16 + 12_345,)), jnp.uint8),
        "long": jnp.asarray(rng.normal(size=(2**16 + 7,)), jnp.float32),
    }
    leaves = jax.tree.leaves(tree)
    device = [np.asarray(s).tolist() for s in checkpoints._sums(leaves)]
    host = [checkpoints._host_sums(leaf).tolist() for leaf in leaves]
    assert host == device
    assert list(checkpoints.checksum(tree).values()) == device


class _ManagerThatSwallowsInterrupts:
    """Orbax's checkpoint manager as far as ``checkpoints.save`` uses it, with the flaw of its
    ``wait_until_finished``: every exception raised while it waits, ``KeyboardInterrupt``
    included, is caught and only logged. Ctrl-C arrives during that wait."""

    def __init__(self, directory):
        self.directory = directory

    def save(self, step, args):
        os.makedirs(os.path.join(self.directory, str(step)))
        with open(os.path.join(self.directory, str(step), "state"), "w") as f:
            f.write("saved")

    def wait_until_finished(self):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler runs here, in this thread (the main one)
        except BaseException:  # noqa: BLE001 - orbax's own (checkpoint_manager.py)
            pass


def test_ctrl_c_during_a_checkpoints_wait_stops_the_run_once_it_is_saved(tmp_path):
    """A Ctrl-C that lands inside orbax's wait is not lost (the launcher's Ctrl-C test once saw
    the run go on): it is raised when the checkpoint is complete, its digests written, and
    SIGINT has its default handler again."""
    from jaxrl.run import checkpoints

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        manager = _ManagerThatSwallowsInterrupts(str(tmp_path))
        with pytest.raises(KeyboardInterrupt):
            checkpoints.save(manager, 3, {"x": np.arange(3.0)}, is_writer=True)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert sorted(os.listdir(tmp_path / "3")) == [checkpoints.FILES, "state"]
