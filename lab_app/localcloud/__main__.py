"""python -m lab_app.localcloud serve|start|stop|status|env|reset"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys

import lab_app.localcloud as localcloud
from lab_app import config
from lab_app.localcloud.server import LOG_FILE, PID_FILE, LocalCloud


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", default=None, help="where the DuckDB store and log live (LAB_DATA_DIR, default .lab/)")
    parser.add_argument("--aws-port", type=int, default=None, help=f"AWS gateway port (LAB_AWS_PORT, default {config.DEFAULT_AWS_PORT})")
    parser.add_argument("--otlp-port", type=int, default=None, help=f"OTLP/HTTP port (LAB_OTLP_PORT, default {config.DEFAULT_OTLP_PORT})")
    parser.add_argument("--daemon-port", type=int, default=None,
                        help=f"X-Ray daemon UDP+TCP port (LAB_XRAY_DAEMON_PORT, default {config.DEFAULT_DAEMON_PORT})")


def serve(args) -> int:
    cloud = LocalCloud(args.data_dir, args.aws_port, args.otlp_port, args.daemon_port)
    handler = logging.FileHandler(cloud.data_dir / LOG_FILE)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("werkzeug", "moto", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        cloud.start()
    except Exception as exc:
        logging.getLogger("lab_app.localcloud").exception("could not start")
        print(f"could not start the local cloud: {exc}", file=sys.stderr)
        return 1
    pid_path = cloud.data_dir / PID_FILE
    pid_path.write_text(str(os.getpid()))

    def _term(signum, frame):
        cloud.stop()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    print(f"local cloud serving: {json.dumps(cloud.ports)} data in {cloud.data_dir}", flush=True)
    cloud.wait()
    pid_path.unlink(missing_ok=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab_app.localcloud", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in (("serve", "run in the foreground"), ("start", "run in the background (idempotent), wait until healthy"),
                       ("stop", "stop the background stack"), ("status", "each component and how much it stores"),
                       ("env", "print `export VAR=...` lines for a shell"), ("reset", "wipe stored data")):
        _add_common(sub.add_parser(name, help=text))
    args = parser.parse_args(argv)
    if args.command == "serve":
        return serve(args)
    try:
        if args.command == "start":
            info = localcloud.start(args.data_dir, args.aws_port, args.otlp_port, args.daemon_port, set_environ=False)
            verb = "already running" if info.attached else "started"
            print(f"local cloud {verb} (pid {info.pid}): AWS {info.aws_url}, OTLP {info.otlp_url}, "
                  f"X-Ray daemon {info.host}:{info.daemon_port}, data in {info.data_dir}")
            print("run `eval \"$(python -m lab_app.localcloud env)\"` to point a shell at it")
        elif args.command == "stop":
            print("stopped" if localcloud.stop(args.data_dir, args.aws_port) else "not running")
        elif args.command == "status":
            answer = localcloud.status(args.aws_port)
            if answer is None:
                print("not running (start it with `python -m lab_app.localcloud start`)")
                return 3
            print(f"local cloud pid {answer['pid']}, up {answer['uptime_s']} s, data in {answer['data_dir']}")
            print("ports: " + ", ".join(f"{k} {v}" for k, v in answer["ports"].items()))
            for name, counts in answer["components"].items():
                detail = ", ".join(f"{k}={v}" for k, v in counts.items()) or "-"
                print(f"  {name:<12} {detail}")
            for problem in answer.get("problems", []):
                print(f"PROBLEM: {problem} (restart it: python -m lab_app.localcloud stop && "
                      "python -m lab_app.localcloud start)")
            if answer.get("problems"):
                return 4
        elif args.command == "env":
            for key, value in localcloud.env(args.data_dir, args.aws_port, args.otlp_port, args.daemon_port).items():
                print(f"export {key}='{value}'")
        elif args.command == "reset":
            print(localcloud.reset(args.data_dir, args.aws_port))
    except localcloud.LocalCloudError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
