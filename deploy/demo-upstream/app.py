"""Demo upstream for Tollgate: a stand-in for "your app, in any language" (Python 3 stdlib only).

Answers every request with JSON echoing the identity Tollgate decided (the x-tollgate-* request
headers set by Envoy / nginx) and whether any API key reached it (it never should), and prints one
JSON line per request to stdout.

A metered call (Tollgate sent x-tollgate-reservation) is answered like an OpenAI-compatible
chat-completions API: it "uses" tokens (about one per 4 bytes of the request, plus its answer's) and
reports them in `usage`. With {"stream": true} in the request the answer is streamed (SSE): content
chunks, then a last chunk carrying `usage`, then `data: [DONE]`.

Who settles the count: behind Envoy, the ext_proc filter shows Tollgate the answer and Tollgate reads
`usage` itself (this app is untouched). Behind nginx, this app settles it with Tollgate at
TOLLGATE_SETTLE_URL, bearer SETTLE_TOKEN, before it answers (unset: it does not).

    python3 app.py            # HOST (default 0.0.0.0), PORT (default 3000), TOLLGATE_SETTLE_URL, SETTLE_TOKEN
"""

import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SETTLE_URL = os.environ.get("TOLLGATE_SETTLE_URL")
SETTLE_TOKEN = os.environ.get("SETTLE_TOKEN")
# This app's (fixed) answer to a chat call, streamed a word at a time, and its tokens.
ANSWER_WORDS = ["Hello ", "from ", "the ", "demo ", "upstream, ", "metered ", "by ", "Tollgate."]
ANSWER_TOKENS = 12


def settle(reservation, tokens):
    """Tells Tollgate the real count; a retry would be safe (a reservation settles once)."""
    if not SETTLE_URL or not SETTLE_TOKEN:
        return {"skipped": "TOLLGATE_SETTLE_URL and SETTLE_TOKEN are not set"}
    request = urllib.request.Request(
        SETTLE_URL,
        data=json.dumps({"reservation": reservation, "units": tokens}).encode(),
        headers={"authorization": "Bearer " + SETTLE_TOKEN, "content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=2) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return {"status": err.code, "error": err.read().decode(errors="replace")}
    except OSError as err:
        return {"error": str(err)}


def wants_stream(request_body):
    try:
        request = json.loads(request_body or b"{}")
    except ValueError:
        return False
    return isinstance(request, dict) and request.get("stream") is True


class Handler(BaseHTTPRequestHandler):
    # Keep-alive: nginx and Envoy pool their upstream connections (every answer has Content-Length).
    protocol_version = "HTTP/1.1"
    server_version = "tollgate-demo-upstream"

    def _answer(self):
        length = int(self.headers.get("content-length") or 0)
        request_body = self.rfile.read(length) if length > 0 else b""
        if self.path == "/healthz":
            body = {"status": "ok"}
        else:
            tollgate = {name.lower(): value for name, value in self.headers.items() if name.lower().startswith("x-tollgate-")}
            body = {
                "service": "demo-upstream",
                "method": self.command,
                "path": self.path,
                "tollgate": tollgate,
                # The proxy removes the caller's secret; true here would be a misconfigured proxy.
                "api_key_received": "x-api-key" in self.headers or "authorization" in self.headers,
                "request_id": self.headers.get("x-request-id"),
            }
            reservation = self.headers.get("x-tollgate-reservation")
            if reservation:
                prompt = (len(request_body) + 3) // 4
                usage = {"prompt_tokens": prompt, "completion_tokens": ANSWER_TOKENS, "total_tokens": prompt + ANSWER_TOKENS}
                body["usage"] = usage
                body["settled"] = settle(reservation, usage["total_tokens"])
                if wants_stream(request_body):
                    print(json.dumps(body, separators=(",", ":")), flush=True)
                    return self._stream(usage)
            print(json.dumps(body, separators=(",", ":")), flush=True)
        payload = (json.dumps(body) + "\n").encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _stream(self, usage):
        """An OpenAI-style SSE answer, chunked: content deltas with "usage": null, then the usage chunk."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-demo", "object": "chat.completion.chunk", "model": "demo"}
        events = [dict(base, choices=[{"index": 0, "delta": {"content": word}}], usage=None) for word in ANSWER_WORDS]
        events.append(dict(base, choices=[], usage=usage))
        for event in events:
            self._chunk("data: " + json.dumps(event) + "\n\n")
        self._chunk("data: [DONE]\n\n")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _chunk(self, text):
        data = text.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _answer

    def log_message(self, format, *args):  # the JSON line above is the access log
        pass


def main():
    host = os.environ.get("HOST", "0.0.0.0")
    port = int(os.environ.get("PORT", "3000"))
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    # As PID 1 in a container SIGTERM has no default action: stop explicitly, from another thread
    # (shutdown() waits for serve_forever(), which runs in this one).
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(json.dumps({"msg": "demo upstream listening", "host": host, "port": port}), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
