#!/usr/bin/env python3
"""The window's page alone: WebKitGTK web-process PSS growth over echo calls.

The page (ui/) runs in WebKitGTK's MiniBrowser at the app's window size, with
benches/page/bridge.js standing in for the Tauri bridge, and is driven through
WebKitWebDriver the way benches/app_footprint.rs drives the app: one warm-up call, then
CALLS echo calls (dial, connected, 1 s, hang up, "Call ended"). It measures what the
page does to the web process, in a minute and without a Rust build; the whole app's
figures stay with benches/app-footprint.sh.

With REV set, the page at that git revision runs too, round by round alternating with
the working tree, so the two are compared in one run on one machine. With ENV_B set
(space-separated VAR=value pairs), the working tree also runs in a second browser whose
web process has those variables set (JavaScriptCore's `JSC_*` options, for example).

Usage: [CALLS=25] [ROUNDS=3] [REV=HEAD] [ENV_B="JSC_x=1 ..."] [QUERY=nolevels]
       python3 benches/page-footprint.py
Needs: Xvfb, WebKitWebDriver (webkit2gtk-driver), libwebkit2gtk-4.1's MiniBrowser.
"""

import functools
import http.server
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIBROWSER = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"
CALLS = int(os.environ.get("CALLS", "25"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
REV = os.environ.get("REV")
ENV_B = dict(kv.split("=", 1) for kv in os.environ.get("ENV_B", "").split())
QUERY = os.environ.get("QUERY", "")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def page_dir(rev):
    """A folder with ui/ (at `rev`, or as in the working tree) and the stand-in bridge."""
    d = tempfile.mkdtemp(prefix="page-footprint-")
    # Every module of the page (one per panel since the front end was split).
    if rev:
        files = subprocess.run(["git", "-C", ROOT, "ls-tree", "--name-only", f"{rev}:ui"],
                               check=True, capture_output=True, text=True).stdout.split()
    else:
        files = os.listdir(os.path.join(ROOT, "ui"))
    scripts = sorted(f for f in files if f.endswith(".js"))
    for name in ["index.html", "style.css", *scripts]:
        if rev:
            text = subprocess.run(["git", "-C", ROOT, "show", f"{rev}:ui/{name}"],
                                  check=True, capture_output=True, text=True).stdout
        else:
            text = open(os.path.join(ROOT, "ui", name)).read()
        if name == "index.html":
            tag = '<script type="module" src="main.js"></script>'
            if tag not in text:
                sys.exit(f"ui/index.html{' at ' + rev if rev else ''}: no `{tag}` to put the bridge before")
            text = text.replace(tag, '<script src="bridge.js"></script>\n  ' + tag)
        open(os.path.join(d, name), "w").write(text)
    shutil.copy(os.path.join(ROOT, "benches", "page", "bridge.js"), d)
    return d


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(d):
    handler = functools.partial(Quiet, directory=d)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def descendants(root):
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            ppid = int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(p))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def web_pss_kib(driver_pid):
    """PSS of the web process(es) under the driver, KiB (smaps_rollup)."""
    total = 0
    for p in descendants(driver_pid):
        try:
            if open(f"/proc/{p}/comm").read().strip() != "WebKitWebProces":
                continue
            for line in open(f"/proc/{p}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


class Session:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "MiniBrowser",
            "webkitgtk:browserOptions": {"binary": MINIBROWSER, "args": ["--automation"]},
        }}}
        self.id = self.req("POST", "/session", caps)["sessionId"]
        # The app's window (tauri.conf.json).
        self.req("POST", f"/session/{self.id}/window/rect", {"width": 440, "height": 680})

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        r = urllib.request.Request(self.base + path, method=method, data=data,
                                   headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(r, timeout=60).read())["value"]

    def js(self, src):
        return self.req("POST", f"/session/{self.id}/execute/sync", {"script": src, "args": []})

    def wait(self, cond, secs=20):
        end = time.time() + secs
        while time.time() < end:
            if self.js(f"return !!({cond})"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"timed out waiting for {cond}")

    def close(self):
        self.req("DELETE", f"/session/{self.id}")


def echo_call(s):
    s.js("document.getElementById('dial').click()")
    s.wait("document.getElementById('call-state').textContent.toLowerCase() === 'connected'")
    time.sleep(1)
    s.js("document.getElementById('hangup').click()")
    s.wait("document.getElementById('call-summary').textContent.includes('Call ended')")


def round_growth(driver_port, driver_pid, url):
    s = Session(driver_port)
    try:
        s.req("POST", f"/session/{s.id}/url", {"url": url})
        s.wait("!document.getElementById('who').hidden")
        echo_call(s)
        time.sleep(5)
        before = web_pss_kib(driver_pid)
        for _ in range(CALLS):
            echo_call(s)
        time.sleep(5)
        after = web_pss_kib(driver_pid)
        items = s.js("return document.querySelectorAll('#timeline > li').length")
        return before, after, items
    finally:
        s.close()


def main():
    env = dict(os.environ)
    # As the app runs its web process (src-tauri/src/lib.rs).
    env.setdefault("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
    env.setdefault("JSC_useJIT", "false")
    xvfb = None
    if not env.get("DISPLAY"):
        n = 90 + os.getpid() % 100
        xvfb = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", "1280x1024x24"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        env["DISPLAY"] = f":{n}"
        time.sleep(1)

    def start_driver(extra):
        port = free_port()
        proc = subprocess.Popen(["WebKitWebDriver", f"--port={port}"], env={**env, **extra},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return port, proc

    base = start_driver({})
    drivers = {"working tree": base}
    variants = [("working tree", None)]
    if REV:
        variants.append((REV, REV))
        drivers[REV] = base
    if ENV_B:
        name = "working tree, " + " ".join(f"{k}={v}" for k, v in ENV_B.items())
        variants.append((name, None))
        drivers[name] = start_driver(ENV_B)
    servers = {name: serve(page_dir(rev)) for name, rev in variants}
    results = {name: [] for name, _ in variants}
    try:
        time.sleep(1)
        print(f"web process PSS over {CALLS} echo calls after one warm-up call"
              f"{', query ' + QUERY if QUERY else ''}", flush=True)
        for r in range(ROUNDS):
            for name, _ in variants:
                url = f"http://127.0.0.1:{servers[name].server_port}/index.html?{QUERY}"
                port, driver = drivers[name]
                before, after, items = round_growth(port, driver.pid, url)
                results[name].append(after - before)
                print(f"  round {r + 1}, {name}: {before / 1024:.1f} -> {after / 1024:.1f} MiB "
                      f"({(after - before) / 1024:+.2f} MiB), {items} timeline items", flush=True)
        for name, g in results.items():
            print(f"{name}: median growth {statistics.median(g) / 1024:+.2f} MiB "
                  f"({', '.join(f'{x / 1024:+.2f}' for x in g)})")
    finally:
        for _, proc in set(drivers.values()):
            proc.terminate()
        if xvfb:
            xvfb.terminate()


if __name__ == "__main__":
    main()
