#!/usr/bin/python3
"""A WebDriver client (W3C WebDriver, https://www.w3.org/TR/webdriver2/) in the standard library
only, for the status page test (status_page.sh): it drives headless Chromium through
chromedriver's HTTP API, one command per call, the session id passed between calls.

    webdriver.py start DRIVER_URL [CHROMIUM]      prints a session id (headless Chromium)
    webdriver.py go DRIVER_URL SESSION URL        loads URL, waits for its load event
    webdriver.py eval DRIVER_URL SESSION JS       runs JS (a function body), prints its result
    webdriver.py wait DRIVER_URL SESSION SECONDS JS
                                                  runs JS every 100 ms until it returns
                                                  something true (printed, exit 0), or SECONDS
                                                  pass (exit 1; its last result on stderr)
    webdriver.py shot DRIVER_URL SESSION FILE     saves a screenshot (PNG) of the page
    webdriver.py quit DRIVER_URL SESSION          ends the session (closes the browser)

Results print as JSON. Exit status 2: the driver or the browser failed (the message says).
"""
import base64
import json
import sys
import time
import urllib.error
import urllib.request


def call(driver, method, path, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(driver.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"{}").get("value")
    except urllib.error.HTTPError as e:
        try:
            value = json.loads(e.read()).get("value", {})
            why = "%s: %s" % (value.get("error"), value.get("message", "").splitlines()[0])
        except ValueError:
            why = "HTTP %d" % e.code
        raise SystemExit("webdriver: %s %s: %s" % (method, path, why)) from None
    except (urllib.error.URLError, OSError) as e:
        raise SystemExit("webdriver: cannot reach the driver at %s: %s" % (driver, e)) from None


def start(driver, chromium="/usr/bin/chromium"):
    # Root in CI: Chromium's sandbox needs user namespaces it may not have there.
    args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-extensions", "--no-first-run", "--window-size=1280,1024"]
    caps = {"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {"binary": chromium, "args": args}}}}
    value = call(driver, "POST", "/session", caps, timeout=60)
    print(value["sessionId"])


def script(driver, session, js):
    return call(driver, "POST", "/session/%s/execute/sync" % session,
                {"script": js, "args": []})


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, driver = argv[1], argv[2]
    rest = argv[3:]
    try:
        if cmd == "start":
            start(driver, *rest[:1])
        elif cmd == "go" and len(rest) == 2:
            call(driver, "POST", "/session/%s/url" % rest[0], {"url": rest[1]}, timeout=60)
        elif cmd == "eval" and len(rest) == 2:
            print(json.dumps(script(driver, rest[0], rest[1])))
        elif cmd == "wait" and len(rest) == 3:
            deadline = time.monotonic() + float(rest[1])
            last = None
            while True:
                last = script(driver, rest[0], rest[2])
                if last:
                    print(json.dumps(last))
                    return 0
                if time.monotonic() >= deadline:
                    print("webdriver: still %s after %s s" % (json.dumps(last), rest[1]),
                          file=sys.stderr)
                    return 1
                time.sleep(0.1)
        elif cmd == "shot" and len(rest) == 2:
            png = call(driver, "GET", "/session/%s/screenshot" % rest[0])
            with open(rest[1], "wb") as f:
                f.write(base64.b64decode(png))
        elif cmd == "quit" and len(rest) == 1:
            call(driver, "DELETE", "/session/%s" % rest[0])
        else:
            print(__doc__, file=sys.stderr)
            return 2
    except SystemExit as e:
        print(e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
