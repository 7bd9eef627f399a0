"""Saved Insights queries (PutQueryDefinition / DescribeQueryDefinitions / DeleteQueryDefinition) with boto3 and
the awscli against the local cloud."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

AWS_CLI = Path(sys.executable).with_name("aws")


@pytest.fixture
def logs(cloud):
    return boto3.client("logs")


def describe_all(logs, **kwargs) -> list[dict]:
    out, token = [], None
    while True:
        page = logs.describe_query_definitions(**kwargs, **({"nextToken": token} if token else {}))
        out += page["queryDefinitions"]
        token = page.get("nextToken")
        if not token:
            return out


def test_create_update_describe_delete(logs):
    created = logs.put_query_definition(name="errors/by-route", queryString="filter status >= 500 | stats count(*) by route",
                                        logGroupNames=["/cruddur/backend"])
    qid = created["queryDefinitionId"]
    (saved,) = logs.describe_query_definitions()["queryDefinitions"]
    assert saved["queryDefinitionId"] == qid and saved["name"] == "errors/by-route"
    assert saved["logGroupNames"] == ["/cruddur/backend"] and saved["queryLanguage"] == "CWLI"
    assert isinstance(saved["lastModified"], int) and saved["lastModified"] > 0
    # an update replaces every member: the log groups left out are gone ("No current values are retained")
    assert logs.put_query_definition(queryDefinitionId=qid, name="errors/all", queryString="filter status >= 500",
                                     )["queryDefinitionId"] == qid
    (saved,) = logs.describe_query_definitions()["queryDefinitions"]
    assert saved["name"] == "errors/all" and saved["logGroupNames"] == [] and saved["queryString"] == "filter status >= 500"
    assert logs.delete_query_definition(queryDefinitionId=qid)["success"] is True
    assert logs.describe_query_definitions()["queryDefinitions"] == []


def test_delete_answers_success_and_unknown_ids(logs):
    qid = logs.put_query_definition(name="q", queryString="fields @message")["queryDefinitionId"]
    response = logs.delete_query_definition(queryDefinitionId=qid)
    assert response["success"] is True
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_query_definition(queryDefinitionId=qid)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_query_definition(queryDefinitionId="00000000-0000-0000-0000-000000000000", name="x",
                                  queryString="fields @message")


def test_prefix_language_and_paging(logs):
    names = [f"team-a/q{i:02d}" for i in range(7)] + ["team-b/q", "other"]
    for name in names:
        logs.put_query_definition(name=name, queryString="fields @message | limit 5")
    logs.put_query_definition(name="team-a/sql", queryString="SELECT * FROM `logGroups(logGroupIdentifier: ['g'])`",
                              queryLanguage="SQL")
    every = describe_all(logs, maxResults=3)
    assert sorted(d["name"] for d in every) == sorted(names + ["team-a/sql"])
    assert len({d["queryDefinitionId"] for d in every}) == len(names) + 1
    team_a = describe_all(logs, queryDefinitionNamePrefix="team-a/", maxResults=2)
    assert [d["name"] for d in team_a] == sorted([n for n in names if n.startswith("team-a/")] + ["team-a/sql"])
    sql = logs.describe_query_definitions(queryLanguage="SQL")["queryDefinitions"]
    assert [(d["name"], d["queryLanguage"]) for d in sql] == [("team-a/sql", "SQL")]
    page = logs.describe_query_definitions(maxResults=4)
    assert len(page["queryDefinitions"]) == 4 and "nextToken" in page


def test_parameters_and_client_token(logs):
    params = [{"name": "route", "defaultValue": "/api/messages", "description": "the route"}]
    token = "0" * 36
    first = logs.put_query_definition(name="by-route", queryString='filter route = "{{route}}"', parameters=params,
                                      clientToken=token)["queryDefinitionId"]
    again = logs.put_query_definition(name="by-route", queryString='filter route = "{{route}}"', parameters=params,
                                      clientToken=token)["queryDefinitionId"]
    assert again == first
    (saved,) = logs.describe_query_definitions()["queryDefinitions"]
    assert saved["parameters"] == params


BAD = [
    ("no name", {"queryString": "fields @message"}, "ParamValidation"),
    ("empty name", {"name": "", "queryString": "fields @message"}, "ParamValidation"),
    ("long name", {"name": "n" * 256, "queryString": "fields @message"}, "InvalidParameterException"),
    ("long query", {"name": "n", "queryString": "x" * 10_001}, "InvalidParameterException"),
    ("bad group name", {"name": "n", "queryString": "fields @message", "logGroupNames": ["bad name"]},
     "InvalidParameterException"),
    ("bad language", {"name": "n", "queryString": "q", "queryLanguage": "KQL"}, "InvalidParameterException"),
    ("short client token", {"name": "n", "queryString": "q", "clientToken": "abc"}, "ParamValidation"),
    ("duplicate parameters", {"name": "n", "queryString": "q", "parameters": [{"name": "a"}, {"name": "a"}]},
     "InvalidParameterException"),
    ("bad parameter name", {"name": "n", "queryString": "q", "parameters": [{"name": "1a"}]},
     "InvalidParameterException"),
]


@pytest.mark.parametrize("case,kwargs,code", BAD, ids=[b[0] for b in BAD])
def test_bad_input(logs, case, kwargs, code):
    from botocore.config import Config
    from botocore.exceptions import ClientError, ParamValidationError

    raw = boto3.client("logs", config=Config(parameter_validation=False))
    with pytest.raises((ClientError, ParamValidationError)) as info:
        (logs if code == "ParamValidation" else raw).put_query_definition(**kwargs)
    if code == "ParamValidation":
        assert isinstance(info.value, ParamValidationError)
        # and the server says the same without the client's check
        with pytest.raises(ClientError) as server:
            raw.put_query_definition(**kwargs)
        assert server.value.response["Error"]["Code"] == "InvalidParameterException"
    else:
        assert info.value.response["Error"]["Code"] == code
    assert logs.describe_query_definitions()["queryDefinitions"] == []


@pytest.mark.parametrize("kwargs", [{"maxResults": 0}, {"maxResults": 1001}, {"nextToken": "not-a-token"}],
                         ids=["max 0", "max 1001", "bad token"])
def test_describe_bad_input(logs, kwargs):
    from botocore.config import Config

    raw = boto3.client("logs", config=Config(parameter_validation=False))
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.describe_query_definitions(**kwargs)


def test_awscli_put_and_describe(cloud):
    env = dict(os.environ)

    def aws(*args):
        return subprocess.run([str(AWS_CLI), "logs", *args, "--output", "json"], env=env, capture_output=True,
                              text=True, timeout=60)

    put = aws("put-query-definition", "--name", "cli/errors", "--query-string", "filter status >= 500",
              "--log-group-names", "/cruddur/backend")
    assert put.returncode == 0, put.stderr
    qid = json.loads(put.stdout)["queryDefinitionId"]
    described = aws("describe-query-definitions", "--query-definition-name-prefix", "cli/")
    assert described.returncode == 0, described.stderr
    (saved,) = json.loads(described.stdout)["queryDefinitions"]
    assert saved["queryDefinitionId"] == qid and saved["logGroupNames"] == ["/cruddur/backend"]
    gone = aws("delete-query-definition", "--query-definition-id", qid)
    assert gone.returncode == 0 and json.loads(gone.stdout) == {"success": True}
    again = aws("delete-query-definition", "--query-definition-id", qid)
    assert again.returncode != 0 and "ResourceNotFoundException" in again.stderr
