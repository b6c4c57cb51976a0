#!/usr/bin/env python3
"""Impairment relay for a browser page, with the semantics of the call tests' relay
(crates/cli/tests/common/relay.rs): each remote UDP candidate is rewritten to a relay
socket that forwards to the real one; packets from the target go back to whoever last
sent to the socket. Each packet gets DELAY_MS; RTP packets (not STUN, DTLS or RTCP) are
dropped at random places, exactly LOSS_PCT per 100 per direction.

It is also the page's web server (same origin, so the page may ask it for relays):
  GET /relay?ip=A&port=P  -> {"port": relay port on A}, forwarding to A:P
  GET /counters           -> {"rtp": forwarded, "dropped": dropped}
  anything else           -> a file from ROOT

Usage: relay.py LOSS_PCT DELAY_MS ROOT HTTP_PORT
"""
import heapq
import http.server
import json
import random
import socket
import sys
import threading
import time
import urllib.parse

LOSS, DELAY = int(sys.argv[1]), float(sys.argv[2]) / 1000.0
ROOT, HTTP_PORT = sys.argv[3], int(sys.argv[4])
queue, cv = [], threading.Condition()
counters = {"rtp": 0, "dropped": 0}
seed = [1]


def is_rtp(b):
    return len(b) >= 12 and b[0] & 0xC0 == 0x80 and not 72 <= (b[1] & 0x7F) <= 76


class Loss:
    def __init__(self):
        self.rng = random.Random(seed[0])
        seed[0] += 1
        self.block = []

    def drop(self):
        if not self.block:
            self.block = [i < LOSS for i in range(100)]
            self.rng.shuffle(self.block)
        return self.block.pop()


def sender():
    n = 0
    while True:
        with cv:
            while not queue or queue[0][0] > time.monotonic():
                cv.wait(None if not queue else max(0.0, queue[0][0] - time.monotonic()))
            _, _, sock, data, dest = heapq.heappop(queue)
        try:
            sock.sendto(data, dest)
        except OSError:
            pass
        n += 1


def relay(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 0))
    target, last = (ip, port), [None]
    losses = (Loss(), Loss())

    def run():
        seq = 0
        while True:
            data, addr = s.recvfrom(65536)
            if addr == target:
                dest, d = last[0], 1
            else:
                last[0], dest, d = addr, target, 0
            if dest is None:
                continue
            if is_rtp(data):
                if losses[d].drop():
                    counters["dropped"] += 1
                    continue
                counters["rtp"] += 1
            seq += 1
            with cv:
                heapq.heappush(queue, (time.monotonic() + DELAY, (id(s), seq), s, data, dest))
                cv.notify()

    threading.Thread(target=run, daemon=True).start()
    return s.getsockname()[1]


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=ROOT, **k)

    def log_message(self, *a):
        pass

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path in ("/relay", "/counters"):
            if u.path == "/relay":
                q = urllib.parse.parse_qs(u.query)
                body = {"port": relay(q["ip"][0], int(q["port"][0]))}
            else:
                body = counters
            out = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
            return
        super().do_GET()


threading.Thread(target=sender, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), Handler).serve_forever()
