#!/usr/bin/env python3
"""Mints HS256 tenant tokens for the benchmark from rows on stdin.

stdin: tab-separated lines `tenant_id  user_id  role  <extra columns...>`
stdout: `token<TAB><extra columns...>`; JWT_SECRET comes from the environment.
"""
import base64, hashlib, hmac, json, os, sys, time

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

secret = os.environ["JWT_SECRET"].encode()
header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
now = int(time.time())
for line in sys.stdin:
    parts = line.rstrip("\n").split("\t")
    if len(parts) < 3:
        continue
    tenant, user, role, rest = parts[0], parts[1], parts[2], parts[3:]
    claims = {"sub": user, "tenant_id": tenant, "role": role, "iat": now, "exp": now + 6 * 3600}
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    sig = b64(hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest())
    print("\t".join([f"{header}.{body}.{sig}", *rest]))
