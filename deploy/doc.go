// Package deploy holds the operator's files, not code: a Grafana dashboard
// (grafana/handover.json) and Prometheus alert rules
// (prometheus/alerts.yml) for the metrics Handover serves on /metrics. Its
// test keeps them honest: the dashboard must be a valid dashboard model,
// every PromQL expression must parse with Prometheus's own parser, the rules
// must load as Prometheus (promtool check rules) loads them, and every metric
// they read must be one the binary exports.
package deploy
