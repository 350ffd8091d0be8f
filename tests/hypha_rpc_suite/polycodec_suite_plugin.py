"""pytest plugin for hypha-rpc's suite: `--accelerate` applies `polycodec.hypha.accelerate()`
at configure time, before any test module is imported or any client connects;
`--failures-file PATH` writes the node ids of the tests that failed or errored, one a line
(`.ci/hypha-rpc-suite` reruns them)."""
from pathlib import Path

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("polycodec")
    group.addoption("--accelerate", action="store_true",
                    help="run with polycodec.hypha.accelerate() applied")
    group.addoption("--failures-file", default=None,
                    help="write the ids of failed tests to this file")


class FailureLog:
    """Collects the ids of failed tests (any phase) and writes them at the end."""

    def __init__(self, path):
        self.path = Path(path)
        self.ids = []

    def pytest_runtest_logreport(self, report):
        if report.failed and report.nodeid not in self.ids:
            self.ids.append(report.nodeid)

    def pytest_sessionfinish(self):
        self.path.write_text("".join(f"{nodeid}\n" for nodeid in self.ids))


def pytest_configure(config):
    if config.getoption("accelerate"):
        import polycodec.hypha
        polycodec.hypha.accelerate()
        if not polycodec.hypha.is_accelerated():
            raise pytest.UsageError("polycodec.hypha.accelerate() did not apply")
    path = config.getoption("failures_file")
    if path:
        config.pluginmanager.register(FailureLog(path), "polycodec-failure-log")


def pytest_report_header(config):
    import hypha_rpc
    import polycodec
    mode = "accelerated" if config.getoption("accelerate") else "stock"
    return (f"hypha-rpc {hypha_rpc.__version__} {mode}; polycodec {polycodec.__version__} "
            f"({polycodec.IMPLEMENTATION})")
