"""moto's S3 server, with its writes made atomic as S3's are: ``python -m tests.support.s3_server -p PORT``.

moto checks a conditional PUT's ``If-None-Match`` / ``If-Match`` and then stores the object, two steps
that two request threads may interleave; AWS S3 decides conditional writes atomically. The commit
protocol's tests rest on that, so every request that writes (PUT, POST, DELETE) runs alone here.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

WRITES = {"PUT", "POST", "DELETE"}


def atomic_writes(app: Callable[..., Iterable[bytes]]) -> Callable[..., Iterable[bytes]]:
    """A WSGI app that answers writes one at a time (the whole answer within the lock)."""
    lock = threading.Lock()

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") not in WRITES:
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, atomic_writes(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
