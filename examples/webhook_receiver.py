#!/usr/bin/env python3
"""A supervisor-system stand-in: receives agentcast webhooks and verifies each one with the
official Standard Webhooks library (pip install standardwebhooks).

    WEBHOOK_SECRET=whsec_... python3 examples/webhook_receiver.py [--port 9000] [--count N]

Prints one line per delivery: the webhook-id, the agent and whether the signature verified.
Answers 204 when it did, 401 when it did not. With --count it exits after N verified
deliveries (exit code 0), or with code 1 if a delivery fails verification first.
"""
import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--count", type=int, default=0, help="exit after this many verified deliveries")
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        print("set WEBHOOK_SECRET to the endpoint's whsec_ secret", file=sys.stderr)
        return 2
    webhook = Webhook(secret)
    state = {"verified": 0, "failed": False}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = webhook.verify(body, headers)
            except WebhookVerificationError as err:
                print(f"REFUSED {headers.get('webhook-id')}: {err}", flush=True)
                state["failed"] = True
                self.send_response(401)
                self.end_headers()
                return
            state["verified"] += 1
            violations = [v["kind"] for v in payload.get("violations", [])]
            print(f"verified {headers['webhook-id']} agent {payload['agentId']} "
                  f"{payload['availabilityStatusMatrix']['currentStatus']} {violations}", flush=True)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on http://127.0.0.1:{args.port}/webhook", flush=True)
    while not state["failed"] and (args.count == 0 or state["verified"] < args.count):
        server.handle_request()
    return 1 if state["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
