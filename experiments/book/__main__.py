"""``python -m experiments.book --workdir=DIR``: the main job (see ``experiments/book``)."""

from __future__ import annotations

from absl import app, flags

from experiments import cli
from experiments.book import report
from jaxrl.configs import book as book_config
from jaxrl.run.workdir import check_writable

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory to write figures and results into.")
_CONFIG = cli.define_config_file(
    "config", book_config.__file__, "Path to the experiment config file."
)
flags.mark_flag_as_required("workdir")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    config = cli.config_value(_CONFIG)
    try:
        report.check_config(config)
        check_writable(_WORKDIR.value)
    except ValueError as e:
        cli.fail(str(e))
    report.run(config, _WORKDIR.value)


if __name__ == "__main__":
    cli.run(main)
