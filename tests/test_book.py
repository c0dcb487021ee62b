"""Smoke tests of the experiments.book binary, run as the user runs it (a subprocess).

The binary runs once per session (about 10 s on 2 CPU cores); the tests then read what it wrote.
A subprocess keeps the binary's absl flags out of the test process.
"""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
FIGURES = (
    "ch2_2x2.png",
    "ch2_policies.png",
    "ch3_gammas.png",
    "ch3_strong_punishment.png",
    "ch3_affine.png",
    "ch4_policy_iteration.png",
    "ch4_convergence.png",
)


def _run(*args, timeout=120):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "experiments.book", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("book") / "nested" / "run"  # created by the binary
    proc = _run(f"--workdir={workdir}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"wrote {workdir / 'report.html'}" in proc.stderr  # absl logging says where
    return workdir


@pytest.fixture(scope="module")
def values(workdir):
    return json.loads((workdir / "values.json").read_text())


def test_writes_everything_into_workdir(workdir):
    names = sorted(p.name for p in workdir.iterdir())
    assert names == sorted([*FIGURES, "values.json", "report.html"])
    for name in FIGURES:
        data = (workdir / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000


def test_report_is_self_contained(workdir):
    report = (workdir / "report.html").read_text()
    for chapter in ("Chapter 2", "Chapter 3", "Chapter 4"):
        assert chapter in report
    assert report.count('src="data:image/png;base64,') == len(FIGURES)
    # No reference to any other file: every src is a data URI and there are no links.
    assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', report))
    assert "href=" not in report
    assert report.count("<figcaption>") == len(FIGURES)
    assert report.count('<table class="grid">') >= 10


def test_optimal_values_match_the_book(values):
    optimal = {entry["gamma"]: entry for entry in values["chapter3"]["optimal"]}
    v = np.round(np.array(optimal[0.9]["values"]), 1)
    np.testing.assert_allclose(v[0], [5.8, 5.6, 6.2, 6.5, 5.8])
    np.testing.assert_allclose(v[-1], [7.2, 9.0, 10.0, 9.0, 8.1])
    np.testing.assert_allclose(np.round(values["chapter2"]["policies"]["optimal"]["values"], 1), v)
    assert optimal[0.9]["policy"]["actions"][3][2] == "stay"  # stay at the target


def test_chapter2_values(values):
    small = values["chapter2"]["example_2x2"]
    np.testing.assert_allclose(np.array(small["values"]).reshape(-1), [9, 10, 10, 10], atol=1e-3)
    good = np.round(values["chapter2"]["policies"]["good"]["values"], 1)
    np.testing.assert_allclose(good[0], [3.5, 3.9, 4.3, 4.8, 5.3])
    np.testing.assert_allclose(good[:, 0], [3.5, 3.1, 2.8, 2.5, 2.3])
    uniform = values["chapter2"]["policies"]["uniform random"]
    assert uniform["policy"]["actions"] is None  # stochastic: probabilities only
    np.testing.assert_allclose(np.array(uniform["policy"]["probabilities"]), 0.2)


def test_chapter3_values(values):
    ch3 = values["chapter3"]
    strong = np.array(ch3["strong_punishment"]["values"])
    assert ch3["strong_punishment"]["grid"]["reward_forbidden"] == -10.0
    # With r_forbidden = -10 the optimal policy avoids the forbidden area: the book's "good"
    # policy values.
    good = np.array(values["chapter2"]["policies"]["good"]["values"])
    np.testing.assert_allclose(strong, good, atol=2e-3)
    affine = ch3["affine"]
    assert affine["same_greedy_actions"] and affine["base_policy_optimal_after_shift"]
    assert affine["max_abs_value_error"] < 1e-3
    shifted = np.array(affine["shifted"]["values"])
    np.testing.assert_allclose(
        shifted, np.array(affine["original"]["values"]) + affine["value_shift"], atol=2e-3
    )


def test_chapter4_policy_iteration_and_convergence(values):
    ch4 = values["chapter4"]
    sequence = ch4["policy_iteration"]
    assert sequence[0]["policy"]["actions"][0][0] == "stay"
    assert sequence[-1]["stable"] and not any(e["stable"] for e in sequence[:-1])
    np.testing.assert_allclose(sequence[-1]["values"], ch4["convergence"]["v_star"], atol=2e-3)
    errors = ch4["convergence"]["errors"]
    assert set(errors) >= {"value iteration", "truncated PI, j=3", "policy iteration"}
    k = ch4["convergence"]["iterations"]
    for name, curve in errors.items():
        curve = np.array(curve)
        assert curve.shape == (k + 1,), name
        assert curve[0] == pytest.approx(10.0, rel=1e-3)  # ||0 - v*|| = max v* = 10
        assert curve[-1] < 1e-3 * curve[0], name
        assert np.all(np.diff(curve) <= 1e-4), name  # non-increasing, up to float32 noise
    np.testing.assert_allclose(errors["value iteration"], errors["truncated PI, j=1"])
    # Longer truncations converge in fewer iterations.
    first_below = {n: int(np.argmax(np.array(c) < 1e-2)) for n, c in errors.items()}
    assert first_below["truncated PI, j=3"] < first_below["value iteration"]
    assert first_below["policy iteration"] <= first_below["truncated PI, j=3"]
    assert values["config"]["gamma"] == 0.9


@pytest.mark.parametrize(
    "flag, field",
    [("--config.gamma=1.0", "gamma"), ("--config.truncations=(3,0)", "truncations")],
)
def test_bad_config_fails_fast(tmp_path, flag, field):
    workdir = tmp_path / "never"
    proc = _run(f"--workdir={workdir}", flag, timeout=60)
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: ") and f"config.{field}" in last_line
    assert "Traceback" not in proc.stderr
    assert not workdir.exists()  # nothing written
