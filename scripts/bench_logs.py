"""Logs Insights figures for scripts/bench: how long after a query completes
litops shows its result, how fast it polls, peak RSS for a 10,000-row
result, and how long a step waits for a 2 s query with and without
--prefetch. A local server speaks the CloudWatch Logs wire protocol (awsJson 1.1)
and STS; it completes each query at a moment it records, so the latency is
measured from that moment to the first row appearing on litops's output.

usage: python3 scripts/bench_logs.py path/to/litops
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STS = (
    '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
    "<GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/bench</Arn>"
    "<UserId>AIDABENCH</UserId><Account>111122223333</Account></GetCallerIdentityResult>"
    "<ResponseMetadata><RequestId>r-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.queries = {}  # id -> (complete_at, rows)
        self.polls = []  # monotonic times of GetQueryResults
        self.next_delay = 1.0
        self.next_rows = 1


STATE = State()


def rows(n):
    return [
        [
            {"field": "@timestamp", "value": "2026-11-23 09:00:%02d.%03d" % (i % 60, i % 1000)},
            {"field": "@message", "value": "ERROR row-%05d timeout talking to payments" % i},
            {"field": "@ptr", "value": "ptr%d" % i},
        ]
        for i in range(n)
    ]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, body, content_type):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self.headers.get("X-Amz-Target", "")
        if not target:
            return self.reply(STS, "text/xml")
        op = target.split(".")[-1]
        now = time.monotonic()
        with STATE.lock:
            if op == "StartQuery":
                qid = "q-%d" % len(STATE.queries)
                STATE.queries[qid] = (now + STATE.next_delay, rows(STATE.next_rows))
                return self.reply(json.dumps({"queryId": qid}), "application/x-amz-json-1.1")
            if op == "GetQueryResults":
                qid = json.loads(body)["queryId"]
                STATE.polls.append((qid, now))
                complete_at, result = STATE.queries[qid]
        if op == "GetQueryResults":
            stats = {"recordsMatched": float(len(result)), "recordsScanned": 1e6, "bytesScanned": 1e8}
            if now < complete_at:
                answer = {"status": "Running", "results": [], "statistics": stats}
            else:
                answer = {"status": "Complete", "results": result, "statistics": stats}
            return self.reply(json.dumps(answer), "application/x-amz-json-1.1")
        self.reply(json.dumps({"success": True}), "application/x-amz-json-1.1")


def environment(url):
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x",
               AWS_REGION="eu-west-1", AWS_MAX_ATTEMPTS="1")
    env.pop("AWS_PROFILE", None)
    return env


def run(litops, url, work, delay, n_rows):
    """Runs one query; returns (latency after completion in s, peak RSS MiB)."""
    with STATE.lock:
        STATE.next_delay = delay
        STATE.next_rows = n_rows
        first = len(STATE.queries)
    env = environment(url)
    subprocess.run(["rm", "-rf", os.path.join(work, "t.md"), os.path.join(work, "t.md.d")], check=True)
    child = subprocess.Popen([litops, "run", "q.md", "--yes", "--transcript", "t.md"], cwd=work,
                             env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    seen, said = None, []
    for line in child.stderr:
        said.append(line)
        if seen is None and b"row-" in line:
            seen = time.monotonic()
    _, status, usage = os.wait4(child.pid, 0)
    if status != 0:
        sys.exit("litops failed:\n" + b"".join(said[-20:]).decode(errors="replace"))
    complete_at = STATE.queries["q-%d" % first][0]
    return seen - complete_at, usage.ru_maxrss / 1024


PREFETCH = """---
params:
  service:
    default: api
---
The operator spends 2 s on this step before reaching the query.

```sh {name=read}
sleep 2
```

```logs-insights {name=q}
log-groups: [/ecs/{{ service }}]
---
fields @timestamp, @message
```
"""


def step_wait(litops, url, work, flags):
    """The query step's duration in ms: how long the operator waited for it."""
    with STATE.lock:
        STATE.next_delay = 2.0
        STATE.next_rows = 20
    with open(os.path.join(work, "p.md"), "w") as f:
        f.write(PREFETCH)
    transcript = os.path.join(work, "p.md.transcript.md")
    subprocess.run(["rm", "-rf", transcript, transcript[:-3] + ".d"], check=True)
    subprocess.run([litops, "run", "p.md", "--yes", "--transcript", transcript, *flags], cwd=work,
                   env=environment(url), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    for line in open(transcript):
        match = re.match(r"<!-- litops:record \S+ (\{.*\}) -->$", line.strip())
        if match:
            record = json.loads(match.group(1))
            if record.get("type") == "step-finished" and record.get("step") == "q":
                return record["duration_ms"]
    sys.exit("no step-finished record for q in " + transcript)



def main():
    litops = os.path.abspath(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    work = tempfile.mkdtemp()
    with open(os.path.join(work, "q.md"), "w") as f:
        f.write("```logs-insights {name=q log-groups=/ecs/api}\nfields @timestamp, @message\n```\n")
    random.seed(7)
    latencies = []
    for _ in range(20):
        latency, _ = run(litops, url, work, random.uniform(0.3, 3.0), 20)
        latencies.append(latency * 1000)
    latencies.sort()
    gaps = [b[1] - a[1] for a, b in zip(STATE.polls, STATE.polls[1:]) if a[0] == b[0]]
    print("  result shown after the query completes (20 queries, completion 0.3-3 s after start):")
    print("    median %.0f ms, worst %.0f ms (target <= 300 ms)" % (latencies[10], latencies[-1]))
    print("  GetQueryResults: %d calls, shortest gap within a query %.0f ms (5 calls/s needs >= 200 ms)"
          % (len(STATE.polls), min(gaps) * 1000))
    _, rss = run(litops, url, work, 0.5, 10000)
    print("  10,000-row result: peak RSS %.1f MiB (target <= 100 MiB)" % rss)
    kept = set()
    for root, _, files in os.walk(work):
        for name in files:
            if name.startswith("t.md"):
                kept.update(re.findall(r"row-\d{5}", open(os.path.join(root, name)).read()))
    print("    distinct rows kept by the transcript and its sidecars: %d" % len(kept))
    waits = {flags: sorted(step_wait(litops, url, work, list(flags)) for _ in range(5))[2]
             for flags in ((), ("--prefetch",))}
    print("  a step's wait for a 2 s query that the operator reaches 2 s into the run (median of 5):")
    print("    %d ms as the step runs, %d ms with --prefetch" % (waits[()], waits[("--prefetch",)]))

main()
