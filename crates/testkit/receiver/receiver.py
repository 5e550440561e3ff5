#!/usr/bin/env python3
"""A webhook receiver for the dispatcher's tests, verifying with an independent implementation.

Signatures are checked by the `standardwebhooks` package from PyPI (1.1.0), never by our own
HMAC, so a dispatcher bug cannot be hidden by the same bug on the receiving side.

    receiver.py --port 0 --secret whsec_... [--secret whsec_...] [--watch-stdin]

Binds 127.0.0.1 and prints one line, `LISTENING <port>`, once it accepts connections.
The request path picks the behaviour, so one receiver serves many endpoints:

    POST /ok/<name>               200
    POST /fail/<n>/<name>         500 for the first n deliveries of each webhook-id, then 200
    POST /hang/<name>             answers only after 120 s (a delivery timeout)
    POST /gone/<name>             410
    POST /status/<code>/<name>    <code> (3xx carry `Location: /ok/<name>.redirected`)
    POST /slow/<ms>/<name>        200 after <ms> milliseconds
    any of them ?retry-after=<s>  adds a `Retry-After: <s>` header

A request whose signature does not verify against any --secret is answered 401, whatever the
path, and recorded with `verified: false` and the verifier's error.

    GET  /_log[?name=<name>]      every request recorded so far, oldest first, as JSON
    POST /_reset                  forgets the log and the /fail counters
    GET  /_health                 200 {"standardwebhooks": "<version>"}

With --watch-stdin the receiver exits when its stdin closes, so it never outlives a test
process that was killed before it could stop it.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# Exit status when the verifier package is missing; the Rust side turns it into an install hint.
EXIT_MISSING_VERIFIER = 3
REQUIRED = "standardwebhooks==1.1.0"

try:
    import standardwebhooks
except ImportError as error:
    sys.stderr.write(
        f"receiver.py: cannot import standardwebhooks ({error}); "
        f"the independent Standard Webhooks verifier needs `pip install {REQUIRED}`\n"
    )
    sys.exit(EXIT_MISSING_VERIFIER)

try:
    from importlib.metadata import version as _dist_version

    VERIFIER_VERSION = _dist_version("standardwebhooks")
except Exception:  # an unusual install without metadata still verifies
    VERIFIER_VERSION = "unknown"

HANG_SECONDS = 120
MAX_BODY = 64 * 1024 * 1024
REDIRECTS = {301, 302, 303, 307, 308}


class Journal:
    """Every request received, plus the per-(name, webhook-id) counters of /fail; thread-safe."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = []
        self._failures = {}

    def add(self, entry):
        with self._lock:
            entry["seq"] = len(self._entries)
            self._entries.append(entry)

    def answered(self, entry, status):
        with self._lock:
            entry["status"] = status

    def take_failure(self, name, webhook_id, limit):
        """True while this (name, webhook-id) pair has failed fewer than `limit` times."""
        with self._lock:
            key = (name, webhook_id)
            count = self._failures.get(key, 0)
            if count >= limit:
                return False
            self._failures[key] = count + 1
            return True

    def dump(self, name=None):
        with self._lock:
            entries = [e for e in self._entries if name is None or e["name"] == name]
            return json.dumps(entries).encode()

    def reset(self):
        with self._lock:
            self._entries.clear()
            self._failures.clear()


class Route:
    """What a webhook path asks for: a mode, its argument, and the endpoint name."""

    def __init__(self, mode, arg, name):
        self.mode, self.arg, self.name = mode, arg, name

    @staticmethod
    def parse(path):
        parts = path.strip("/").split("/")
        mode, rest = parts[0], parts[1:]
        try:
            if mode in ("ok", "hang", "gone") and len(rest) == 1:
                return Route(mode, None, rest[0])
            if mode in ("fail", "status", "slow") and len(rest) == 2:
                arg = int(rest[0])
                if arg < 0 or (mode == "status" and not 200 <= arg <= 599):
                    return None
                return Route(mode, arg, rest[1])
        except ValueError:
            return None
        return None


def verify(verifiers, body, headers):
    """(verified, index of the matching secret, error text) using the standardwebhooks package."""
    errors = []
    for index, verifier in enumerate(verifiers):
        try:
            # json_parse=False: the signature is over bytes; a non-JSON body is a separate finding.
            verifier.verify(body, headers, json_parse=False)
            return True, index, None
        except Exception as error:  # the package raises ValueError etc. on malformed headers
            text = f"{type(error).__name__}: {error}"
            if text not in errors:
                errors.append(text)
    return False, None, "; ".join(errors)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the dispatcher's connection pool expects
    server_version = "switchyard-test-receiver"
    sys_version = ""

    # -- plumbing ---------------------------------------------------------------------------

    def log_message(self, format, *args):  # noqa: A002 - the stdlib's signature
        pass  # per-request lines would flood the test's stderr; /_log is the record

    def _send(self, status, payload=None, extra_headers=()):
        body = b"" if status in (204, 304) else json.dumps(payload or {}).encode()
        try:
            self.send_response(status)
            for key, value in extra_headers:
                self.send_header(key, value)
            if status not in (204, 304):
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a /hang timeout)

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError(f"body of {length} bytes exceeds {MAX_BODY}")
        return self.rfile.read(length)

    def _headers(self):
        """Lower-cased names; repeated fields joined with ", " as HTTP allows."""
        merged = {}
        for key, value in self.headers.items():
            key = key.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return merged

    # -- control endpoints ------------------------------------------------------------------

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/_health":
            self._send(200, {"standardwebhooks": VERIFIER_VERSION})
        elif url.path == "/_log":
            name = parse_qs(url.query).get("name", [None])[0]
            body = self.server.journal.dump(name)
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        else:
            self._send(404, {"error": f"no GET endpoint {url.path}"})

    # -- webhook endpoints ------------------------------------------------------------------

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path == "/_reset":
            self._read_body()
            self.server.journal.reset()
            self._send(200, {"reset": True})
            return

        received_at = time.time()
        try:
            raw = self._read_body()
        except Exception as error:
            self._send(400, {"error": f"unreadable body: {error}"})
            self.close_connection = True
            return
        headers = self._headers()
        route = Route.parse(url.path)
        verified, matched, error = verify(self.server.verifiers, raw, headers)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None

        entry = {
            "name": route.name if route else "",
            "path": url.path,
            "webhook_id": headers.get("webhook-id"),
            "webhook_timestamp": headers.get("webhook-timestamp"),
            "signature": headers.get("webhook-signature"),
            "verified": verified,
            "error": error,
            "matched_secret": matched,
            "headers": headers,
            "body": body,
            "raw_body": raw.decode("utf-8", errors="replace"),
            "received_at": received_at,
            "status": None,  # filled in once answered; stays null while /hang or /slow waits
        }
        self.server.journal.add(entry)

        status, extra = self._decide(route, verified, headers.get("webhook-id"), url.query)
        self.server.journal.answered(entry, status)
        self._send(status, {"name": entry["name"], "verified": verified}, extra)

    def _decide(self, route, verified, webhook_id, query):
        """The status to answer (sleeping first for /hang and /slow) and extra headers."""
        if route is None:
            return 404, ()
        if not verified:
            return 401, ()
        extra = []
        retry_after = parse_qs(query).get("retry-after")
        if retry_after:
            extra.append(("Retry-After", retry_after[0]))
        mode = route.mode
        if mode == "ok":
            return 200, extra
        if mode == "fail":
            failing = self.server.journal.take_failure(route.name, webhook_id, route.arg)
            return (500 if failing else 200), extra
        if mode == "hang":
            time.sleep(HANG_SECONDS)  # each request has its own thread; others are unaffected
            return 200, extra
        if mode == "gone":
            return 410, extra
        if mode == "slow":
            time.sleep(route.arg / 1000)
            return 200, extra
        if route.arg in REDIRECTS:
            extra.append(("Location", f"/ok/{route.name}.redirected"))
        return route.arg, extra


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a /hang thread must not keep the process alive at exit
    request_queue_size = 1024  # bursts of concurrent deliveries; the default is 5

    def __init__(self, port, verifiers):
        super().__init__(("127.0.0.1", port), Handler)
        self.verifiers = verifiers
        self.journal = Journal()


def exit_when_stdin_closes():
    try:
        while sys.stdin.buffer.read(4096):
            pass
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument(
        "--secret",
        action="append",
        required=True,
        help="whsec_<base64>; repeat for rotation: any one verifying is enough",
    )
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    args = parser.parse_args()

    verifiers = [standardwebhooks.Webhook(secret) for secret in args.secret]
    server = Server(args.port, verifiers)
    if args.watch_stdin:
        threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    sys.stdout.write(f"LISTENING {server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
