"""A stand-in for campfire-server in launcher tests: answers /health on --host/--port after a
short start-up, writes what happened to the file named by --log, and exits on SIGTERM."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--fail", action="store_true")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()

    def log(event: str) -> None:
        with open(args.log, "a", encoding="utf-8") as file:
            file.write(event + "\n")

    log(f"started {args.host}:{args.port} log-level {args.log_level}")
    print("Loading weights: 100%|##########| 2/2", file=sys.stderr, flush=True)  # as transformers
    if args.fail:
        log("failing")
        sys.exit(3)

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"status": "ok", "default_checkpoint": "t", "loaded": []}).encode()
            self.send_response(200 if self.path == "/health" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    time.sleep(0.5)  # loading the model
    server = ThreadingHTTPServer((args.host, args.port), Health)

    def on_term(*_: object) -> None:
        log("terminated")
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, on_term)
    server.serve_forever()
    log("stopped")


if __name__ == "__main__":
    main()
