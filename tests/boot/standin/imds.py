#!/usr/bin/python3
"""IMDSv2 stand-in for tests/boot/runner-unit.sh, inside the booted container on
169.254.169.254:80 (the address is put on lo by its unit). Speaks what the boot
scripts use: PUT /latest/api/token (TTL header required), then GETs with the
token header: meta-data/instance-id and meta-data/tags/instance/<key> (404 until
the registration stand-in has tagged the instance). Every request is appended
to /var/lib/standin/imds.log."""

import http.server
import os
import secrets

STATE = "/var/lib/standin"
INSTANCE_ID = open(os.path.join(STATE, "instance-id")).read().strip()
TOKENS = set()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        with open(os.path.join(STATE, "imds.log"), "a") as fh:
            fh.write("%s %s\n" % (self.command, self.path))

    def reply(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        if self.path != "/latest/api/token":
            return self.reply(404)
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400)
        token = secrets.token_hex(16)
        TOKENS.add(token)
        self.reply(200, token.encode())

    def do_GET(self):
        # IMDSv2 only (HttpTokens: required in the launch template).
        if self.headers.get("X-aws-ec2-metadata-token") not in TOKENS:
            return self.reply(401)
        if self.path == "/latest/meta-data/instance-id":
            return self.reply(200, INSTANCE_ID.encode())
        prefix = "/latest/meta-data/tags/instance/"
        if self.path.startswith(prefix):
            key = self.path[len(prefix):]
            tag = os.path.join(STATE, "tags", key.replace("/", "_"))
            if os.path.exists(tag):
                return self.reply(200, open(tag, "rb").read())
            return self.reply(404)
        self.reply(404)


server = http.server.HTTPServer(("169.254.169.254", 80), Handler)
# Type=notify: ready only once listening, so nothing races the first request.
if os.environ.get("NOTIFY_SOCKET"):
    import socket
    addr = os.environ["NOTIFY_SOCKET"]
    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(b"READY=1", addr)
server.serve_forever()
