"""What a web page the learner opens cannot do to the local cloud (lab_app/localcloud/guard.py): DNS rebinding
(a foreign Host) on every port, and cross-site POSTs to the control routes and /moto-api/ without the secret."""
from __future__ import annotations

import json
import os
import socket
import stat

import boto3
import pytest
import requests

from lab_app.localcloud import guard
from lab_app.localcloud.guard import TOKEN_HEADER, host_name, is_loopback

# what a browser sends with a cross-site form POST (text/plain needs no preflight)
CROSS_SITE = {"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
              "Sec-Fetch-Mode": "no-cors"}


def raw_request(port: int, host_header: str, path: str = "/_localcloud/health", method: str = "GET") -> bytes:
    """One HTTP/1.1 request with exactly this Host header (requests would put the URL's host there)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nContent-Length: 0\r\n"
                     "Connection: close\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("header, name", [("127.0.0.1:4566", "127.0.0.1"), ("localhost", "localhost"),
                                          ("[::1]:4318", "::1"), ("Evil.Example:4566", "evil.example"),
                                          ("[::1", "[::1")])
def test_host_name(header, name):
    assert host_name(header) == name


@pytest.mark.parametrize("host, loopback", [("127.0.0.1", True), ("127.3.4.5", True), ("localhost", True),
                                            ("::1", True), ("[::1]", True), ("evil.example", False),
                                            ("127.0.0.1.evil.example", False), ("0.0.0.0", False), ("", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_127_prefixed_names_are_loopback_only_when_numeric():
    # "127.0.0.1.evil.example" is a DNS name an attacker controls: it must not pass as loopback
    assert is_loopback("127.0.0.1.evil.example") is False


def test_the_secret_file_is_private_and_new_per_start(cloud, tmp_path):
    path = cloud.data_dir / guard.TOKEN_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert path.read_text() == cloud.control_token and len(cloud.control_token) == 48
    assert guard.create_token(tmp_path) != cloud.control_token


@pytest.mark.parametrize("route", ["reset", "shutdown", "clock", "status", "honeycomb/spans"])
def test_control_routes_refuse_a_cross_site_post_without_the_secret(cloud, route):
    answer = requests.post(f"{cloud.aws_url}/_localcloud/{route}", data='{"advance_seconds": 99999}',
                           headers=CROSS_SITE, timeout=10)
    assert answer.status_code == 403
    assert answer.json()["__type"] == "AccessDeniedException" and TOKEN_HEADER in answer.json()["message"]
    assert requests.get(f"{cloud.aws_url}/_localcloud/health", timeout=10).json()["ok"] is True   # still up
    assert cloud.clock.offset == 0


def test_a_wrong_secret_is_refused_and_the_right_one_works(cloud):
    wrong = requests.post(f"{cloud.aws_url}/_localcloud/clock", json={"advance_seconds": 60},
                          headers={TOKEN_HEADER: "not-it\u00e9"}, timeout=10)
    assert wrong.status_code == 403 and cloud.clock.offset == 0
    right = requests.post(f"{cloud.aws_url}/_localcloud/clock", json={"advance_seconds": 60},
                          headers={TOKEN_HEADER: cloud.control_token}, timeout=10)
    assert right.status_code == 200 and right.json()["offset_s"] == 60


def test_health_needs_no_secret(cloud):
    answer = requests.get(f"{cloud.aws_url}/_localcloud/health", timeout=10).json()
    assert answer["ok"] and answer["data_dir"] == str(cloud.data_dir)


def test_a_foreign_host_is_refused_on_every_port(cloud):
    # DNS rebinding: the browser thinks it talks to evil.example, the socket is ours
    for port, path in ((cloud.ports["aws"], "/_localcloud/health"), (cloud.ports["otlp"], "/1/auth"),
                       (cloud.ports["daemon"], "/GetSamplingRules")):
        answer = raw_request(port, f"evil.example:{port}", path)
        assert answer.startswith(b"HTTP/1.1 403"), (port, answer[:200])
        assert b"is not a loopback name" in answer
        assert raw_request(port, f"localhost:{port}", path).split(b" ")[1] != b"403"


def test_aws_calls_with_the_real_clients_pass_the_guard(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="guarded")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["guarded"]


def test_moto_api_refuses_a_browser_but_serves_a_test_harness(cloud):
    boto3.client("sqs").create_queue(QueueName="kept")
    from_a_page = requests.post(f"{cloud.aws_url}/moto-api/reset", headers=CROSS_SITE, timeout=10)
    assert from_a_page.status_code == 403
    assert any(url.endswith("/kept") for url in boto3.client("sqs").list_queues()["QueueUrls"])
    # moto's documented reset, as moto-style harnesses call it: no Origin, no Sec-Fetch-* headers
    harness = requests.post(f"{cloud.aws_url}/moto-api/reset", timeout=10)
    assert harness.status_code == 200
    assert not any(url.endswith("/kept") for url in boto3.client("sqs").list_queues().get("QueueUrls", []))


def test_the_client_functions_send_the_secret(cloud):
    from lab_app import localcloud

    assert localcloud.status(cloud.ports["aws"])["components"]["honeycomb"]["spans"] == 0
    assert localcloud.advance_clock(30, cloud.ports["aws"])["offset_s"] == 30
    headers = localcloud.control_headers(cloud.ports["aws"])
    assert headers == {TOKEN_HEADER: cloud.control_token}
    assert json.loads(requests.get(f"{cloud.aws_url}/_localcloud/status", headers=headers, timeout=10).text)["pid"]


def test_moto_api_reset_resets_our_stand_ins_too(cloud):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="wiped-by-moto-reset")
    boto3.client("xray").create_group(GroupName="wiped", FilterExpression='service("a")')
    assert requests.post(f"{cloud.aws_url}/moto-api/reset", timeout=30).status_code == 200
    assert logs.describe_log_groups(logGroupNamePrefix="wiped")["logGroups"] == []
    assert "wiped" not in [g["GroupName"] for g in boto3.client("xray").get_groups()["Groups"]]
