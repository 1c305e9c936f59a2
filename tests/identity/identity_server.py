#!/usr/bin/env python3
"""Local stand-in for the Azure managed-identity token services, for tests.

Speaks, on 127.0.0.1 only:
  plain HTTP
    GET  /metadata/identity/oauth2/token   IMDS (header Metadata: true)
    GET  /arc/token                        Azure Arc HIMDS: 401 challenge with
                                           WWW-Authenticate: Basic realm=<key
                                           file in --arc-dir>, then
                                           Authorization: Basic <file contents>
    GET  /appservice/token                 App Service (X-IDENTITY-HEADER)
  HTTPS (certificate from --cert/--cert-key, e.g. the harness PKI)
    POST /<tenant>/oauth2/v2.0/token       workload identity (form POST with a
                                           federated client assertion)
  both
    GET  /_control?faults=404,410,slow,malformed,...&ttl=S&slow_ms=M
         queue faults consumed one per token request (in order), set the token
         lifetime; faults: any HTTP status, "slow" (answer after slow_ms),
         "malformed" (200 with broken JSON), "noexp" (200 without expiry)
    GET  /_stats                           {"requests": n, "tokens": n, ...}

Tokens are RS256 JWTs signed with a key generated at start-up in --key-dir
(signing-key.pem; the public key is signing-pub.pem, for the broker plugin):
aud = resource with a trailing "/", sub = client ID or "system-assigned".

Start-up: prints "READY <http-port> <https-port>" on stdout once both
listeners accept connections. Python standard library + the openssl CLI only.
"""
import argparse
import base64
import http.server
import json
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

STATE = {
    "lock": threading.Lock(),
    "faults": [],
    "ttl": 3600,
    "slow_ms": 3000,
    "stats": {"requests": 0, "tokens": 0, "imds": 0, "arc": 0, "appservice": 0,
              "workload": 0, "challenges": 0, "rejected": 0},
    "arc_keys": {},
}
ARGS = None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def mint(aud, sub, ttl):
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    claims = b64url(json.dumps({
        "aud": aud, "iss": "https://sts.windows.net/test-tenant/", "sub": sub,
        "oid": sub, "iat": now, "nbf": now, "exp": now + ttl,
    }).encode())
    signing_input = f"{header}.{claims}".encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", ARGS.signing_key],
                         input=signing_input, capture_output=True, check=True).stdout
    return f"{header}.{claims}.{b64url(sig)}", now + ttl, ttl


def aud_for(resource):
    return resource if resource.endswith("/") else resource + "/"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet unless asked
        if ARGS.verbose:
            sys.stderr.write("identity-server: " + (fmt % args) + "\n")

    def send(self, status, body, headers=None):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a "slow" fault outlived its timeout)

    def error(self, status, code, text):
        self.send(status, json.dumps({"error": code, "error_description": text}))

    def next_fault(self):
        with STATE["lock"]:
            return STATE["faults"].pop(0) if STATE["faults"] else None

    def token_answer(self, kind, resource, sub, numbers_as_strings):
        fault = self.next_fault()
        if fault == "slow":
            time.sleep(STATE["slow_ms"] / 1000.0)
            fault = None
        if fault == "malformed":
            return self.send(200, '{"access_token": "abc", "expires_in": ')
        if fault is not None and fault != "noexp":
            status = int(fault)
            headers = {"Retry-After": "0"} if status == 429 else None
            return self.send(status, json.dumps({
                "error": "injected", "error_description": f"injected HTTP {status}"}),
                headers)
        with STATE["lock"]:
            ttl = STATE["ttl"]
            STATE["stats"]["tokens"] += 1
            STATE["stats"][kind] += 1
        token, exp, ttl = mint(aud_for(resource), sub, ttl)
        if fault == "noexp":
            body = {"access_token": "opaque", "token_type": "Bearer"}
        elif numbers_as_strings:
            body = {"access_token": token, "expires_in": str(ttl),
                    "expires_on": str(exp), "not_before": str(exp - ttl),
                    "resource": resource, "token_type": "Bearer"}
        else:
            body = {"access_token": token, "expires_in": ttl, "ext_expires_in": ttl,
                    "token_type": "Bearer"}
        self.send(200, json.dumps(body))

    def do_GET(self):
        with STATE["lock"]:
            STATE["stats"]["requests"] += 1
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if url.path == "/_control":
            with STATE["lock"]:
                if "faults" in q:
                    STATE["faults"] = [f for f in q["faults"].split(",") if f]
                if "ttl" in q:
                    STATE["ttl"] = int(q["ttl"])
                if "slow_ms" in q:
                    STATE["slow_ms"] = int(q["slow_ms"])
                if "arc_realm" in q:
                    ARGS.arc_realm = q["arc_realm"] or None
            return self.send(200, "{}")
        if url.path == "/_stats":
            with STATE["lock"]:
                return self.send(200, json.dumps(STATE["stats"]))
        resource = q.get("resource")
        if url.path == "/metadata/identity/oauth2/token":
            if self.headers.get("Metadata") != "true":
                return self.error(400, "invalid_request", "Required metadata header not specified")
            if q.get("api-version") != "2018-02-01" or not resource:
                return self.error(400, "invalid_request", "bad api-version or resource")
            return self.token_answer("imds", resource, q.get("client_id", "system-assigned"), True)
        if url.path == "/arc/token":
            if self.headers.get("Metadata") != "true" or q.get("api-version") != "2020-06-01" \
                    or not resource:
                return self.error(400, "invalid_request", "bad Arc request")
            auth = self.headers.get("Authorization")
            if not auth:
                name = secrets.token_hex(8) + ".key"
                path = os.path.join(ARGS.arc_dir, name)
                secret = secrets.token_hex(32)
                with open(path, "w") as f:
                    f.write(secret)
                with STATE["lock"]:
                    STATE["arc_keys"][secret] = path
                    STATE["stats"]["challenges"] += 1
                realm = ARGS.arc_realm or path
                return self.send(401, "{}", {"WWW-Authenticate": f"Basic realm={realm}"})
            secret = auth[6:] if auth.startswith("Basic ") else ""
            with STATE["lock"]:
                path = STATE["arc_keys"].pop(secret, None)
            if not path:
                with STATE["lock"]:
                    STATE["stats"]["rejected"] += 1
                return self.error(401, "unauthorized", "wrong challenge key")
            os.unlink(path)
            return self.token_answer("arc", resource, "system-assigned", True)
        if url.path == "/appservice/token":
            if self.headers.get("X-IDENTITY-HEADER") != ARGS.identity_header:
                with STATE["lock"]:
                    STATE["stats"]["rejected"] += 1
                return self.error(400, "invalid_request", "X-IDENTITY-HEADER mismatch")
            if q.get("api-version") != "2019-08-01" or not resource:
                return self.error(400, "invalid_request", "bad api-version or resource")
            return self.token_answer("appservice", resource,
                                     q.get("client_id", "system-assigned"), True)
        self.error(404, "not_found", url.path)

    def do_POST(self):
        with STATE["lock"]:
            STATE["stats"]["requests"] += 1
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        parts = urllib.parse.urlsplit(self.path).path.split("/")
        if len(parts) != 5 or parts[2:] != ["oauth2", "v2.0", "token"]:
            return self.error(404, "not_found", self.path)
        if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
            return self.error(400, "invalid_request", "not a form post")
        problems = []
        if form.get("grant_type") != "client_credentials":
            problems.append("grant_type")
        if form.get("client_assertion_type") != \
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer":
            problems.append("client_assertion_type")
        if ARGS.federated_token is not None and \
                form.get("client_assertion") != ARGS.federated_token:
            problems.append("client_assertion")
        if not form.get("client_id") or not form.get("scope", "").endswith("/.default"):
            problems.append("client_id/scope")
        if ARGS.tenant and parts[1] != ARGS.tenant:
            problems.append("tenant")
        if problems:
            with STATE["lock"]:
                STATE["stats"]["rejected"] += 1
            return self.error(401, "invalid_client",
                              "AADSTS700211: bad " + ", ".join(problems))
        resource = form["scope"][: -len("/.default")]
        self.token_answer("workload", resource, form["client_id"], False)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--key-dir", required=True)
    p.add_argument("--cert")
    p.add_argument("--cert-key")
    p.add_argument("--arc-dir", required=True)
    p.add_argument("--arc-realm", help="announce this path instead (tests the rules)")
    p.add_argument("--identity-header", default="test-identity-header")
    p.add_argument("--federated-token")
    p.add_argument("--tenant")
    p.add_argument("--verbose", action="store_true")
    ARGS = p.parse_args()
    ARGS.signing_key = os.path.join(ARGS.key_dir, "signing-key.pem")
    pub = os.path.join(ARGS.key_dir, "signing-pub.pem")
    if not os.path.exists(ARGS.signing_key):
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", ARGS.signing_key],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", ARGS.signing_key, "-pubout", "-out", pub],
                       check=True, capture_output=True)
    plain = Server(("127.0.0.1", 0), Handler)
    servers = [plain]
    https_port = 0
    if ARGS.cert:
        tls = Server(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.cert_key)
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        https_port = tls.server_address[1]
        servers.append(tls)
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"READY {plain.server_address[1]} {https_port}", flush=True)
    # Exit when the parent closes our stdin (or dies).
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
