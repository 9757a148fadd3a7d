"""In front of the AWS emulator, what it cannot answer.

moto answers CloudWatch's DescribeAlarmHistory with a 500, and there is no
Slack on a test machine. This server listens on loopback and
- answers DescribeAlarmHistory (CloudWatch's query protocol) with last
  night's history of the demo incident (demo/seed.py): the database
  connections alarm fired at night and recovered; the API's CPU alarm fired
  this morning and is still in ALARM;
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
