"""AWS credentials for Bedrock: botocore's credential chain, and its SigV4 signer.

The chain is AWS's standard one, resolved by botocore exactly as the AWS SDKs do: environment
(`AWS_ACCESS_KEY_ID`, ...), profile files, the container role (ECS, and Lambda's environment),
the instance role. What it returns for a role refreshes itself ahead of expiry; `fetch` takes a
frozen copy of it (in a worker thread, every few minutes), which `sign` then uses without I/O.
botocore is imported here, in the methods, only when Bedrock is enabled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .base import Fetched, Identity

if TYPE_CHECKING:
    from ..providers.base import UpstreamRequest

SIGNING_NAME = "bedrock"  # Bedrock Runtime's SigV4 service name (its endpoint says bedrock-runtime)
# What botocore's signer adds that the request must carry.
_SIGNED = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


@dataclass(frozen=True, slots=True)
class AwsCredentials:
    """A frozen copy of the chain's credentials (the attributes botocore's signer reads)."""

    access_key: str
    secret_key: str
    token: str | None


class AwsIdentity(Identity[AwsCredentials]):
    def __init__(
        self, provider: str, region: str | None, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__(provider, clock)
        self.region = region
        self._credentials: Any = None  # botocore's (Refreshable)Credentials, once found

    @property
    def description(self) -> str:
        return "the AWS credential chain"

    def fetch(self) -> Fetched[AwsCredentials]:
        if not self.region:
            raise RuntimeError(
                "no AWS region: set providers.bedrock.region, AWS_REGION or AWS_DEFAULT_REGION"
            )
        if self._credentials is None:
            self._credentials = _from_environment() or _from_chain()
            if self._credentials is None:
                raise RuntimeError("no AWS credentials: set a role, AWS_* env vars or a profile")
        # A role's credentials refresh themselves here when they are near their expiry.
        frozen = self._credentials.get_frozen_credentials()
        material = AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token or None)
        secrets = tuple(s for s in (material.secret_key, material.token) if s)
        return Fetched(material, None, secrets)

    def sign(self, request: UpstreamRequest, material: AwsCredentials) -> None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        signed = AWSRequest(
            method="POST", url=request.url, data=request.body, headers=request.headers
        )
        SigV4Auth(material, SIGNING_NAME, self.region).add_auth(signed)
        for name in _SIGNED:
            value = signed.headers.get(name)
            if value is not None:
                request.headers[name.lower()] = value


def _from_environment() -> Any:
    """The chain's first link, as botocore reads it: AWS_ACCESS_KEY_ID and the rest, where
    Lambda puts its role's credentials. Asked on its own first because botocore's Session (the
    whole chain) imports its service clients too: a third of a Lambda cold start with Bedrock."""
    from botocore.credentials import EnvProvider

    return EnvProvider().load()


def _from_chain() -> Any:
    """The rest of the chain: profiles, the container role (ECS), the instance role."""
    import botocore.session

    return botocore.session.Session().get_credentials()
