"""pytest hooks for `pytest --nbval-lax notebooks` (kept out of notebooks/, the learner's file browser).

When the notebooks run under nbval, stop the local cloud afterwards if this run started it. The plain
test suite (`pytest tests`) uses in-process clouds of its own and is left alone.
"""
import lab_app.localcloud as localcloud

_was_running = None


def _running_notebooks(config) -> bool:
    return bool(config.getoption("nbval", False) or config.getoption("nbval_lax", False))


def pytest_sessionstart(session):
    global _was_running
    if _running_notebooks(session.config):
        _was_running = localcloud.health() is not None


def pytest_sessionfinish(session, exitstatus):
    if _was_running is False and localcloud.health() is not None:
        localcloud.stop()
