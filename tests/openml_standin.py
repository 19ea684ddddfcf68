"""A loopback stand-in for the OpenML REST API, so the real ``openml`` client runs in tests
without the internet. It serves one dataset description and its ARFF file on 127.0.0.1."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd


def to_arff(frame: pd.DataFrame, relation: str) -> str:
    """Write ``frame`` as ARFF: numeric columns as REAL, the others as nominal."""
    lines = [f"@RELATION {relation}", ""]
    for column in frame.columns:
        if pd.api.types.is_numeric_dtype(frame[column]):
            lines.append(f"@ATTRIBUTE '{column}' REAL")
        else:
            levels = ",".join(f"'{v}'" for v in sorted(frame[column].dropna().unique()))
            lines.append(f"@ATTRIBUTE '{column}' {{{levels}}}")
    lines += ["", "@DATA"]
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            if pd.isna(value):
                cells.append("?")
            elif isinstance(value, str):
                cells.append(f"'{value}'")
            else:
                cells.append(repr(float(value)))
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def description_xml(dataset_id: int, name: str, arff_url: str, md5: str, target: str) -> str:
    return f"""<oml:data_set_description xmlns:oml="http://openml.org/openml">
  <oml:id>{dataset_id}</oml:id>
  <oml:name>{name}</oml:name>
  <oml:version>1</oml:version>
  <oml:description>Stand-in dataset for tests.</oml:description>
  <oml:format>ARFF</oml:format>
  <oml:upload_date>2024-01-01T00:00:00</oml:upload_date>
  <oml:licence>Public</oml:licence>
  <oml:url>{arff_url}</oml:url>
  <oml:file_id>{dataset_id}</oml:file_id>
  <oml:default_target_attribute>{target}</oml:default_target_attribute>
  <oml:visibility>public</oml:visibility>
  <oml:status>active</oml:status>
  <oml:md5_checksum>{md5}</oml:md5_checksum>
</oml:data_set_description>
"""


@contextmanager
def serve_openml(
    dataset_id: int, frame: pd.DataFrame, target: str, name: str = "standin"
) -> Iterator[tuple[str, list[str]]]:
    """Serve ``frame`` as OpenML dataset ``dataset_id``; yields the API root URL (for
    ``openml.config.server``) and the list of request paths seen."""
    arff = to_arff(frame, name).encode()
    requests_seen: list[str] = []
    routes: dict[str, tuple[str, bytes]] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            requests_seen.append(self.path)
            path = self.path.split("?")[0]
            if path not in routes:
                self.send_response(404)
                self.end_headers()
                return
            content_type, body = routes[path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    root = f"http://127.0.0.1:{server.server_port}"
    arff_path = f"/data/v1/download/{dataset_id}/{name}.arff"
    md5 = hashlib.md5(arff).hexdigest()
    xml = description_xml(dataset_id, name, root + arff_path, md5, target)
    routes[f"/api/v1/xml/data/{dataset_id}"] = ("text/xml", xml.encode())
    routes[arff_path] = ("text/plain", arff)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{root}/api/v1/xml", requests_seen
    finally:
        server.shutdown()
        server.server_close()
