"""The local cloud: one folder per product it stands in for, moto for the rest of AWS.

    import lab_app.localcloud as localcloud
    info = localcloud.start()      # background process; idempotent; sets this process's environment
    localcloud.status()            # what each component stores
    localcloud.stop()

The same from a shell: ``python -m lab_app.localcloud serve|start|stop|status|env|reset``.

Where things are: ``server.py`` (the process, the gateway and the stand-ins it lists), ``aws/`` (what every
AWS stand-in shares), ``xray/``, ``logs/``, ``cloudwatch/`` (alarms), ``events/`` (EventBridge routing),
``cloudtrail/``, ``iam/``, ``rollbar/``, and the Honeycomb stand-in with the OTLP receiver.
"""
from lab_app.localcloud.client import (
    LocalCloudError,
    LocalCloudInfo,
    advance_clock,
    control_headers,
    env,
    health,
    reset,
    start,
    status,
    stop,
)

__all__ = ["LocalCloudInfo", "LocalCloudError", "start", "stop", "status", "env", "reset", "health", "advance_clock",
           "control_headers"]
