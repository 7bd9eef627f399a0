"""For `pytest --nbval-lax notebooks`: stop the local cloud afterwards if this run started it."""
import lab_app.localcloud as localcloud

_was_running = None


def pytest_sessionstart(session):
    global _was_running
    _was_running = localcloud.health() is not None


def pytest_sessionfinish(session, exitstatus):
    if _was_running is False and localcloud.health() is not None:
        localcloud.stop()
