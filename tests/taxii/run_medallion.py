#!/usr/bin/env python3
"""Run the OASIS reference TAXII server (medallion 3.0.0, memory backend) shaped like Tearline's
coalition hub, and optionally this suite against it.

    .venv/bin/python tests/taxii/run_medallion.py                 run the suite against medallion
    .venv/bin/python tests/taxii/run_medallion.py -- -k paging    ... with extra pytest arguments
    .venv/bin/python tests/taxii/run_medallion.py --serve         only serve (prints URL and tokens)

Medallion's users are the coalition's user names with a random token as password (HTTP Basic, as
taxii2-client sends). Its collections have Tearline's ids and titles, with static permissions
(medallion has no per-user access control): "Coalition indicators" readable and writable,
"US products" read-only. The suite runs with TEARLINE_TARGET=medallion: Tearline-specific tests
are skipped and known medallion deviations from TAXII 2.1 are expected to fail (conftest.py).
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
USERS = ["us-analyst", "us-liaison", "iq-analyst", "ru-analyst", "sy-analyst"]
MAX_CONTENT_LENGTH = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(url, tokens):
    collection = {
        "media_types": ["application/stix+json;version=2.1"],
        "objects": [],
        "manifest": [],
    }
    return {
        "backend": {
            "module": "medallion.backends.memory_backend",
            "module_class": "MemoryBackend",
            "filename": None,  # replaced below by the data file
        },
        "users": dict(tokens),
        "taxii": {"max_page_size": 100},
        "data": {
            "/discovery": {
                "title": "Medallion (reference) shaped like Tearline",
                "description": "OASIS reference TAXII server for the conformance suite",
                "contact": "nobody@example.org",
                "default": url + "/api/",
                "api_roots": [url + "/api/"],
            },
            "api": {
                "information": {
                    "title": "Tearline API root (medallion)",
                    "description": "",
                    "versions": ["application/taxii+json;version=2.1"],
                    "max_content_length": MAX_CONTENT_LENGTH,
                },
                "status": [],
                "collections": [
                    dict(collection, id="2b1c8f4e-7d4a-4c55-9a1e-3f6d1e0b9a01",
                         title="Coalition indicators", description="", can_read=True,
                         can_write=True, objects=[], manifest=[]),
                    dict(collection, id="6e0a4b8c-1f2d-4e3a-8b5c-9d7e2f1a0c02",
                         title="US products", description="", can_read=True,
                         can_write=False, objects=[], manifest=[]),
                ],
            },
        },
    }


def start(workdir, port=None):
    port = port or free_port()
    url = "http://127.0.0.1:%d" % port
    tokens = {u: secrets.token_urlsafe(24) for u in USERS}
    cfg = config(url, tokens)
    data_path = os.path.join(workdir, "data.json")
    with open(data_path, "w") as f:
        json.dump(cfg.pop("data"), f)
    cfg["backend"]["filename"] = data_path
    cfg_path = os.path.join(workdir, "medallion.json")
    with open(cfg_path, "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(workdir, "medallion.log"), "w")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from medallion.scripts.run import main; main()",
         "--host", "127.0.0.1", "--port", str(port), cfg_path],
        stdout=log, stderr=subprocess.STDOUT)
    user, token = next(iter(tokens.items()))
    deadline = time.time() + 30
    while True:
        try:
            r = requests.get(url + "/taxii2/", auth=(user, token),
                             headers={"Accept": "application/taxii+json;version=2.1"}, timeout=2)
            if r.status_code == 200:
                break
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            sys.exit("medallion did not start; see %s" % log.name)
        time.sleep(0.2)
    return proc, url, tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", action="store_true", help="only serve, until interrupted")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args()
    # A TERM ends this script through SystemExit, so that `finally` stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="medallion.") as workdir:
        proc, url, tokens = start(workdir, args.port)
        try:
            if args.serve:
                print("TEARLINE_URL=%s" % url)
                print("TEARLINE_TOKENS='%s'" % json.dumps(tokens), flush=True)
                proc.wait()
                return 0
            env = dict(os.environ, TEARLINE_URL=url, TEARLINE_TOKENS=json.dumps(tokens),
                       TEARLINE_TARGET="medallion")
            return subprocess.call(
                [sys.executable, "-m", "pytest", HERE, "-q", "-p", "no:cacheprovider"]
                + args.pytest_args, env=env)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
