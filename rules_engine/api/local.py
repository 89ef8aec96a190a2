"""Start `mianshen serve` on a free loopback port and wait until it answers: what the API tests,
the load benchmark and the documentation script share."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(env: dict[str, str], workers: int = 1, log: IO[str] | None = None,
          timeout_s: float = 90) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its URL, once /api/v1/openapi.json answers 200 (RuntimeError if it
    does not within `timeout_s`; the process is killed then)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "rules_engine", "serve", "--port", str(port),  # noqa: S603
                             "--workers", str(workers)], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT if log else None)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/v1/openapi.json", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the API server did not answer within {timeout_s:.0f} s")
