"""CloudWatch Logs data protection: policy documents, data identifiers, masking at ingest, audit findings.

A policy document (PutDataProtectionPolicy, or PutAccountPolicy with ``DATA_PROTECTION_POLICY``) is validated
the way AWS documents it: an optional ``Name``, ``Description``, ``Version`` (``2021-06-01``) and
``Configuration.CustomDataIdentifier``, and a ``Statement`` list of exactly two statements, one whose
``Operation`` is ``Audit`` (with a ``FindingsDestination`` object) and one whose ``Operation`` is
``Deidentify`` (with an empty ``MaskConfig``), listing the same ``DataIdentifier`` set.

Detection runs when events are ingested (AWS: "Sensitive data is detected and masked when it is ingested");
the stored message is the masked one, so every read path (GetLogEvents, FilterLogEvents, Insights, metric
filters) sees asterisks, and the original is kept beside it for callers allowed ``logs:Unmask``. Every regular
expression runs on RE2 (:func:`re2.find_spans`), managed identifiers included; managed identifiers then apply
the checks AWS describes (a keyword within 30 characters, the Luhn check for card numbers).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from lab_app.localcloud.logs import exceptions as exc
from lab_app.localcloud.logs.re2 import find_spans, matches_empty, re2_error, which_match

VERSION = "2021-06-01"
MAX_DOCUMENT_CHARS = 30_720
ARN_PREFIX = "arn:aws:dataprotection::aws:data-identifier/"
MAX_CUSTOM_IDENTIFIERS = 10
MAX_CUSTOM_NAME = 128
MAX_CUSTOM_REGEX = 200
KEYWORD_DISTANCE = 30
MASK_CHAR = "*"
# where findings land in a CloudWatch Logs destination, and the key prefix in an S3 one (AWS does not document
# either name: these are the local cloud's)
FINDINGS_STREAM = "data-protection-audit-findings"
S3_PREFIX = "AWSLogs/{account}/DataProtection/{region}/"
CUSTOM_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")
# AWS's list of characters a custom data identifier's regex may use
CUSTOM_REGEX_RE = re.compile(r"[A-Za-z0-9_#=@/;,\- ^$?\[\]{}|\\*+.]+")

# Every managed identifier AWS lists (language and region independent ones, and the region-dependent ones with
# their country codes): a document naming one of these is valid on AWS. The local cloud detects those in
# DETECTORS; a document naming another one is refused with a message that says so, never accepted silently.
AWS_MANAGED = {
    "Address", "AwsSecretKey", "CreditCardExpiration", "CreditCardNumber", "CreditCardSecurityCode", "EmailAddress",
    "IpAddress", "LatLong", "Name", "OpenSshPrivateKey", "PgpPrivateKey", "PkcsPrivateKey", "PuttyPrivateKey",
    "VehicleIdentificationNumber", "DateOfBirth",
}
AWS_MANAGED_PREFIXES = (
    "BankAccountNumber-", "CepCode-", "Cnpj-", "CpfCode-", "DriversLicense-", "DrugEnforcementAgencyNumber-",
    "ElectoralRollNumber-", "HealthInsuranceCardNumber-", "HealthInsuranceClaimNumber-", "HealthInsuranceNumber-",
    "HealthcareProcedureCode-", "IndividualTaxIdentificationNumber-", "InseeCode-", "MedicareBeneficiaryNumber-",
    "NationalDrugCode-", "NationalIdentificationNumber-", "NationalInsuranceNumber-", "NationalProviderId-",
    "NhsNumber-", "PassportNumber-", "PermanentResidenceNumber-", "PersonalHealthNumber-", "PhoneNumber-",
    "PostalCode-", "RgNumber-", "SocialInsuranceNumber-", "Ssn-", "TaxId-", "ZipCode-",
)


def _keyword_variants(words: tuple[str, ...]) -> tuple[str, ...]:
    """AWS matches a keyword with a space also without it, or with ``_`` or ``-`` instead."""
    out = set()
    for w in words:
        w = w.lower()
        out.add(w)
        if " " in w:
            out.update({w.replace(" ", ""), w.replace(" ", "_"), w.replace(" ", "-")})
    return tuple(sorted(out))


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


CARD_PREFIXES = re.compile(
    r"4|5[1-5]|222[1-9]|22[3-9]\d|2[3-6]\d\d|27[01]\d|2720|3[47]|6011|65|64[4-9]|35(2[89]|[3-8]\d)|30[0-5]|3[68]"
    r"|62|5019")


def _card_ok(text: str, start: int, end: int) -> bool:
    if (start > 0 and text[start - 1].isdigit()) or (end < len(text) and text[end].isdigit()):
        return False  # part of a longer number
    digits = re.sub(r"[ -]", "", text[start:end])
    return 13 <= len(digits) <= 19 and CARD_PREFIXES.match(digits) is not None and _luhn(digits)


def _ip_ok(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end:end + 2]
    return not (before.isdigit() or before == "." or after[:1].isdigit() or (after[:1] == "." and after[1:2].isdigit()))


def _secret_ok(text: str, start: int, end: int) -> bool:
    return end - start == 40


@dataclass(frozen=True)
class Detector:
    name: str
    regex: str                                   # RE2 syntax
    keywords: tuple[str, ...] = ()               # one must be within KEYWORD_DISTANCE characters
    check: Callable[[str, int, int], bool] | None = None
    needs: str = ""                              # a character every match contains (a cheap pre-filter)

    def spans(self, texts: list[str]) -> list[list[tuple[int, int]]]:
        """The matches in each text, after the keyword and validity checks."""
        # texts that cannot match (no required character, no keyword anywhere) never reach the regex engine
        candidates = [i for i, t in enumerate(texts) if not self.needs or self.needs in t]
        if self.keywords and candidates:
            near = which_match(_keyword_regex(self.keywords), [texts[i] for i in candidates])
            candidates = [i for i, ok in zip(candidates, near) if ok]
        out: list[list[tuple[int, int]]] = [[] for _ in texts]
        if not candidates:
            return out
        found = find_spans(self.regex, [texts[i] for i in candidates])
        for i, spans in zip(candidates, found):
            out[i] = self._checked(texts[i], spans)
        return out

    def _checked(self, text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
        if not spans or (not self.keywords and self.check is None):
            return spans
        keep = []
        lower = text.lower() if self.keywords else ""
        for start, end in spans:
            if self.check is not None and not self.check(text, start, end):
                continue
            if self.keywords and not _near_keyword(lower, start, end, self.keywords):
                continue
            keep.append((start, end))
        return keep


@functools.lru_cache(maxsize=None)
def _keyword_regex(keywords: tuple[str, ...]) -> str:
    """RE2: any of the keywords, case-insensitively (RE2 runs a literal alternation in one pass)."""
    return "(?i)" + "|".join(re.escape(k) for k in keywords)


def _near_keyword(lower: str, start: int, end: int, keywords: tuple[str, ...]) -> bool:
    window_before = lower[max(0, start - KEYWORD_DISTANCE - 40):start]
    window_after = lower[end:end + KEYWORD_DISTANCE + 40]
    for kw in keywords:
        i = window_before.rfind(kw)
        if i >= 0 and len(window_before) - (i + len(kw)) <= KEYWORD_DISTANCE:
            return True
        j = window_after.find(kw)
        if 0 <= j <= KEYWORD_DISTANCE:
            return True
    return False


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

DETECTORS: dict[str, Detector] = {d.name: d for d in (
    Detector("EmailAddress", r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", needs="@"),
    Detector("IpAddress", rf"{_OCTET}(?:\.{_OCTET}){{3}}", check=_ip_ok, needs="."),
    # maximal runs of the key alphabet, 40 characters exactly (a longer run is something else)
    Detector("AwsSecretKey", r"[A-Za-z0-9/+]{40,}", check=_secret_ok, keywords=_keyword_variants(
        ("aws_secret_access_key", "credentials", "secret access key", "secret key", "set-awscredential"))),
    Detector("CreditCardNumber", r"[0-9]{4}[ -][0-9]{6}[ -][0-9]{5}|[0-9]{4}(?:[ -][0-9]{4}){2,3}(?:[ -][0-9]{1,3})?"
             r"|[0-9]{13,19}", check=_card_ok, keywords=_keyword_variants((
                 "account number", "american express", "amex", "bank card", "card", "card number", "card num",
                 "cc #", "ccn", "check card", "credit", "credit card#", "dankort", "debit", "debit card",
                 "diners club", "discover", "electron", "japanese card bureau", "jcb", "mastercard", "mc", "pan",
                 "payment account number", "payment card number", "pcn", "union pay", "visa"))),
)}


@dataclass
class Policy:
    """A validated data protection policy."""
    name: str | None
    identifiers: list[str]                       # display names: managed names and custom names
    detectors: list[Detector]
    log_group_destination: str | None = None
    s3_destination: str | None = None
    firehose_destination: str | None = None
    document: str = ""
    raw: dict = field(default_factory=dict)


def invalid(message: str) -> exc.InvalidParameterException:
    return exc.InvalidParameterException(f"Invalid data protection policy document: {message}")


def parse_policy(document, destination_exists: Callable[[str, str], bool] | None = None) -> Policy:
    """Validate a policy document (a JSON string); ``destination_exists(kind, name)`` checks findings destinations."""
    if not isinstance(document, str) or not document:
        raise exc.InvalidParameterException.constraint("policyDocument", document,
                                                       "Member must have length greater than or equal to 1")
    if len(document) > MAX_DOCUMENT_CHARS:
        raise exc.InvalidParameterException(
            f"The policy document is {len(document)} characters; the maximum is {MAX_DOCUMENT_CHARS}.")
    try:
        doc = json.loads(document)
    except ValueError as e:
        raise invalid(f"not valid JSON ({e})") from None
    if not isinstance(doc, dict):
        raise invalid("the document must be a JSON object")
    unknown = set(doc) - {"Name", "Description", "Version", "Statement", "Configuration"}
    if unknown:
        raise invalid(f"unknown field(s) {sorted(unknown)}")
    for key in ("Name", "Description"):
        if key in doc and not isinstance(doc[key], str):
            raise invalid(f"{key} must be a string")
    if "Version" in doc and doc["Version"] != VERSION:
        raise invalid(f"Version must be \"{VERSION}\", got {json.dumps(doc['Version'])}")
    custom = _custom_identifiers(doc.get("Configuration"))
    statements = doc.get("Statement")
    if not isinstance(statements, list) or len(statements) != 2:
        raise invalid("Statement must be a list of exactly two statements, one with an Audit operation and one "
                      "with a Deidentify operation")
    by_op: dict[str, tuple[dict, list[str]]] = {}
    for i, st in enumerate(statements):
        where = f"Statement[{i}]"
        if not isinstance(st, dict):
            raise invalid(f"{where} must be an object")
        unknown = set(st) - {"Sid", "DataIdentifier", "Operation"}
        if unknown:
            raise invalid(f"{where} has unknown field(s) {sorted(unknown)}")
        if "Sid" in st and not isinstance(st["Sid"], str):
            raise invalid(f"{where}.Sid must be a string")
        ids = st.get("DataIdentifier")
        if not isinstance(ids, list) or not ids or not all(isinstance(x, str) for x in ids):
            raise invalid(f"{where}.DataIdentifier must be a non-empty list of data identifier ARNs or custom "
                          "data identifier names")
        op = st.get("Operation")
        if not isinstance(op, dict) or len(op) != 1 or next(iter(op)) not in ("Audit", "Deidentify"):
            raise invalid(f"{where}.Operation must have exactly one of Audit or Deidentify")
        kind = next(iter(op))
        if kind in by_op:
            raise invalid(f"the policy must have exactly one {kind} statement")
        by_op[kind] = (op[kind], ids)
    if set(by_op) != {"Audit", "Deidentify"}:
        raise invalid("the policy needs one Audit statement and one Deidentify statement")
    audit, audit_ids = by_op["Audit"]
    deid, deid_ids = by_op["Deidentify"]
    if sorted(set(audit_ids)) != sorted(set(deid_ids)):
        raise invalid("the DataIdentifier arrays of the Audit and Deidentify statements must match exactly")
    if deid != {"MaskConfig": {}}:
        raise invalid("the Deidentify operation must be {\"MaskConfig\": {}} (an empty MaskConfig object)")
    if not isinstance(audit, dict) or set(audit) != {"FindingsDestination"} or not isinstance(
            audit["FindingsDestination"], dict):
        raise invalid("the Audit operation must contain a FindingsDestination object")
    policy = Policy(name=doc.get("Name"), identifiers=[], detectors=[], document=document, raw=doc)
    _destinations(policy, audit["FindingsDestination"], destination_exists)
    seen = set()
    for ident in audit_ids:
        if ident in seen:
            continue
        seen.add(ident)
        if ident.startswith(ARN_PREFIX):
            name = ident[len(ARN_PREFIX):]
            if name in DETECTORS:
                policy.identifiers.append(name)
                policy.detectors.append(DETECTORS[name])
            elif name in AWS_MANAGED or name.startswith(AWS_MANAGED_PREFIXES):
                raise exc.InvalidParameterException(
                    f"The managed data identifier {name} is valid on AWS but the local CloudWatch Logs does not "
                    f"detect it; supported: {', '.join(sorted(DETECTORS))}, or a custom data identifier.")
            else:
                raise invalid(f"{ident} is not a managed data identifier")
        elif ident in custom:
            policy.identifiers.append(ident)
            policy.detectors.append(custom[ident])
        else:
            raise invalid(f"{ident} is neither a managed data identifier ARN ({ARN_PREFIX}NAME) nor a custom data "
                          "identifier defined in Configuration.CustomDataIdentifier")
    return policy


def _custom_identifiers(configuration) -> dict[str, Detector]:
    if configuration is None:
        return {}
    if not isinstance(configuration, dict) or set(configuration) - {"CustomDataIdentifier"}:
        raise invalid("Configuration may only contain CustomDataIdentifier")
    items = configuration.get("CustomDataIdentifier", [])
    if not isinstance(items, list):
        raise invalid("Configuration.CustomDataIdentifier must be a list")
    if len(items) > MAX_CUSTOM_IDENTIFIERS:
        raise invalid(f"a policy can have at most {MAX_CUSTOM_IDENTIFIERS} custom data identifiers")
    out: dict[str, Detector] = {}
    for i, item in enumerate(items):
        where = f"CustomDataIdentifier[{i}]"
        if not isinstance(item, dict) or set(item) != {"Name", "Regex"}:
            raise invalid(f"{where} must be an object with Name and Regex")
        name, regex = item["Name"], item["Regex"]
        if not isinstance(name, str) or not 1 <= len(name) <= MAX_CUSTOM_NAME or not CUSTOM_NAME_RE.fullmatch(name):
            raise invalid(f"{where}.Name must be 1 to {MAX_CUSTOM_NAME} characters of a-z, A-Z, 0-9, '_' and '-'")
        if name in AWS_MANAGED or name in DETECTORS or name.startswith(AWS_MANAGED_PREFIXES):
            raise invalid(f"{where}.Name {name} is the name of a managed data identifier")
        if name in out:
            raise invalid(f"custom data identifier {name} is defined twice")
        if not isinstance(regex, str) or not 1 <= len(regex) <= MAX_CUSTOM_REGEX:
            raise invalid(f"{where}.Regex must be 1 to {MAX_CUSTOM_REGEX} characters")
        if not CUSTOM_REGEX_RE.fullmatch(regex):
            bad = sorted({c for c in regex if not CUSTOM_REGEX_RE.fullmatch(c)})
            raise invalid(f"{where}.Regex uses characters a custom data identifier cannot use: {''.join(bad)!r}")
        error = re2_error(regex)
        if error:
            raise invalid(f"{where}.Regex is not a valid regular expression: {error}")
        if matches_empty(regex):
            raise invalid(f"{where}.Regex matches the empty string")
        out[name] = Detector(name, regex)
    return out


def _destinations(policy: Policy, dest: dict, exists: Callable[[str, str], bool] | None) -> None:
    unknown = set(dest) - {"CloudWatchLogs", "S3", "Firehose"}
    if unknown:
        raise invalid(f"FindingsDestination has unknown destination(s) {sorted(unknown)}")
    specs = {"CloudWatchLogs": ("LogGroup", "log group"), "S3": ("Bucket", "S3 bucket"),
             "Firehose": ("DeliveryStream", "Firehose delivery stream")}
    for kind, value in dest.items():
        key, label = specs[kind]
        if not isinstance(value, dict) or set(value) != {key} or not isinstance(value[key], str) or not value[key]:
            raise invalid(f"FindingsDestination.{kind} must be {{\"{key}\": \"...\"}}")
        if exists is not None and not exists(kind, value[key]):
            raise invalid(f"the findings destination {label} {value[key]} does not exist")
        if kind == "CloudWatchLogs":
            policy.log_group_destination = value[key]
        elif kind == "S3":
            policy.s3_destination = value[key]
        else:
            policy.firehose_destination = value[key]


# ---- applying policies -----------------------------------------------------------------------------------
@dataclass
class Scan:
    """The result of scanning a batch: masked messages, which ones changed, one finding per event with matches."""
    masked: list[str]
    changed: list[bool]
    findings: list[tuple[int, list[dict]]]        # (event index, dataIdentifiers entries)


def scan(policies: list[Policy], messages: list[str]) -> Scan:
    """Detect every identifier of the policies (cumulative, as AWS combines account and log group policies)."""
    detectors: dict[str, Detector] = {}
    for p in policies:
        for name, d in zip(p.identifiers, p.detectors):
            detectors.setdefault(name, d)
    per_event: list[dict[str, list[tuple[int, int]]]] = [{} for _ in messages]
    for name, detector in detectors.items():
        for i, spans in enumerate(detector.spans(messages)):
            if spans:
                per_event[i][name] = spans
    masked, changed, findings = [], [], []
    for i, (message, hits) in enumerate(zip(messages, per_event)):
        if not hits:
            masked.append(message)
            changed.append(False)
            continue
        chars = list(message)
        for spans in hits.values():
            for start, end in spans:
                chars[start:end] = MASK_CHAR * (end - start)
        masked.append("".join(chars))
        changed.append(True)
        findings.append((i, [{"name": name, "count": len(spans),
                              "detections": [{"start": s, "end": e} for s, e in spans]}
                             for name, spans in hits.items()]))
    return Scan(masked, changed, findings)


def finding_report(resource_arn: str, identifiers: list[dict], when_ms: int) -> str:
    """One audit findings report, in the shape AWS documents (one per log event with sensitive data)."""
    stamp = datetime.fromtimestamp(when_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps({"auditTimestamp": stamp, "resourceArn": resource_arn, "dataIdentifiers": identifiers},
                      separators=(",", ":"))


def deliver_elsewhere(region: str, group: str, policy: Policy, reports: list[str], now_ms: int) -> None:
    """Findings to S3 (one object per batch, a report per line) and Firehose (one record per report), in moto."""
    import uuid

    from lab_app import config

    body = ("\n".join(reports) + "\n").encode()
    if policy.s3_destination:
        from moto.s3.models import s3_backends

        stamp = datetime.fromtimestamp(now_ms / 1000, tz=timezone.utc).strftime("%Y/%m/%d/%H%M%S")
        key = (S3_PREFIX.format(account=config.ACCOUNT_ID, region=region) + group.strip("/") +
               f"/{stamp}-{uuid.uuid4().hex}.json")
        try:
            s3_backends[config.ACCOUNT_ID]["aws"].put_object(policy.s3_destination, key, body)
        except Exception:  # the bucket was deleted after the policy was set: the findings are dropped
            pass
    if policy.firehose_destination:
        from moto.firehose.models import firehose_backends

        try:
            firehose_backends[config.ACCOUNT_ID][region].put_record_batch(
                policy.firehose_destination, [{"Data": (r + "\n").encode()} for r in reports])
        except Exception:  # the stream was deleted after the policy was set
            pass
