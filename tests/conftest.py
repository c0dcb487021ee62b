"""Test-wide settings.

- JAX: silent rank promotion is an error (broadcasting must be explicit).
- pytest-xdist (``-n auto``): the tests of a module whose module fixture is expensive go to one
  worker as one unit, so the fixture is made once (``--dist load`` would split the module, and
  each worker, or one worker returning to the module later, would make it again: the main job's
  fixture alone is 100+ s). Every other test is its own unit, handed to whichever worker is
  free; the units go out largest first (xdist's ``loadscope`` order), so the main job's unit
  starts at once. (pytest-xdist's own ``--dist loadgroup`` marks cannot do this under pytest 9,
  whose node ids xdist can no longer rename.)
"""

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

ONE_WORKER_MODULES = (
    "tests/test_book.py",  # the main job, run once by its module fixture
    "tests/run/test_multiprocess.py",  # a single-process reference run, a compilation cache
    "tests/run/test_faults.py",  # reference runs, the killed processes' compilation cache
)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a hook of pytest-xdist
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ModuleUnits(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in ONE_WORKER_MODULES else nodeid

    return ModuleUnits(config, log)
