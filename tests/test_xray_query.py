"""lab_app.query.xray: typed DataFrames from the real APIs, values checked against what was sent."""
from __future__ import annotations

import json
import time

import boto3
import pytest
from xray_helpers import Spec, documents

from lab_app.query import xray as xq


@pytest.fixture
def sent(cloud):
    client = boto3.client("xray")
    base = time.time() - 30
    specs = [Spec(response_time=0.2 + i * 0.1, downstream="notifications" if i % 2 else None,
                  status=500 if i == 3 else 200, annotations={"idx": i}) for i in range(12)]
    docs = []
    for i, spec in enumerate(specs):
        docs += documents(spec, base + i)
    client.put_trace_segments(TraceSegmentDocuments=[json.dumps(d) for d in docs])
    return specs, base


def test_trace_summaries_typed_and_paged(sent):
    specs, base = sent
    frame = xq.trace_summaries(start=base - 5, end=base + 60)
    assert len(frame) == len(specs)
    assert str(frame["start_time"].dtype).startswith("datetime64") and frame["start_time"].dt.tz is not None
    expected = {s.trace_id: s.response_time * 1000 for s in specs}
    assert all(abs(expected[t] - ms) < 0.01 for t, ms in zip(frame["trace_id"], frame["response_time_ms"]))
    faults = xq.trace_summaries(start=base - 5, end=base + 60, filter_expression="fault")
    assert list(faults["trace_id"]) == [specs[3].trace_id]
    assert faults["http_status"].tolist() == [500]
    assert frame.set_index("trace_id").loc[specs[5].trace_id, "annotations"] == {"idx": 5.0}


def test_segments_frame_has_depth_and_offsets(sent):
    specs, _ = sent
    ids = [s.trace_id for s in specs[:7]]  # more than one BatchGetTraces chunk
    frame = xq.segments(ids)
    assert set(frame["trace_id"]) == set(ids)
    one = frame[frame["trace_id"] == specs[1].trace_id].set_index("name")
    assert one.loc["notifications", "depth"].tolist() == [1, 2]  # the call (subsegment) then the downstream segment
    assert one.loc["backend-flask", "offset_ms"] == 0.0
    assert one.loc["backend-flask", "duration_ms"] == pytest.approx(specs[1].response_time * 1000)


def test_service_graph_frames_and_networkx(sent):
    specs, base = sent
    nodes, edges = xq.service_graph(start=base - 5, end=base + 60)
    backend = nodes.set_index("service").loc["backend-flask"]
    assert backend["requests"] == len(specs) and backend["faults"] == 1
    edge = edges.set_index(["source", "target"]).loc[("backend-flask", "notifications")]
    assert edge["requests"] == sum(1 for s in specs if s.downstream)
    graph = xq.service_graph_nx(start=base - 5, end=base + 60)
    assert list(graph.edges) == [("backend-flask", "notifications")]
    assert graph.nodes["backend-flask"]["root"] is True
