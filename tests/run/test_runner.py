"""The runner: outputs, determinism, resume after a crash or SIGKILL, config checks."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import run
from jaxrl.run import stats
from jaxrl.run.experiment import make_settings, seed_keys
from tests.run.toy import ToyHparams, toy_config, toy_experiment

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _quiet(_):
    pass


def _arrays(workdir):
    return run.result_arrays(workdir)


def _csv(workdir):
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_run_writes_results(tmp_path):
    config = toy_config()
    lines = []
    summary = run.run(toy_experiment(10), config, str(tmp_path), log=lines.append)
    for name in ("metrics.csv", "summary.json", "per_seed.npz", "curves.png", "config.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert len(lines) == 6 and lines[-1].startswith("chunk 6/6 step 60/60")
    assert "env steps/s" in lines[0] and "ETA" in lines[0] and "95% CI" in lines[0]
    arrays = _arrays(str(tmp_path))
    assert arrays["x"].shape == (6, 3, 4)  # chunks, settings, seeds
    np.testing.assert_array_equal(arrays["step"], np.arange(1, 7) * 10)
    rows = _csv(str(tmp_path))
    assert len(rows) == 6 * 3
    # The CSV's statistics are those of the per-seed arrays.
    last = [r for r in rows if r["chunk"] == "5"]
    for h, row in enumerate(last):
        expected = stats.summarize(arrays["x"][-1, h])
        for key in ("mean", "std", "ci_low", "ci_high"):
            assert float(row[f"x_{key}"]) == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
        assert float(row["drift"]) == [0.0, 0.5, -0.5][h]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk["device_count"] == summary["device_count"] == jax.device_count()
    assert [s["label"] for s in on_disk["settings"]] == ["drift=0", "drift=0.5", "drift=-0.5"]
    assert on_disk["settings"][1]["final_per_seed"]["x"] == pytest.approx(
        arrays["x"][-1, 1].tolist()
    )


def test_drift_shows_in_the_results(tmp_path):
    """A hand-checkable case: x after T steps is T * drift plus a zero-mean walk."""
    config = toy_config(num_seeds=64)
    run.run(toy_experiment(10), config, str(tmp_path), log=_quiet)
    x = _arrays(str(tmp_path))["x"][-1]  # [3 settings, 64 seeds]
    # Each x is a sum of 60 uniforms - 1/2 (variance 60/12 = 5) plus 60 * drift; the mean over
    # 64 seeds has standard error sqrt(5/64) = 0.28, so 5 standard errors is 1.4.
    np.testing.assert_allclose(x.mean(axis=1), [0.0, 30.0, -30.0], atol=1.4)


def test_same_config_same_numbers_and_seed_alone_matches_sweep(tmp_path):
    config = toy_config()
    run.run(toy_experiment(10), config, str(tmp_path / "a"), log=_quiet)
    run.run(toy_experiment(10), config, str(tmp_path / "b"), log=_quiet)
    a, b = _arrays(str(tmp_path / "a")), _arrays(str(tmp_path / "b"))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    # Seed index 2 of setting 1 (drift 0.5), run alone, unbatched and without the runner.
    experiment = toy_experiment(10)
    hparams = ToyHparams(scale=jnp.float32(1.0), drift=jnp.float32(0.5))
    carry = experiment.init(seed_keys(3, 4)[2], hparams)
    alone = []
    for _ in range(6):
        carry, metrics = jax.jit(experiment.train_chunk)(carry, hparams)
        alone.append(float(metrics["x"]))
    np.testing.assert_array_equal(np.float32(alone), a["x"][:, 1, 2])


def test_crash_then_rerun_resumes_and_matches(tmp_path):
    config = toy_config()
    run.run(toy_experiment(10), config, str(tmp_path / "clean"), log=_quiet)

    class Crash(Exception):
        pass

    def crash_after_chunk_5(line):
        if line.startswith("chunk 5/"):
            raise Crash

    workdir = str(tmp_path / "crashed")
    with pytest.raises(Crash):
        run.run(toy_experiment(10), config, workdir, log=crash_after_chunk_5)
    # Chunks 1-5 were written, the checkpoint covers 4; the rerun recomputes chunk 5 onwards.
    assert os.path.isdir(os.path.join(workdir, "checkpoints", "4"))
    lines = []
    run.run(toy_experiment(10), config, workdir, log=lines.append)
    assert lines[0] == "resuming from the checkpoint after chunk 4 of 6"
    assert len(lines) == 3  # the resume line and chunks 5 and 6
    clean, resumed = _arrays(str(tmp_path / "clean")), _arrays(workdir)
    for name in clean:
        np.testing.assert_array_equal(clean[name], resumed[name])
    assert _csv(str(tmp_path / "clean")) == _csv(workdir)


def test_a_different_config_is_refused_unless_overwrite(tmp_path):
    run.run(toy_experiment(10), toy_config(), str(tmp_path), log=_quiet)
    other = toy_config(num_seeds=8)
    with pytest.raises(ValueError, match="different config.*num_seeds.*overwrite"):
        run.run(toy_experiment(10), other, str(tmp_path), log=_quiet)
    assert json.loads((tmp_path / "config.json").read_text())["num_seeds"] == 4  # untouched
    run.run(toy_experiment(10), other, str(tmp_path), overwrite=True, log=_quiet)
    assert _arrays(str(tmp_path))["x"].shape == (6, 3, 8)


def test_divergence_names_chunk_step_and_seed(tmp_path):
    with pytest.raises(run.DivergenceError, match=r"chunk 2 \(step 30\).*seed index 0"):
        run.run(toy_experiment(10, nan_from_step=30), toy_config(), str(tmp_path), log=_quiet)
    # What was written before the divergence is kept.
    assert len(_csv(str(tmp_path))) == 2 * 3


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"num_seeds": 0}, "num_seeds must be a positive integer"),
        ({"num_seeds": -3}, "num_seeds must be a positive integer"),
        ({"chunk_steps": 7}, "total_steps .* multiple of config.chunk_steps"),
        ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
        ({"total_steps": 0}, "total_steps must be a positive integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
    ],
)
def test_bad_shared_fields_raise_before_compiling(tmp_path, overrides, match):
    config = toy_config()
    with config.unlocked():
        for key, value in overrides.items():
            config[key] = value
    with pytest.raises(ValueError, match=match):
        run.run(toy_experiment(10), config, str(tmp_path), log=_quiet)
    assert not (tmp_path / "config.json").exists()  # nothing written, nothing compiled


def test_num_seeds_must_divide_over_devices():
    with pytest.raises(
        ValueError, match="num_seeds \\(6\\) must be a multiple of the device count"
    ):
        run.check_config(toy_config(num_seeds=6), device_count=4)


def test_sweep_lists_are_checked():
    defaults = {"scale": 1.0, "drift": 0.0}
    with pytest.raises(ValueError, match="same length"):
        make_settings(ToyHparams, defaults, {"scale": [1.0, 2.0], "drift": [0.0]})
    with pytest.raises(ValueError, match="sweep.speed is not a hyperparameter"):
        make_settings(ToyHparams, defaults, {"speed": [1.0]})
    with pytest.raises(ValueError, match="hparams.drift needs a default"):
        make_settings(ToyHparams, {"scale": 1.0}, {})
    with pytest.raises(ValueError, match="finite"):
        make_settings(ToyHparams, defaults, {"scale": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="non-empty list"):
        make_settings(ToyHparams, defaults, {"scale": []})
    hparams, settings = make_settings(ToyHparams, defaults, {"drift": [0.1, 0.2]})
    np.testing.assert_allclose(hparams.scale, [1.0, 1.0])
    assert settings == [{"scale": 1.0, "drift": 0.1}, {"scale": 1.0, "drift": pytest.approx(0.2)}]


def test_t95_matches_known_quantiles():
    assert stats.t95(1) == 12.706 and stats.t95(30) == 2.042
    assert abs(stats.t95(40) - 2.021) < 0.003 and abs(stats.t95(1000) - 1.962) < 0.002
    summary = stats.summarize(np.array([[1.0, 2.0, 3.0]]), axis=1)
    # mean 2, sd 1, half-width t(2) * 1 / sqrt(3)
    assert summary["mean"][0] == 2.0 and summary["std"][0] == 1.0
    assert summary["ci_high"][0] == pytest.approx(2.0 + 4.303 / np.sqrt(3))


# ---------------------------------------------------------------------------------------------
# The binary, in subprocesses: SIGKILL and resume; sharding over 4 CPU devices.


class _Binary:
    """``python -m experiments.tabular`` in a subprocess, its output going to a file (a pipe
    nobody reads would fill up and stall the child)."""

    def __init__(self, workdir, *flags):
        self.log_path = f"{workdir}.log"
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "experiments.tabular", f"--workdir={workdir}", *flags],
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def finish(self, timeout=300) -> tuple[int, str]:
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        with open(self.log_path) as f:
            return code, f.read()


def _tabular(workdir, *flags):
    return _Binary(workdir, *flags)


TINY = [
    "--config.num_seeds=16",
    "--config.total_steps=120000",
    "--config.chunk_steps=2000",
    "--config.checkpoint_every=3",
    "--config.sweep.learning_rate=(0.1,0.2)",
]


def test_sigkill_then_rerun_resumes_to_identical_results(tmp_path):
    code, output = _tabular(tmp_path / "clean", *TINY).finish()
    assert code == 0, output[-3000:]

    victim_dir = tmp_path / "killed"
    victim = _tabular(victim_dir, *TINY)
    deadline = time.time() + 240
    while not (victim_dir / "checkpoints" / "6").exists():
        assert victim.proc.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.02)
    victim.proc.send_signal(signal.SIGKILL)
    victim.finish(timeout=60)
    assert not (victim_dir / "summary.json").exists()  # it really died mid-run

    code, output = _tabular(victim_dir, *TINY).finish()
    assert code == 0, output[-3000:]
    assert "resuming from the checkpoint after chunk" in output
    a, b = run.result_arrays(str(tmp_path / "clean")), run.result_arrays(str(victim_dir))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    assert _csv(str(tmp_path / "clean")) == _csv(str(victim_dir))


def test_binary_rejects_bad_config_with_one_line(tmp_path):
    code, output = _tabular(tmp_path / "a", "--config.num_seeds=0").finish(120)
    assert code != 0
    assert "error: config.num_seeds must be a positive integer, got 0" in output
    code, output = _tabular(tmp_path / "b", "--config.sweep.learning_rate=(0.1,1e999)").finish(120)
    assert code != 0 and "error: learning_rate values must be finite" in output
    code, output = _tabular(tmp_path / "c", "--config.no_such_field=1").finish(120)
    assert code != 0 and "no_such_field" in output


SHARDED_SCRIPT = r"""
import json, sys
import jax, numpy as np
from jaxrl import run
from jaxrl.configs import q_learning as cfg
from jaxrl.tabular import q_learning
assert jax.device_count() == 4, jax.devices()
config = cfg.get_config()
with config.unlocked():
    config.num_seeds = 8
    config.total_steps = 4000
    config.chunk_steps = 2000
    config.sweep.learning_rate = [0.1, 0.3]
out = sys.argv[1]
run.run(q_learning.make_experiment(config), config, out + "/sharded", log=lambda s: None)
run.run(q_learning.make_experiment(config), config, out + "/single", log=lambda s: None,
        devices=jax.devices()[:1])
try:
    bad = cfg.get_config()
    with bad.unlocked():
        bad.num_seeds = 6
    run.run(q_learning.make_experiment(bad), bad, out + "/bad", log=lambda s: None)
    raise SystemExit("num_seeds=6 on 4 devices was accepted")
except ValueError as e:
    assert "device count (4)" in str(e), e
summary = json.load(open(out + "/sharded/summary.json"))
print("device_count", summary["device_count"])
"""


def test_sharded_over_four_cpu_devices_equals_unsharded(tmp_path):
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
    assert "device_count 4" in proc.stdout
    sharded = run.result_arrays(str(tmp_path / "sharded"))
    single = run.result_arrays(str(tmp_path / "single"))
    for name in sharded:
        np.testing.assert_array_equal(sharded[name], single[name])
