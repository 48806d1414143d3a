#!/usr/bin/env python3
"""Probes the memory one oversized WebSocket frame can make agentcast hold.

Subscriber side (default): starts `agentcast demo` (default binary target/release/agentcast) on
a free port, connects `clients` raw sockets with the demo's key, and on each sends a text-frame
header declaring 1 TiB, then `--megabytes` of filler. Prints one JSON line: the demo's resident
memory before and at its peak, how each socket ended (the close code, or how it broke), and how
much was sent.

Upstream side (`--upstream`): starts `agentcast sim` and `agentcast run` as two processes, waits
for `run` to be ready, asks the emulator for an `oversized_frame` of `--megabytes` MB on every
socket, and prints `run`'s resident memory before and at its peak over the next seconds.

    python3 benches/frame_flood.py [--binary PATH] [--clients 3] [--megabytes 300]
    python3 benches/frame_flood.py --upstream [--binary PATH] [--megabytes 60]
"""

import argparse
import json
import os
import re
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upgrade(port, key):
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        (
            f"GET /v1/subscribe?access_token={key} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("hung up during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    # A server that neither reads nor answers ends the probe instead of hanging it.
    sock.settimeout(10)
    return sock, head.split(b"\r\n\r\n", 1)[1]


def read_close(sock, buf, result):
    """Reads server frames until a close frame; stores its code in result."""
    while True:
        while len(buf) >= 2:
            n = buf[1] & 0x7F
            at = 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, at = struct.unpack(">H", buf[2:4])[0], 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, at = struct.unpack(">Q", buf[2:10])[0], 10
            if len(buf) < at + n:
                break
            if buf[0] & 0x0F == 0x8:
                result["close"] = struct.unpack(">H", buf[at : at + 2])[0] if n >= 2 else None
                return
            buf = buf[at + n :]
        try:
            chunk = sock.recv(65536)
        except OSError as err:
            result["close"] = f"error: {err}"
            return
        if not chunk:
            result["close"] = "hung up without a close frame"
            return
        buf += chunk


def flood(sock, megabytes, result):
    header = bytes([0x81, 0x80 | 127]) + struct.pack(">Q", 1 << 40) + b"\x01\x02\x03\x04"
    filler = b"x" * (1 << 20)
    sent = 0
    try:
        sock.sendall(header)
        for _ in range(megabytes):
            if "close" in result:
                break
            sock.sendall(filler)
            sent += 1
    except OSError as err:
        result["send_error"] = str(err)
    result["sent_mib"] = sent


def upstream(args):
    binary = os.path.abspath(args.binary)
    with tempfile.TemporaryDirectory() as workdir:
        sim = subprocess.Popen(
            [binary, "sim", "--listen", "127.0.0.1:0", "--agents", "20", "--events-per-sec", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
            text=True,
        )
        run = None
        try:
            first = json.loads(sim.stdout.readline())
            port = free_port()
            env = dict(
                os.environ,
                GENESYS_CLIENT_ID=first["clientId"],
                GENESYS_CLIENT_SECRET=first["clientSecret"],
                AGENTCAST_GENESYS_API_BASE=first["base"],
                AGENTCAST_HTTP_LISTEN=f"127.0.0.1:{port}",
                AGENTCAST_LOG_LEVEL="error",
            )
            run = subprocess.Popen(
                [binary, "run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=workdir
            )
            deadline = time.time() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if time.time() > deadline:
                    raise RuntimeError("agentcast run did not become ready")
                time.sleep(0.2)
            time.sleep(2)  # settle before the baseline reading
            before = peak = rss_kib(run.pid)
            request = urllib.request.Request(
                f"{first['base']}/sim/faults/oversized_frame",
                data=json.dumps({"bytes": args.megabytes * 1_000_000}).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as answer:
                fault = json.loads(answer.read())
            until = time.time() + 10
            while time.time() < until:
                peak = max(peak, rss_kib(run.pid))
                time.sleep(0.02)
            print(
                json.dumps(
                    {
                        "binary": args.binary,
                        "side": "upstream",
                        "frame_megabytes": args.megabytes,
                        "fault": fault,
                        "run_rss_before_mib": round(before / 1024, 1),
                        "run_rss_peak_mib": round(peak / 1024, 1),
                    }
                )
            )
        finally:
            for child in (run, sim):
                if child is not None:
                    child.terminate()
                    child.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/agentcast")
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--megabytes", type=int, default=None)
    parser.add_argument("--upstream", action="store_true")
    args = parser.parse_args()
    if args.upstream:
        args.megabytes = args.megabytes or 60
        return upstream(args)
    args.megabytes = args.megabytes or 300

    port, sim_port = free_port(), free_port()
    env = dict(os.environ, AGENTCAST_HTTP_LISTEN=f"127.0.0.1:{port}", AGENTCAST_LOG_LEVEL="error")
    demo = subprocess.Popen(
        [args.binary, "demo", "--listen", f"127.0.0.1:{sim_port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    try:
        key = None
        for line in demo.stdout:
            found = re.search(r"access_token=([^\s&']+)", line)
            if found:
                key = found.group(1)
                break
        if key is None:
            raise RuntimeError("the demo printed no key")
        threading.Thread(target=lambda: [None for _ in demo.stdout], daemon=True).start()
        time.sleep(2)  # let the demo settle before the baseline reading
        before = rss_kib(demo.pid)
        peak = before
        results, threads = [], []
        for _ in range(args.clients):
            sock, rest = upgrade(port, key)
            result = {}
            results.append(result)
            threads.append(threading.Thread(target=read_close, args=(sock, rest, result)))
            threads.append(threading.Thread(target=flood, args=(sock, args.megabytes, result)))
        for thread in threads:
            thread.start()
        while any(t.is_alive() for t in threads):
            peak = max(peak, rss_kib(demo.pid))
            time.sleep(0.05)
        peak = max(peak, rss_kib(demo.pid))
        print(
            json.dumps(
                {
                    "binary": args.binary,
                    "clients": args.clients,
                    "megabytes_each": args.megabytes,
                    "rss_before_mib": round(before / 1024, 1),
                    "rss_peak_mib": round(peak / 1024, 1),
                    "sockets": results,
                }
            )
        )
    finally:
        demo.terminate()
        demo.wait(timeout=30)


if __name__ == "__main__":
    main()
