#!/usr/bin/env python3
"""Hot-reload probe for bench/serve.sh (standard library only).

Posts one golden transaction to /predict every INTERVAL ms over one keep-alive connection, runs the
promote command DELAY seconds in (in a thread, so polling goes on meanwhile), and reports when the
answers start carrying the new version, relative to the moment the promote command returned.

    reload_probe.py --port 8080 --body body.json --new-version v2 --delay 5 --timeout 20 [--ready FILE] -- CMD...

With --ready, it creates FILE once it is running, and DELAY counts from then: bench/serve.sh starts
wrk when FILE appears, so the promote lands DELAY seconds into the wrk run however slowly Python
started on a busy machine.

Prints one JSON object: promote_ms (how long the command took), first_new_ms (first answer from the
new version, ms after the command returned; negative if it came before the command had exited),
last_old_ms (last answer from an old version after that moment), polls, ok (2xx answers, each
of which is one audit row), non2xx, errors (connection failures), interval_ms.
"""
import argparse
import http.client
import json
import subprocess
import threading
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", required=True, help="file holding one /predict body")
    parser.add_argument("--new-version", required=True)
    parser.add_argument("--delay", type=float, required=True, help="seconds before the promote")
    parser.add_argument("--timeout", type=float, default=20.0, help="give up this long after the promote")
    parser.add_argument("--interval-ms", type=float, default=10.0)
    parser.add_argument("--ready", help="file to create once running; DELAY counts from then")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    body = open(args.body, "rb").read().strip()
    headers = {"Content-Type": "application/json"}

    promote = {"started": None, "done": None, "rc": None, "stderr": ""}

    def run_promote() -> None:
        promote["started"] = time.monotonic()
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            promote["rc"] = finished.returncode
            promote["stderr"] = finished.stderr.strip()[-300:]
        except subprocess.TimeoutExpired:  # run() has killed it
            promote["stderr"] = f"the promote did not finish within {args.timeout} s"
        promote["done"] = time.monotonic()

    connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
    if args.ready:
        open(args.ready, "w").close()
    start = time.monotonic()
    promoter = None
    polls = ok = non2xx = errors = 0
    seen = []  # (monotonic time, version) of each 2xx answer
    # Bounded: the promote's own timeout sets promote["done"], and the timeout after it ends the loop.
    while True:
        now = time.monotonic()
        if promoter is None and now - start >= args.delay:
            promoter = threading.Thread(target=run_promote)
            promoter.start()
        if promote["done"] is not None:
            if any(v == args.new_version and t >= promote["started"] for t, v in seen):
                # Keep polling briefly, to see whether an old version still answers afterwards.
                if now - promote["done"] > 0.5 and seen[-1][1] == args.new_version:
                    break
            if now - promote["done"] > args.timeout:
                break
        polls += 1
        try:
            connection.request("POST", "/predict", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            answered = time.monotonic()
            if 200 <= response.status <= 299:
                ok += 1
                seen.append((answered, json.loads(payload)["version"]))
            else:
                non2xx += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", args.port, timeout=10)
        time.sleep(args.interval_ms / 1000)
    if promoter is not None:
        promoter.join()
    connection.close()

    done = promote["done"]
    result = {
        "promote_rc": promote["rc"],
        "promote_stderr": promote["stderr"],
        "promote_ms": None if done is None else round((done - promote["started"]) * 1000, 1),
        "first_new_ms": None,
        "last_old_ms": None,
        "polls": polls,
        "ok": ok,
        "non2xx": non2xx,
        "errors": errors,
        "interval_ms": args.interval_ms,
    }
    if done is not None:
        new = [t for t, v in seen if v == args.new_version and t >= promote["started"]]
        if new:
            result["first_new_ms"] = round((new[0] - done) * 1000, 1)
            old_after = [t for t, v in seen if v != args.new_version and t >= new[0]]
            result["last_old_ms"] = round((old_after[-1] - done) * 1000, 1) if old_after else None
    print(json.dumps(result))


if __name__ == "__main__":
    main()
