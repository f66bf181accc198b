"""A small OpenAI-compatible chat server on localhost for tests of LLM clients: answers POST
/v1/chat/completions with `behaviour(server, payload) -> (status, text)`."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeServer:
    """Answers POST /v1/chat/completions with `behaviour(server, payload) -> (status, text)`."""

    def __init__(self, behaviour, delay=0.0):
        self.behaviour, self.delay = behaviour, delay
        self.payloads, self.headers = [], []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    outer.payloads.append(body)
                    outer.headers.append(dict(self.headers))
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                time.sleep(outer.delay)
                if self.path != "/v1/chat/completions":
                    status, text = 404, "no such path"
                else:
                    status, text = outer.behaviour(outer, body)
                with outer.lock:
                    outer.in_flight -= 1
                if status == 200:
                    data = json.dumps({"choices": [{"message": {"role": "assistant",
                                                                "content": text}}]})
                else:
                    data = json.dumps({"error": text})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data.encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                         daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(behaviour, delay=0.0):
        s = FakeServer(behaviour, delay)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.close()
