"""Called by bench/fleet: starts the peer, runs litops and the floor over
growing fleets, prints wall time, CPU, peak RSS and the peer's own CPU."""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("--latency", default="0.08")
parser.add_argument("--query-time", default="3")
parser.add_argument("--sizes", default="1,10,100,1000")
parser.add_argument("--concurrency", default="1000",
                    help="--max-concurrency values; the table is repeated for each")
options = parser.parse_args()

work = tempfile.mkdtemp()
port_file = f"{work}/port"
peer = subprocess.Popen([sys.executable, "bench/aws_peer.py", port_file,
                         "--latency", options.latency, "--query-time", options.query_time])
try:
    while not os.path.exists(port_file):
        time.sleep(0.05)
    url = f"http://127.0.0.1:{open(port_file).read()}"
    env = dict(os.environ, AWS_ENDPOINT_URL=url, AWS_ACCESS_KEY_ID="test",
               AWS_SECRET_ACCESS_KEY="test", AWS_REGION="eu-west-1",
               AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    env.pop("AWS_PROFILE", None)
    params = ["--param", "customer=acme", "--param", "environment=production",
              "--param", "cluster=acme-production",
              "--param", "log_group=/ecs/acme-production-api",
              "--param", "db_instance=acme-production-db",
              "--param", "load_balancer=app/acme-production/50dc6c495c0c9188"]

    def peer_stats(path):
        with urllib.request.urlopen(urllib.request.Request(url + path, method="POST")) as r:
            return json.load(r)

    def timed(command, extra=None):
        before = peer_stats("/peer/reset")
        start = time.perf_counter()
        # stderr to a file: a pipe nobody reads fills at 64 KB (1,000
        # targets' lines) and stops the writer.
        errors = tempfile.TemporaryFile()
        child = subprocess.Popen(command, env=dict(env, **(extra or {})), stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        after = peer_stats("/peer/stats")
        code = os.waitstatus_to_exitcode(status)
        # litops exits 1: the verdict finds the peer's firing alarm.
        if code not in (0, 1):
            errors.seek(0)
            sys.exit(f"{command[0]} failed ({code}): {errors.read().decode()[-800:]}")
        if after["unknown"]:
            sys.exit(f"the peer was asked calls it does not answer: {after['unknown']}")
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
                "rss": usage.ru_maxrss / 1024, "peer_cpu": after["cpu"] - before["cpu"],
                "refused": sum(after["refused"].values()), "calls": sum(after["calls"].values())}

    throttled = 0
    print(f"morning health check, one AWS account per target, against bench/aws_peer.py "
          f"(latency {options.latency} s, queries {options.query_time} s, AWS quotas), "
          f"{os.cpu_count()} cores")
    for concurrency in map(int, options.concurrency.split(",")):
        print(f"\n--max-concurrency {concurrency} (floor: the same calls, {concurrency} at once)")
        print(f"  {'targets':>7} {'litops':>9} {'CPU/target':>11} {'peak RSS':>9} {'floor':>9} {'CPU/target':>11}"
              f" {'litops/floor':>13} {'litops/1 target':>16} {'peer CPU':>9} {'calls':>7} {'throttled':>9}")
        one = None
        for n in map(int, options.sizes.split(",")):
            roles = [f"arn:aws:iam::{400000000000 + i}:role/litops-readonly" for i in range(n)]
            targets = f"{work}/targets-{n}.yaml"
            with open(targets, "w") as f:
                f.write("targets:\n" + "".join(f"  - name: c{i:04}\n    role: {r}\n"
                                               for i, r in enumerate(roles)))
            run = timed(["target/release/litops", "run", "runbooks/morning-health-check.md",
                         "--targets", targets, "--max-concurrency", str(concurrency), *params,
                         "--transcript-dir", f"{work}/t-{concurrency}-{n}"])
            floor = timed(["target/release/examples/bare_morning", *roles],
                          {"BARE_CONCURRENCY": str(concurrency)})
            one = one or run["wall"]
            throttled += run["refused"] + floor["refused"]
            print(f"  {n:7} {run['wall']:8.2f}s {run['cpu'] / n * 1000:8.1f} ms {run['rss']:6.0f} MB"
                  f" {floor['wall']:8.2f}s {floor['cpu'] / n * 1000:8.1f} ms {run['wall'] / floor['wall']:12.2f}x"
                  f" {run['wall'] / one:15.2f}x {run['peer_cpu']:8.2f}s {run['calls']:7}"
                  f" {run['refused']:5}/{floor['refused']}")
    if throttled:
        sys.exit(f"{throttled} calls were throttled at the peer: an AWS quota was exceeded")
finally:
    peer.terminate()
