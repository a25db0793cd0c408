package chtest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"text/template"
)

// The server configuration, verified on 18.16 (root element <yandex>; modern
// servers still accept it). Everything the server writes stays under the
// directory, and it listens on 127.0.0.1 only.
var configXML = template.Must(template.New("config.xml").Funcs(template.FuncMap{"x": xmlEscape}).Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>{{x .Dir}}/log/clickhouse-server.log</log>
        <errorlog>{{x .Dir}}/log/clickhouse-server.err.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.TCPPort}}</tcp_port>
    <http_port>{{.HTTPPort}}</http_port>
    <path>{{x .Dir}}/data/</path>
    <tmp_path>{{x .Dir}}/tmp/</tmp_path>
    <user_files_path>{{x .Dir}}/user_files/</user_files_path>
    <format_schema_path>{{x .Dir}}/format_schemas/</format_schema_path>
    <users_config>users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>268435456</mark_cache_size>
    <timezone>UTC</timezone>
    <!-- Queries are logged so tests can prove what reached the server. -->
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <flush_interval_milliseconds>1000</flush_interval_milliseconds>
    </query_log>
    <!-- Parts written and merged, so benchmarks can tell inserts from merges. -->
    <part_log>
        <database>system</database>
        <table>part_log</table>
        <flush_interval_milliseconds>1000</flush_interval_milliseconds>
    </part_log>
    <!-- Every merge column by column (vertical), not only merges of 128k rows
         or more: on 18.16 a row-by-row merge of a wide table costs a third
         more, and ingest's merges are mostly small ones
         (docs/benchmarks.md, "Vertical merges";
         deploy/compose/clickhouse/legacy/settlewatch-merges.xml). -->
    <merge_tree>
        <vertical_merge_algorithm_min_rows_to_activate>1</vertical_merge_algorithm_min_rows_to_activate>
    </merge_tree>
    <macros>
        <settlewatch_server_id>{{x .ID}}</settlewatch_server_id>
    </macros>
</yandex>
`))

// users.xml: the default user without a password, reachable from loopback only.
//
// max_threads is the machine's logical CPUs: 18.16 defaults it to the
// physical cores it counts through cpuid, and on some virtual machines (an
// AMD EPYC guest with 2 vCPUs) it counts one, so every SELECT, and every
// GROUP BY of the rollup job, ran on one core of two (docs/benchmarks.md,
// "One thread a query, and page faults").
var usersXML = template.Must(template.New("users.xml").Parse(`<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>4000000000</max_memory_usage>
            <max_threads>{{.MaxThreads}}</max_threads>
            <log_queries>1</log_queries>
        </default>
        <readonly>
            <readonly>1</readonly>
        </readonly>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks>
                <ip>127.0.0.1</ip>
                <ip>::1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`))

func xmlEscape(s string) (string, error) {
	var b bytes.Buffer
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// serverIDMacro names a macro whose value is unique to one start of a server,
// so that the starter can tell its own server from another on the same port.
const serverIDMacro = "settlewatch_server_id"

// WriteConfig writes config.xml and users.xml for a server rooted at dir
// (absolute) and creates the directories the server writes to.
func WriteConfig(dir string, tcpPort, httpPort int) error {
	_, err := writeConfig(dir, tcpPort, httpPort)
	return err
}

// writeConfig also returns the server id it put in the config.
func writeConfig(dir string, tcpPort, httpPort int) (id string, err error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("clickhouse config: directory %q must be absolute", dir)
	}
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return "", fmt.Errorf("clickhouse config: %w", err)
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	id = hex.EncodeToString(rnd[:])
	var b bytes.Buffer
	err = configXML.Execute(&b, struct {
		Dir               string
		TCPPort, HTTPPort int
		ID                string
	}{dir, tcpPort, httpPort, id})
	if err != nil {
		return "", fmt.Errorf("clickhouse config: render config.xml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("clickhouse config: %w", err)
	}
	b.Reset()
	if err := usersXML.Execute(&b, struct{ MaxThreads int }{runtime.NumCPU()}); err != nil {
		return "", fmt.Errorf("clickhouse config: render users.xml: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), b.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("clickhouse config: %w", err)
	}
	return id, nil
}
