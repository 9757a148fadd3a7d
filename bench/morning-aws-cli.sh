#!/usr/bin/env bash
# The morning health check's AWS calls as a script of aws-cli commands, the
# way teams write it today; bench/side-by-side times it against litops.
# Endpoint, region and credentials from the environment.
set -euo pipefail
aws=${AWS_CLI:-aws}
end=$(( $(date +%s) / 300 * 300 )); start=$(( end - 12 * 3600 ))
$aws sts get-caller-identity >/dev/null
$aws cloudwatch describe-alarms --state-value ALARM --alarm-name-prefix acme-production- >/dev/null
arns=$($aws ecs list-services --cluster acme-production --query 'serviceArns[]' --output text)
for td in $($aws ecs describe-services --cluster acme-production --services $arns \
    --query 'services[].taskDefinition' --output text); do
  $aws ecs describe-task-definition --task-definition "$td" >/dev/null
done
metric() {  # namespace metric dimension value stat period
  $aws cloudwatch get-metric-data --start-time "$start" --end-time "$end" --metric-data-queries \
    "[{\"Id\":\"m0\",\"MetricStat\":{\"Metric\":{\"Namespace\":\"$1\",\"MetricName\":\"$2\",\"Dimensions\":[{\"Name\":\"$3\",\"Value\":\"$4\"}]},\"Period\":$6,\"Stat\":\"$5\"}}]" >/dev/null
}
metric AWS/RDS DatabaseConnections DBInstanceIdentifier acme-production-db Maximum 300
metric AWS/RDS ReadLatency DBInstanceIdentifier acme-production-db Average 300
metric AWS/ApplicationELB TargetResponseTime LoadBalancer app/acme-production/50dc6c495c0c9188 Average 300
metric AWS/ApplicationELB RequestCount LoadBalancer app/acme-production/50dc6c495c0c9188 Sum 3600
metric AWS/ApplicationELB HTTPCode_Target_5XX_Count LoadBalancer app/acme-production/50dc6c495c0c9188 Sum 3600
id=$($aws logs start-query --log-group-name /ecs/acme-production-api --start-time "$start" --end-time "$end" \
  --limit 100 --query-string 'fields @timestamp, @message, @requestId | filter @level = "ERROR" | stats count() by @service | sort count desc' \
  --query queryId --output text)
until [ "$($aws logs get-query-results --query-id "$id" --query status --output text)" = Complete ]; do sleep 0.2; done
