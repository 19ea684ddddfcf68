"""An S3-compatible object store the tests start themselves: moto's server on a free loopback
port, reached over HTTP by s3fs as a real store is (no network beyond the loopback). A
project points ``data_root`` at a bucket of it through the credentials ``data_store``."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import yaml

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Standin:
    """moto's S3 server in a thread of the test process; its buckets live as long as the
    process (a server stopped and started again on the same port finds them again)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server_class = ThreadedMotoServer
        self._server = None

    def start(self) -> None:
        if self._server is not None:  # already serving
            return
        self._server = self._server_class(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def credentials(self) -> dict:
        """The ``data_store`` credentials a project reads the store with (fsspec's options for
        s3fs): quick to give up when the store does not answer."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": REGION},
            "config_kwargs": {"connect_timeout": 2, "retries": {"max_attempts": 1}},
        }

    def filesystem(self):
        import s3fs

        credentials = self.credentials()
        return s3fs.S3FileSystem(
            key=credentials["key"],
            secret=credentials["secret"],
            client_kwargs=credentials["client_kwargs"],
            skip_instance_cache=True,
            use_listings_cache=False,
        )

    def new_bucket(self) -> str:
        import boto3

        name = f"lift-{uuid.uuid4().hex[:12]}"
        credentials = self.credentials()
        boto3.client(
            "s3",
            aws_access_key_id=credentials["key"],
            aws_secret_access_key=credentials["secret"],
            **credentials["client_kwargs"],
        ).create_bucket(Bucket=name)  # in us-east-1: no location constraint
        return name


def point_at_store(project: Path, store: S3Standin, bucket: str, env: str = "local") -> str:
    """Make ``project``'s environment ``env`` keep every artifact in ``bucket`` of ``store``;
    the data root's URL."""
    root = f"s3://{bucket}/data"
    folder = project / "conf" / env
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "globals.yml").write_text(yaml.safe_dump({"data_root": root}))
    (folder / "credentials.yml").write_text(yaml.safe_dump({"data_store": store.credentials()}))
    return root
