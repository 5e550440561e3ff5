#!/usr/bin/env python3
"""Checks receiver.py on its own, without the dispatcher: `python3 selftest.py` exits 0 or fails.

Requests are signed with `standardwebhooks.Webhook.sign`, the same package the receiver
verifies with, and sent to every path mode; the receiver's /_log must agree with the answers.
"""

import base64
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import standardwebhooks

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "whsec_" + base64.b64encode(b"selftest-secret-one-0123456789ab").decode()
ROTATED = "whsec_" + base64.b64encode(b"selftest-secret-two-0123456789ab").decode()
STRANGER = "whsec_" + base64.b64encode(b"not-the-receiver-secret-01234567").decode()


def start():
    proc = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "receiver.py"), "--port", "0", "--watch-stdin",
         "--secret", SECRET, "--secret", ROTATED],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("LISTENING "), f"unexpected first line {line!r}"
    return proc, int(line.split()[1])


def headers_for(body, msg_id, secrets=(SECRET,), when=None):
    when = when or datetime.now(tz=timezone.utc)
    sigs = " ".join(standardwebhooks.Webhook(s).sign(msg_id, when, body) for s in secrets)
    return {
        "content-type": "application/cloudevents+json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": sigs,
        "user-agent": "selftest",
    }


def request(port, method, path, body=None, headers=None, timeout=5.0, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        if chunked:
            conn.request(method, path, body=iter([body.encode()]), headers=headers or {},
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body.encode() if body else None, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def deliver(port, path, msg_id, **kwargs):
    event = {"specversion": "1.0", "id": msg_id, "source": "/selftest", "type": "t.v1",
             "data": {"path": path}}
    body = json.dumps(event)
    signing = {k: kwargs.pop(k) for k in ("secrets", "when") if k in kwargs}
    status, headers, _ = request(port, "POST", path, body, headers_for(body, msg_id, **signing),
                                 **kwargs)
    return status, headers


def log(port, name=None):
    status, _, body = request(port, "GET", "/_log" + (f"?name={name}" if name else ""))
    assert status == 200
    return json.loads(body)


def main():
    proc, port = start()
    try:
        assert request(port, "GET", "/_health")[0] == 200

        assert deliver(port, "/ok/a", "evt-1")[0] == 200
        [entry] = log(port, "a")
        assert entry["verified"] and entry["error"] is None and entry["status"] == 200, entry
        assert entry["webhook_id"] == "evt-1" and entry["body"]["id"] == "evt-1", entry
        assert entry["headers"]["content-type"] == "application/cloudevents+json", entry
        assert entry["matched_secret"] == 0 and entry["path"] == "/ok/a", entry

        # Rotation: the new secret alone, then both signatures in one header.
        assert deliver(port, "/ok/rot", "evt-r1", secrets=(ROTATED,))[0] == 200
        assert deliver(port, "/ok/rot", "evt-r2", secrets=(STRANGER, ROTATED))[0] == 200
        assert [e["matched_secret"] for e in log(port, "rot")] == [1, 1]

        # Forged, stale, and unsigned requests are 401 in every mode, with the verifier's reason.
        assert deliver(port, "/ok/bad", "evt-2", secrets=(STRANGER,))[0] == 401
        old = datetime.now(tz=timezone.utc) - timedelta(minutes=10)
        assert deliver(port, "/fail/1/bad", "evt-3", when=old)[0] == 401
        assert request(port, "POST", "/ok/bad", "{}", {"webhook-id": "x"})[0] == 401
        errors = [e["error"] for e in log(port, "bad")]
        assert "No matching signature" in errors[0] and "too old" in errors[1], errors
        assert "Missing required headers" in errors[2], errors
        assert not any(e["verified"] for e in log(port, "bad"))

        # /fail/<n>: n failures per (name, webhook-id), then success; other ids count afresh.
        answers = [deliver(port, "/fail/2/f", "evt-f1")[0] for _ in range(3)]
        answers += [deliver(port, "/fail/2/f", "evt-f2")[0] for _ in range(3)]
        assert answers == [500, 500, 200, 500, 500, 200], answers
        assert deliver(port, "/fail/2/other", "evt-f1")[0] == 500

        assert deliver(port, "/gone/g", "evt-g")[0] == 410
        assert deliver(port, "/status/429/s?retry-after=7", "evt-s")[:1] == (429,)
        assert deliver(port, "/status/429/s?retry-after=7", "evt-s")[1]["Retry-After"] == "7"
        assert deliver(port, "/status/503/s", "evt-s")[0] == 503
        status, headers = deliver(port, "/status/302/s", "evt-s")
        assert status == 302 and headers["Location"] == "/ok/s.redirected", headers
        assert deliver(port, "/status/204/s", "evt-s")[0] == 204
        assert [e["status"] for e in log(port, "s")] == [429, 429, 503, 302, 204]

        started = time.monotonic()
        assert deliver(port, "/slow/300/w", "evt-w")[0] == 200
        assert time.monotonic() - started >= 0.3

        # /hang holds its own thread: the client times out, everything else keeps working.
        hung = []
        thread = threading.Thread(
            target=lambda: hung.append(_timed_out(lambda: deliver(port, "/hang/h", "evt-h",
                                                                  timeout=1.0))))
        thread.start()
        time.sleep(0.2)
        assert deliver(port, "/ok/during-hang", "evt-d")[0] == 200
        thread.join()
        assert hung == [True], hung
        [h] = log(port, "h")
        assert h["verified"] and h["status"] is None, h

        assert deliver(port, "/ok/chunked", "evt-c", chunked=True)[0] == 200
        assert log(port, "chunked")[0]["verified"]

        assert deliver(port, "/nope/x", "evt-n")[0] == 404

        # Many concurrent deliveries are all recorded.
        threads = [threading.Thread(target=deliver, args=(port, "/ok/burst", f"evt-b{i}"))
                   for i in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        burst = log(port, "burst")
        assert len(burst) == 100 and all(e["status"] == 200 for e in burst)
        assert len({e["webhook_id"] for e in burst}) == 100

        seqs = [e["seq"] for e in log(port)]
        assert seqs == sorted(seqs)
        assert request(port, "POST", "/_reset")[0] == 200 and log(port) == []
        assert deliver(port, "/fail/1/f", "evt-f1")[0] == 500, "reset clears /fail counters"
    finally:
        proc.stdin.close()  # --watch-stdin: the receiver exits on its own
        proc.wait(timeout=5)
    print("receiver selftest: ok")


def _timed_out(call):
    try:
        call()
        return False
    except TimeoutError:
        return True


if __name__ == "__main__":
    main()
