"""The GuardDuty finding types of the foundational data sources (CloudTrail management and S3 data events, VPC
flow logs, DNS logs) with their threat purpose, resource and severity, and the sample finding GuardDuty generates for each: the resource block its
resource type has, the service block with the action its data source records, placeholder values like AWS's
(``GeneratedFindingUserName``, ``i-99999999``, ``198.51.100.0``) and the sample mark AWS sets
(``service.additionalInfo`` = ``{"sample": true}``; the console shows such findings with a ``[SAMPLE]`` prefix).

The list: the user guide's "Finding types" table as last published in its GitHub source
(awsdocs/amazon-guardduty-user-guide, doc_source/guardduty_finding-types-active.md, 69 types), updated with what
today's user guide says: the ten types its "Retired finding types" page lists are gone
(Exfiltration:S3/ObjectRead.Unusual, Impact:S3/PermissionsModification.Unusual, Impact:S3/ObjectDelete.Unusual,
Discovery:S3/BucketEnumeration.Unusual, Persistence:IAMUser/{Network,Resource,User}Permissions,
PrivilegeEscalation:IAMUser/AdministrativePermissions, Recon:IAMUser/{Network,Resource}Permissions),
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration is now ``.OutsideAWS`` and has an ``.InsideAWS`` twin,
and CredentialAccess:IAMUser/AnomalousBehavior (Medium) is listed on the IAM page: 61 types (30 EC2, 20 IAM,
11 S3). Other current types whose names and severities could not be checked against the live table (the rest of
the ``*:IAMUser/AnomalousBehavior`` and ``*:S3/AnomalousBehavior`` family) are not generated.

Not generated either: the finding types of the later protection plans (EKS, Runtime Monitoring, Malware Protection,
RDS, Lambda, attack sequences); CreateSampleFindings answers BadRequestException for those names.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

SEVERITY = {"High": 8.0, "Medium": 5.0, "Low": 2.0}   # GuardDuty: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9

_TABLE = """
Backdoor:EC2/C&CActivity.B!DNS|Backdoor|EC2|High
Backdoor:EC2/DenialOfService.Dns|Backdoor|EC2|High
Backdoor:EC2/DenialOfService.Tcp|Backdoor|EC2|High
Backdoor:EC2/DenialOfService.Udp|Backdoor|EC2|High
Backdoor:EC2/DenialOfService.UdpOnTcpPorts|Backdoor|EC2|High
Backdoor:EC2/DenialOfService.UnusualProtocol|Backdoor|EC2|High
Backdoor:EC2/Spambot|Backdoor|EC2|Medium
Behavior:EC2/NetworkPortUnusual|Behavior|EC2|Medium
Behavior:EC2/TrafficVolumeUnusual|Behavior|EC2|Medium
CryptoCurrency:EC2/BitcoinTool.B|CryptoCurrency|EC2|High
CryptoCurrency:EC2/BitcoinTool.B!DNS|CryptoCurrency|EC2|High
CredentialAccess:IAMUser/AnomalousBehavior|CredentialAccess|IAM|Medium
Discovery:S3/MaliciousIPCaller.Custom|Discovery|S3|Medium
Discovery:S3/TorIPCaller|Discovery|S3|Medium
PenTest:IAMUser/KaliLinux|PenTest|IAM|Medium
PenTest:IAMUser/ParrotLinux|PenTest|IAM|Medium
PenTest:IAMUser/PentooLinux|PenTest|IAM|Medium
PenTest:S3/KaliLinux|PenTest|S3|Medium
PenTest:S3/ParrotLinux|PenTest|S3|Medium
PenTest:S3/PentooLinux|PenTest|S3|Medium
Policy:IAMUser/RootCredentialUsage|Policy|IAM|Low
Policy:S3/AccountBlockPublicAccessDisabled|Policy|S3|Low
Policy:S3/BucketBlockPublicAccessDisabled|Policy|S3|Low
Policy:S3/BucketAnonymousAccessGranted|Policy|S3|High
Policy:S3/BucketPublicAccessGranted|Policy|S3|High
Recon:EC2/PortProbeEMRUnprotectedPort|Recon|EC2|High
Recon:EC2/PortProbeUnprotectedPort|Recon|EC2|Low
Recon:EC2/Portscan|Recon|EC2|Medium
Recon:IAMUser/MaliciousIPCaller|Recon|IAM|Medium
Recon:IAMUser/MaliciousIPCaller.Custom|Recon|IAM|Medium
Recon:IAMUser/TorIPCaller|Recon|IAM|Medium
Recon:IAMUser/UserPermissions|Recon|IAM|Medium
ResourceConsumption:IAMUser/ComputeResources|ResourceConsumption|IAM|Medium
Stealth:IAMUser/CloudTrailLoggingDisabled|Stealth|IAM|Low
Stealth:IAMUser/LoggingConfigurationModified|Stealth|IAM|Medium
Stealth:IAMUser/PasswordPolicyChange|Stealth|IAM|Low
Stealth:S3/ServerAccessLoggingDisabled|Stealth|S3|Low
Trojan:EC2/BlackholeTraffic|Trojan|EC2|Medium
Trojan:EC2/BlackholeTraffic!DNS|Trojan|EC2|Medium
Trojan:EC2/DGADomainRequest.B|Trojan|EC2|High
Trojan:EC2/DGADomainRequest.C!DNS|Trojan|EC2|High
Trojan:EC2/DNSDataExfiltration|Trojan|EC2|High
Trojan:EC2/DriveBySourceTraffic!DNS|Trojan|EC2|Medium
Trojan:EC2/DropPoint|Trojan|EC2|Medium
Trojan:EC2/DropPoint!DNS|Trojan|EC2|High
Trojan:EC2/PhishingDomainRequest!DNS|Trojan|EC2|High
UnauthorizedAccess:EC2/MaliciousIPCaller.Custom|UnauthorizedAccess|EC2|Medium
UnauthorizedAccess:EC2/MetadataDNSRebind|UnauthorizedAccess|EC2|High
UnauthorizedAccess:EC2/RDPBruteForce|UnauthorizedAccess|EC2|Low
UnauthorizedAccess:EC2/SSHBruteForce|UnauthorizedAccess|EC2|Low
UnauthorizedAccess:EC2/TorClient|UnauthorizedAccess|EC2|High
UnauthorizedAccess:EC2/TorIPCaller|UnauthorizedAccess|EC2|Medium
UnauthorizedAccess:EC2/TorRelay|UnauthorizedAccess|EC2|High
UnauthorizedAccess:IAMUser/ConsoleLogin|UnauthorizedAccess|IAM|Medium
UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B|UnauthorizedAccess|IAM|Medium
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS|UnauthorizedAccess|IAM|High
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS|UnauthorizedAccess|IAM|High
UnauthorizedAccess:IAMUser/MaliciousIPCaller|UnauthorizedAccess|IAM|Medium
UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom|UnauthorizedAccess|IAM|Medium
UnauthorizedAccess:IAMUser/TorIPCaller|UnauthorizedAccess|IAM|Medium
UnauthorizedAccess:S3/TorIPCaller|UnauthorizedAccess|S3|High
"""

# Inbound traffic to the instance (the instance is the TARGET); every other EC2 network finding is the
# instance's own traffic (ACTOR, OUTBOUND).
INBOUND = {"UnauthorizedAccess:EC2/SSHBruteForce": (22, "SSH"), "UnauthorizedAccess:EC2/RDPBruteForce": (3389, "RDP"),
           "UnauthorizedAccess:EC2/TorIPCaller": (80, "HTTP"),
           "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": (80, "HTTP")}
OUTBOUND_PORTS = {"Backdoor:EC2/Spambot": (25, "SMTP"), "CryptoCurrency:EC2/BitcoinTool.B": (8333, "Unknown"),
                  "UnauthorizedAccess:EC2/TorClient": (9001, "Unknown"), "UnauthorizedAccess:EC2/TorRelay": (9001, "Unknown")}
PROBED_PORTS = {"Recon:EC2/PortProbeUnprotectedPort": (80, "HTTP"),
                "Recon:EC2/PortProbeEMRUnprotectedPort": (8088, "Unknown")}

TITLES = {
    "UnauthorizedAccess:EC2/SSHBruteForce": ("SSH brute force attacks against {instance}.",
                                            "{ip} is performing SSH brute force attacks against {instance}. Brute "
                                            "force attacks are used to gain unauthorized access to your instance "
                                            "by guessing the SSH password."),
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller": ("API {api} was invoked from a known malicious IP address.",
                                                    "API {api}, commonly used to gain unauthorized access, was "
                                                    "invoked by user {user} from a known malicious IP address {ip}."),
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS": (
        "Credentials for instance role {user} used from external IP address.",
        "Credentials created exclusively for an EC2 instance using instance role {user} have been used from "
        "external IP address {ip}."),
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS": (
        "Credentials for instance role {user} used from another AWS account.",
        "Credentials created exclusively for an EC2 instance using instance role {user} have been used from "
        "another AWS account."),
}


@dataclass(frozen=True)
class FindingType:
    name: str
    threat_purpose: str
    resource: str            # EC2, IAM, S3 (the table's RESOURCE column)
    severity_label: str      # High, Medium, Low

    @property
    def severity(self) -> float:
        return SEVERITY[self.severity_label]

    @property
    def resource_type(self) -> str:
        if self.resource == "EC2":
            return "Instance"
        return "S3Bucket" if self.resource == "S3" else "AccessKey"

    @property
    def action_type(self) -> str:
        if self.resource != "EC2":
            return "AWS_API_CALL"
        if self.name.endswith("!DNS") or self.name == "UnauthorizedAccess:EC2/MetadataDNSRebind":
            return "DNS_REQUEST"
        return "PORT_PROBE" if self.name in PROBED_PORTS else "NETWORK_CONNECTION"


FINDING_TYPES: dict[str, FindingType] = {
    parts[0]: FindingType(*parts)
    for parts in (line.split("|") for line in _TABLE.strip().splitlines())
}

REMOTE_IP = {"ipAddressV4": "198.51.100.0",
             "organization": {"asn": "-1", "asnOrg": "GeneratedFindingASNOrg", "isp": "GeneratedFindingISP",
                              "org": "GeneratedFindingORG"},
             "country": {"countryName": "GeneratedFindingCountryName"},
             "city": {"cityName": "GeneratedFindingCityName"},
             "geoLocation": {"lat": 0, "lon": 0}}


def _instance(account_id: str, region: str) -> dict:
    return {"instanceDetails": {
        "instanceId": "i-99999999", "instanceType": "m3.xlarge", "instanceState": "running",
        "availabilityZone": f"{region}b", "imageId": "ami-99999999", "imageDescription": "GeneratedFindingInstaceImageDescription",
        "launchTime": "2016-08-02T02:05:06.000Z",
        "iamInstanceProfile": {"arn": "GeneratedFindingInstanceProfileArn", "id": "GeneratedFindingInstanceProfileId"},
        "networkInterfaces": [{
            "networkInterfaceId": "eni-bfcffe88", "privateDnsName": "GeneratedFindingPrivateDnsName",
            "privateIpAddress": "10.0.0.1",
            "privateIpAddresses": [{"privateDnsName": "GeneratedFindingPrivateName", "privateIpAddress": "10.0.0.1"}],
            "publicDnsName": "GeneratedFindingPublicDNSName", "publicIp": "198.51.100.0", "ipv6Addresses": [],
            "subnetId": "GeneratedFindingSubnetId", "vpcId": "GeneratedFindingVPCId",
            "securityGroups": [{"groupId": "sg-99999999", "groupName": "GeneratedFindingSecurityGroupName"}]}],
        "productCodes": [{"productCodeId": "GeneratedFindingProductCodeId",
                          "productCodeType": "GeneratedFindingProductCodeType"}],
        "tags": [{"key": "GeneratedFindingInstaceTag1", "value": "GeneratedFindingInstaceValue1"}]}}


def _access_key(finding_type: FindingType) -> dict:
    role = "InstanceCredentialExfiltration" in finding_type.name
    return {"accessKeyDetails": {"accessKeyId": "GeneratedFindingAccessKeyId",
                                 "principalId": "GeneratedFindingPrincipalId",
                                 "userName": "GeneratedFindingUserName",
                                 "userType": "AssumedRole" if role else (
                                     "Root" if finding_type.name.endswith("RootCredentialUsage") else "IAMUser")}}


def _bucket(account_id: str, finding_type: FindingType) -> dict:
    public = "PUBLIC" if "AccessGranted" in finding_type.name else "NOT_PUBLIC"
    return {"s3BucketDetails": [{
        "arn": "arn:aws:s3:::bucketName", "name": "bucketName", "type": "Destination",
        "createdAt": "2017-12-18T15:58:11.551Z", "owner": {"id": "CanonicalId of Owner"},
        "tags": [{"key": "foo", "value": "bar"}],
        "defaultServerSideEncryption": {"encryptionType": "SSEAlgorithm", "kmsMasterKeyArn": "arn:aws:kms:region:123456789012:key/key-id"},
        "publicAccess": {"effectivePermission": public, "permissionConfiguration": {
            "bucketLevelPermissions": {"accessControlList": {"allowsPublicReadAccess": public == "PUBLIC",
                                                             "allowsPublicWriteAccess": False},
                                       "bucketPolicy": {"allowsPublicReadAccess": public == "PUBLIC",
                                                        "allowsPublicWriteAccess": False},
                                       "blockPublicAccess": {"ignorePublicAcls": False, "restrictPublicBuckets": False,
                                                             "blockPublicAcls": False, "blockPublicPolicy": False}},
            "accountLevelPermissions": {"blockPublicAccess": {"ignorePublicAcls": False, "restrictPublicBuckets": False,
                                                              "blockPublicAcls": False, "blockPublicPolicy": False}}}}}]}


def resource(finding_type: FindingType, account_id: str, region: str) -> dict:
    block: dict = {"resourceType": finding_type.resource_type}
    if finding_type.resource == "EC2":
        block.update(_instance(account_id, region))
    else:
        block.update(_access_key(finding_type))
        if finding_type.resource == "S3":
            block.update(_bucket(account_id, finding_type))
    return block


def action(finding_type: FindingType) -> dict:
    kind = finding_type.action_type
    if kind == "AWS_API_CALL":
        service = "s3.amazonaws.com" if finding_type.resource == "S3" else "GeneratedFindingAPIServiceName"
        return {"actionType": kind, "awsApiCallAction": {
            "api": "GeneratedFindingAPIName", "serviceName": service, "callerType": "Remote IP",
            "remoteIpDetails": REMOTE_IP, "affectedResources": {}}}
    if kind == "DNS_REQUEST":
        return {"actionType": kind, "dnsRequestAction": {"domain": "GeneratedFindingDomainName", "protocol": "UDP",
                                                         "blocked": False}}
    if kind == "PORT_PROBE":
        port, name = PROBED_PORTS[finding_type.name]
        return {"actionType": kind, "portProbeAction": {"blocked": False, "portProbeDetails": [{
            "localPortDetails": {"port": port, "portName": name}, "localIpDetails": {"ipAddressV4": "10.0.0.23"},
            "remoteIpDetails": REMOTE_IP}]}}
    inbound = finding_type.name in INBOUND
    port, name = INBOUND.get(finding_type.name) or OUTBOUND_PORTS.get(finding_type.name, (80, "HTTP"))
    local, remote = ({"port": port, "portName": name}, {"port": 32794, "portName": "Unknown"}) if inbound else \
        ({"port": 39677, "portName": "Unknown"}, {"port": port, "portName": name})
    return {"actionType": kind, "networkConnectionAction": {
        "blocked": False, "connectionDirection": "INBOUND" if inbound else "OUTBOUND", "protocol": "TCP",
        "localPortDetails": local, "remotePortDetails": remote, "localIpDetails": {"ipAddressV4": "10.0.0.23"},
        "remoteIpDetails": REMOTE_IP}}


def resource_role(finding_type: FindingType) -> str:
    if finding_type.resource != "EC2" or finding_type.name in INBOUND or finding_type.name in PROBED_PORTS:
        return "TARGET"
    return "ACTOR"


def sample_finding(finding_type: FindingType, *, finding_id: str, detector_id: str, account_id: str, region: str,
                   now_iso: str) -> dict:
    """One sample finding in GuardDuty's wire format (the JSON names of botocore's ``Finding`` shape)."""
    values = {"instance": "i-99999999", "ip": "198.51.100.0", "api": "GeneratedFindingAPIName",
              "user": "GeneratedFindingUserName"}
    title, description = TITLES.get(finding_type.name, (
        f"{finding_type.threat_purpose} activity {finding_type.name.split('/', 1)[1]} seen on "
        f"{'EC2 instance i-99999999' if finding_type.resource == 'EC2' else 'GeneratedFindingUserName'}.",
        f"GuardDuty generated a sample finding of type {finding_type.name} ({finding_type.threat_purpose}, "
        f"{finding_type.severity_label} severity) with placeholder values."))
    return {
        "schemaVersion": "2.0", "accountId": account_id, "region": region, "partition": "aws", "id": finding_id,
        "arn": f"arn:aws:guardduty:{region}:{account_id}:detector/{detector_id}/finding/{finding_id}",
        "type": finding_type.name, "resource": resource(finding_type, account_id, region),
        "service": {"serviceName": "guardduty", "detectorId": detector_id, "action": action(finding_type),
                    "resourceRole": resource_role(finding_type), "archived": False, "count": 1,
                    "eventFirstSeen": now_iso, "eventLastSeen": now_iso,
                    "additionalInfo": {"value": json.dumps({"sample": True}), "type": "default"}},
        "severity": int(finding_type.severity),  # integral doubles go out as 8, as GuardDuty sends them
        "createdAt": now_iso, "updatedAt": now_iso,
        "title": title.format(**values), "description": description.format(**values),
    }
