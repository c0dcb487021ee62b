"""Test-wide settings.

- JAX: silent rank promotion is an error (broadcasting must be explicit).
- pytest-xdist (``-n auto``): the tests of a module whose module fixture is expensive go to one
  worker as one unit, so the fixture is made once (``--dist load`` would split the module, and
  each worker, or one worker returning to the module later, would make it again: the main job's
  fixture alone is 100+ s). Every other test is its own unit, handed to whichever worker is
  free; the units go out largest first (xdist's ``loadscope`` order), so the main job's unit
  starts at once. (pytest-xdist's own ``--dist loadgroup`` marks cannot do this under pytest 9,
  whose node ids xdist can no longer rename.)
- One persistent JAX compilation cache for the session (a temporary directory, removed at the
  end), shared by the xdist workers: a program that tests on both workers compile (the same
  experiment or agent in several modules) is compiled once. What is compiled is unchanged.
- XLA compiles at LLVM's optimization level 1 (``--xla_backend_optimization_level=1`` in
  ``XLA_FLAGS``, which the processes the tests start inherit; a test that sets its own
  ``XLA_FLAGS`` keeps it). The suite is mostly compiles of small programs: at level 1 they take
  about 28% less CPU, and the whole suite 10% less wall time (564 s against 624 s on the same
  machine, 2026-12-07). XLA's own passes and its float semantics (no fast math) are the same;
  LLVM's instruction choices may move results in the last bits, which no test depends on: every
  comparison is between runs of the suite's own processes, or to a tolerance. (Level 0 is not
  used: some programs came out with NaN there, which level 1 and the default never give.)
- XLA's CPU backend emits its fusions with its older elemental emitters
  (``--xla_cpu_use_fusion_emitters=false``, inherited the same way): the same fused computations
  in the same float semantics, compiled 30-45% faster (a deep agent's chunk: PPO on Acrobot 6.6
  -> 3.6-4.1 s, DQN 4.2 -> 2.4 s, SAC 4.8 -> 2.7 s, PPO on Brax 16.4 -> 11.4 s, on a busy
  machine, 2026-12-07). Benchmarks and the user's runs keep XLA's default.
- Python's cyclic garbage collector runs less often in the test processes (the objects made at
  import frozen, a larger first generation): tracing a program makes many short-lived objects,
  and the default thresholds spent about 3% of a deep-agent test's time collecting them.
"""

import gc
import os
import shutil
import tempfile

import jax
import pytest

_TEST_XLA_FLAGS = {
    "--xla_backend_optimization_level": "1",
    "--xla_cpu_use_fusion_emitters": "false",
}
for _flag, _value in _TEST_XLA_FLAGS.items():  # read when the backend starts, not at import
    if _flag not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_flag}={_value}".strip()

jax.config.update("jax_numpy_rank_promotion", "raise")

_CACHE = "JAXRL_TESTS_COMPILATION_CACHE"  # not JAX's own variable: see pytest_configure


def pytest_configure(config):
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    # The controller (or the only process, without xdist) makes the directory and the workers
    # inherit its name. The processes the tests start do not use it (JAX reads its own
    # JAX_COMPILATION_CACHE_DIR, which a test sets where it wants one): JAX writes an entry
    # without a lock, and a process reading one being written warns on its stderr, which the
    # command-line tests read line by line. (In a test process the warning is harmless: the
    # program is compiled instead.) Programs compiled in under 0.2 s are not worth a file.
    if _CACHE not in os.environ:
        path = tempfile.mkdtemp(prefix="jaxrl-tests-jax-cache-")
        os.environ[_CACHE] = config._jaxrl_compilation_cache = path
    jax.config.update("jax_compilation_cache_dir", os.environ[_CACHE])
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def pytest_unconfigure(config):
    path = getattr(config, "_jaxrl_compilation_cache", None)
    if path is not None:
        os.environ.pop(_CACHE, None)
        shutil.rmtree(path, ignore_errors=True)


ONE_WORKER_MODULES = (
    "tests/test_book.py",  # the main job, run once by its module fixture
    "tests/run/test_multiprocess.py",  # a single-process reference run, a compilation cache
    "tests/run/test_faults.py",  # reference runs, the killed processes' compilation cache
    "tests/agents/test_dpo.py",  # the SFT and DPO runs its LM pipelines share (fixtures)
)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a hook of pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ModuleUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return ModuleUnits(config, log)
