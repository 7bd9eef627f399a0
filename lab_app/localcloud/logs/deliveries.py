"""CloudWatch Logs vended-log deliveries, as validated records: delivery sources (PutDeliverySource, Get/Describe/
DeleteDeliverySource), delivery destinations (PutDeliveryDestination, Get/Describe/DeleteDeliveryDestination,
Put/Get/DeleteDeliveryDestinationPolicy) and the deliveries that link them (CreateDelivery, GetDelivery,
DescribeDeliveries, UpdateDeliveryConfiguration, DeleteDelivery).

The rules kept, with AWS's error codes: one delivery source per (resource, log type) in an account
(``ConflictException`` "This ResourceId has already been used in another Delivery Source in this account.");
an existing source cannot move to another resource; tags only on creation ("Tags can only be provided when a
resource is being created, not updated.", ``ConflictException``); a destination's type follows its resource ARN
(a log group is CWL, a bucket S3, a Firehose stream FH; XRAY takes no resource); a delivery needs an existing
source and destination (``ResourceNotFoundException``), one per (source, destination) pair; a source or
destination that deliveries still use cannot be deleted (``ConflictException``); ``s3DeliveryConfiguration``
only for an S3 destination (``ValidationException``).

Not modelled: the services that vend these logs (CloudFront, Bedrock AgentCore, ...) do not exist locally, so a
delivery carries no data and the source resource is not looked up; the per-service configuration templates
(DescribeConfigurationTemplates) are not answered.
"""
from __future__ import annotations

import json
import secrets
import string
from typing import Any

from lab_app import config
from lab_app.localcloud.logs import exceptions as exc

DDL = {
    "logs_delivery_sources": """CREATE TABLE IF NOT EXISTS logs_delivery_sources (
        region VARCHAR, name VARCHAR, doc VARCHAR, PRIMARY KEY (region, name))""",
    "logs_delivery_destinations": """CREATE TABLE IF NOT EXISTS logs_delivery_destinations (
        region VARCHAR, name VARCHAR, doc VARCHAR, policy VARCHAR, PRIMARY KEY (region, name))""",
    "logs_deliveries": """CREATE TABLE IF NOT EXISTS logs_deliveries (
        region VARCHAR, id VARCHAR, doc VARCHAR, created BIGINT, PRIMARY KEY (region, id))""",
}
DESTINATION_TYPES = {"logs": "CWL", "s3": "S3", "firehose": "FH"}
ID_CHARS = string.ascii_letters + string.digits


class ConflictException(exc.LogsError):
    code = "ConflictException"


def _arn(region: str, kind: str, name: str) -> str:
    return f"arn:aws:logs:{region}:{config.ACCOUNT_ID}:{kind}:{name}"


def _conflict_on_update_tags(existing: Any, tags: Any) -> None:
    if existing is not None and tags:
        raise ConflictException("Tags can only be provided when a resource is being created, not updated.")


class Deliveries:
    def __init__(self, store, now_ms):
        self.store = store
        self.now_ms = now_ms

    def setup(self) -> None:
        for name, ddl in DDL.items():
            self.store.ensure_table(name, ddl)

    # ---- storage helpers ---------------------------------------------------------------------------
    def _get(self, table: str, region: str, key: str, column: str = "name") -> dict | None:
        rows = self.store.execute(f"SELECT doc FROM {table} WHERE region = ? AND {column} = ?", [region, key])
        return json.loads(rows[0][0]) if rows else None

    def _all(self, table: str, region: str, order: str = "name") -> list[dict]:
        return [json.loads(r[0]) for r in self.store.execute(f"SELECT doc FROM {table} WHERE region = ? "
                                                             f"ORDER BY {order}", [region])]

    @staticmethod
    def _page(items: list[dict], limit: int, offset: int) -> tuple[list[dict], bool]:
        return items[offset:offset + limit], len(items) > offset + limit

    # ---- sources -----------------------------------------------------------------------------------
    def put_source(self, region: str, body: dict) -> dict:
        name, resource, log_type = body["name"], body["resourceArn"], body["logType"]
        parts = resource.split(":")
        if len(parts) < 6 or parts[0] != "arn" or not parts[2]:
            raise exc.ValidationException(f"Invalid resourceArn: {resource}")
        with self.store.lock:
            existing = self._get("logs_delivery_sources", region, name)
            _conflict_on_update_tags(existing, body.get("tags"))
            if existing is not None and existing["resourceArns"] != [resource]:
                raise exc.ValidationException("Update to existing Delivery Source with new ResourceId is not "
                                              "allowed. Please create a new Delivery Source instead.")
            for other in self._all("logs_delivery_sources", region):
                if other["name"] != name and other["resourceArns"] == [resource] and other["logType"] == log_type:
                    raise ConflictException("This ResourceId has already been used in another Delivery Source in "
                                            "this account.")
            doc = {"name": name, "arn": _arn(region, "delivery-source", name), "resourceArns": [resource],
                   "service": parts[2], "logType": log_type, "tags": (existing or {}).get("tags") or body.get("tags")
                   or {}, "status": "ACTIVE"}
            if body.get("deliverySourceConfiguration"):
                doc["deliverySourceConfiguration"] = body["deliverySourceConfiguration"]
            self.store.execute("INSERT OR REPLACE INTO logs_delivery_sources VALUES (?, ?, ?)",
                               [region, name, json.dumps(doc)])
        return {"deliverySource": doc}

    def get_source(self, region: str, name: str) -> dict:
        doc = self._get("logs_delivery_sources", region, name)
        if doc is None:
            raise exc.ResourceNotFoundException(f"Delivery source {name} does not exist.")
        return doc

    def describe_sources(self, region: str, limit: int, offset: int) -> tuple[list[dict], bool]:
        return self._page(self._all("logs_delivery_sources", region), limit, offset)

    def delete_source(self, region: str, name: str) -> None:
        with self.store.lock:
            self.get_source(region, name)
            if any(d["deliverySourceName"] == name for d in self._all("logs_deliveries", region, "id")):
                raise ConflictException(f"Delivery source {name} is used by a delivery: delete the delivery "
                                        "first.")
            self.store.execute("DELETE FROM logs_delivery_sources WHERE region = ? AND name = ?", [region, name])

    # ---- destinations ------------------------------------------------------------------------------
    def put_destination(self, region: str, body: dict) -> dict:
        name = body["name"]
        configuration = body.get("deliveryDestinationConfiguration")
        given_type = body.get("deliveryDestinationType")
        if configuration:
            target = configuration["destinationResourceArn"]
            parts = target.split(":")
            derived = DESTINATION_TYPES.get(parts[2]) if len(parts) >= 6 and parts[0] == "arn" else None
            if derived is None:
                raise exc.ValidationException(f"Invalid destinationResourceArn: {target}. Use a log group, an S3 "
                                              "bucket or a Firehose delivery stream.")
            if given_type and given_type != derived:
                raise exc.ValidationException(f"deliveryDestinationType {given_type} does not match the "
                                              f"destinationResourceArn, which is of type {derived}.")
            dest_type = derived
        elif given_type == "XRAY":
            dest_type = "XRAY"
        else:
            raise exc.ValidationException("deliveryDestinationConfiguration is required unless "
                                          "deliveryDestinationType is XRAY.")
        with self.store.lock:
            existing = self._get("logs_delivery_destinations", region, name)
            _conflict_on_update_tags(existing, body.get("tags"))
            if existing is not None and existing["deliveryDestinationType"] != dest_type:
                raise ConflictException(f"Delivery destination {name} is of type "
                                        f"{existing['deliveryDestinationType']}; its type cannot change.")
            doc = {"name": name, "arn": _arn(region, "delivery-destination", name),
                   "deliveryDestinationType": dest_type,
                   "tags": (existing or {}).get("tags") or body.get("tags") or {}}
            output = body.get("outputFormat") or (existing or {}).get("outputFormat")
            if output:
                doc["outputFormat"] = output
            if configuration:
                doc["deliveryDestinationConfiguration"] = {"destinationResourceArn": configuration[
                    "destinationResourceArn"]}
            policy = self.store.execute("SELECT policy FROM logs_delivery_destinations WHERE region = ? AND name = ?",
                                        [region, name])
            self.store.execute("INSERT OR REPLACE INTO logs_delivery_destinations VALUES (?, ?, ?, ?)",
                               [region, name, json.dumps(doc), policy[0][0] if policy else None])
        return {"deliveryDestination": doc}

    def get_destination(self, region: str, name: str) -> dict:
        doc = self._get("logs_delivery_destinations", region, name)
        if doc is None:
            raise exc.ResourceNotFoundException(f"Delivery destination {name} does not exist.")
        return doc

    def describe_destinations(self, region: str, limit: int, offset: int) -> tuple[list[dict], bool]:
        return self._page(self._all("logs_delivery_destinations", region), limit, offset)

    def delete_destination(self, region: str, name: str) -> None:
        with self.store.lock:
            arn = self.get_destination(region, name)["arn"]
            if any(d["deliveryDestinationArn"] == arn for d in self._all("logs_deliveries", region, "id")):
                raise ConflictException(f"Delivery destination {name} is used by a delivery: delete the delivery "
                                        "first.")
            self.store.execute("DELETE FROM logs_delivery_destinations WHERE region = ? AND name = ?", [region, name])

    def put_destination_policy(self, region: str, name: str, policy: str) -> dict:
        try:
            document = json.loads(policy)
        except ValueError:
            raise exc.ValidationException("deliveryDestinationPolicy is not valid JSON.") from None
        if not isinstance(document, dict) or not document.get("Statement"):
            raise exc.ValidationException("deliveryDestinationPolicy needs a Statement.")
        with self.store.lock:
            self.get_destination(region, name)
            self.store.execute("UPDATE logs_delivery_destinations SET policy = ? WHERE region = ? AND name = ?",
                               [policy, region, name])
        return {"policy": {"deliveryDestinationPolicy": policy}}

    def get_destination_policy(self, region: str, name: str) -> dict:
        self.get_destination(region, name)
        rows = self.store.execute("SELECT policy FROM logs_delivery_destinations WHERE region = ? AND name = ?",
                                  [region, name])
        return {"policy": {"deliveryDestinationPolicy": rows[0][0]}} if rows[0][0] else {"policy": {}}

    def delete_destination_policy(self, region: str, name: str) -> None:
        with self.store.lock:
            self.get_destination(region, name)
            if not self.store.execute("SELECT policy FROM logs_delivery_destinations WHERE region = ? AND name = ? "
                                      "AND policy IS NOT NULL", [region, name]):
                raise exc.ResourceNotFoundException(f"Delivery destination {name} has no policy.")
            self.store.execute("UPDATE logs_delivery_destinations SET policy = NULL WHERE region = ? AND name = ?",
                               [region, name])

    # ---- deliveries --------------------------------------------------------------------------------
    def _destination_by_arn(self, region: str, arn: str) -> dict:
        for doc in self._all("logs_delivery_destinations", region):
            if doc["arn"] == arn:
                return doc
        raise exc.ResourceNotFoundException(f"Delivery destination {arn} does not exist.")

    @staticmethod
    def _check_config(body: dict, dest_type: str) -> None:
        if body.get("s3DeliveryConfiguration") and dest_type != "S3":
            raise exc.ValidationException("s3DeliveryConfiguration can be given only for a delivery to an S3 "
                                          "destination.")
        fields = body.get("recordFields")
        if fields is not None and len(set(fields)) != len(fields):
            raise exc.ValidationException("recordFields must not repeat a field.")

    def create(self, region: str, body: dict) -> dict:
        source_name, dest_arn = body["deliverySourceName"], body["deliveryDestinationArn"]
        with self.store.lock:
            self.get_source(region, source_name)
            destination = self._destination_by_arn(region, dest_arn)
            self._check_config(body, destination["deliveryDestinationType"])
            for other in self._all("logs_deliveries", region, "id"):
                if other["deliverySourceName"] == source_name and other["deliveryDestinationArn"] == dest_arn:
                    raise ConflictException("A delivery with this delivery source and delivery destination "
                                            "already exists.")
            delivery_id = "".join(secrets.choice(ID_CHARS) for _ in range(16))
            doc = {"id": delivery_id, "arn": _arn(region, "delivery", delivery_id),
                   "deliverySourceName": source_name, "deliveryDestinationArn": dest_arn,
                   "deliveryDestinationType": destination["deliveryDestinationType"], "tags": body.get("tags") or {}}
            for key in ("recordFields", "fieldDelimiter", "s3DeliveryConfiguration"):
                if body.get(key) is not None:
                    doc[key] = body[key]
            self.store.execute("INSERT INTO logs_deliveries VALUES (?, ?, ?, ?)",
                               [region, delivery_id, json.dumps(doc), self.now_ms()])
        return {"delivery": doc}

    def get(self, region: str, delivery_id: str) -> dict:
        doc = self._get("logs_deliveries", region, delivery_id, "id")
        if doc is None:
            raise exc.ResourceNotFoundException(f"Delivery {delivery_id} does not exist.")
        return doc

    def describe(self, region: str, limit: int, offset: int) -> tuple[list[dict], bool]:
        return self._page(self._all("logs_deliveries", region, "created, id"), limit, offset)

    def update(self, region: str, body: dict) -> None:
        with self.store.lock:
            doc = self.get(region, body["id"])
            self._check_config(body, doc["deliveryDestinationType"])
            for key in ("recordFields", "fieldDelimiter", "s3DeliveryConfiguration"):
                if body.get(key) is not None:
                    doc[key] = body[key]
            self.store.execute("UPDATE logs_deliveries SET doc = ? WHERE region = ? AND id = ?",
                               [json.dumps(doc), region, body["id"]])

    def delete(self, region: str, delivery_id: str) -> None:
        with self.store.lock:
            self.get(region, delivery_id)
            self.store.execute("DELETE FROM logs_deliveries WHERE region = ? AND id = ?", [region, delivery_id])
