"""Every GuardDuty finding type the user guide lists as active, one table row each (type, default severity,
resource family, action family), and the sample finding CreateSampleFindings generates for it: the resource block
of its family (``Instance``, ``AccessKey``, ``S3Bucket``, ``S3Object``, ``EKSCluster``, ``ECSCluster``,
``Container``, ``RDSDBInstance``, ``Lambda``, ``EBSSnapshot``, ``EC2Image``, ``RecoveryPoint``), the service block
with what its data source records (an action, Runtime Monitoring's process and context, a malware scan, an attack
sequence), placeholder values like AWS's (``GeneratedFindingUserName``, ``i-99999999``, ``198.51.100.0``) and the
sample mark AWS sets (``service.additionalInfo`` = ``{"sample": true}``; the console shows such findings with a
``[SAMPLE]`` prefix).

The list is the user guide's "GuardDuty finding types" page
(https://docs.aws.amazon.com/guardduty/latest/ug/guardduty_finding-types-active.html) through the per-resource pages
it is made of (each page's topic list; severities from each type's "Default severity"):
  - EC2 (guardduty_finding-types-ec2.html): 40
  - IAM (guardduty_finding-types-iam.html): 27
  - S3 Protection (guardduty_finding-types-s3.html): 20
  - EKS Protection, EKS audit logs (guardduty-finding-types-eks-audit-logs.html): 33
  - Runtime Monitoring, EC2 / ECS / EKS (findings-runtime-monitoring.html): 46
  - Malware Protection for EC2 (findings-malware-protection.html): 8
  - Malware Protection for S3 (gdu-malware-protection-s3-finding-types.html): 1
  - Malware Protection for Backup (findings-malware-protection-backup.html): 4
  - RDS Protection (findings-rds-protection.html): 9
  - Lambda Protection (lambda-protection-finding-types.html): 7
  - Extended Threat Detection attack sequences (guardduty-attack-sequence-finding-types.html): 5
200 types in all. Cross-check: the GuardDuty / Security Hub integration page (securityhub-integration.html,
"Interpreting GuardDuty finding names") maps exactly these 200 to ASFF but for three attack sequences it does not
list yet (EKS, ECS, EC2 instance group), once the types it links to the "Retired finding types" page are left out,
with one exception: it links six ``PrivilegeEscalation:Runtime/*`` types (CGroupsReleaseAgentModified,
ContainerMountsHostDirectory, DockerSocketAccessed, ElevationToRoot, RuncContainerEscape, UserfaultfdUsage) there,
while the Runtime Monitoring page still lists them; they are kept. Gone from the earlier table of this module, as
retired: UnauthorizedAccess:EC2/TorIPCaller, Recon:IAMUser/UserPermissions, UnauthorizedAccess:IAMUser/ConsoleLogin,
ResourceConsumption:IAMUser/ComputeResources, Stealth:IAMUser/LoggingConfigurationModified; CreateSampleFindings
answers BadRequestException for them, as for any name not in the table.

Severity: a type whose section says "Variable" or "Varies depending on detected threat" gets the level its sample
scenario would have (RDS ``AnomalousBehavior.SuccessfulLogin`` from a public address: Medium; a malware scan's
``MaliciousFile``: High, ``SuspiciousFile``: Medium; Runtime ``Execution:Runtime/SuspiciousCommand``,
``Execution:Runtime/SuspiciousTool`` and ``DefenseEvasion:Runtime/SuspiciousCommand``: High); attack sequences are
Critical (9.0). The copies of the pages read for this table did not show the section of four types, whose level is
the one of their closest sibling: ``DefenseEvasion:Runtime/SensitiveFileModified`` and
``PrivilegeEscalation:Runtime/SensitiveFileModified`` (Medium, as ``Persistence:Runtime/SensitiveFileModified``),
``Execution:Runtime/MaliciousFileExecuted.Custom`` (High, as ``MaliciousFileExecuted``),
``DefenseEvasion:EC2/UnusualDoTActivity`` (Medium, as ``UnusualDoHActivity``) and
``UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.InsideAWS`` (High, as ``.OutsideAWS``).

Where a family can stand for several resources (Runtime Monitoring covers EC2 instances, ECS clusters, EKS clusters
and containers), the table spreads the samples over them, so every resource shape is generated.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

# GuardDuty: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0
SEVERITY = {"Critical": 9.0, "High": 8.0, "Medium": 5.0, "Low": 2.0}

# type | default severity | resource family | action family
_TABLE = """
Backdoor:EC2/C&CActivity.B|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/C&CActivity.B!DNS|High|Instance|DNS_REQUEST
Backdoor:EC2/DenialOfService.Dns|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/DenialOfService.Tcp|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/DenialOfService.Udp|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/DenialOfService.UdpOnTcpPorts|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/DenialOfService.UnusualProtocol|High|Instance|NETWORK_CONNECTION
Backdoor:EC2/Spambot|Medium|Instance|NETWORK_CONNECTION
Behavior:EC2/NetworkPortUnusual|Medium|Instance|NETWORK_CONNECTION
Behavior:EC2/TrafficVolumeUnusual|Medium|Instance|NETWORK_CONNECTION
CryptoCurrency:EC2/BitcoinTool.B|High|Instance|NETWORK_CONNECTION
CryptoCurrency:EC2/BitcoinTool.B!DNS|High|Instance|DNS_REQUEST
DefenseEvasion:EC2/UnusualDNSResolver|Medium|Instance|NETWORK_CONNECTION
DefenseEvasion:EC2/UnusualDoHActivity|Medium|Instance|NETWORK_CONNECTION
DefenseEvasion:EC2/UnusualDoTActivity|Medium|Instance|NETWORK_CONNECTION
Impact:EC2/AbusedDomainRequest.Reputation|Medium|Instance|DNS_REQUEST
Impact:EC2/BitcoinDomainRequest.Reputation|High|Instance|DNS_REQUEST
Impact:EC2/MaliciousDomainRequest.Custom|Medium|Instance|DNS_REQUEST
Impact:EC2/MaliciousDomainRequest.Reputation|High|Instance|DNS_REQUEST
Impact:EC2/PortSweep|High|Instance|PORT_PROBE
Impact:EC2/SuspiciousDomainRequest.Reputation|Low|Instance|DNS_REQUEST
Impact:EC2/WinRMBruteForce|Low|Instance|NETWORK_CONNECTION
Recon:EC2/PortProbeEMRUnprotectedPort|High|Instance|PORT_PROBE
Recon:EC2/PortProbeUnprotectedPort|Low|Instance|PORT_PROBE
Recon:EC2/Portscan|Medium|Instance|NETWORK_CONNECTION
Trojan:EC2/BlackholeTraffic|Medium|Instance|NETWORK_CONNECTION
Trojan:EC2/BlackholeTraffic!DNS|Medium|Instance|DNS_REQUEST
Trojan:EC2/DGADomainRequest.B|High|Instance|DNS_REQUEST
Trojan:EC2/DGADomainRequest.C!DNS|High|Instance|DNS_REQUEST
Trojan:EC2/DNSDataExfiltration|High|Instance|DNS_REQUEST
Trojan:EC2/DriveBySourceTraffic!DNS|High|Instance|DNS_REQUEST
Trojan:EC2/DropPoint|Medium|Instance|NETWORK_CONNECTION
Trojan:EC2/DropPoint!DNS|Medium|Instance|DNS_REQUEST
Trojan:EC2/PhishingDomainRequest!DNS|High|Instance|DNS_REQUEST
UnauthorizedAccess:EC2/MaliciousIPCaller.Custom|Medium|Instance|NETWORK_CONNECTION
UnauthorizedAccess:EC2/MetadataDNSRebind|High|Instance|DNS_REQUEST
UnauthorizedAccess:EC2/RDPBruteForce|Low|Instance|NETWORK_CONNECTION
UnauthorizedAccess:EC2/SSHBruteForce|Low|Instance|NETWORK_CONNECTION
UnauthorizedAccess:EC2/TorClient|High|Instance|NETWORK_CONNECTION
UnauthorizedAccess:EC2/TorRelay|High|Instance|NETWORK_CONNECTION
CredentialAccess:IAMUser/AnomalousBehavior|Medium|AccessKey|AWS_API_CALL
DefenseEvasion:IAMUser/AnomalousBehavior|Medium|AccessKey|AWS_API_CALL
DefenseEvasion:IAMUser/BedrockLoggingDisabled|Medium|AccessKey|AWS_API_CALL
Discovery:IAMUser/AnomalousBehavior|Low|AccessKey|AWS_API_CALL
Exfiltration:IAMUser/AnomalousBehavior|High|AccessKey|AWS_API_CALL
Impact:IAMUser/AnomalousBehavior|High|AccessKey|AWS_API_CALL
InitialAccess:IAMUser/AnomalousBehavior|Medium|AccessKey|AWS_API_CALL
PenTest:IAMUser/KaliLinux|Medium|AccessKey|AWS_API_CALL
PenTest:IAMUser/ParrotLinux|Medium|AccessKey|AWS_API_CALL
PenTest:IAMUser/PentooLinux|Medium|AccessKey|AWS_API_CALL
Persistence:IAMUser/AnomalousBehavior|Medium|AccessKey|AWS_API_CALL
Policy:IAMUser/RootCredentialUsage|Low|AccessKey|AWS_API_CALL
Policy:IAMUser/ShortTermRootCredentialUsage|Low|AccessKey|AWS_API_CALL
PrivilegeEscalation:IAMUser/AnomalousBehavior|Medium|AccessKey|AWS_API_CALL
Recon:IAMUser/MaliciousIPCaller|Medium|AccessKey|AWS_API_CALL
Recon:IAMUser/MaliciousIPCaller.Custom|Medium|AccessKey|AWS_API_CALL
Recon:IAMUser/TorIPCaller|Medium|AccessKey|AWS_API_CALL
Stealth:IAMUser/CloudTrailLoggingDisabled|Low|AccessKey|AWS_API_CALL
Stealth:IAMUser/PasswordPolicyChange|Low|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B|Medium|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS|High|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS|High|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/MaliciousIPCaller|Medium|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom|Medium|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.InsideAWS|High|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS|High|AccessKey|AWS_API_CALL
UnauthorizedAccess:IAMUser/TorIPCaller|Medium|AccessKey|AWS_API_CALL
Discovery:S3/AnomalousBehavior|Low|S3Bucket|AWS_API_CALL
Discovery:S3/MaliciousIPCaller|High|S3Bucket|AWS_API_CALL
Discovery:S3/MaliciousIPCaller.Custom|High|S3Bucket|AWS_API_CALL
Discovery:S3/TorIPCaller|Medium|S3Bucket|AWS_API_CALL
Exfiltration:S3/AnomalousBehavior|High|S3Bucket|AWS_API_CALL
Exfiltration:S3/MaliciousIPCaller|High|S3Bucket|AWS_API_CALL
Impact:S3/AnomalousBehavior.Delete|High|S3Bucket|AWS_API_CALL
Impact:S3/AnomalousBehavior.Permission|High|S3Bucket|AWS_API_CALL
Impact:S3/AnomalousBehavior.Write|Medium|S3Bucket|AWS_API_CALL
Impact:S3/MaliciousIPCaller|High|S3Bucket|AWS_API_CALL
PenTest:S3/KaliLinux|Medium|S3Bucket|AWS_API_CALL
PenTest:S3/ParrotLinux|Medium|S3Bucket|AWS_API_CALL
PenTest:S3/PentooLinux|Medium|S3Bucket|AWS_API_CALL
Policy:S3/AccountBlockPublicAccessDisabled|Low|S3Bucket|AWS_API_CALL
Policy:S3/BucketAnonymousAccessGranted|High|S3Bucket|AWS_API_CALL
Policy:S3/BucketBlockPublicAccessDisabled|Low|S3Bucket|AWS_API_CALL
Policy:S3/BucketPublicAccessGranted|High|S3Bucket|AWS_API_CALL
Stealth:S3/ServerAccessLoggingDisabled|Low|S3Bucket|AWS_API_CALL
UnauthorizedAccess:S3/MaliciousIPCaller.Custom|High|S3Bucket|AWS_API_CALL
UnauthorizedAccess:S3/TorIPCaller|High|S3Bucket|AWS_API_CALL
CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed|Medium|EKSCluster|KUBERNETES_API_CALL
CredentialAccess:Kubernetes/MaliciousIPCaller|High|EKSCluster|KUBERNETES_API_CALL
CredentialAccess:Kubernetes/MaliciousIPCaller.Custom|High|EKSCluster|KUBERNETES_API_CALL
CredentialAccess:Kubernetes/SuccessfulAnonymousAccess|High|EKSCluster|KUBERNETES_API_CALL
CredentialAccess:Kubernetes/TorIPCaller|High|EKSCluster|KUBERNETES_API_CALL
DefenseEvasion:Kubernetes/MaliciousIPCaller|High|EKSCluster|KUBERNETES_API_CALL
DefenseEvasion:Kubernetes/MaliciousIPCaller.Custom|High|EKSCluster|KUBERNETES_API_CALL
DefenseEvasion:Kubernetes/SuccessfulAnonymousAccess|High|EKSCluster|KUBERNETES_API_CALL
DefenseEvasion:Kubernetes/TorIPCaller|High|EKSCluster|KUBERNETES_API_CALL
Discovery:Kubernetes/AnomalousBehavior.PermissionChecked|Low|EKSCluster|KUBERNETES_PERMISSION_CHECKED
Discovery:Kubernetes/MaliciousIPCaller|Medium|EKSCluster|KUBERNETES_API_CALL
Discovery:Kubernetes/MaliciousIPCaller.Custom|Medium|EKSCluster|KUBERNETES_API_CALL
Discovery:Kubernetes/SuccessfulAnonymousAccess|Medium|EKSCluster|KUBERNETES_API_CALL
Discovery:Kubernetes/TorIPCaller|Medium|EKSCluster|KUBERNETES_API_CALL
Execution:Kubernetes/AnomalousBehavior.ExecInPod|Medium|EKSCluster|KUBERNETES_API_CALL
Execution:Kubernetes/AnomalousBehavior.WorkloadDeployed|Low|EKSCluster|KUBERNETES_API_CALL
Execution:Kubernetes/ExecInKubeSystemPod|Medium|EKSCluster|KUBERNETES_API_CALL
Impact:Kubernetes/MaliciousIPCaller|High|EKSCluster|KUBERNETES_API_CALL
Impact:Kubernetes/MaliciousIPCaller.Custom|High|EKSCluster|KUBERNETES_API_CALL
Impact:Kubernetes/SuccessfulAnonymousAccess|High|EKSCluster|KUBERNETES_API_CALL
Impact:Kubernetes/TorIPCaller|High|EKSCluster|KUBERNETES_API_CALL
Persistence:Kubernetes/AnomalousBehavior.WorkloadDeployed!ContainerWithSensitiveMount|High|EKSCluster|KUBERNETES_API_CALL
Persistence:Kubernetes/MaliciousIPCaller|Medium|EKSCluster|KUBERNETES_API_CALL
Persistence:Kubernetes/MaliciousIPCaller.Custom|Medium|EKSCluster|KUBERNETES_API_CALL
Persistence:Kubernetes/SuccessfulAnonymousAccess|High|EKSCluster|KUBERNETES_API_CALL
Persistence:Kubernetes/TorIPCaller|Medium|EKSCluster|KUBERNETES_API_CALL
Policy:Kubernetes/AdminAccessToDefaultServiceAccount|High|EKSCluster|KUBERNETES_ROLE_BINDING
Policy:Kubernetes/AnonymousAccessGranted|High|EKSCluster|KUBERNETES_ROLE_BINDING
Policy:Kubernetes/ExposedDashboard|Medium|EKSCluster|KUBERNETES_API_CALL
Policy:Kubernetes/KubeflowDashboardExposed|Medium|EKSCluster|KUBERNETES_API_CALL
PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleBindingCreated|Medium|EKSCluster|KUBERNETES_ROLE_BINDING
PrivilegeEscalation:Kubernetes/AnomalousBehavior.RoleCreated|Low|EKSCluster|KUBERNETES_ROLE
PrivilegeEscalation:Kubernetes/AnomalousBehavior.WorkloadDeployed!PrivilegedContainer|High|EKSCluster|KUBERNETES_API_CALL
Backdoor:Runtime/C&CActivity.B|High|Instance|NETWORK_CONNECTION
Backdoor:Runtime/C&CActivity.B!DNS|High|Instance|DNS_REQUEST
CryptoCurrency:Runtime/BitcoinTool.B|High|Instance|NETWORK_CONNECTION
CryptoCurrency:Runtime/BitcoinTool.B!DNS|High|Instance|DNS_REQUEST
DefenseEvasion:Runtime/FilelessExecution|Medium|ECSCluster|PROCESS
DefenseEvasion:Runtime/KernelModuleLoaded|High|Instance|PROCESS
DefenseEvasion:Runtime/ProcessInjection.Proc|High|ECSCluster|PROCESS
DefenseEvasion:Runtime/ProcessInjection.Ptrace|Medium|ECSCluster|PROCESS
DefenseEvasion:Runtime/ProcessInjection.VirtualMemoryWrite|High|ECSCluster|PROCESS
DefenseEvasion:Runtime/PtraceAntiDebugging|Low|ECSCluster|PROCESS
DefenseEvasion:Runtime/SensitiveFileModified|Medium|Instance|PROCESS
DefenseEvasion:Runtime/SuspiciousCommand|High|ECSCluster|PROCESS
Discovery:Runtime/SuspiciousCommand|Low|ECSCluster|PROCESS
Execution:Runtime/MaliciousFileExecuted|High|Container|PROCESS
Execution:Runtime/MaliciousFileExecuted.Custom|High|Container|PROCESS
Execution:Runtime/NewBinaryExecuted|Medium|Container|PROCESS
Execution:Runtime/NewLibraryLoaded|Medium|Container|PROCESS
Execution:Runtime/ReverseShell|High|Container|PROCESS
Execution:Runtime/SuspiciousCommand|High|Container|PROCESS
Execution:Runtime/SuspiciousShellCreated|Low|Container|PROCESS
Execution:Runtime/SuspiciousTool|High|Container|PROCESS
Impact:Runtime/AbusedDomainRequest.Reputation|Medium|Instance|DNS_REQUEST
Impact:Runtime/BitcoinDomainRequest.Reputation|High|Instance|DNS_REQUEST
Impact:Runtime/CryptoMinerExecuted|High|Container|PROCESS
Impact:Runtime/MaliciousDomainRequest.Reputation|High|Instance|DNS_REQUEST
Impact:Runtime/SuspiciousDomainRequest.Reputation|Low|Instance|DNS_REQUEST
Persistence:Runtime/SensitiveFileModified|Medium|EKSCluster|PROCESS
Persistence:Runtime/SuspiciousCommand|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/CGroupsReleaseAgentModified|High|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/ContainerMountsHostDirectory|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/DockerSocketAccessed|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/ElevationToRoot|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/RuncContainerEscape|High|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/SensitiveFileModified|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/SuspiciousCommand|Medium|EKSCluster|PROCESS
PrivilegeEscalation:Runtime/UserfaultfdUsage|Medium|EKSCluster|PROCESS
Trojan:Runtime/BlackholeTraffic|Medium|Instance|NETWORK_CONNECTION
Trojan:Runtime/BlackholeTraffic!DNS|Medium|Instance|DNS_REQUEST
Trojan:Runtime/DGADomainRequest.C!DNS|High|Instance|DNS_REQUEST
Trojan:Runtime/DriveBySourceTraffic!DNS|High|Instance|DNS_REQUEST
Trojan:Runtime/DropPoint|Medium|Instance|NETWORK_CONNECTION
Trojan:Runtime/DropPoint!DNS|Medium|Instance|DNS_REQUEST
Trojan:Runtime/PhishingDomainRequest!DNS|High|Instance|DNS_REQUEST
UnauthorizedAccess:Runtime/MetadataDNSRebind|High|Instance|DNS_REQUEST
UnauthorizedAccess:Runtime/TorClient|High|Instance|NETWORK_CONNECTION
UnauthorizedAccess:Runtime/TorRelay|High|Instance|NETWORK_CONNECTION
Execution:EC2/MaliciousFile|High|Instance|EBS_SCAN
Execution:EC2/SuspiciousFile|Medium|Instance|EBS_SCAN
Execution:ECS/MaliciousFile|High|ECSCluster|EBS_SCAN
Execution:ECS/SuspiciousFile|Medium|ECSCluster|EBS_SCAN
Execution:Kubernetes/MaliciousFile|High|EKSCluster|EBS_SCAN
Execution:Kubernetes/SuspiciousFile|Medium|EKSCluster|EBS_SCAN
Execution:Container/MaliciousFile|High|Container|EBS_SCAN
Execution:Container/SuspiciousFile|Medium|Container|EBS_SCAN
Object:S3/MaliciousFile|High|S3Object|MALWARE_SCAN
Execution:EC2/MaliciousFile!Snapshot|High|EBSSnapshot|MALWARE_SCAN
Execution:EC2/MaliciousFile!AMI|High|EC2Image|MALWARE_SCAN
Execution:EC2/MaliciousFile!RecoveryPoint|High|RecoveryPoint|MALWARE_SCAN
Execution:S3/MaliciousFile!RecoveryPoint|High|RecoveryPoint|MALWARE_SCAN
CredentialAccess:RDS/AnomalousBehavior.SuccessfulLogin|Medium|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/AnomalousBehavior.FailedLogin|Low|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/AnomalousBehavior.SuccessfulBruteForce|High|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/MaliciousIPCaller.SuccessfulLogin|High|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/MaliciousIPCaller.FailedLogin|Medium|RDSDBInstance|RDS_LOGIN_ATTEMPT
Discovery:RDS/MaliciousIPCaller|Medium|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/TorIPCaller.SuccessfulLogin|High|RDSDBInstance|RDS_LOGIN_ATTEMPT
CredentialAccess:RDS/TorIPCaller.FailedLogin|Medium|RDSDBInstance|RDS_LOGIN_ATTEMPT
Discovery:RDS/TorIPCaller|Medium|RDSDBInstance|RDS_LOGIN_ATTEMPT
Backdoor:Lambda/C&CActivity.B|High|Lambda|NETWORK_CONNECTION
CryptoCurrency:Lambda/BitcoinTool.B|High|Lambda|NETWORK_CONNECTION
Trojan:Lambda/BlackholeTraffic|Medium|Lambda|NETWORK_CONNECTION
Trojan:Lambda/DropPoint|Medium|Lambda|NETWORK_CONNECTION
UnauthorizedAccess:Lambda/MaliciousIPCaller.Custom|Medium|Lambda|NETWORK_CONNECTION
UnauthorizedAccess:Lambda/TorClient|High|Lambda|NETWORK_CONNECTION
UnauthorizedAccess:Lambda/TorRelay|High|Lambda|NETWORK_CONNECTION
AttackSequence:EKS/CompromisedCluster|Critical|EKSCluster|SEQUENCE
AttackSequence:ECS/CompromisedCluster|Critical|ECSCluster|SEQUENCE
AttackSequence:EC2/CompromisedInstanceGroup|Critical|Instance|SEQUENCE
AttackSequence:IAM/CompromisedCredentials|Critical|AccessKey|SEQUENCE
AttackSequence:S3/CompromisedData|Critical|S3Bucket|SEQUENCE
"""

# Inbound traffic to the instance (the instance is the TARGET); every other network finding is the resource's
# own traffic (ACTOR, OUTBOUND).
INBOUND = {"UnauthorizedAccess:EC2/SSHBruteForce": (22, "SSH"), "UnauthorizedAccess:EC2/RDPBruteForce": (3389, "RDP"),
           "Impact:EC2/WinRMBruteForce": (5985, "Unknown"),
           "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom": (80, "HTTP")}
OUTBOUND_PORTS = {"Backdoor:EC2/Spambot": (25, "SMTP"), "CryptoCurrency:EC2/BitcoinTool.B": (8333, "Unknown"),
                  "UnauthorizedAccess:EC2/TorClient": (9001, "Unknown"), "UnauthorizedAccess:EC2/TorRelay": (9001, "Unknown"),
                  "DefenseEvasion:EC2/UnusualDNSResolver": (53, "DNS"),
                  "DefenseEvasion:EC2/UnusualDoHActivity": (443, "HTTPS"),
                  "DefenseEvasion:EC2/UnusualDoTActivity": (853, "Unknown")}
PROBED_PORTS = {"Recon:EC2/PortProbeUnprotectedPort": (80, "HTTP"),
                "Recon:EC2/PortProbeEMRUnprotectedPort": (8088, "Unknown"), "Impact:EC2/PortSweep": (22, "SSH")}

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

# what the sample's resource is called in titles, per resource family
SUBJECT = {"Instance": "EC2 instance i-99999999", "AccessKey": "GeneratedFindingUserName",
           "S3Bucket": "S3 bucket bucketName", "S3Object": "S3 object GeneratedFindingObjectKey",
           "EKSCluster": "EKS cluster GeneratedFindingEKSClusterName",
           "ECSCluster": "ECS cluster GeneratedFindingECSClusterName",
           "Container": "container GeneratedFindingContainerName",
           "RDSDBInstance": "RDS DB instance GeneratedFindingDBInstanceId",
           "Lambda": "Lambda function GeneratedFindingFunctionName", "EBSSnapshot": "EBS snapshot snap-99999999",
           "EC2Image": "AMI ami-99999999", "RecoveryPoint": "recovery point GeneratedFindingRecoveryPoint"}

# the SHA-256 the malware samples report for the scanned file
SAMPLE_FILE_HASH = "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"  # pragma: allowlist secret


@dataclass(frozen=True)
class FindingType:
    name: str
    severity_label: str      # Critical, High, Medium, Low
    resource_type: str       # the finding's resource.resourceType
    action_family: str       # NETWORK_CONNECTION, DNS_REQUEST, PORT_PROBE, AWS_API_CALL, KUBERNETES_*, ...

    @property
    def severity(self) -> float:
        return SEVERITY[self.severity_label]

    @property
    def threat_purpose(self) -> str:
        return self.name.split(":", 1)[0]

    @property
    def resource(self) -> str:
        """The resource part of the name: EC2, IAMUser, S3, Kubernetes, Runtime, RDS, Lambda, ECS, Container, IAM."""
        return self.name.split(":", 1)[1].split("/", 1)[0]

    @property
    def runtime(self) -> bool:
        return self.resource == "Runtime"

    @property
    def action_type(self) -> str | None:
        """service.action.actionType, or None for findings without an action (runtime processes, malware scans,
        attack sequences)."""
        return {"KUBERNETES_PERMISSION_CHECKED": "KUBERNETES_PERMISSION_CHECKED",
                "KUBERNETES_ROLE_BINDING": "KUBERNETES_API_CALL", "KUBERNETES_ROLE": "KUBERNETES_API_CALL",
                "PROCESS": None, "EBS_SCAN": None, "MALWARE_SCAN": None, "SEQUENCE": None,
                }.get(self.action_family, self.action_family)


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
CREATED = "2017-12-18T15:58:11.551Z"
TAGS = [{"key": "GeneratedFindingTagKey", "value": "GeneratedFindingTagValue"}]


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
    role = "CredentialExfiltration" in finding_type.name
    return {"accessKeyDetails": {"accessKeyId": "GeneratedFindingAccessKeyId",
                                 "principalId": "GeneratedFindingPrincipalId",
                                 "userName": "GeneratedFindingUserName",
                                 "userType": "AssumedRole" if role else (
                                     "Root" if "RootCredentialUsage" in finding_type.name else "IAMUser")}}


def _bucket(finding_type: FindingType) -> dict:
    public = "PUBLIC" if "AccessGranted" in finding_type.name else "NOT_PUBLIC"
    bucket = {
        "arn": "arn:aws:s3:::bucketName", "name": "bucketName", "type": "Destination",
        "createdAt": CREATED, "owner": {"id": "CanonicalId of Owner"},
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
                                                              "blockPublicAcls": False, "blockPublicPolicy": False}}}}}
    if finding_type.resource_type == "S3Object":
        bucket["s3ObjectDetails"] = [{"objectArn": "arn:aws:s3:::bucketName/GeneratedFindingObjectKey",
                                      "key": "GeneratedFindingObjectKey", "eTag": "GeneratedFindingETag",
                                      "hash": "0" * 64, "versionId": "GeneratedFindingVersionId"}]
    return {"s3BucketDetails": [bucket]}


def _container(name: str = "GeneratedFindingContainerName") -> dict:
    return {"containerRuntime": "containerd", "id": "GeneratedFindingContainerId", "name": name,
            "image": "GeneratedFindingContainerImage", "imagePrefix": "GeneratedFindingContainerImagePrefix",
            "volumeMounts": [{"name": "GeneratedFindingVolumeName", "mountPath": "/var/lib/data"}],
            "securityContext": {"privileged": "PrivilegedContainer" in name, "allowPrivilegeEscalation": False}}


def _eks(account_id: str, region: str, finding_type: FindingType) -> dict:
    privileged = "PrivilegedContainer" in finding_type.name
    return {"eksClusterDetails": {"name": "GeneratedFindingEKSClusterName",
                                  "arn": f"arn:aws:eks:{region}:{account_id}:cluster/GeneratedFindingEKSClusterName",
                                  "vpcId": "GeneratedFindingVPCId", "status": "ACTIVE", "tags": TAGS,
                                  "createdAt": CREATED},
            "kubernetesDetails": {
                "kubernetesUserDetails": {"username": "GeneratedFindingUserName", "uid": "GeneratedFindingUID",
                                          "groups": ["GeneratedFindingUserGroup"]},
                "kubernetesWorkloadDetails": {
                    "name": "GeneratedFindingWorkloadName", "type": "GeneratedFindingWorkloadType",
                    "uid": "GeneratedFindingWorkloadUID", "namespace": "GeneratedFindingNamespace",
                    "hostNetwork": False, "serviceAccountName": "GeneratedFindingServiceAccountName",
                    "containers": [_container("PrivilegedContainer" if privileged else "GeneratedFindingContainerName")],
                    "volumes": [{"name": "GeneratedFindingVolumeName", "hostPath": {"path": "/etc"}}]}}}


def _ecs(account_id: str, region: str) -> dict:
    cluster = f"arn:aws:ecs:{region}:{account_id}:cluster/GeneratedFindingECSClusterName"
    return {"ecsClusterDetails": {
        "name": "GeneratedFindingECSClusterName", "arn": cluster, "status": "ACTIVE", "activeServicesCount": 1,
        "registeredContainerInstancesCount": 1, "runningTasksCount": 1, "tags": TAGS,
        "taskDetails": {"arn": f"arn:aws:ecs:{region}:{account_id}:task/GeneratedFindingECSClusterName/"
                               "GeneratedFindingTaskId",
                        "definitionArn": f"arn:aws:ecs:{region}:{account_id}:task-definition/GeneratedFindingTaskDefinition:1",
                        "version": "1", "createdAt": CREATED, "startedAt": CREATED, "startedBy": "GeneratedFindingStartedBy",
                        "launchType": "FARGATE", "group": "family:GeneratedFindingTaskDefinition",
                        "containers": [_container()]}}}


def _rds(account_id: str, region: str) -> dict:
    return {"rdsDbInstanceDetails": {
        "dbInstanceIdentifier": "GeneratedFindingDBInstanceId", "engine": "aurora-postgresql", "engineVersion": "15.4",
        "dbClusterIdentifier": "GeneratedFindingDBClusterId",
        "dbInstanceArn": f"arn:aws:rds:{region}:{account_id}:db:GeneratedFindingDBInstanceId",
        "dbiResourceId": "db-GENERATEDFINDINGRESOURCEID", "tags": TAGS},
        "rdsDbUserDetails": {"user": "GeneratedFindingDBUser", "application": "GeneratedFindingApplication",
                             "database": "GeneratedFindingDatabase", "ssl": "on", "authMethod": "PASSWORD"}}


def _lambda(account_id: str, region: str) -> dict:
    return {"lambdaDetails": {
        "functionArn": f"arn:aws:lambda:{region}:{account_id}:function:GeneratedFindingFunctionName",
        "functionName": "GeneratedFindingFunctionName", "description": "GeneratedFindingDescription",
        "lastModifiedAt": CREATED, "revisionId": "GeneratedFindingRevisionId", "functionVersion": "$LATEST",
        "role": f"arn:aws:iam::{account_id}:role/GeneratedFindingRole",
        "vpcConfig": {"subnetIds": ["GeneratedFindingSubnetId"], "vpcId": "GeneratedFindingVPCId",
                      "securityGroups": [{"groupId": "sg-99999999", "groupName": "GeneratedFindingSecurityGroupName"}]},
        "tags": TAGS}}


def _ebs_volume(account_id: str, region: str) -> dict:
    return {"ebsVolumeDetails": {"scannedVolumeDetails": [{
        "volumeArn": f"arn:aws:ec2:{region}:{account_id}:volume/vol-99999999", "volumeType": "gp3",
        "deviceName": "/dev/xvda", "volumeSizeInGB": 8, "encryptionType": "UNENCRYPTED",
        "snapshotArn": f"arn:aws:ec2:{region}:{account_id}:snapshot/snap-99999999"}], "skippedVolumeDetails": []}}


def resource(finding_type: FindingType, account_id: str, region: str) -> dict:
    kind = finding_type.resource_type
    block: dict = {"resourceType": kind}
    if kind == "Instance":
        block.update(_instance(account_id, region))
    elif kind == "AccessKey":
        block.update(_access_key(finding_type))
    elif kind in ("S3Bucket", "S3Object"):
        if kind == "S3Bucket":
            block.update(_access_key(finding_type))
        block.update(_bucket(finding_type))
    elif kind == "EKSCluster":
        block.update(_eks(account_id, region, finding_type))
    elif kind == "ECSCluster":
        block.update(_ecs(account_id, region))
    elif kind == "Container":
        block["containerDetails"] = _container()
    elif kind == "RDSDBInstance":
        block.update(_rds(account_id, region))
    elif kind == "Lambda":
        block.update(_lambda(account_id, region))
    elif kind == "EBSSnapshot":
        block["ebsSnapshotDetails"] = {"snapshotArn": f"arn:aws:ec2:{region}:{account_id}:snapshot/snap-99999999"}
    elif kind == "EC2Image":
        block["ec2ImageDetails"] = {"imageArn": f"arn:aws:ec2:{region}::image/ami-99999999"}
    elif kind == "RecoveryPoint":
        block["recoveryPointDetails"] = {
            "recoveryPointArn": f"arn:aws:backup:{region}:{account_id}:recovery-point:GeneratedFindingRecoveryPoint",
            "backupVaultName": "GeneratedFindingBackupVault"}
    if finding_type.action_family == "EBS_SCAN":
        block.update(_ebs_volume(account_id, region))
    return block


def _network(finding_type: FindingType) -> dict:
    inbound = finding_type.name in INBOUND
    port, name = INBOUND.get(finding_type.name) or OUTBOUND_PORTS.get(finding_type.name, (80, "HTTP"))
    local, remote = ({"port": port, "portName": name}, {"port": 32794, "portName": "Unknown"}) if inbound else \
        ({"port": 39677, "portName": "Unknown"}, {"port": port, "portName": name})
    return {"blocked": False, "connectionDirection": "INBOUND" if inbound else "OUTBOUND", "protocol": "TCP",
            "localPortDetails": local, "remotePortDetails": remote, "localIpDetails": {"ipAddressV4": "10.0.0.23"},
            "remoteIpDetails": REMOTE_IP}


def _kubernetes_call(finding_type: FindingType) -> dict:
    anonymous = "Anonymous" in finding_type.name
    call = {"requestUri": "/api/v1/namespaces/GeneratedFindingNamespace/secrets", "verb": "get",
            "resource": "secrets", "namespace": "GeneratedFindingNamespace", "resourceName": "GeneratedFindingName",
            "sourceIPs": ["198.51.100.0"], "userAgent": "GeneratedFindingUserAgent", "remoteIpDetails": REMOTE_IP,
            "statusCode": 200}
    if anonymous:
        call["parameters"] = json.dumps({"user": "system:anonymous"})
    return call


def action(finding_type: FindingType) -> dict | None:
    kind, family = finding_type.action_type, finding_type.action_family
    if kind is None:
        return None
    out: dict = {"actionType": kind}
    if kind == "AWS_API_CALL":
        service = "s3.amazonaws.com" if finding_type.resource == "S3" else "GeneratedFindingAPIServiceName"
        out["awsApiCallAction"] = {"api": "GeneratedFindingAPIName", "serviceName": service,
                                   "callerType": "Remote IP", "remoteIpDetails": REMOTE_IP, "affectedResources": {}}
    elif kind == "DNS_REQUEST":
        out["dnsRequestAction"] = {"domain": "GeneratedFindingDomainName", "protocol": "UDP", "blocked": False}
    elif kind == "PORT_PROBE":
        port, name = PROBED_PORTS[finding_type.name]
        out["portProbeAction"] = {"blocked": False, "portProbeDetails": [{
            "localPortDetails": {"port": port, "portName": name}, "localIpDetails": {"ipAddressV4": "10.0.0.23"},
            "remoteIpDetails": REMOTE_IP}]}
    elif kind == "NETWORK_CONNECTION":
        out["networkConnectionAction"] = _network(finding_type)
    elif kind == "KUBERNETES_PERMISSION_CHECKED":
        out["kubernetesPermissionCheckedDetails"] = {"verb": "create", "resource": "pods",
                                                     "namespace": "GeneratedFindingNamespace", "allowed": True}
    elif kind == "KUBERNETES_API_CALL":
        out["kubernetesApiCallAction"] = _kubernetes_call(finding_type)
        if family == "KUBERNETES_ROLE_BINDING":
            out["kubernetesRoleBindingDetails"] = {"kind": "ClusterRoleBinding", "name": "GeneratedFindingRoleBinding",
                                                   "uid": "GeneratedFindingRoleBindingUID",
                                                   "roleRefKind": "ClusterRole", "roleRefName": "cluster-admin"}
        elif family == "KUBERNETES_ROLE":
            out["kubernetesRoleDetails"] = {"kind": "ClusterRole", "name": "GeneratedFindingRole",
                                            "uid": "GeneratedFindingRoleUID"}
    elif kind == "RDS_LOGIN_ATTEMPT":
        succeeded = "Successful" in finding_type.name
        probed = finding_type.name.startswith("Discovery:")
        out["rdsLoginAttemptAction"] = {"remoteIpDetails": REMOTE_IP, "LoginAttributes": [] if probed else [{
            "user": "GeneratedFindingDBUser", "application": "GeneratedFindingApplication",
            "failedLoginAttempts": 10 if "FailedLogin" in finding_type.name or "BruteForce" in finding_type.name else 0,
            "successfulLoginAttempts": 1 if succeeded else 0}]}
    return out


def _process(name: str = "GeneratedFindingProcessName") -> dict:
    return {"name": name, "executablePath": f"/usr/bin/{name}", "executableSha256": "0" * 64,
            "namespacePid": 1234, "pwd": "/tmp", "pid": 5678, "startTime": CREATED,
            "uuid": "GeneratedFindingProcessUuid", "parentUuid": "GeneratedFindingParentProcessUuid",
            "user": "root", "userId": 0, "euid": 0,
            "lineage": [{"name": "bash", "executablePath": "/usr/bin/bash", "pid": 1000, "startTime": CREATED,
                         "uuid": "GeneratedFindingParentProcessUuid", "userId": 0, "euid": 0, "namespacePid": 1}]}


def _runtime_context(finding_type: FindingType) -> dict:
    """The RuntimeContext fields the finding type's section names (the file, module, socket, tool...)."""
    name = finding_type.name.split("/", 1)[1]
    context: dict = {}
    if name.startswith("SensitiveFileModified"):
        context.update(fileOperation="OPEN_FOR_WRITE", filePath="/etc/passwd", modifiedAt=CREATED)
    elif name == "KernelModuleLoaded":
        context.update(moduleName="GeneratedFindingModuleName", moduleFilePath="/tmp/module.ko", moduleSha256="0" * 64)
    elif name == "DockerSocketAccessed":
        context["socketPath"] = "/var/run/docker.sock"
    elif name == "RuncContainerEscape":
        context["runcBinaryPath"] = "/usr/bin/runc"
    elif name == "CGroupsReleaseAgentModified":
        context["releaseAgentPath"] = "/sys/fs/cgroup/release_agent"
    elif name == "ContainerMountsHostDirectory":
        context.update(mountSource="/dev/xvda1", mountTarget="/host", fileSystemType="ext4", flags=["MS_RDONLY"])
    elif name == "NewLibraryLoaded":
        context["libraryPath"] = "/tmp/GeneratedFindingLibrary.so"
    elif name.startswith("ProcessInjection") or name == "PtraceAntiDebugging":
        context.update(targetProcess=_process("GeneratedFindingTargetProcess"), memoryRegions=["00400000-00401000"])
    elif name in ("SuspiciousTool", "CryptoMinerExecuted"):
        context.update(toolName="GeneratedFindingToolName", toolCategory="GeneratedFindingToolCategory")
    elif name.startswith("MaliciousFileExecuted"):
        context["threatFilePath"] = "/tmp/GeneratedFindingMalware"
    elif name == "SuspiciousCommand" or name == "ReverseShell" or name == "SuspiciousShellCreated":
        context["commandLineExample"] = "GeneratedFindingCommandLine"
    elif name == "FilelessExecution":
        context["memoryRegions"] = ["7f0000000000-7f0000001000"]
    context["modifyingProcess"] = _process("GeneratedFindingModifyingProcess")
    return context


def _threat_names() -> dict:
    return {"itemCount": 1, "uniqueThreatNameCount": 1, "shortened": False, "threatNames": [{
        "name": "EICAR-Test-File (not a virus)", "severity": "HIGH", "itemCount": 1,
        "filePaths": [{"filePath": "/tmp/eicar.com", "volumeArn": "GeneratedFindingVolumeArn",
                       "hash": SAMPLE_FILE_HASH,
                       "fileName": "eicar.com"}]}]}


def _ebs_scan(finding_id: str, now_iso: str) -> dict:
    return {"scanId": "GeneratedFindingScanId", "scanStartedAt": now_iso, "scanCompletedAt": now_iso,
            "triggerFindingId": finding_id, "sources": ["GuardDuty"], "scanType": "GUARDDUTY_INITIATED",
            "scanDetections": {"scannedItemCount": {"totalGb": 8, "files": 1000, "volumes": 1},
                               "threatsDetectedItemCount": {"files": 1},
                               "highestSeverityThreatDetails": {"severity": "HIGH", "threatName": "EICAR-Test-File (not a virus)",
                                                                "count": 1},
                               "threatDetectedByName": _threat_names()}}


def _malware_scan(finding_type: FindingType) -> dict:
    backup = finding_type.name.endswith(("!Snapshot", "!AMI", "!RecoveryPoint"))
    return {"scanId": "GeneratedFindingScanId", "scanType": "BACKUP_INITIATED" if backup else "GUARDDUTY_INITIATED",
            "scanCategory": "FULL_SCAN", "uniqueThreatCount": 1, "threats": [{
                "name": "EICAR-Test-File (not a virus)", "source": "Amazon", "count": 1,
                "hash": SAMPLE_FILE_HASH,
                "itemPaths": [{"nestedItemPath": "/tmp/eicar.com",
                               "hash": SAMPLE_FILE_HASH}]}]}


# Attack sequences: the signals (GuardDuty findings and API activity) a sequence of the type correlates.
SEQUENCE_SIGNALS = {
    "AttackSequence:IAM/CompromisedCredentials": ("AccessKey", "ACCESS_KEY", ["Discovery:IAMUser/AnomalousBehavior",
                                                                             "Stealth:IAMUser/CloudTrailLoggingDisabled"]),
    "AttackSequence:S3/CompromisedData": ("S3Bucket", "S3_BUCKET", ["Discovery:S3/AnomalousBehavior",
                                                                    "Exfiltration:S3/AnomalousBehavior"]),
    "AttackSequence:EKS/CompromisedCluster": ("EKSCluster", "EKS_CLUSTER", ["Execution:Runtime/ReverseShell",
                                                                            "CredentialAccess:Kubernetes/AnomalousBehavior.SecretsAccessed"]),
    "AttackSequence:ECS/CompromisedCluster": ("ECSCluster", "ECS_CLUSTER", ["Impact:Runtime/CryptoMinerExecuted",
                                                                            "CryptoCurrency:Runtime/BitcoinTool.B!DNS"]),
    "AttackSequence:EC2/CompromisedInstanceGroup": ("Instance", "EC2_INSTANCE", ["Backdoor:EC2/C&CActivity.B!DNS",
                                                                                 "CryptoCurrency:EC2/BitcoinTool.B!DNS"]),
}


def _sequence(finding_type: FindingType, account_id: str, region: str, now_iso: str) -> dict:
    _family, resource_type, signals = SEQUENCE_SIGNALS[finding_type.name]
    resource_uid = {"ACCESS_KEY": "GeneratedFindingAccessKeyId", "S3_BUCKET": "bucketName",
                    "EKS_CLUSTER": f"arn:aws:eks:{region}:{account_id}:cluster/GeneratedFindingEKSClusterName",
                    "ECS_CLUSTER": f"arn:aws:ecs:{region}:{account_id}:cluster/GeneratedFindingECSClusterName",
                    "EC2_INSTANCE": "i-99999999"}[resource_type]
    return {"sequence": {
        "uid": "GeneratedFindingSequenceUid",
        "description": f"A sequence of actions involving {len(signals)} signals indicating a potential compromise.",
        "actors": [{"id": "GeneratedFindingActorId",
                    "user": {"name": "GeneratedFindingUserName", "uid": "GeneratedFindingPrincipalId",
                             "type": "IAMUser", "credentialUid": "GeneratedFindingAccessKeyId", "account":
                             {"uid": account_id}}}],
        "resources": [{"uid": resource_uid, "name": resource_uid.rsplit("/", 1)[-1], "accountId": account_id,
                       "resourceType": resource_type, "region": region, "cloudPartition": "aws", "tags": []}],
        "endpoints": [{"id": "198.51.100.0", "ip": "198.51.100.0"}],
        "signals": [{"uid": f"GeneratedFindingSignalUid{i}", "type": "FINDING", "name": name,
                     "description": f"GuardDuty finding {name}", "createdAt": now_iso, "updatedAt": now_iso,
                     "firstSeenAt": now_iso, "lastSeenAt": now_iso, "severity": 8.0, "count": 1,
                     "resourceUids": [resource_uid], "actorIds": ["GeneratedFindingActorId"],
                     "endpointIds": ["198.51.100.0"]} for i, name in enumerate(signals, 1)],
        "sequenceIndicators": [{"key": "ATTACK_TACTIC", "values": ["Discovery", "Impact"], "title": "Attack tactics"},
                               {"key": "MALICIOUS_IP", "values": ["198.51.100.0"], "title": "Malicious IP"}]}}


def service(finding_type: FindingType, *, finding_id: str, detector_id: str, account_id: str, region: str,
            now_iso: str) -> dict:
    block: dict = {"serviceName": "guardduty", "detectorId": detector_id}
    act = action(finding_type)
    if act is not None:
        block["action"] = act
    if finding_type.runtime:
        block["runtimeDetails"] = {"process": _process(), "context": _runtime_context(finding_type)}
    if finding_type.action_family == "EBS_SCAN":
        block["ebsVolumeScanDetails"] = _ebs_scan(finding_id, now_iso)
    elif finding_type.action_family == "MALWARE_SCAN":
        block["malwareScanDetails"] = _malware_scan(finding_type)
    elif finding_type.action_family == "SEQUENCE":
        block["detection"] = _sequence(finding_type, account_id, region, now_iso)
    block.update({"resourceRole": resource_role(finding_type), "archived": False, "count": 1,
                  "eventFirstSeen": now_iso, "eventLastSeen": now_iso,
                  "additionalInfo": {"value": json.dumps({"sample": True}), "type": "default"}})
    return block


def resource_role(finding_type: FindingType) -> str:
    if finding_type.action_type == "NETWORK_CONNECTION" and finding_type.name not in INBOUND:
        return "ACTOR"
    if finding_type.action_type == "DNS_REQUEST":
        return "ACTOR"
    return "TARGET"


def sample_finding(finding_type: FindingType, *, finding_id: str, detector_id: str, account_id: str, region: str,
                   now_iso: str) -> dict:
    """One sample finding in GuardDuty's wire format (the JSON names of botocore's ``Finding`` shape)."""
    values = {"instance": "i-99999999", "ip": "198.51.100.0", "api": "GeneratedFindingAPIName",
              "user": "GeneratedFindingUserName"}
    title, description = TITLES.get(finding_type.name, (
        f"{finding_type.threat_purpose} activity {finding_type.name.split('/', 1)[1]} seen on "
        f"{SUBJECT[finding_type.resource_type]}.",
        f"GuardDuty generated a sample finding of type {finding_type.name} ({finding_type.threat_purpose}, "
        f"{finding_type.severity_label} severity) with placeholder values."))
    finding = {
        "schemaVersion": "2.0", "accountId": account_id, "region": region, "partition": "aws", "id": finding_id,
        "arn": f"arn:aws:guardduty:{region}:{account_id}:detector/{detector_id}/finding/{finding_id}",
        "type": finding_type.name, "resource": resource(finding_type, account_id, region),
        "service": service(finding_type, finding_id=finding_id, detector_id=detector_id, account_id=account_id,
                           region=region, now_iso=now_iso),
        "severity": int(finding_type.severity),  # integral doubles go out as 8, as GuardDuty sends them
        "createdAt": now_iso, "updatedAt": now_iso,
        "title": title.format(**values), "description": description.format(**values),
    }
    return finding
