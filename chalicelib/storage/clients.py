"""AWS clients made on first use and kept for the life of the process (one Lambda container)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from chalicelib.config import Settings

if TYPE_CHECKING:
    import botocore.session
    from mypy_boto3_cognito_idp.client import CognitoIdentityProviderClient
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_kms.client import KMSClient
    from mypy_boto3_lambda.client import LambdaClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_ssm.client import SSMClient
    from mypy_boto3_sts.client import STSClient


class AwsClients:
    """Lazily created, cached boto3 clients for the configured region.

    The endpoint is not set here: botocore reads AWS_ENDPOINT_URL itself, which is how local runs and
    tests reach moto with no code change. Our clients and the encryption SDK's share one botocore session,
    so credentials and service models are loaded once. Ours are made by botocore itself, not through a
    boto3 session: the SDK wraps the session in a boto3 session of its own, and two boto3 sessions on one
    botocore session make every later S3 client fail ("Cannot inject class attribute upload_file").
    Nothing here uses what boto3 adds to clients (S3 transfers).
    """

    def __init__(self, settings: Settings) -> None:
        self._region = settings.region
        self._lock = threading.Lock()  # the local dev server handles requests on several threads
        self._botocore_session: botocore.session.Session | None = None
        self._clients: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return self._region

    @property
    def botocore_session(self) -> botocore.session.Session:
        """The session the encryption SDK's KMS key provider builds its own clients from."""
        with self._lock:
            if self._botocore_session is None:
                import botocore.session

                self._botocore_session = botocore.session.Session()
            return self._botocore_session

    @property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._client("dynamodb")
        return client

    @property
    def kms(self) -> KMSClient:
        client: KMSClient = self._client("kms")
        return client

    @property
    def ssm(self) -> SSMClient:
        client: SSMClient = self._client("ssm")
        return client

    @property
    def s3(self) -> S3Client:
        client: S3Client = self._client("s3")
        return client

    @property
    def lambda_(self) -> LambdaClient:
        client: LambdaClient = self._client("lambda")
        return client

    @property
    def cognito(self) -> CognitoIdentityProviderClient:
        client: CognitoIdentityProviderClient = self._client("cognito-idp")
        return client

    @property
    def sqs(self) -> Any:  # no SQS stubs among the dependencies: the console reads one queue attribute
        return self._client("sqs")

    @property
    def sts(self) -> STSClient:
        client: STSClient = self._client("sts")
        return client

    def _client(self, service: str) -> Any:
        client = self._clients.get(service)
        if client is None:
            from botocore.config import Config

            session = self.botocore_session
            # Standard retry mode backs off on throttling; a citizen's request should not wait long.
            retries: Any = {"mode": "standard", "max_attempts": 3}
            config = Config(retries=retries, connect_timeout=5, read_timeout=10)
            if service == "cognito-idp":
                # GlobalSignOut is sent unsigned: AWS knows the region by its endpoint, but moto's server on
                # localhost (make run, tests) has none in the URL and reads it from "region/..." in the
                # User-Agent, else it looks in us-east-1. Only a word in the User-Agent on AWS.
                config = config.merge(Config(user_agent_extra=f"region/{self._region}"))
            with self._lock:
                client = self._clients.get(service)
                if client is None:
                    client = session.create_client(service, region_name=self._region, config=config)
                    self._clients[service] = client
        return client
