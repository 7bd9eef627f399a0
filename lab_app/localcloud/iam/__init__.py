"""IAM for the local cloud: a gateway middleware that checks IAM users' and role sessions' calls against their
policies, so a low-privilege user really gets AccessDenied (moto serves the IAM API itself)."""
from lab_app.localcloud.iam.middleware import IamPolicyCheck, denial
from lab_app.localcloud.iam.models import evaluate

__all__ = ["IamPolicyCheck", "denial", "evaluate"]
