"""The launcher ``python -m experiments.train``, in subprocesses: a flax + optax agent defined
under tests/ (product sweep with an integer hyperparameter, 4 environments per seed, a may-be-NaN
metric) run by its dotted path, resumed after SIGKILL and extended; one-line errors; quiet
output; the default CPU device layout; sharding over 4 forced CPU devices."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from experiments import launch
from jaxrl import run
from tests.run.binary import ROOT, Binary, train

FLAX = ["--config=tests/run/flax_agent_config.py"]


def _log_lines(err: str) -> list[str]:
    """absl INFO log lines (``I1202 12:00:00.000000 ...``) in a process's stderr. (Warnings and
    errors still show by default, and a future library's deprecation notices are no log lines.)"""
    return [line for line in err.splitlines() if re.match(r"^I\d{4} \d\d:\d\d", line)]


def _csv(workdir):
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_a_flax_agent_outside_jaxrl_runs_resumes_after_sigkill_and_extends(tmp_path):
    # Its four launches compile the same programs: the first writes them to a persistent
    # compilation cache of this test's own, the others read them back (the launcher is unchanged).
    cache = {
        "JAX_COMPILATION_CACHE_DIR": str(tmp_path / "jax_cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
    }
    code, out, err = train(tmp_path / "clean", *FLAX, env=cache)
    assert code == 0, err[-3000:]
    # Quiet: the compile line, one line per chunk, the final lines; nothing from the libraries.
    lines = out.strip().splitlines()
    assert lines[0].startswith("compiling: 4 settings x 2 seeds = 8 runs on ")
    assert lines[1].startswith("compiled in ")
    assert sum(line.startswith("chunk ") for line in lines) == 20
    assert lines[-1].startswith("wrote results to") and len(lines) == 2 + 20 + 4 + 1
    assert not _log_lines(err), err[-2000:]
    clean = run.result_arrays(str(tmp_path / "clean"))
    # x-axes count environment steps: 4 environments per seed, 2 training steps per chunk.
    np.testing.assert_array_equal(clean["step"], np.arange(1, 21) * 2)
    np.testing.assert_array_equal(clean["env_steps"], np.arange(1, 21) * 8)
    assert "env steps 160/160 per seed" in lines[21]
    summary = json.loads((tmp_path / "clean" / "summary.json").read_text())
    assert [s["label"] for s in summary["settings"]] == [
        "learning_rate=0.05, target_period=1",
        "learning_rate=0.05, target_period=5",
        "learning_rate=0.2, target_period=1",
        "learning_rate=0.2, target_period=5",
    ]
    assert summary["settings"][1]["hparams"]["target_period"] == 5  # an integer
    # The may-be-NaN metric is NaN in some chunks (no episode ended) and present in others.
    returns = clean["episode_return"]
    assert np.isnan(returns).any() and np.isfinite(returns).any()
    np.testing.assert_array_equal(np.isnan(returns), clean["episodes"] == 0)
    assert {"episode_return_count", "env_steps"} <= set(_csv(tmp_path / "clean")[0])

    victim_dir = tmp_path / "killed"
    victim = Binary(f"--workdir={victim_dir}", *FLAX, env=cache, log_path=f"{victim_dir}.log")
    deadline = time.time() + 240
    while not (victim_dir / "checkpoints" / "8").exists():
        assert victim.proc.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.01)
    victim.proc.send_signal(signal.SIGKILL)
    victim.finish(timeout=60)
    assert not (victim_dir / "summary.json").exists()  # it really died mid-run
    code, out, err = train(victim_dir, *FLAX, env=cache)
    assert code == 0, err[-3000:]
    assert "resuming from the checkpoint after chunk" in out
    resumed = run.result_arrays(str(victim_dir))
    for name in clean:
        np.testing.assert_array_equal(clean[name], resumed[name])
    assert _csv(tmp_path / "clean") == _csv(victim_dir)

    # Rerun with a doubled total_steps: it continues from the final checkpoint.
    code, out, err = train(victim_dir, *FLAX, "--config.total_steps=80", env=cache)
    assert code == 0, err[-3000:]
    assert "resuming from the checkpoint after chunk 20 of 40" in out
    assert sum(line.startswith("chunk ") for line in out.splitlines()) == 20
    extended = run.result_arrays(str(victim_dir))
    np.testing.assert_array_equal(extended["env_steps"], np.arange(1, 41) * 8)
    for name in ("episode_return", "episodes", "q_mean"):
        np.testing.assert_array_equal(extended[name][:20], clean[name])
    assert run.load(str(victim_dir)).chunks_done == 40


def _one_error_line(code, err, expected):
    assert code == 1, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines == [f"error: {expected}"] or (
        len(lines) == 1 and lines[0].startswith(f"error: {expected}")
    ), err[-2000:]


def test_bad_input_gets_one_line_and_exit_code_1(tmp_path):
    q = "--config=jaxrl/configs/q_learning.py"
    code, _, err = train(tmp_path / "a", q, "--config.num_seeds=0", timeout=120)
    _one_error_line(code, err, "config.num_seeds must be a positive integer, got 0")
    code, _, err = train(tmp_path / "b", q, "--config.sweep.learning_rate=(0.1,1e999)", timeout=120)
    _one_error_line(code, err, "sweep.learning_rate must be finite")
    code, _, err = train(tmp_path / "c", q, "--config.hparams.gamma=1.0", timeout=120)
    _one_error_line(
        code, err, "hparams.gamma = 1 is outside its domain: it must be a real number in [0, 0.999]"
    )
    code, _, err = train(tmp_path / "d", q, "--config.experiment=no.such.module", timeout=120)
    _one_error_line(code, err, "config.experiment: cannot import 'no.such.module'")
    for name in "abcd":
        assert not (tmp_path / name / "config.json").exists()


def test_library_logs_show_only_with_a_verbosity_flag(tmp_path):
    flags = [
        "--config=jaxrl/configs/mean_estimation.py",
        "--config.num_seeds=2",
        "--config.total_steps=20",
        "--config.chunk_steps=10",
    ]
    # 3 CPU devices for 4 settings x 2 seeds = 8 runs: it uses 2, the most that divide 8, and
    # says so.
    code, out, err = train(
        tmp_path / "quiet", *flags, "--cpu_devices=3", env={"XLA_FLAGS": ""}, timeout=120
    )
    assert code == 0 and not _log_lines(err), err[-2000:]
    assert out.startswith("note: using 2 of 3 cpu devices per process, the largest count that ")
    assert "8 runs on 2 cpu device(s)" in out.splitlines()[1]
    code, out, err = train(tmp_path / "verbose", *flags, "-v", "0", timeout=120)
    assert code == 0, err[-2000:]
    assert any("orbax" in line.lower() for line in _log_lines(err))  # the checkpointer's INFO
    assert sum(line.startswith("chunk ") for line in out.splitlines()) == 2


def test_the_default_device_layout_runs_200_tiny_chunks_without_hanging(tmp_path):
    """On a CPU-only host the launcher makes one XLA host device per core and shards the seeds
    over them. The tabular metrics evaluate policies without LAPACK, so 200 chunks, each with an
    evaluation per run, finish well within the limit. (With the LAPACK solve the previous code
    used, this same run on 2 forced CPU devices hung in 2 of 2 tries, after 0 and 56 chunks.)"""
    code, out, err = train(
        tmp_path / "w",
        "--config=jaxrl/configs/q_learning.py",
        "--config.num_seeds=64",
        "--config.total_steps=2000",
        "--config.chunk_steps=10",
        "--config.checkpoint_every=1000",
        env={"JAX_PLATFORMS": "cpu", "XLA_FLAGS": ""},
        timeout=240,
    )
    assert code == 0, err[-3000:]
    cores = launch.cpu_core_count()
    expected = max(d for d in range(1, cores + 1) if 256 % d == 0)  # 4 settings x 64 seeds
    assert f"256 runs on {expected} cpu device(s)" in out.splitlines()[0]
    assert sum(line.startswith("chunk ") for line in out.splitlines()) == 200
    summary = json.loads((tmp_path / "w" / "summary.json").read_text())
    assert summary["device_count"] == expected


SHARDED_SCRIPT = r"""
import jax
from jaxrl import run
from jaxrl.configs import q_learning as cfg
from jaxrl.tabular import q_learning
import sys
assert jax.device_count() == 4, jax.devices()
config = cfg.get_config()
with config.unlocked():
    config.num_seeds = 8
    config.total_steps = 4000
    config.chunk_steps = 2000
    config.sweep.learning_rate = (0.1, 0.3)
out = sys.argv[1]
result = run.run(q_learning.make_experiment(config), config, out + "/sharded", log=lambda s: None)
run.run(q_learning.make_experiment(config), config, out + "/single", log=lambda s: None,
        devices=jax.devices()[:1])
try:
    bad = cfg.get_config()
    with bad.unlocked():
        bad.num_seeds = 3
        bad.sweep.learning_rate = (0.1, 0.2, 0.3)
    run.run(q_learning.make_experiment(bad), bad, out + "/bad", log=lambda s: None)
    raise SystemExit("9 runs on 4 devices were accepted")
except ValueError as e:
    assert "device count (4)" in str(e), e
print("device_count", result.summary["device_count"])
# A program with a LAPACK call runs on one of the 4 CPU devices, saying why (it could deadlock).
import jax.numpy as jnp
from jaxrl.run import core
from tests.run.toy import toy_config, toy_experiment
toy = toy_experiment(1)
def init(key, hparams):
    carry = toy.init(key, hparams)
    return {**carry, "x": jnp.linalg.solve(jnp.eye(3) * (2.0 + hparams.scale), jnp.ones(3))[0]}
settings = run.settings_from_config(toy, toy_config(num_seeds=4))
program = core.Program(toy._replace(init=init), settings.hparams, run.seed_keys(0, 4))
assert len(program.devices) == 1 and "LAPACK (lapack_" in program.note, program.note
jax.block_until_ready(program.chunk(program.init()))
print("lapack on one device")
"""


def test_sharded_over_four_cpu_devices_equals_unsharded(tmp_path):
    """Bit for bit; a bad batch is refused; a program with a LAPACK call falls back to one
    device."""
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", SHARDED_SCRIPT, str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "device_count 4" in proc.stdout and "lapack on one device" in proc.stdout
    sharded = run.result_arrays(str(tmp_path / "sharded"))
    single = run.result_arrays(str(tmp_path / "single"))
    for name in sharded:
        np.testing.assert_array_equal(sharded[name], single[name])


def test_a_launch_validates_once(tmp_path, monkeypatch):
    """One launch checks the experiment's declarations and every hyperparameter value once: the
    launcher's settings go into ``run.run``, and its program does not check them again."""
    import importlib

    from jaxrl.run import core, experiment, hparams
    from tests.run.binary import train_in_process

    config = importlib.import_module("jaxrl.configs.mean_estimation").get_config()
    module = importlib.import_module(config.experiment)
    settings = run.settings_from_config(module.make_experiment(config), config)
    values_checked = len(settings.values) * len(settings.hparams._fields)
    calls = {"check_experiment": 0, "make_settings": 0, "check_hparams": 0, "contains": 0}

    def counted(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted(hparams, "check_experiment")
    counted(hparams, "make_settings")
    counted(core, "check_hparams")
    counted(experiment.Domain, "contains")  # every domain check of a value, wherever it is
    train_in_process(
        "--config=jaxrl/configs/mean_estimation.py",
        f"--workdir={tmp_path / 'run'}",
        "--config.num_seeds=2",
        "--config.total_steps=20",
        "--config.chunk_steps=10",
    )
    assert (tmp_path / "run" / "summary.json").exists()
    expected = {"check_experiment": 1, "make_settings": 1, "check_hparams": 0}
    assert calls == {**expected, "contains": values_checked}, (calls, values_checked)


def test_a_ctrl_c_swallowed_on_its_way_is_raised_at_the_next_chunk():
    """The launcher's ``cli.Interrupts``: a Ctrl-C that a library catches where it lands (as
    orbax can) is raised again by ``check``, which the launcher calls after every chunk; with
    none, ``check`` does nothing."""
    from experiments import cli

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        interrupts = cli.Interrupts()
        interrupts.check()
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1.0)  # the handler runs here and raises ...
        except BaseException:  # noqa: BLE001 - ... and a library swallows it
            pass
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
    finally:
        signal.signal(signal.SIGINT, previous)


def _signal_masks(path: str) -> dict[str, str]:
    """The signal lines of ``/proc/.../status``: pending, blocked, ignored and caught masks."""
    with open(path) as f:
        return dict(line.split()[:2] for line in f if line.startswith(("Sig", "ShdPnd")))


def _signal_state(pid: int) -> str:
    """The signal masks of a process and of each of its threads, on one line."""
    paths = [f"/proc/{pid}/status"]
    paths += [f"/proc/{pid}/task/{t}/status" for t in sorted(os.listdir(f"/proc/{pid}/task"))]
    return "; ".join(
        " ".join(name + value for name, value in _signal_masks(path).items()) for path in paths
    )


def _ignores_sigint(pid: int) -> bool:
    ignored = int(_signal_masks(f"/proc/{pid}/status")["SigIgn:"], 16)
    return bool(ignored & (1 << (signal.SIGINT - 1)))


def test_ctrl_c_is_one_line_saying_what_is_saved(tmp_path):
    """SIGINT (Ctrl-C) in the middle of a run: exit code 130 and one line on stderr naming the
    checkpoint the work directory holds and how to resume from it; no traceback. (The run is
    started with SIGINT not ignored, which ``Binary`` sees to, and checked to be so: a process
    started while its parent ignores SIGINT ignores it too, as Unix programs do.)"""
    workdir = tmp_path / "w"
    victim = Binary(
        f"--workdir={workdir}",
        "--config=jaxrl/configs/q_learning.py",
        "--config.num_seeds=2",
        "--config.total_steps=2000000",
        "--config.chunk_steps=1000",
        "--config.checkpoint_every=1",
        log_path=f"{workdir}.log",
    )
    deadline = time.time() + 120
    while not (workdir / "checkpoints" / "2").exists():
        assert victim.proc.poll() is None and time.time() < deadline, "no checkpoint to interrupt"
        time.sleep(0.01)
    assert not _ignores_sigint(victim.proc.pid), _signal_state(victim.proc.pid)
    victim.proc.send_signal(signal.SIGINT)
    try:
        victim.proc.wait(timeout=60)
    except subprocess.TimeoutExpired:  # the signal state of the process and its threads
        state = _signal_state(victim.proc.pid)
        raise AssertionError(f"SIGINT did not stop the run: {state}") from None
    finally:
        code, _, err = victim.finish(timeout=60)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 130 and len(lines) == 1, err[-2000:]
    saved = re.fullmatch(
        rf"error: interrupted \(Ctrl-C\): {re.escape(str(workdir))} holds the checkpoint after "
        r"chunk (\d+) of 2000; rerun the same command to resume from it",
        lines[0],
    )
    assert saved and (workdir / "checkpoints" / saved.group(1)).is_dir(), lines[0]
    assert int(saved.group(1)) >= 2
