"""In front of the AWS emulator, what it cannot answer.

moto answers CloudWatch's DescribeAlarmHistory, Application Auto Scaling's
DescribeScalingActivities and DynamoDB's DescribeContributorInsights with
a 500, implements no Performance Insights, and there is no Slack on a test
machine. This server listens on loopback and
- answers DescribeAlarmHistory (CloudWatch's query protocol) with last
  night's history of the demo incident (demo/seed.py): the database
  connections alarm fired at night and recovered; the API's CPU alarm fired
  this morning and is still in ALARM;
- answers DescribeScalingActivities (Application Auto Scaling's JSON
  protocol) for the `api` service: two scale-outs this week, the second of
  which failed for want of Fargate vCPU quota;
- answers DescribeContributorInsights (DynamoDB's JSON protocol) and
  GetInsightRuleReport for the orders table: Contributor Insights is on,
  and one customer's partition key takes most of the reads;
- answers Performance Insights' DescribeDimensionKeys (JSON protocol) for
  the database: one statement dominates the load, waiting on reads;
- takes Slack-compatible incoming-webhook posts (`POST /hooks/<channel>`),
  printing each and appending it to LOG as one JSON line;
- passes every other request to the emulator unchanged.

usage: python demo/peer.py UPSTREAM_URL PORT_FILE [LOG]
It writes the port it listens on to PORT_FILE once it is ready.
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

UPSTREAM, PORT_FILE = sys.argv[1], sys.argv[2]
LOG = sys.argv[3] if len(sys.argv) > 3 else None
PREFIX = "acme-production"

# (alarm, minutes before now, old state, new state, reason)
NIGHT = [
    (f"{PREFIX}-db-connections", 370, "OK", "ALARM",
     "Threshold Crossed: 1 datapoint [186.0] was greater than the threshold (180.0)."),
    (f"{PREFIX}-db-connections", 340, "ALARM", "OK",
     "Threshold Crossed: 1 datapoint [61.0] was not greater than the threshold (180.0)."),
    (f"{PREFIX}-api-cpu-high", 45, "OK", "ALARM",
     "Threshold Crossed: 3 datapoints were greater than the threshold (85.0)."),
]


TABLE = f"{PREFIX}-orders"
RULE = f"DynamoDBContributorInsights-PKC-{TABLE}-1690000000000"
# (partition key, reads in the last hour)
HOT_KEYS = [("customer#4411", 6200), ("customer#12", 900), ("customer#77", 610)]


def contributor_insights(request):
    if request.get("TableName") != TABLE or request.get("IndexName"):
        return {"TableName": request.get("TableName"), "ContributorInsightsStatus": "DISABLED"}
    return {"TableName": TABLE, "ContributorInsightsStatus": "ENABLED",
            "ContributorInsightsRuleList": [RULE]}


def insight_rule_report(form):
    members = "" if form.get("RuleName") != [RULE] else "".join(
        f"<member><Keys><member>{key}</member></Keys>"
        f"<ApproximateAggregateValue>{reads}</ApproximateAggregateValue><Datapoints/></member>"
        for key, reads in HOT_KEYS)
    return ("<GetInsightRuleReportResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
            "<GetInsightRuleReportResult><KeyLabels><member>pk</member></KeyLabels>"
            f"<AggregationStatistic>Sum</AggregationStatistic><Contributors>{members}</Contributors>"
            "</GetInsightRuleReportResult><ResponseMetadata><RequestId>peer</RequestId>"
            "</ResponseMetadata></GetInsightRuleReportResponse>")


# Service Quotas, which the emulator answers for few services: Fargate's
# on-demand vCPU quota at its default of 6, with its usage metric.
FARGATE_VCPU = {"ServiceCode": "fargate", "QuotaCode": "L-3032A538",
                "QuotaName": "Fargate On-Demand vCPU resource count", "Value": 6.0,
                "Unit": "None", "Adjustable": True,
                "UsageMetric": {"MetricNamespace": "AWS/Usage", "MetricName": "ResourceCount",
                                "MetricDimensions": {"Service": "Fargate", "Resource": "vCPU",
                                                     "Type": "Resource",
                                                     "Class": "Standard/OnDemand"},
                                "MetricStatisticRecommendation": "Maximum"}}


def service_quotas(operation, request):
    if operation == "ListAWSDefaultServiceQuotas" and request.get("ServiceCode") == "fargate":
        return {"Quotas": [FARGATE_VCPU]}
    return {"Quotas": []}


# (minutes before now, desired count, status, message)
SCALING = [(2 * 1440 + 125, 4, "Successful", None),
           (2 * 1440 + 95, 6, "Failed",
            "Failed to set desired count to 6: You've reached the limit on the number of "
            "vCPUs you can run concurrently (Fargate On-Demand vCPU resource count)")]


def scaling_activities(request):
    resource = f"service/{PREFIX}/api"
    if request.get("ResourceId") not in (None, resource):
        return {"ScalingActivities": []}
    now = datetime.datetime.now(datetime.timezone.utc)
    activities = []
    for minutes, desired, status, message in sorted(SCALING):
        start = (now - datetime.timedelta(minutes=minutes)).timestamp()
        activity = {
            "ActivityId": f"peer-{minutes}", "ServiceNamespace": "ecs", "ResourceId": resource,
            "ScalableDimension": "ecs:service:DesiredCount",
            "Description": f"Setting desired count to {desired}.",
            "Cause": f"monitor alarm TargetTracking-{resource}-AlarmHigh in state ALARM triggered policy cpu-target",
            "StartTime": start, "StatusCode": status}
        if message:
            activity["StatusMessage"] = message
        else:
            activity["EndTime"] = start + 60
        activities.append(activity)
    return {"ScalingActivities": activities}


# Average active sessions over the window, by statement and by wait event.
TOP_SQL = [("SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC", 2.1),
           ("UPDATE inventory SET reserved = reserved + ? WHERE sku = ?", 0.6),
           ("INSERT INTO audit_log (actor, action, at) VALUES (?, ?, ?)", 0.3)]
WAITS = [("IO:DataFileRead", "IO", 1.6), ("CPU", "CPU", 0.9), ("Lock:transactionid", "Lock", 0.5)]


def dimension_keys(request):
    group = (request.get("GroupBy") or {}).get("Group")
    if group == "db.sql_tokenized":
        keys = [{"Dimensions": {"db.sql_tokenized.statement": sql, "db.sql_tokenized.id": f"sql-{i}"},
                 "Total": load} for i, (sql, load) in enumerate(TOP_SQL)]
    elif group == "db.wait_event":
        keys = [{"Dimensions": {"db.wait_event.name": name, "db.wait_event.type": kind},
                 "Total": load} for name, kind, load in WAITS]
    else:
        keys = []
    return {"AlignedStartTime": request.get("StartTime"), "AlignedEndTime": request.get("EndTime"),
            "Keys": keys}


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def alarm_history(form):
    now = datetime.datetime.now(datetime.timezone.utc)
    start = when(form["StartDate"][0]) if "StartDate" in form else None
    end = when(form["EndDate"][0]) if "EndDate" in form else now
    items = []
    # Newest first, as CloudWatch lists them.
    for alarm, minutes, old, new, reason in sorted(NIGHT, key=lambda n: n[1]):
        at = now - datetime.timedelta(minutes=minutes)
        if (start and at < start) or at > end:
            continue
        data = json.dumps({"oldState": {"stateValue": old},
                           "newState": {"stateValue": new, "stateReason": reason}})
        items.append(
            f"<member><AlarmName>{alarm}</AlarmName><AlarmType>MetricAlarm</AlarmType>"
            f"<Timestamp>{at.strftime('%Y-%m-%dT%H:%M:%SZ')}</Timestamp>"
            "<HistoryItemType>StateUpdate</HistoryItemType>"
            f"<HistorySummary>Alarm updated from {old} to {new}</HistorySummary>"
            f"<HistoryData>{escape(data)}</HistoryData></member>")
    return ("<DescribeAlarmHistoryResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">"
            f"<DescribeAlarmHistoryResult><AlarmHistoryItems>{''.join(items)}</AlarmHistoryItems>"
            "</DescribeAlarmHistoryResult><ResponseMetadata><RequestId>peer</RequestId>"
            "</ResponseMetadata></DescribeAlarmHistoryResponse>")


class Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type):
        data = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.command == "POST" and self.path.startswith("/hooks/"):
            text = body.decode("utf-8", "replace")
            try:
                text = json.loads(text).get("text", text)
            except (ValueError, AttributeError):
                pass
            print(f"peer: {self.path[len('/hooks/'):]} got:\n{text}\n", flush=True)
            if LOG:
                with open(LOG, "a", encoding="utf-8") as log:
                    log.write(json.dumps({"channel": self.path, "text": text}) + "\n")
            return self.reply(200, "ok", "text/plain")
        if "x-www-form-urlencoded" in (self.headers.get("content-type") or ""):
            form = urllib.parse.parse_qs(body.decode())
            if form.get("Action") == ["DescribeAlarmHistory"]:
                return self.reply(200, alarm_history(form), "text/xml")
            if form.get("Action") == ["GetInsightRuleReport"]:
                return self.reply(200, insight_rule_report(form), "text/xml")
        if self.headers.get("x-amz-target") == "PerformanceInsightsv20180227.DescribeDimensionKeys":
            answer = dimension_keys(json.loads(body or b"{}"))
            return self.reply(200, json.dumps(answer), "application/x-amz-json-1.1")
        if self.headers.get("x-amz-target") == "AnyScaleFrontendService.DescribeScalingActivities":
            answer = scaling_activities(json.loads(body or b"{}"))
            return self.reply(200, json.dumps(answer), "application/x-amz-json-1.1")
        if self.headers.get("x-amz-target") == "DynamoDB_20120810.DescribeContributorInsights":
            answer = contributor_insights(json.loads(body or b"{}"))
            return self.reply(200, json.dumps(answer), "application/x-amz-json-1.0")
        # The service's public health endpoint, for the readiness and DR
        # runbooks' probes.
        if self.command == "GET" and self.path == "/health":
            return self.reply(200, "ok", "text/plain")
        target = self.headers.get("x-amz-target") or ""
        if target.startswith("ServiceQuotasV20190624."):
            answer = service_quotas(target.split(".", 1)[1], json.loads(body or b"{}"))
            return self.reply(200, json.dumps(answer), "application/x-amz-json-1.1")
        skip = {"host", "content-length", "connection", "transfer-encoding"}
        request = urllib.request.Request(
            UPSTREAM + self.path, data=body if body else None, method=self.command,
            headers={k: v for k, v in self.headers.items() if k.lower() not in skip})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                status, headers, data = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as e:
            status, headers, data = e.code, e.headers, e.read()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() not in skip:
                self.send_header(k, v)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
# Renamed into place so a reader never sees a half-written port.
os.replace(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
