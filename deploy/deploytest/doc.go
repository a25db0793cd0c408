// Package deploytest checks the deployment files against the repository:
// deploy/compose (docker-compose.yaml, ClickHouse users, Grafana
// provisioning), deploy/docker (the Dockerfile), deploy/kubernetes (the
// kustomization and every manifest it lists) and deploy/clickhouse-cluster.
// The files are parsed (yaml.v3, encoding/xml), never run: no container
// engine is needed.
package deploytest
