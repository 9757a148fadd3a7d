"""Runs the four ways of doing the morning check's AWS work, interleaved,
and prints median wall and CPU time with ratios to the bare SDK floor; then
litops over 1, 10 and 100 targets, one AWS account each, against the bare
SDK making the same calls for the same accounts. Called by
bench/side-by-side, which has started and seeded moto and set the AWS
environment."""

import concurrent.futures
import os
import statistics
import subprocess
import sys
import time

import boto3

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
    "litops, also --prefetch": [litops, "run", "runbooks/morning-health-check.md",
                                "--yes-readonly", "--prefetch", *PARAMS,
                                "--transcript-dir", f"{work}/p"],
    "aws-cli script": ["bash", "bench/morning-aws-cli.sh"],
    "papermill notebook": [".venv-bench/bin/papermill", "--no-progress-bar", "-k", "python3",
                           "bench/morning.ipynb", f"{work}/out.ipynb"],
    "bare SDK floor": ["target/release/examples/bare_morning"],
}
env = dict(os.environ, AWS_CLI=".venv-bench/bin/aws",
           PATH=f"{os.getcwd()}/.venv-bench/bin:" + os.environ["PATH"])


def timed(command, env=env):
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

# Fan-out: a customer per AWS account, as teams run it. Each profile assumes
# a role in its own account (moto keeps accounts apart by the assumed
# role's credentials); every account gets the demo incident.
ACCOUNTS = 100
config = f"{work}/aws-config"
with open(config, "w") as f:
    f.write("[profile base]\naws_access_key_id = test\naws_secret_access_key = test\n")
    for i in range(ACCOUNTS):
        f.write(f"[profile c{i:03}]\nrole_arn = arn:aws:iam::{300000000000 + i}:role/ops\n"
                "source_profile = base\n")


def seed(i):
    sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    role = f"arn:aws:iam::{300000000000 + i}:role/ops"
    c = sts.assume_role(RoleArn=role, RoleSessionName="bench-seed")["Credentials"]
    subprocess.run([sys.executable, "demo/seed.py"], check=True, env=dict(
        os.environ, AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
        AWS_SESSION_TOKEN=c["SessionToken"]))


print(f"\nseeding {ACCOUNTS} accounts for the fan-out (a few minutes)…", file=sys.stderr, flush=True)
seeding = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    list(pool.map(seed, range(ACCOUNTS)))
print(f"seeded in {time.perf_counter() - seeding:.0f} s", file=sys.stderr, flush=True)
fan_env = dict(env, AWS_CONFIG_FILE=config)
for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
    fan_env.pop(key)

print("\nlitops --targets, one account per target, 16 at once (median of 3);"
      " floor: bare SDK, same calls, same accounts, 16 at once")
print(f"  {'targets':>7} {'litops':>9} {'(CPU)':>8} {'floor':>9} {'(CPU)':>8}"
      f" {'litops / floor':>15} {'litops / 1 target':>18}")
base = None
for n in (1, 10, 100):
    path = f"{work}/targets-{n}.yaml"
    with open(path, "w") as f:
        f.write("targets:\n" + "".join(f"  - name: t{i:03}\n    profile: c{i:03}\n" for i in range(n)))
    fan = [litops, "run", "runbooks/morning-health-check.md", "--targets", path,
           "--max-concurrency", "16", *PARAMS, "--transcript-dir", f"{work}/f{n}"]
    floor = ["target/release/examples/bare_morning", *(f"c{i:03}" for i in range(n))]
    runs = {"litops": [], "floor": []}
    for _ in range(3):
        runs["litops"].append(timed(fan, fan_env))
        runs["floor"].append(timed(floor, fan_env))
    (wall, cpu), (floor_wall, floor_cpu) = (
        (statistics.median(w for w, _ in runs[k]), statistics.median(c for _, c in runs[k]))
        for k in ("litops", "floor"))
    base = base or wall
    print(f"  {n:7} {wall:8.3f}s {cpu:7.3f}s {floor_wall:8.3f}s {floor_cpu:7.3f}s"
          f" {wall / floor_wall:14.2f}x {wall / base:17.1f}x")

# The same 100 targets in one account and region: Logs Insights' quota of
# 5 GetQueryResults a second per account and region sets the pace.
path = f"{work}/targets-same.yaml"
with open(path, "w") as f:
    f.write("targets:\n" + "".join(f"  - name: s{i:03}\n" for i in range(ACCOUNTS)))
wall = timed([litops, "run", "runbooks/morning-health-check.md", "--targets", path,
              "--max-concurrency", "16", *PARAMS, "--transcript-dir", f"{work}/same"])[0]
print(f"  {ACCOUNTS} targets in one account (one run): {wall:.3f}s")
