"""A latency-bound AWS peer for fleet benchmarks: one asyncio process that
speaks the wire protocols of the calls the morning health check makes (STS
and CloudWatch over awsQuery, ECS and CloudWatch Logs over awsJson1.1) for
any number of accounts, answers each call after a set latency, completes a
Logs Insights query a set time after it started, and enforces AWS's quotas
per account and region the way AWS does (a token bucket per API, throttling
errors beyond), counting every call it had to refuse.

The account is the one whose credentials signed the request: AssumeRole
hands out an access key that carries the role's account, so a fan-out over
1,000 roles is 1,000 accounts here. `GET /peer/stats` answers the calls,
refusals and this process's CPU time so far; `POST /peer/reset` zeroes them.

  python3 bench/aws_peer.py PORT_FILE [--latency 0.08] [--query-time 3] [--burst-slack 0]
"""

import argparse
import asyncio
import json
import os
import re
import resource
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict

# Per account and region, as AWS documents them: (sustained calls a second,
# burst). StartQuery's limit is on queries running at once, below.
QUOTAS = {
    "logs:GetQueryResults": (5, 5),
    "ecs:DescribeServices": (20, 20),
}
CONCURRENT_QUERIES = 30
BASE_ACCOUNT = "123456789012"

parser = argparse.ArgumentParser()
parser.add_argument("port_file")
parser.add_argument("--latency", type=float, default=0.08)
parser.add_argument("--query-time", type=float, default=3.0)
# Tests add slack to every burst: a call sent on time can still arrive
# bunched behind a stalled one on a loaded machine.
parser.add_argument("--burst-slack", type=int, default=0)
options = parser.parse_args()


class Bucket:
    """AWS's token bucket: `burst` tokens, refilled at `rate` a second."""

    def __init__(self, rate, burst):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = float(burst), time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


calls = Counter()
refused = Counter()
unknown = Counter()
buckets = {}
queries = {}  # id -> (account, region, started)
running = defaultdict(int)  # (account, region) -> queries not yet complete


def scope(headers):
    """The signing account, region and service of a request."""
    found = re.search(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/",
                      headers.get("authorization", ""))
    if not found:
        return BASE_ACCOUNT, "us-east-1", ""
    key, region, service = found.groups()
    account = key[4:16] if key.startswith("ASIA") and key[4:16].isdigit() else BASE_ACCOUNT
    return account, region, service


def iso(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def xml(action, namespace, result):
    return (f'<{action}Response xmlns="{namespace}"><{action}Result>{result}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata>"
            f"</{action}Response>")


STS = "https://sts.amazonaws.com/doc/2011-06-15/"
CW = "http://monitoring.amazonaws.com/doc/2010-08-01/"


def sts(action, form, account):
    if action == "GetCallerIdentity":
        return xml(action, STS, f"<Arn>arn:aws:sts::{account}:assumed-role/ops/litops</Arn>"
                                f"<UserId>AROAPEER:litops</UserId><Account>{account}</Account>")
    if action == "AssumeRole":
        role = form.get("RoleArn", [""])[0]
        target = (re.search(r":(\d{12}):", role) or [None, BASE_ACCOUNT])[1]
        return xml(action, STS, f"<Credentials><AccessKeyId>ASIA{target}PEER</AccessKeyId>"
                                f"<SecretAccessKey>peer</SecretAccessKey><SessionToken>peer</SessionToken>"
                                f"<Expiration>{iso(time.time() + 3600)}</Expiration></Credentials>"
                                f"<AssumedRoleUser><AssumedRoleId>AROAPEER:litops</AssumedRoleId>"
                                f"<Arn>arn:aws:sts::{target}:assumed-role/ops/litops</Arn></AssumedRoleUser>")
    return None


def alarm(name, state, account, region):
    return (f"<member><AlarmName>{name}</AlarmName>"
            f"<AlarmArn>arn:aws:cloudwatch:{region}:{account}:alarm:{name}</AlarmArn>"
            f"<StateValue>{state}</StateValue><StateReason>peer</StateReason>"
            f"<StateUpdatedTimestamp>{iso(time.time() - 1800)}</StateUpdatedTimestamp>"
            f"<MetricName>CPUUtilization</MetricName><Namespace>AWS/ECS</Namespace>"
            f"<Statistic>Average</Statistic><Period>60</Period><EvaluationPeriods>1</EvaluationPeriods>"
            f"<Threshold>85.0</Threshold><ComparisonOperator>GreaterThanThreshold</ComparisonOperator>"
            f"</member>")


DASHBOARD = json.dumps({"widgets": [
    {"type": "metric", "properties": {"title": "API CPU", "metrics": [
        ["AWS/ECS", "CPUUtilization", "ClusterName", "acme-production", "ServiceName", "api"]]}},
    {"type": "metric", "properties": {"title": "Database connections", "metrics": [
        ["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", "acme-production-db"]]}},
]})


def cloudwatch(action, form, account, region):
    prefix = form.get("AlarmNamePrefix", [""])[0]
    if action == "DescribeAlarms":
        state = form.get("StateValue", [None])[0]
        alarms = [(f"{prefix}api-cpu-high", "ALARM"), (f"{prefix}db-connections", "OK")]
        members = "".join(alarm(n, s, account, region) for n, s in alarms if state in (None, s))
        return xml(action, CW, f"<MetricAlarms>{members}</MetricAlarms><CompositeAlarms/>")
    if action == "DescribeAlarmHistory":
        name = f"{prefix}api-cpu-high"
        item = "".join(
            f"<member><AlarmName>{name}</AlarmName><AlarmType>MetricAlarm</AlarmType>"
            f"<Timestamp>{iso(time.time() - ago)}</Timestamp><HistoryItemType>StateUpdate</HistoryItemType>"
            f"<HistorySummary>Alarm updated from {a} to {b}</HistorySummary>"
            f"<HistoryData>{{}}</HistoryData></member>"
            for ago, a, b in ((7200, "OK", "ALARM"), (5400, "ALARM", "OK")))
        return xml(action, CW, f"<AlarmHistoryItems>{item}</AlarmHistoryItems>")
    if action == "GetDashboard":
        name = form.get("DashboardName", [""])[0]
        body = DASHBOARD.replace("&", "&amp;").replace("<", "&lt;")
        return xml(action, CW, f"<DashboardName>{name}</DashboardName><DashboardBody>{body}</DashboardBody>"
                               f"<DashboardArn>arn:aws:cloudwatch::{account}:dashboard/{name}</DashboardArn>")
    if action == "GetMetricStatistics":
        now = int(time.time()) // 300 * 300
        points = "".join(f"<member><Timestamp>{iso(now - 300 * i)}</Timestamp><Average>{10 + i}.0</Average>"
                         f"<Unit>Percent</Unit></member>" for i in range(12))
        return xml(action, CW, f"<Label>{form.get('MetricName', [''])[0]}</Label>"
                               f"<Datapoints>{points}</Datapoints>")
    if action == "GetMetricData":
        ids = [v[0] for k, v in form.items() if re.fullmatch(r"MetricDataQueries\.member\.\d+\.Id", k)]
        now = int(time.time()) // 300 * 300
        stamps = "".join(f"<member>{iso(now - 300 * i)}</member>" for i in range(12))
        values = "".join(f"<member>{10 + i}.0</member>" for i in range(12))
        results = "".join(f"<member><Id>{i}</Id><Label>{i}</Label><StatusCode>Complete</StatusCode>"
                          f"<Timestamps>{stamps}</Timestamps><Values>{values}</Values></member>"
                          for i in ids)
        return xml(action, CW, f"<MetricDataResults>{results}</MetricDataResults><Messages/>")
    return None


def ecs(action, body, account, region):
    cluster = body.get("cluster", "default")
    arn = f"arn:aws:ecs:{region}:{account}"
    if action == "ListServices":
        return {"serviceArns": [f"{arn}:service/{cluster}/{s}" for s in ("api", "worker")]}
    if action == "DescribeServices":
        return {"failures": [], "services": [{
            "serviceArn": s, "serviceName": s.rsplit("/", 1)[-1], "clusterArn": f"{arn}:cluster/{cluster}",
            "status": "ACTIVE", "desiredCount": 2, "runningCount": 2, "pendingCount": 0,
            "launchType": "FARGATE", "taskDefinition": f"{arn}:task-definition/{s.rsplit('/', 1)[-1]}:7",
            "deployments": [{"id": "ecs-svc/1", "status": "PRIMARY", "desiredCount": 2,
                             "runningCount": 2, "pendingCount": 0, "rolloutState": "COMPLETED",
                             "createdAt": time.time() - 86400, "updatedAt": time.time() - 86000}],
            "events": []} for s in body.get("services", [])]}
    if action == "DescribeTaskDefinition":
        family = body.get("taskDefinition", "api").rsplit("/", 1)[-1].split(":")[0]
        return {"taskDefinition": {
            "taskDefinitionArn": f"{arn}:task-definition/{family}:7", "family": family, "revision": 7,
            "status": "ACTIVE", "containerDefinitions": [
                {"name": family, "image": f"{account}.dkr.ecr.{region}.amazonaws.com/{family}:1.4.2",
                 "cpu": 256, "memory": 512, "essential": True}]}}
    return None


class Refused(Exception):
    def __init__(self, code, message):
        self.code, self.message = code, message


def logs(action, body, account, region):
    now = time.monotonic()
    if action == "StartQuery":
        if running[(account, region)] >= CONCURRENT_QUERIES:
            raise Refused("LimitExceededException", "too many concurrent queries")
        query = str(uuid.uuid4())
        queries[query] = (account, region, now)
        running[(account, region)] += 1
        return {"queryId": query}
    if action == "GetQueryResults":
        started = queries.get(body.get("queryId", ""))
        if started is None:
            raise Refused("ResourceNotFoundException", "no such query")
        done = now - started[2] >= options.query_time
        if done and started[2] >= 0:
            running[(account, region)] -= 1
            queries[body["queryId"]] = (account, region, -1.0)
        rows = [[{"field": "@service", "value": s}, {"field": "count()", "value": str(n)}]
                for s, n in (("api", 42), ("worker", 3))] if done else []
        return {"status": "Complete" if done else "Running", "results": rows,
                "statistics": {"recordsMatched": 45.0, "recordsScanned": 12000.0,
                               "bytesScanned": 2400000.0}}
    return None


def answer(headers, body):
    """(status, content type, body) for one AWS call, after its quota."""
    account, region, service = scope(headers)
    target = headers.get("x-amz-target", "")
    if target:
        prefix, action = target.split(".", 1)
        service = "ecs" if "EC2ContainerService" in prefix else "logs"
        handler = ecs if service == "ecs" else logs
    else:
        form = urllib.parse.parse_qs(body.decode())
        action = form.get("Action", [""])[0]
        service = "sts" if service == "sts" else "cloudwatch"
    api = f"{service}:{action}"
    calls[api] += 1
    quota = QUOTAS.get(api)
    if quota:
        rate, burst = quota
        bucket = buckets.setdefault((account, region, api), Bucket(rate, burst + options.burst_slack))
        if not bucket.take():
            refused[api] += 1
            return error_json(service, "ThrottlingException", "Rate exceeded")
    try:
        if target:
            result = handler(action, json.loads(body or b"{}"), account, region)
            if result is not None:
                return 200, "application/x-amz-json-1.1", json.dumps(result)
        else:
            result = (sts(action, form, account) if service == "sts"
                      else cloudwatch(action, form, account, region))
            if result is not None:
                return 200, "text/xml", result
    except Refused as refusal:
        refused[f"{api} ({refusal.code})"] += 1
        return error_json(service, refusal.code, refusal.message)
    unknown[api] += 1
    return error_json(service, "UnknownOperationException", f"the peer does not answer {api}")


def error_json(service, code, message):
    if service in ("sts", "cloudwatch"):
        return 400, "text/xml", (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                                 f"<Message>{message}</Message></Error><RequestId>peer</RequestId></ErrorResponse>")
    return 400, "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message})


def stats():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"calls": dict(calls), "refused": dict(refused), "unknown": dict(unknown),
            "cpu": usage.ru_utime + usage.ru_stime, "accounts": len({k[0] for k in buckets})}


async def serve(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            body = await reader.readexactly(int(headers.get("content-length") or 0))
            if path.startswith("/peer/"):
                if path == "/peer/reset":
                    for counter in (calls, refused, unknown):
                        counter.clear()
                status, kind, text = 200, "application/json", json.dumps(stats())
            else:
                await asyncio.sleep(options.latency)
                status, kind, text = answer(headers, body)
            data = text.encode()
            writer.write(f"HTTP/1.1 {status} {'OK' if status == 200 else 'Bad Request'}\r\n"
                         f"content-type: {kind}\r\ncontent-length: {len(data)}\r\n"
                         f"x-amzn-requestid: peer\r\n\r\n".encode() + data)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(serve, "127.0.0.1", 0, backlog=4096)
    port = server.sockets[0].getsockname()[1]
    with open(options.port_file + ".tmp", "w") as f:
        f.write(str(port))
    # Renamed into place so a reader never sees a half-written port.
    os.replace(options.port_file + ".tmp", options.port_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())
