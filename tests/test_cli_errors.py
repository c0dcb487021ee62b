"""Bad input to every binary gets one line on stderr naming the problem, exit code 1 or 2, and
no traceback (the reliability issue's table)."""

import fcntl
import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Q = "--config=jaxrl/configs/q_learning.py"
TINY = ["--config=jaxrl/configs/mean_estimation.py", "--config.num_seeds=2"]
TINY += ["--config.total_steps=20", "--config.chunk_steps=10"]


def _run(module, *args, timeout=240):
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, JAX_PLATFORMS="cpu"),
    )
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny run, launched once for the session (the xdist workers share the parent of
    their temporary directories, and a lock lets the first one launch it); each test damages a
    copy of it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    workdir = root / "cli_errors_finished_run"
    with open(f"{workdir}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (workdir / "summary.json").exists():
            shutil.rmtree(workdir, ignore_errors=True)
            code, _, err = _run("experiments.train", f"--workdir={workdir}", *TINY)
            assert code == 0, err[-2000:]
    return workdir


def _finished_copy(tmp_path, finished_run):
    workdir = tmp_path / "run"
    shutil.copytree(finished_run, workdir)
    return workdir


def _prepared_workdir(tmp_path, finished_run, fault):
    """A finished tiny run, then a fault: ``config.json`` not JSON, or a per-chunk file gone."""
    workdir = _finished_copy(tmp_path, finished_run)
    if fault == "config":
        (workdir / "config.json").write_text("{not json")
    else:
        os.remove(workdir / "per_seed_chunks" / "chunk_000000.npz")
    return workdir


# (name, module, args (with {file} a regular file and {dir} a fresh directory), exit code,
#  the start of the one line on stderr)
CASES = [
    (
        "unknown config field",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.num_seedz=4"],
        2,
        "error: --config.num_seedz: config has no field 'num_seedz' (did you mean 'num_seeds'",
    ),
    (
        "unknown nested field",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.env.shap=(3,3)"],
        2,
        "error: --config.env.shap: config.env has no field 'shap' (did you mean 'shape'?)",
    ),
    (
        "sweep of a field the config does not sweep",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.sweep.epsilon=(0.1,0.2)"],
        2,
        "error: --config.sweep.epsilon: config.sweep has no field 'epsilon' (epsilon is a "
        "hyperparameter here, config.hparams.epsilon; to sweep it, add it to config.sweep",
    ),
    (
        "a hyperparameter the config sweeps",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.hparams.learning_rate=-0.1"],
        2,
        "error: --config.hparams.learning_rate: learning_rate is swept by this config "
        "(config.sweep.learning_rate = (0.02, 0.05, 0.1, 0.2)), whose values would replace this "
        "one; to run it alone, pass --config.sweep.learning_rate=(-0.1,)",
    ),
    (
        "config file that does not exist",
        "experiments.train",
        ["--config=jaxrl/configs/no_such.py", "--workdir={dir}"],
        2,
        "error: --config: cannot load the config file ([Errno 2] No such file or directory",
    ),
    (
        "a value of the wrong type",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.num_seeds=abc"],
        2,
        "error: flag --config.num_seeds=abc: invalid literal for int()",
    ),
    (
        "unknown flag",
        "experiments.train",
        [Q, "--worktir={dir}"],
        2,
        "error: Unknown command line flag 'worktir'. Did you mean: workdir ?",
    ),
    (
        "missing workdir",
        "experiments.train",
        [Q],
        2,
        "error: flag --workdir=None: Flag --workdir must have a value other than None.",
    ),
    (
        "workdir that is a file",
        "experiments.train",
        [*TINY, "--workdir={file}"],
        1,
        "error: workdir {file} cannot be used: File exists (it must be a directory this process",
    ),
    (
        "workdir below a file",
        "experiments.train",
        [*TINY, "--workdir={file}/sub"],
        1,
        "error: workdir {file}/sub cannot be used: Not a directory",
    ),
    (
        "out-of-domain value",
        "experiments.train",
        [Q, "--workdir={dir}", "--config.hparams.epsilon=1.5"],
        1,
        "error: hparams.epsilon = 1.5 is outside its domain: it must be a real number in [0, 1]",
    ),
    (
        "book: unknown config field",
        "experiments.book",
        ["--workdir={dir}", "--config.gamna=0.5"],
        2,
        "error: --config.gamna: config has no field 'gamna' (did you mean 'gamma'?)",
    ),
    (
        "book: workdir below a file",
        "experiments.book",
        ["--workdir={file}/x"],
        1,
        "error: workdir {file}/x cannot be used: Not a directory",
    ),
    (
        "evaluate: a work directory without a run",
        "experiments.evaluate",
        ["--workdir={dir}"],
        1,
        "error: workdir '{dir}' holds no run (no config.json)",
    ),
    (
        "benchmark: --size=0",
        "experiments.benchmarks.value_iteration",
        ["--size=0"],
        2,
        "error: flag --size=0: --size must be an integer >= 2",
    ),
    (
        "benchmark: --forbidden_prob=2",
        "experiments.benchmarks.value_iteration",
        ["--forbidden_prob=2"],
        2,
        "error: flag --forbidden_prob=2.0: --forbidden_prob must be in [0, 1]",
    ),
    (
        "benchmark: --num_envs=0",
        "experiments.benchmarks.gridworld_env",
        ["--num_envs=0"],
        2,
        "error: flag --num_envs=0: --num_envs must be an integer >= 1",
    ),
    (
        "benchmark: --scaling=1,x",
        "experiments.benchmarks.tabular_sweep",
        ["--scaling=1,x"],
        2,
        "error: flag --scaling=['1', 'x']: --scaling must be a comma-separated list of positive",
    ),
]


@pytest.mark.parametrize("name, module, args, code, line", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_line(tmp_path, name, module, args, code, line):
    regular = tmp_path / "a_file"
    regular.write_text("")
    fill = {"file": str(regular), "dir": str(tmp_path / "w")}
    returncode, _, err = _run(module, *(a.format(**fill) for a in args))
    lines = [text for text in err.splitlines() if text.strip()]
    assert returncode == code, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    assert len(lines) == 1 and lines[0].startswith(line.format(**fill)), err[-2000:]


@pytest.mark.parametrize("fault", ["config", "chunk"])
def test_damaged_run_files_get_one_line_naming_the_file(tmp_path, finished_run, fault):
    workdir = _prepared_workdir(tmp_path, finished_run, fault)
    returncode, _, err = _run("experiments.train", f"--workdir={workdir}", *TINY)
    lines = [text for text in err.splitlines() if text.strip()]
    assert returncode == 1 and "Traceback" not in err and len(lines) == 1, err[-2000:]
    if fault == "config":
        assert re.match(
            rf"error: {re.escape(str(workdir))}/config.json cannot be read as JSON", lines[0]
        )
    else:
        assert lines[0].startswith(
            f"error: per_seed_chunks/chunk_000000.npz in {workdir} is missing or damaged"
        )
        assert "--overwrite" in lines[0]


def test_a_damaged_checkpoint_is_one_line_through_the_launcher(tmp_path, finished_run):
    """The launcher reports a damaged checkpoint in one line on stdout and carries on; nothing
    on stderr (orbax's failed read leaves no stray traceback behind)."""
    workdir = _finished_copy(tmp_path, finished_run)
    for path in (workdir / "checkpoints" / "2" / "state" / "d").iterdir():
        data = bytearray(path.read_bytes())
        for i in range(len(data) // 2, min(len(data), len(data) // 2 + 64)):
            data[i] ^= 0xFF
        path.write_bytes(data)
    code, out, err = _run("experiments.train", f"--workdir={workdir}", *TINY)
    assert code == 0 and "Traceback" not in err and not err.strip(), err[-2000:]
    assert "checkpoint after chunk 2 is damaged (" in out
    assert "no checkpoint could be read back: starting from scratch" in out


def test_a_full_disk_is_one_line_and_the_rerun_resumes(tmp_path, capsys, monkeypatch):
    """A checkpoint that cannot be written for lack of space (orbax's save raising
    ``OSError(ENOSPC)``, as a full disk makes it) stops the launcher with one line naming the
    disk, the work directory and the checkpoint it still holds; once there is space again, the
    same command resumes from that checkpoint and finishes."""
    import errno

    import orbax.checkpoint as ocp

    from tests.run.binary import train_in_process

    workdir = tmp_path / "w"
    flags = (f"--workdir={workdir}", *TINY[:2], "--config.total_steps=40")
    flags += ("--config.chunk_steps=10", "--config.checkpoint_every=1")
    save = ocp.CheckpointManager.save

    def full_at_the_third(self, step, *args, **kwargs):
        if step == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", full_at_the_third)
    with pytest.raises(SystemExit) as stopped:
        train_in_process(*flags)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert stopped.value.code == 1 and len(lines) == 1, err[-2000:]
    assert re.fullmatch(
        rf"error: no space left on the disk mounted at /\S* \(\d+ MiB free\) while writing to "
        rf"{re.escape(str(workdir))}; it holds the checkpoint after chunk 2 of 4, and nothing "
        r"written before is lost: free some space and rerun the same command to resume",
        lines[0],
    ), lines[0]
    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    train_in_process(*flags)
    out = capsys.readouterr().out
    assert "resuming from the checkpoint after chunk 2 of 4" in out and "chunk 4/4" in out
    assert (workdir / "summary.json").exists()
