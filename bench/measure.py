"""Runs the four ways of doing the morning check's AWS work, interleaved,
and prints median wall and CPU time with ratios to the bare SDK floor; then
litops over 1, 10 and 100 targets. Called by bench/side-by-side, which has
started and seeded moto and set the AWS environment."""

import os
import statistics
import subprocess
import sys
import time

work = sys.argv[1]
RUNS = 5
PARAMS = ["--param", "customer=acme", "--param", "environment=production",
          "--param", "cluster=acme-production", "--param", "log_group=/ecs/acme-production-api",
          "--param", "db_instance=acme-production-db",
          "--param", "load_balancer=app/acme-production/50dc6c495c0c9188"]
litops = "target/release/litops"
ways = {
    "litops --yes-readonly": [litops, "run", "runbooks/morning-health-check.md", "--yes-readonly",
                              *PARAMS, "--transcript-dir", f"{work}/t"],
    "aws-cli script": ["bash", "bench/morning-aws-cli.sh"],
    "papermill notebook": [".venv-bench/bin/papermill", "--no-progress-bar", "-k", "python3",
                           "bench/morning.ipynb", f"{work}/out.ipynb"],
    "bare SDK floor": ["target/release/examples/bare_morning"],
}
env = dict(os.environ, AWS_CLI=".venv-bench/bin/aws",
           PATH=f"{os.getcwd()}/.venv-bench/bin:" + os.environ["PATH"])


def timed(command):
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    # litops exits 1: the verdict finds the seeded incident.
    if code not in (0, 1):
        sys.exit(f"{command[0]} failed ({code}): {child.stderr.read().decode()[-800:]}")
    return wall, usage.ru_utime + usage.ru_stime


results = {name: [] for name in ways}
names = list(ways)
for round_ in range(RUNS):
    # Rotate the order each round: the notebook's kernel and the emulator
    # settle after a run, and no way should always follow the same one.
    for name in names[round_ % len(names):] + names[:round_ % len(names)]:
        results[name].append(timed(ways[name]))
floor_wall = statistics.median(w for w, _ in results["bare SDK floor"])
floor_cpu = statistics.median(c for _, c in results["bare SDK floor"])
print(f"morning health check, median of {RUNS} interleaved runs (order rotated) against moto on loopback")
print(f"  {'':24} {'wall':>9} {'CPU':>9} {'wall / floor':>13} {'CPU / floor':>12}")
for name, runs in results.items():
    wall = statistics.median(w for w, _ in runs)
    cpu = statistics.median(c for _, c in runs)
    print(f"  {name:24} {wall:8.3f}s {cpu:8.3f}s {wall / floor_wall:12.2f}x {cpu / floor_cpu:11.2f}x")

print("\nlitops --targets (same seeded environment per target, --max-concurrency 16)")
base = None
for n in (1, 10, 100):
    path = f"{work}/targets-{n}.yaml"
    with open(path, "w") as f:
        f.write("targets:\n" + "".join(f"  - name: t{i}\n" for i in range(n)))
    wall = statistics.median(
        timed([litops, "run", "runbooks/morning-health-check.md", "--targets", path,
               "--max-concurrency", "16", *PARAMS, "--transcript-dir", f"{work}/f{n}"])[0]
        for _ in range(3))
    base = base or wall
    print(f"  {n:4} targets  {wall:7.3f}s  ({wall / base:.1f}x one target)")
