"""The runner in process: outputs, determinism, resume and extension, sweeps, domains, NaN metrics,
environment steps, the in-memory core and loading a run back."""

import csv
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import run
from jaxrl.run import core, runner, stats, tracking, workdir
from jaxrl.run.experiment import seed_keys
from tests.run import wandb_records
from tests.run.toy import (
    CountHparams,
    ToyHparams,
    count_experiment,
    toy_config,
    toy_experiment,
    toy_module_config,
)


def _quiet(_):
    pass


def _arrays(workdir):
    return run.result_arrays(str(workdir))


def _csv(workdir):
    with open(os.path.join(workdir, "metrics.csv"), newline="") as f:
        return list(csv.DictReader(f))


def _board(workdir) -> dict[str, list[tuple[int, float]]]:
    """The scalars of a run's TensorBoard event files, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing import event_accumulator

    events = event_accumulator.EventAccumulator(
        os.path.join(workdir, "tensorboard"), size_guidance={event_accumulator.SCALARS: 0}
    )
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def _config(config, **overrides):
    with config.unlocked():
        for key, value in overrides.items():
            config[key] = value
    return config


def test_run_writes_results(tmp_path, monkeypatch):
    config = toy_config()
    lines = []
    monkeypatch.setenv("WANDB_MODE", "offline")  # W&B as well: offline, read back from its file
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb = tracking.Wandb.factory(project="jaxrl-tests")
    result = run.run(toy_experiment(10), config, str(tmp_path), log=lines.append, trackers=[wandb])
    for name in ("metrics.csv", "summary.json", "per_seed.npz", "curves.png", "config.json"):
        assert (tmp_path / name).stat().st_size > 0, name
    # A line before the compile and one after it (compilation is timed apart), then one
    # progress line per chunk.
    assert lines[0].startswith("compiling: 3 settings x 4 seeds = 12 runs on ")
    assert lines[0].endswith(" device(s) ...")
    assert re.fullmatch(r"compiled in \d+\.\d s", lines[1]), lines[1]
    assert len(lines) == 8 and lines[-1].startswith("chunk 6/6 | step 60/60 | env steps 60/60")
    assert "env steps/s" in lines[2] and "ETA" in lines[2] and "95% CI" in lines[2]
    arrays = _arrays(tmp_path)
    assert arrays["x"].shape == (6, 3, 4)  # chunks, settings, seeds
    np.testing.assert_array_equal(arrays["step"], np.arange(1, 7) * 10)
    rows = _csv(tmp_path)
    assert len(rows) == 6 * 3
    # TensorBoard's event files hold every row's mean and interval (float32), at its env steps.
    board = _board(tmp_path)
    for row in rows:
        for key in ("mean", "ci_low", "ci_high"):
            label = re.sub(r"[^-/\w.]", "_", row["label"])  # tensorboardX's tag characters
            steps = dict(board[f"x/{label}/{key}"])
            assert steps[int(row["env_steps"])] == np.float32(row[f"x_{key}"]), (row, key)
    metrics = toy_experiment(10).metrics
    assert len(board) == len(metrics) * 3 * 3 + 1 and len(board["throughput/env_steps_per_s"]) == 6
    # W&B's history: one entry per chunk, the same tags, the CSV's values, at its env steps.
    logged = {row["env_steps"]: row for row in wandb_records.history(tmp_path)}
    assert sorted(logged) == [10, 20, 30, 40, 50, 60]
    for row in rows:
        for key in ("mean", "ci_low", "ci_high"):
            value = logged[int(row["env_steps"])][f"x/{row['label']}/{key}"]
            assert value == float(row[f"x_{key}"]), (row, key)
    assert all("throughput/env_steps_per_s" in row for row in logged.values())
    assert (tmp_path / "wandb_id").read_text() in str(list((tmp_path / "wandb").glob("*run-*")))
    # The CSV's statistics are those of the per-seed arrays.
    last = [r for r in rows if r["chunk"] == "5"]
    for h, row in enumerate(last):
        expected = stats.summarize(arrays["x"][-1, h])
        for key in ("mean", "std", "ci_low", "ci_high"):
            assert float(row[f"x_{key}"]) == pytest.approx(expected[key], rel=1e-6, abs=1e-9)
        assert float(row["drift"]) == [0.0, 0.5, -0.5][h]
    on_disk = json.loads((tmp_path / "summary.json").read_text())
    assert on_disk == result.summary
    assert on_disk["device_count"] == jax.device_count()
    assert on_disk["compile_time_s"] > 0
    assert [s["label"] for s in on_disk["settings"]] == ["drift=0", "drift=0.5", "drift=-0.5"]
    assert on_disk["settings"][1]["final_per_seed"]["x"] == pytest.approx(
        arrays["x"][-1, 1].tolist()
    )
    # The run hands back this session's metrics and the final carry, [settings, seeds, ...].
    np.testing.assert_array_equal(result.metrics["x"], arrays["x"])
    np.testing.assert_array_equal(np.asarray(result.carry["x"]), arrays["x"][-1])
    assert result.carry["key"].shape == (3, 4, 2)


def test_drift_shows_in_the_results(tmp_path):
    """A hand-checkable case: x after T steps is T * drift plus a zero-mean walk."""
    config = toy_config(num_seeds=64)
    run.run(toy_experiment(10), config, str(tmp_path), log=_quiet)
    x = _arrays(tmp_path)["x"][-1]  # [3 settings, 64 seeds]
    # Each x is a sum of 60 uniforms - 1/2 (variance 60/12 = 5) plus 60 * drift; the mean over
    # 64 seeds has standard error sqrt(5/64) = 0.28, so 5 standard errors is 1.4.
    np.testing.assert_allclose(x.mean(axis=1), [0.0, 30.0, -30.0], atol=1.4)


def test_same_config_same_numbers_and_seed_alone_matches_sweep(tmp_path):
    config = toy_config()
    run.run(toy_experiment(10), config, str(tmp_path / "a"), log=_quiet)
    run.run(toy_experiment(10), config, str(tmp_path / "b"), log=_quiet)
    a, b = _arrays(tmp_path / "a"), _arrays(tmp_path / "b")
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


def test_the_in_memory_core_equals_the_run(tmp_path):
    """``train`` (no files) and ``run`` give the same metrics and final carry, bit for bit."""
    config = toy_config()
    experiment = toy_experiment(10)
    on_disk = run.run(experiment, config, str(tmp_path), log=_quiet)
    settings = run.settings_from_config(experiment, config)
    result = run.train(experiment, settings.hparams, seed_keys(3, 4), num_chunks=6)
    assert result.metrics["x"].shape == (6, 3, 4)
    for name in ("x", "abs_x"):
        np.testing.assert_array_equal(result.metrics[name], _arrays(tmp_path)[name])
    for leaf, other in zip(
        jax.tree.leaves(result.carry), jax.tree.leaves(on_disk.carry), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(leaf), np.asarray(other))


def test_a_sweep_initialises_what_depends_on_the_key_alone_once_per_seed():
    """3 settings x 2 seeds: ``init``'s draw from the key runs once per seed (a
    ``jax.debug.callback`` on it is called for the 2 seeds, not for the 6 runs), and every run's
    carry is its ``init`` alone, bit for bit (``core.seed_shared_init``)."""
    calls = []

    def init(key, hparams):
        draw = jax.random.normal(key, (3,))
        jax.debug.callback(lambda d: calls.append(np.shape(d)), draw)
        carry = toy_experiment(2).init(key, hparams)
        return {**carry, "draw": draw, "scaled": hparams.drift * draw}

    experiment = toy_experiment(2)._replace(init=init)
    hparams = ToyHparams(scale=jnp.ones(3), drift=jnp.float32([0.5, 1.0, 2.0]))
    keys = seed_keys(5, 2)
    carry = core.Program(experiment, hparams, keys).init()
    assert len(calls) == 2, calls
    carry = core.unflatten(jax.device_get(carry), 3, 2)
    for h in range(3):
        for i in range(2):
            one = jax.tree.map(lambda x, h=h: x[h], hparams)
            for name, value in jax.jit(init)(keys[i], one).items():
                np.testing.assert_array_equal(carry[name][h, i], value, err_msg=name)


def test_load_returns_the_final_carry_of_a_run(tmp_path):
    config = toy_module_config()
    result = run.run(toy_experiment(10), config, str(tmp_path), log=_quiet)
    loaded = run.load(str(tmp_path))
    assert loaded.chunks_done == 6
    assert loaded.settings.labels == ["drift=0", "drift=0.5", "drift=-0.5"]
    assert loaded.config.experiment == "tests.run.toy"
    for name in ("x", "step", "key"):
        np.testing.assert_array_equal(loaded.carry[name], np.asarray(result.carry[name]))
    with pytest.raises(ValueError, match="no run in"):
        run.load(str(tmp_path / "missing"))
    # A batch of one run (padded with a copy for the program) loads as [1, 1, ...].
    single = toy_module_config(num_seeds=1, sweep={"drift": [0.5]})
    result = run.run(toy_experiment(10), single, str(tmp_path / "one"), log=_quiet)
    loaded = run.load(str(tmp_path / "one"))
    assert loaded.carry["x"].shape == (1, 1) == result.carry["x"].shape
    np.testing.assert_array_equal(loaded.carry["x"], np.asarray(result.carry["x"]))


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
    assert lines[2] == "resuming from the checkpoint after chunk 4 of 6"
    assert len(lines) == 5  # compiling, compiled, the resume line and chunks 5 and 6
    clean, resumed = _arrays(tmp_path / "clean"), _arrays(workdir)
    for name in clean:
        np.testing.assert_array_equal(clean[name], resumed[name])
    assert _csv(str(tmp_path / "clean")) == _csv(workdir)
    board, clean_board = _board(workdir), _board(tmp_path / "clean")
    del board["throughput/env_steps_per_s"], clean_board["throughput/env_steps_per_s"]
    assert board == clean_board  # chunks 5 and 6 written again, once each


def test_a_larger_total_steps_extends_a_finished_run(tmp_path):
    """Doubling total_steps continues from the last checkpoint; the result equals a run of the
    full length from scratch. checkpoint_every may change too; other fields may not."""
    run.run(toy_experiment(10), toy_config(total_steps=30), str(tmp_path / "long"), log=_quiet)
    lines = []
    longer = toy_config(total_steps=60, checkpoint_every=5)
    run.run(toy_experiment(10), longer, str(tmp_path / "long"), log=lines.append)
    assert lines[2] == "resuming from the checkpoint after chunk 3 of 6"
    assert sum(line.startswith("chunk ") for line in lines) == 3
    run.run(toy_experiment(10), toy_config(), str(tmp_path / "fresh"), log=_quiet)
    extended, fresh = _arrays(tmp_path / "long"), _arrays(tmp_path / "fresh")
    for name in fresh:
        np.testing.assert_array_equal(extended[name], fresh[name])
    assert json.loads((tmp_path / "long" / "config.json").read_text())["total_steps"] == 60
    # Shrinking below what is done is refused, and changes nothing.
    with pytest.raises(ValueError, match="holds a run of 6 chunks"):
        run.run(toy_experiment(10), toy_config(total_steps=30), str(tmp_path / "long"), log=_quiet)
    assert json.loads((tmp_path / "long" / "config.json").read_text())["total_steps"] == 60


def test_extending_is_refused_when_schedules_depend_on_total_steps(tmp_path):
    experiment = toy_experiment(10, depends_on_total_steps=True)
    run.run(experiment, toy_config(total_steps=30), str(tmp_path), log=_quiet)
    with pytest.raises(ValueError, match="schedules depend on total_steps"):
        run.run(experiment, toy_config(total_steps=60), str(tmp_path), log=_quiet)
    # A new checkpoint_every alone is fine (the run is already complete: nothing to compute).
    run.run(experiment, toy_config(total_steps=30, checkpoint_every=1), str(tmp_path), log=_quiet)


def test_a_different_config_is_refused_unless_overwrite(tmp_path):
    run.run(toy_experiment(10), toy_config(), str(tmp_path), log=_quiet)
    other = toy_config(num_seeds=8)
    with pytest.raises(ValueError, match="different config.*num_seeds.*overwrite"):
        run.run(toy_experiment(10), other, str(tmp_path), log=_quiet)
    assert json.loads((tmp_path / "config.json").read_text())["num_seeds"] == 4  # untouched
    run.run(toy_experiment(10), other, str(tmp_path), overwrite=True, log=_quiet)
    assert _arrays(tmp_path)["x"].shape == (6, 3, 8)


def test_a_second_process_on_the_workdir_is_refused(tmp_path):
    """The lock is an flock on <workdir>/.lock: while another holder has it, a run refuses at
    once naming the holder; once released (or its holder dead), runs proceed."""
    holder = workdir.Lock(str(tmp_path))
    holder.acquire()
    try:
        with pytest.raises(run.WorkdirBusyError, match=f"in use by process {os.getpid()}"):
            run.run(toy_experiment(10), toy_config(), str(tmp_path), log=_quiet)
        assert not (tmp_path / "config.json").exists()
    finally:
        holder.release()
    run.run(toy_experiment(10), toy_config(), str(tmp_path), log=_quiet)


def test_divergence_names_chunk_step_and_seed(tmp_path):
    with pytest.raises(
        run.DivergenceError, match=r"x became nan in chunk 2 \(step 30, env step 30 .*seed index 0"
    ):
        run.run(toy_experiment(10, nan_from_step=30), toy_config(), str(tmp_path), log=_quiet)
    # What was written before the divergence is kept.
    assert len(_csv(str(tmp_path))) == 2 * 3


def test_may_be_nan_metrics_are_summarized_over_the_seeds_that_have_them(tmp_path):
    """``x_if_positive`` is NaN for seeds with x <= 0: no divergence; statistics, CSV and the
    summary count the seeds that contributed; the other metrics are still checked."""
    config = toy_config(num_seeds=8)
    run.run(toy_experiment(10, nan_metric=True), config, str(tmp_path), log=_quiet)
    arrays = _arrays(tmp_path)
    values = arrays["x_if_positive"]
    assert np.isnan(values).any() and np.isfinite(values).any()
    np.testing.assert_array_equal(np.isnan(values), ~(arrays["x"] > 0))
    rows = [r for r in _csv(str(tmp_path)) if r["chunk"] == "5"]
    summary = json.loads((tmp_path / "summary.json").read_text())
    for h, row in enumerate(rows):
        present = values[-1, h][~np.isnan(values[-1, h])]
        assert int(row["x_if_positive_count"]) == present.size
        assert summary["settings"][h]["final"]["x_if_positive"]["count"] == present.size
        if present.size:
            assert float(row["x_if_positive_mean"]) == pytest.approx(present.mean(), rel=1e-6)
        else:
            assert row["x_if_positive_mean"] == "nan"
            assert summary["settings"][h]["final"]["x_if_positive"]["mean"] is None
    # Setting 1 drifts up by 0.5 per step: every seed is positive; setting 2 never is.
    assert int(rows[1]["x_if_positive_count"]) == 8 and int(rows[2]["x_if_positive_count"]) == 0
    # A NaN in a metric not declared may-be-NaN is still divergence.
    with pytest.raises(run.DivergenceError, match="x became nan"):
        run.run(
            toy_experiment(10, nan_metric=True, nan_from_step=20),
            config,
            str(tmp_path / "diverged"),
            log=_quiet,
        )


def test_files_count_environment_steps(tmp_path):
    """With 4 environment steps per training step, every x-axis is environment steps."""
    lines = []
    run.run(toy_experiment(10, env_steps_per_step=4), toy_config(), str(tmp_path), log=lines.append)
    arrays = _arrays(tmp_path)
    np.testing.assert_array_equal(arrays["step"], np.arange(1, 7) * 10)
    np.testing.assert_array_equal(arrays["env_steps"], np.arange(1, 7) * 40)
    assert [int(r["env_steps"]) for r in _csv(str(tmp_path))][::3] == [40, 80, 120, 160, 200, 240]
    assert "step 60/60 | env steps 240/240 per seed" in lines[-1]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["env_steps_per_seed"] == 240 and summary["train_steps_per_seed"] == 60
    # curves.png is this figure: its x-axis is environment steps.
    experiment = toy_experiment(10, env_steps_per_step=4)
    settings = run.settings_from_config(experiment, toy_config())
    fig = runner.curves_figure(experiment, settings, arrays["env_steps"], arrays["x"], 4)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "environment steps per seed"
    assert len(ax.lines) == 3
    for h, line in enumerate(ax.lines):
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 7) * 40)
        np.testing.assert_allclose(line.get_ydata(), arrays["x"][:, h].mean(axis=1), rtol=1e-6)


def test_curve_panels_step_unit_and_the_experiments_own_figures(tmp_path):
    """``curve_metrics`` draws a panel per metric, ``step_unit`` names the x-axis and progress
    lines, and ``figures`` writes the experiment's own PNGs from the finished run's arrays."""
    from jaxrl import plotting

    seen = {}

    def figures(settings, arrays):
        seen.update(arrays)
        fig, axes = plotting.new_figure(1, 1)
        axes[0, 0].plot(arrays["env_steps"], arrays["abs_x"][:, 0].mean(axis=1))
        return {"spread": fig}

    experiment = toy_experiment(10, env_steps_per_step=2)._replace(
        curve_metrics=("x", "abs_x"), step_unit="preference pairs", figures=figures
    )
    lines = []
    run.run(experiment, toy_config(), str(tmp_path), log=lines.append)
    assert "| preference pairs 120/120 per seed |" in lines[-1]
    assert "preference pairs/s" in lines[-1]
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert (tmp_path / "spread.png").stat().st_size > 0
    arrays = _arrays(tmp_path)
    for name in ("env_steps", "x", "abs_x"):
        np.testing.assert_array_equal(seen[name], arrays[name])
    settings = run.settings_from_config(experiment, toy_config())
    fig = runner.curves_figure(
        experiment,
        settings,
        arrays["env_steps"],
        {"x": arrays["x"], "abs_x": arrays["abs_x"]},
        4,
    )
    assert [ax.get_ylabel() for ax in fig.axes] == ["x", "abs_x"]
    assert fig.axes[1].get_xlabel() == "preference pairs per seed"
    with pytest.raises(ValueError, match=r"curve_metrics \['y'\] are not among the metrics"):
        run.run(experiment._replace(curve_metrics=("y",)), toy_config(), str(tmp_path / "bad"))


@pytest.mark.parametrize(
    "overrides, match",
    [
        ({"num_seeds": 0}, "num_seeds must be a positive integer"),
        ({"num_seeds": -3}, "num_seeds must be a positive integer"),
        ({"chunk_steps": 7}, "total_steps .* multiple of config.chunk_steps"),
        ({"checkpoint_every": 0}, "checkpoint_every must be a positive integer"),
        ({"total_steps": 0}, "total_steps must be a positive integer"),
        ({"seed": -1}, r"seed must be an integer in \[0, 2\^32\)"),
        ({"sweep_mode": "cross"}, "sweep_mode must be one of"),
    ],
)
def test_bad_shared_fields_raise_before_compiling(tmp_path, overrides, match):
    config = _config(toy_config(), **overrides)
    with pytest.raises(ValueError, match=match):
        run.run(toy_experiment(10), config, str(tmp_path), log=_quiet)
    assert not (tmp_path / "config.json").exists()  # nothing written, nothing compiled


def test_the_batch_must_divide_over_devices(tmp_path):
    devices = [jax.devices()[0]] * 4  # only the count matters: refused before any mesh exists
    with pytest.raises(ValueError, match=r"= 18 runs must be a multiple of the device count \(4\)"):
        run.run(
            toy_experiment(10), toy_config(num_seeds=6), str(tmp_path), log=_quiet, devices=devices
        )


def test_sweep_lists_are_checked():
    experiment = toy_experiment(10)
    defaults = {"scale": 1.0, "drift": 0.0}
    with pytest.raises(ValueError, match="same length.*'product'"):
        run.make_settings(experiment, defaults, {"scale": [1.0, 2.0], "drift": [0.0]})
    with pytest.raises(ValueError, match="sweep.speed is not a hyperparameter"):
        run.make_settings(experiment, defaults, {"speed": [1.0]})
    with pytest.raises(ValueError, match="hparams.drift needs a default"):
        run.make_settings(experiment, {"scale": 1.0}, {})
    with pytest.raises(ValueError, match="finite"):
        run.make_settings(experiment, defaults, {"scale": [1.0, float("nan")]})
    with pytest.raises(ValueError, match="non-empty list"):
        run.make_settings(experiment, defaults, {"scale": []})
    settings = run.make_settings(experiment, defaults, {"drift": [0.1, 0.2]})
    np.testing.assert_allclose(settings.hparams.scale, [1.0, 1.0])
    assert settings.values == [{"scale": 1.0, "drift": 0.1}, {"scale": 1.0, "drift": 0.2}]
    assert settings.labels == ["drift=0.1", "drift=0.2"]


def test_product_sweep_with_an_integer_hyperparameter(tmp_path):
    """A 2 x 3 grid of (rate, period), period an int32: labelled by both fields, crossed in
    Hparams field order, and each setting's results are the exact counts."""
    config = toy_config(total_steps=30)
    with config.unlocked():
        config.hparams = {"rate": 0.5, "period": 1}
        config.sweep = {"rate": (0.25, 0.5), "period": (2, 3, 7)}
        config.sweep_mode = "product"
    experiment = count_experiment(10)
    settings = run.settings_from_config(experiment, config)
    assert settings.hparams.period.dtype == jnp.int32
    assert settings.hparams.rate.dtype == jnp.float32
    assert settings.labels == [
        "rate=0.25, period=2",
        "rate=0.25, period=3",
        "rate=0.25, period=7",
        "rate=0.5, period=2",
        "rate=0.5, period=3",
        "rate=0.5, period=7",
    ]
    assert all(isinstance(v["period"], int) for v in settings.values)
    result = run.run(experiment, config, str(tmp_path), log=_quiet)
    hits = _arrays(tmp_path)["hits"][-1]  # [6 settings, 4 seeds]
    np.testing.assert_array_equal(hits[:, 0], [30 // 2, 30 // 3, 30 // 7] * 2)
    np.testing.assert_array_equal(_arrays(tmp_path)["total"][-1, :, 0], [7.5] * 3 + [15.0] * 3)
    assert result.summary["settings"][4]["hparams"] == {"rate": 0.5, "period": 3}
    rows = _csv(str(tmp_path))
    assert rows[0]["period"] == "2" and rows[0]["label"] == "rate=0.25, period=2"


@pytest.mark.parametrize(
    "sweep, match",
    [
        ({"period": (2.5,)}, "sweep.period must be an integer, got 2.5"),
        (
            {"period": (0,)},
            r"sweep.period = 0 in setting 0 \(period=0\) is outside its domain: it "
            r"must be an integer in \[1, 100\]",
        ),
        (
            {"rate": (0.5, 1.5)},
            r"sweep.rate = 1.5 in setting 1 \(rate=1.5\) is outside its domain: "
            r"it must be a real number in \[0, 1\]",
        ),
    ],
)
def test_out_of_domain_values_are_refused_before_compiling(tmp_path, sweep, match):
    config = toy_config()
    with config.unlocked():
        config.hparams = {"rate": 0.5, "period": 1}
        config.sweep = sweep
    with pytest.raises(ValueError, match=match):
        run.run(count_experiment(10), config, str(tmp_path), log=_quiet)
    assert not (tmp_path / "config.json").exists()


def test_the_core_checks_domains_too():
    experiment = count_experiment(10)
    hparams = CountHparams(rate=jnp.asarray([0.5, 2.0]), period=jnp.asarray([1, 1], jnp.int32))
    with pytest.raises(ValueError, match=r"hparams.rate = 2 in setting 1 is outside its domain"):
        run.train(experiment, hparams, seed_keys(0, 2), num_chunks=1)


def test_a_long_run_does_not_keep_its_chunk_files_open(tmp_path):
    """300 chunks with file descriptors for only about 150 more: the final collection of the
    per-chunk files closes each one (it used to run out of descriptors after the training)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_now = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(open_now + 150, hard), hard))
    try:
        config = toy_config(total_steps=300, chunk_steps=1, checkpoint_every=100)
        run.run(toy_experiment(1), config, str(tmp_path), log=_quiet)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert _arrays(tmp_path)["x"].shape == (300, 3, 4)


def test_checkpoints_without_a_config_are_never_resumed(tmp_path):
    """A directory whose config.json is gone holds checkpoints of no known run: a new run there
    starts from scratch (and equals a run in an empty directory)."""
    run.run(toy_experiment(10), toy_config(), str(tmp_path / "w"), log=_quiet)
    os.remove(tmp_path / "w" / "config.json")
    other = toy_config(sweep={"drift": [5.0, 5.0, 5.0]})
    lines = []
    run.run(toy_experiment(10), other, str(tmp_path / "w"), log=lines.append)
    assert not any(line.startswith("resuming") for line in lines)
    run.run(toy_experiment(10), other, str(tmp_path / "fresh"), log=_quiet)
    for name, values in _arrays(tmp_path / "fresh").items():
        np.testing.assert_array_equal(_arrays(tmp_path / "w")[name], values)


def test_domains_are_checked_on_the_values_the_program_sees():
    """Values are checked as their float32 (or int32) leaves will hold them."""
    experiment = toy_experiment(10)._replace(domains={"scale": run.POSITIVE, "drift": run.DISCOUNT})
    with pytest.raises(run.ConfigError, match=r"hparams.scale = 1e-50 \(0 in float32\) is "):
        run.make_settings(experiment, {"scale": 1e-50, "drift": 0.5}, {})
    with pytest.raises(run.ConfigError, match=r"sweep.drift = 0.99999999 \(1 in float32\) in "):
        run.make_settings(experiment, {"scale": 1.0, "drift": 0.5}, {"drift": [0.5, 0.99999999]})
    with pytest.raises(run.ConfigError, match="overflows float32"):
        run.make_settings(toy_experiment(10), {"scale": 1e39, "drift": 0.0}, {})


@pytest.mark.parametrize(
    "defaults, sweep, match",
    [
        ({"scale": True, "drift": 0.0}, {}, "hparams.scale must be a number, got True"),
        ({"scale": 1.0, "drift": 0.0}, {"drift": ["1e2"]}, "sweep.drift must be a number"),
        ({"scale": 1.0, "drift": 0.0}, {"drift": 3}, "sweep.drift must be a non-empty list"),
        (3, {}, "config.hparams must be a mapping"),
        ({"scale": 1.0, "drift": 0.0}, None, "config.sweep must be a mapping"),
    ],
)
def test_values_that_are_no_numbers_are_refused_with_one_line(defaults, sweep, match):
    with pytest.raises(run.ConfigError, match=match):
        run.make_settings(toy_experiment(10), defaults, sweep)


def test_integers_must_fit_int32_and_the_seed_32_bits(tmp_path):
    with pytest.raises(run.ConfigError, match="sweep.period must fit in int32"):
        run.make_settings(count_experiment(10), {"rate": 0.5, "period": 1}, {"period": [2**40]})
    with pytest.raises(run.ConfigError, match=r"config.seed must be an integer in \[0, 2\^32\)"):
        run.run(toy_experiment(10), toy_config(seed=2**32), str(tmp_path), log=_quiet)


def test_hyperparameters_may_not_shadow_csv_columns():
    from typing import NamedTuple

    class Bad(NamedTuple):
        step: jax.Array

    experiment = toy_experiment(10)._replace(hparams_type=Bad, domains={"step": run.real()})
    with pytest.raises(ValueError, match=r"may not be named \['step'\]"):
        run.make_settings(experiment, {"step": 1.0}, {})


def test_the_policy_readout_picks_one_setting_and_seed(tmp_path):
    """``run.policy`` slices the carry at (setting, seed) and hands the experiment's policy that
    one seed's state and its setting's hyperparameters; bad arguments and an experiment without a
    policy are one line each."""
    config = toy_config(total_steps=10, chunk_steps=10)
    experiment = toy_experiment(10)._replace(
        policy=lambda carry, hparams, mode: (
            lambda obs, key: obs * carry["x"] + hparams.scale + (1.0 if mode == "sample" else 0.0)
        )
    )
    result = run.run(experiment, config, str(tmp_path), log=_quiet)
    settings = run.settings_from_config(experiment, config)
    x = np.asarray(result.carry["x"])  # [settings, seeds]
    scale = np.asarray(settings.hparams.scale)
    for h, i in ((0, 0), (2, 3), (1, 2)):
        act = run.policy(experiment, result.carry, settings.hparams, setting=h, seed=i)
        np.testing.assert_allclose(act(2.0, None), 2.0 * x[h, i] + scale[h], rtol=1e-6)
    sampled = run.policy(experiment, result.carry, settings.hparams, mode="sample")
    np.testing.assert_allclose(sampled(0.0, None), scale[0] + 1.0, rtol=1e-6)
    for kwargs, message in (
        ({"seed": 4}, r"seed must be in \[0, 4\), got 4"),
        ({"setting": -1}, r"setting must be in \[0, 3\), got -1"),
        ({"mode": "argmax"}, r"mode must be one of \('greedy', 'sample'\), got 'argmax'"),
    ):
        with pytest.raises(ValueError, match=message):
            run.policy(experiment, result.carry, settings.hparams, **kwargs)
    with pytest.raises(ValueError, match="this experiment exposes no policy"):
        run.policy(toy_experiment(10), result.carry, settings.hparams)


def test_a_sweep_too_large_for_memory_is_refused_before_anything_is_written(tmp_path):
    """Carries of 4 MiB a run, 3 settings x 10 million seeds (about 126 TB): refused in one line
    that names config.num_seeds and the number that fits in half the host's available memory;
    nothing traced but ``init``'s shapes, no work directory made. A sweep that fits runs."""
    from jaxrl.run import memory

    toy = toy_experiment(10)
    traced = []

    def init(key, hparams):
        traced.append("init")
        return {**toy.init(key, hparams), "big": jnp.zeros((2**20,), jnp.float32)}

    def train_chunk(carry, hparams):
        traced.append("chunk")
        return toy.train_chunk(carry, hparams)

    experiment = toy._replace(init=init, train_chunk=train_chunk)
    workdir = tmp_path / "w"
    with pytest.raises(ValueError, match="config.num_seeds = 10000000 is too many") as error:
        run.run(experiment, toy_config(num_seeds=10**7), str(workdir), log=_quiet)
    message = str(error.value)
    assert "\n" not in message and traced == ["init"] and not workdir.exists(), message
    per_run = memory.carry_bytes(experiment, run.settings_from_config(toy, toy_config()).hparams)
    assert per_run >= 2**22 and f"({per_run / 1e6:.3g} MB a run)" in message
    fit = int(re.search(r"about (\d+) seeds fit", message).group(1))
    assert 3 * fit * per_run <= memory.FRACTION * memory.host_available_bytes() * 1.05
    run.run(experiment, toy_config(num_seeds=2, total_steps=10), str(workdir), log=_quiet)
