"""Metrics finer than a chunk (``config.log_every``): the runner calls the experiment's
``train_chunk`` (built for one window of ``log_every`` steps) ``chunk_steps / log_every`` times
inside one compiled program, and records every window: ``metrics.csv``, ``per_seed.npz``, the
TensorBoard events and ``curves.png`` get a point per window.

Checked against the per-step reference (the same toy experiment run with one step per chunk:
every point equal, bit for bit), and across a crash, a resume and an extension (bit-identical to
the uninterrupted run). One compile of each program serves the module's runs."""

import pytest

from jaxrl import run
from tests.run.test_runner import _arrays, _board, _csv, _quiet
from tests.run.toy import toy_config, toy_experiment

# 5 steps a chunk, a point every step: 4 chunks of 5 windows, 20 points.
FINE = dict(total_steps=20, chunk_steps=5, log_every=1, checkpoint_every=1)


def _fine(**overrides):
    return toy_config(**{**FINE, **overrides})


def test_every_window_is_recorded_and_equals_the_per_step_reference(tmp_path):
    reference = run.run(
        toy_experiment(1),
        toy_config(total_steps=20, chunk_steps=1),
        str(tmp_path / "ref"),
        log=_quiet,
        tensorboard=False,
    )
    lines = []
    config = _fine()
    experiment = toy_experiment(run.window_steps(config))  # one window per train_chunk
    assert run.experiment_config(config).chunk_steps == 1
    fine = run.run(experiment, config, str(tmp_path / "fine"), log=lines.append)
    assert sum(line.startswith("chunk ") for line in lines) == 4  # a progress line per chunk
    for name in reference.metrics:
        assert fine.metrics[name].shape == (20, 3, 4)  # points, settings, seeds
        assert (fine.metrics[name] == reference.metrics[name]).all(), name
    arrays, ref_arrays = _arrays(tmp_path / "fine"), _arrays(tmp_path / "ref")
    for name in ref_arrays:
        assert (arrays[name] == ref_arrays[name]).all(), name
    assert _csv(tmp_path / "fine") == _csv(tmp_path / "ref")  # 20 points x 3 settings
    board = _board(tmp_path / "fine")  # tensorboardX writes "=" in a tag as "_"
    steps = [step for step, _ in board["x/drift_0/mean"]]
    assert steps == list(range(1, 21))
    assert (tmp_path / "fine" / "curves.png").stat().st_size > 0


def test_windows_resume_and_extend_bit_for_bit(tmp_path):
    experiment = toy_experiment(1)
    run.run(experiment, _fine(), str(tmp_path / "clean"), log=_quiet)

    class Crash(Exception):
        pass

    def crash_after_chunk_3(line):
        if line.startswith("chunk 3/"):
            raise Crash

    workdir = tmp_path / "crashed"
    with pytest.raises(Crash):
        run.run(experiment, _fine(checkpoint_every=2), str(workdir), log=crash_after_chunk_3)
    run.run(experiment, _fine(checkpoint_every=2), str(workdir), log=_quiet)  # from chunk 2
    clean, resumed = _arrays(tmp_path / "clean"), _arrays(workdir)
    for name in clean:
        assert (clean[name] == resumed[name]).all(), name
    assert _csv(tmp_path / "clean") == _csv(workdir)
    board, clean_board = _board(workdir), _board(tmp_path / "clean")
    del board["throughput/env_steps_per_s"], clean_board["throughput/env_steps_per_s"]
    assert board == clean_board
    # Extended from 20 to 30 steps: the run of 30 steps from scratch, point for point.
    run.run(experiment, _fine(total_steps=30), str(workdir), log=_quiet)
    run.run(experiment, _fine(total_steps=30), str(tmp_path / "long"), log=_quiet)
    extended, fresh = _arrays(workdir), _arrays(tmp_path / "long")
    for name in fresh:
        assert extended[name].shape[0] == 30 and (extended[name] == fresh[name]).all(), name


def test_log_every_must_divide_the_chunk():
    with pytest.raises(ValueError, match=r"config.log_every \(3\) must divide config.chunk_steps"):
        run.check_config(_fine(log_every=3))
    with pytest.raises(ValueError, match="config.log_every must be"):
        run.check_config(_fine(log_every=-1))
