"""Multi-process runs on one machine: two processes of the launcher joined by jax.distributed
(CPU, gloo collectives) give the single-process results, survive a SIGKILL of both, and stop
with a clear error when one of them dies."""

import signal
import socket
import time

import numpy as np
import pytest

from jaxrl import run
from tests.run.binary import Binary, train

# 20 chunks, a checkpoint every 5: a run killed once the checkpoint after chunk 10 is there still
# has 10 chunks, 2 checkpoints and its final files to write.
FLAGS = [
    "--config=jaxrl/configs/q_learning.py",
    "--config.num_seeds=4",
    "--config.total_steps=40000",
    "--config.chunk_steps=2000",
    "--config.checkpoint_every=5",
    "--config.sweep.learning_rate=(0.1,0.2)",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """The environment of a pair's processes: a persistent compilation cache of this module's
    own, so that the pairs after the first read their programs back instead of compiling them
    (process 0 writes them; the launcher itself is unchanged)."""
    return {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("jax_cache")),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }


def _start_pair(workdir, cache, *extra):
    port = _free_port()
    common = [
        f"--workdir={workdir}",
        *FLAGS,
        *extra,
        "--cpu_devices=1",
        f"--coordinator_address=127.0.0.1:{port}",
        "--num_processes=2",
    ]
    return [
        Binary(*common, f"--process_id={i}", env=cache, log_path=f"{workdir}.process{i}")
        for i in range(2)
    ]


def _assert_same_results(a, b):
    a, b = run.result_arrays(str(a)), run.result_arrays(str(b))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("single") / "w"
    code, _, err = train(workdir, *FLAGS)
    assert code == 0, err[-3000:]
    return workdir


def test_two_processes_equal_one_and_resume_after_both_are_killed(tmp_path, single, cache):
    """A pair runs until its checkpoint after chunk 10, both processes are killed, and a new
    pair resumes: every chunk's results, those of the first pair (chunks 1-10) and of the
    second (11-20), equal the single process's bit for bit. (One pair run to the end without a
    kill would check nothing more: its chunks are computed as the first pair's are.)"""
    workdir = tmp_path / "killed"
    pair = _start_pair(workdir, cache)
    deadline = time.time() + 240
    while not (workdir / "checkpoints" / "10").exists():
        assert all(p.proc.poll() is None for p in pair), "the run ended before it was killed"
        assert time.time() < deadline
        time.sleep(0.01)
    for p in pair:
        p.proc.send_signal(signal.SIGKILL)
    for p in pair:
        p.finish(timeout=60)
    assert not (workdir / "summary.json").exists()
    results = [p.finish(timeout=240) for p in _start_pair(workdir, cache)]
    for code, _, err in results:
        assert code == 0, err[-3000:]
    assert "resuming from the checkpoint after chunk" in results[0][1]
    assert "2 settings x 4 seeds = 8 runs on 2 cpu device(s)" in results[0][1]
    assert "chunk " not in results[1][1]  # process 0 alone reports and writes
    _assert_same_results(single, workdir)


def test_when_one_process_dies_the_other_stops_with_a_clear_error(tmp_path, cache):
    workdir = tmp_path / "w"
    # A long run, so that it is still going when process 1 is killed.
    pair = _start_pair(
        workdir, cache, "--config.total_steps=20000000", "--config.checkpoint_every=1000"
    )
    deadline = time.time() + 240
    while not (workdir / "metrics.csv").exists() or (workdir / "metrics.csv").stat().st_size == 0:
        assert all(p.proc.poll() is None for p in pair), "the run ended before it was killed"
        assert time.time() < deadline
        time.sleep(0.05)
    pair[1].proc.send_signal(signal.SIGKILL)
    killed = time.time()
    code, _, err = pair[0].finish(timeout=150)
    pair[1].finish(timeout=30)
    assert time.time() - killed < 150
    assert code == 1, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("error: ")]
    assert lines and lines[-1].startswith(
        "error: another process of this run stopped or cannot be reached"
    ), err[-3000:]
