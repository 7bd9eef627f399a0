"""A raw AWS request signed with SigV4, for the bad bodies botocore will not send (tests of the stand-ins' 4xx)."""
from __future__ import annotations


def signed_raw(url: str, service: str, region: str, body: bytes, method: str = "POST"):
    """A raw request signed with SigV4 (the environment's credentials), for bodies botocore would not send."""
    import boto3
    import requests
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(boto3.Session().get_credentials(), service, region).add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=10)
