"""Seeds an AWS emulator with the demo incident, as of now: the morning
health check of customer `acme`, environment `production`, finds it.

- ECS cluster acme-production: `api` (desired 3) is below desired, its new
  tasks stop with CannotPullContainerError: its task definition names
  acme/api:v143, which was never pushed to ECR (v142 was); `worker`
  (desired 2) is fine. The emulator is started with
  MOTO_ECS_SERVICE_RUNNING=2, so every service reports two running tasks.
- RDS instance acme-production-db with no backup in the last 24 hours
  (patching pre-checks stop).
- Alarm acme-production-api-cpu-high in ALARM; two more alarms OK, one of
  which (db-connections) fired at night and recovered: demo/peer.py, in
  front of the emulator, answers the alarm history the emulator cannot.
- 12 h of ERROR lines in /ecs/acme-production-api.
- Target group acme-production-api behind load balancer acme-production,
  with two registered instances, one of them stopped (its health check
  fails); its HTTPS listener's certificate expires in 10 days (the ALB
  playbook warns).
- SNS topic acme-production-incidents, the incident email list.
- The technical dashboard, whose job-queue widget has no data (its metric
  is no longer published).
- 12 h of metrics, and the same hours a week earlier: API CPU climbing past
  85 % in the last 30 minutes, ALB response time up on last week, RDS connections and latency, ALB response
  time, requests and 5XX, DynamoDB acme-production-orders throttling in the
  last hour.

Used by scripts/demo and by the scenario tests (which define E and R, the
endpoint and region, before running this file). Run alone:
AWS_ENDPOINT_URL=… AWS_REGION=… python3 demo/seed.py
"""

import datetime
import os
import random
import time

import boto3

E = globals().get("E") or os.environ["AWS_ENDPOINT_URL"]
R = globals().get("R") or os.environ["AWS_REGION"]
CUSTOMER, ENVIRONMENT = "acme", "production"
PREFIX = f"{CUSTOMER}-{ENVIRONMENT}"
LOAD_BALANCER = f"app/{PREFIX}/50dc6c495c0c9188"
WEEK = 7 * 86400

random.seed(42)


def client(service):
    return boto3.client(service, endpoint_url=E, region_name=R)


REGISTRY = f"123456789012.dkr.ecr.{R}.amazonaws.com"


def ecr_images():
    """acme/api has v142 but not v143; acme/worker has v88."""
    import json
    ecr = client("ecr")
    for repository, tags in (("acme/api", ["v141", "v142"]), ("acme/worker", ["v88"])):
        ecr.create_repository(repositoryName=repository)
        for tag in tags:
            digest = "sha256:" + format(random.getrandbits(256), "064x")
            manifest = json.dumps({
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                           "size": 7, "digest": digest},
                "layers": []})
            ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)


def database():
    """acme-production-db, with no backup in the last 24 hours. The emulator
    stamps an automated snapshot with the creation time; it is removed, as
    if the nightly backup had failed for a day."""
    rds = client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=f"{PREFIX}-db", DBInstanceClass="db.r6g.large", Engine="postgres",
        AllocatedStorage=200, MasterUsername="acme", MasterUserPassword="not-for-transcripts",
        MultiAZ=True)
    for snapshot in rds.describe_db_snapshots(DBInstanceIdentifier=f"{PREFIX}-db")["DBSnapshots"]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])


def ecs_cluster():
    ec2 = client("ec2")
    # The emulator runs awsvpc tasks on the default VPC's subnets only.
    subnet = [s for s in ec2.describe_subnets()["Subnets"] if s.get("DefaultForAz")][0]["SubnetId"]
    group = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    network = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    ecs = client("ecs")
    ecs.create_cluster(clusterName=PREFIX)
    definitions = {}
    for service, image, desired in (("api", f"{REGISTRY}/acme/api:v143", 3),
                                    ("worker", f"{REGISTRY}/acme/worker:v88", 2)):
        definitions[service] = ecs.register_task_definition(
            family=f"{PREFIX}-{service}", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
            cpu="512", memory="1024",
            containerDefinitions=[{
                "name": service, "image": image, "essential": True, "memory": 1024,
                "portMappings": [{"containerPort": 8080}],
                "environment": [{"name": "DB_HOST", "value": f"{PREFIX}-db.internal"},
                                {"name": "DB_PASSWORD", "value": "not-for-transcripts"}],
                "logConfiguration": {"logDriver": "awslogs", "options": {
                    "awslogs-group": f"/ecs/{PREFIX}-{service}", "awslogs-region": R}},
            }])["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster=PREFIX, serviceName=service, taskDefinition=definitions[service],
                           desiredCount=desired, launchType="FARGATE", networkConfiguration=network)
    for _ in range(2):
        task = ecs.run_task(cluster=PREFIX, taskDefinition=definitions["api"], launchType="FARGATE",
                            group="service:api", networkConfiguration=network)["tasks"][0]["taskArn"]
        ecs.stop_task(cluster=PREFIX, task=task, reason=(
            f"CannotPullContainerError: pull {REGISTRY}/acme/api:v143: manifest unknown: "
            "manifest tagged by \"v143\" is not found"))
    # The two api tasks still up, both in one availability zone.
    for _ in range(2):
        ecs.run_task(cluster=PREFIX, taskDefinition=definitions["api"], launchType="FARGATE",
                     group="service:api", networkConfiguration=network)
    scaling = client("application-autoscaling")
    for service, low, high in (("api", 3, 6), ("worker", 2, 4)):
        scaling.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=f"service/{PREFIX}/{service}",
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=low, MaxCapacity=high)


def alarms():
    cw = client("cloudwatch")
    for name, metric, namespace, threshold in (
            ("api-cpu-high", "CPUUtilization", "AWS/ECS", 85.0),
            ("api-5xx-rate", "HTTPCode_Target_5XX_Count", "AWS/ApplicationELB", 250.0),
            ("db-connections", "DatabaseConnections", "AWS/RDS", 180.0)):
        cw.put_metric_alarm(AlarmName=f"{PREFIX}-{name}", MetricName=metric, Namespace=namespace,
                            Statistic="Average", Period=300, EvaluationPeriods=3, Threshold=threshold,
                            ComparisonOperator="GreaterThanThreshold")
    cw.set_alarm_state(AlarmName=f"{PREFIX}-api-cpu-high", StateValue="ALARM", StateReason=(
        "Threshold Crossed: 3 datapoints [91.4, 89.8, 88.2] were greater than the threshold (85.0)."))


def logs():
    logs = client("logs")
    group = f"/ecs/{PREFIX}-api"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="api/api/4f2a")
    now = int(time.time() * 1000)
    messages = [
        "ERROR payments: timeout after 5000 ms calling https://payments.internal/charge",
        "ERROR orders: ProvisionedThroughputExceededException on acme-production-orders",
        "ERROR health: readiness probe failed: upstream connect error",
    ]
    events = [{"timestamp": now - minutes * 60_000, "message": f"{messages[minutes % 3]} requestId=r-{minutes}"}
              for minutes in range(700, 0, -37)]
    logs.put_log_events(logGroupName=group, logStreamName="api/api/4f2a", logEvents=events)


def metrics():
    cw = client("cloudwatch")
    end = int(time.time()) // 300 * 300
    data = []

    def put(namespace, name, dimensions, at, value):
        data.append((namespace, {
            "MetricName": name, "Value": value,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": datetime.datetime.fromtimestamp(at, datetime.timezone.utc)}))

    api = {"ClusterName": PREFIX, "ServiceName": "api"}
    db = {"DBInstanceIdentifier": f"{PREFIX}-db"}
    lb = {"LoadBalancer": LOAD_BALANCER}
    table = {"TableName": f"{PREFIX}-orders"}
    # One point per 5-minute period from 12 h ago to the current period.
    for k in range(0, 146):
        at = end - k * 300 + 30
        recent = k < 7
        for shift, weight in ((0, 1.0), (WEEK, 0.8)):
            t = at - shift
            last_week = shift > 0
            put("AWS/ECS", "CPUUtilization", api, t,
                round(random.uniform(86, 93) if recent and not last_week else random.uniform(38, 58) * weight, 1))
            put("AWS/ECS", "MemoryUtilization", api, t, round(random.uniform(55, 68) * weight, 1))
            put("AWS/RDS", "CPUUtilization", db, t, round(random.uniform(28, 44), 1))
            # Slower than last week all day since Tuesday's release; worse in the last 35 minutes.
            trt = (random.uniform(0.10, 0.18) if last_week else
                   random.uniform(0.45, 0.7) if recent else random.uniform(0.15, 0.3))
            put("AWS/ApplicationELB", "TargetResponseTime", lb, t, round(trt, 3))
        put("AWS/RDS", "DatabaseConnections", db, at, float(random.randint(42, 64)))
        put("AWS/RDS", "ReadLatency", db, at, round(random.uniform(0.004, 0.012), 4))
        put("AWS/RDS", "WriteLatency", db, at, round(random.uniform(0.006, 0.02), 4))
        put("AWS/ApplicationELB", "RequestCount", lb, at, float(random.randint(3000, 4200)))
        put("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", lb, at,
            float(random.randint(90, 160) if recent else random.randint(2, 12)))
        throttled = k < 12
        put("AWS/DynamoDB", "ConsumedReadCapacityUnits", table, at,
            float(random.randint(14_700, 15_000) if throttled else random.randint(6_000, 9_000)))
        put("AWS/DynamoDB", "ReadThrottleEvents", table, at, float(random.randint(20, 80) if throttled else 0))
    for namespace in sorted({n for n, _ in data}):
        batch = [d for n, d in data if n == namespace]
        for i in range(0, len(batch), 1000):
            cw.put_metric_data(Namespace=namespace, MetricData=batch[i:i + 1000])


def load_balancer():
    ec2 = client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"] if s.get("DefaultForAz")][:2]
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    instances = [i["InstanceId"] for i in ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=2, MaxCount=2)["Instances"]]
    elb = client("elbv2")
    balancer = elb.create_load_balancer(Name=PREFIX, Subnets=subnets, Type="application")
    group = elb.create_target_group(
        Name=f"{PREFIX}-api", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance",
        HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
                        Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    elb.create_listener(LoadBalancerArn=balancer["LoadBalancers"][0]["LoadBalancerArn"],
                        Protocol="HTTPS", Port=443, Certificates=[{"CertificateArn": certificate()}],
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": group}])
    elb.register_targets(TargetGroupArn=group, Targets=[{"Id": i, "Port": 8080} for i in instances])
    # One of the two targets is down: its health check fails.
    ec2.stop_instances(InstanceIds=instances[1:])


def certificate():
    """api.acme.example's certificate, imported into ACM, expiring in 10 days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"api.{CUSTOMER}.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=355))
            .not_valid_after(now + datetime.timedelta(days=10))
            .sign(key, hashes.SHA256()))
    return client("acm").import_certificate(
        Certificate=cert.public_bytes(serialization.Encoding.PEM),
        PrivateKey=key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()))["CertificateArn"]


def dashboard():
    """The technical dashboard: CPU, database and load balancer widgets with
    data, and a job-queue widget whose metric nobody publishes any more."""
    import json
    cluster = {"ClusterName": PREFIX, "ServiceName": "api"}
    def metric(namespace, name, dimensions):
        line = [namespace, name]
        for key, value in dimensions.items():
            line += [key, value]
        return line
    widgets = [
        ("API CPU and memory", [metric("AWS/ECS", "CPUUtilization", cluster),
                                metric("AWS/ECS", "MemoryUtilization", cluster)]),
        ("Database connections", [metric("AWS/RDS", "DatabaseConnections",
                                         {"DBInstanceIdentifier": f"{PREFIX}-db"})]),
        ("Load balancer requests", [metric("AWS/ApplicationELB", "RequestCount",
                                           {"LoadBalancer": LOAD_BALANCER})]),
        ("Job queue depth", [metric("AWS/SQS", "ApproximateNumberOfMessagesVisible",
                                    {"QueueName": f"{PREFIX}-jobs"})]),
    ]
    body = {"widgets": [{"type": "metric", "x": 0, "y": 6 * i, "width": 12, "height": 6,
                         "properties": {"title": title, "metrics": metrics, "region": R}}
                        for i, (title, metrics) in enumerate(widgets)]}
    client("cloudwatch").put_dashboard(DashboardName=f"{PREFIX}-technical-dashboard",
                                       DashboardBody=json.dumps(body))


def dynamodb():
    ddb = client("dynamodb")
    ddb.create_table(
        TableName=f"{PREFIX}-orders", BillingMode="PROVISIONED",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                              {"AttributeName": "customer", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        ProvisionedThroughput={"ReadCapacityUnits": 50, "WriteCapacityUnits": 20},
        GlobalSecondaryIndexes=[{
            "IndexName": "by-customer", "KeySchema": [{"AttributeName": "customer", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
            "ProvisionedThroughput": {"ReadCapacityUnits": 20, "WriteCapacityUnits": 10}}])


def incident_email():
    sns = client("sns")
    topic = sns.create_topic(Name=f"{PREFIX}-incidents")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=f"oncall@{CUSTOMER}.example")


ecr_images()
database()
ecs_cluster()
load_balancer()
alarms()
logs()
metrics()
dashboard()
dynamodb()
incident_email()
