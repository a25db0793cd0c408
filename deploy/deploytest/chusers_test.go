package deploytest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chschema"
	"github.com/settlewatch/settlewatch/chtest"
)

// The ClickHouse users of deploy/compose/clickhouse (copied to
// deploy/kubernetes/clickhouse): the portable file (users, profiles, quota),
// the grants overlay for servers with access control, the database overlay
// for 18.16, and grants.sql. deploy/chusers runs the portable file and the
// database overlay on a real 18.16 server; these tests check what no server
// here can run: the files agree with each other and with the schema.

const (
	adminUser      = "settlewatch"
	collectorUser  = "settlewatch_collector"
	analyticsUser  = "settlewatch_analytics"
	grafanaUser    = "grafana"
	writerProfile  = "settlewatch_writer"
	grafanaProfile = "settlewatch_grafana"
	grafanaQuota   = "settlewatch_grafana"
	database       = "settlewatch"
)

var chUsersDir = filepath.Join(composeDir, "clickhouse")

// xmlNode is any XML element, for files whose element names are data (user
// and profile names).
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []xmlNode  `xml:",any"`
}

func (n xmlNode) name() string { return n.XMLName.Local }

func (n xmlNode) child(name string) (xmlNode, bool) {
	for _, c := range n.Children {
		if c.name() == name {
			return c, true
		}
	}
	return xmlNode{}, false
}

// childText is the trimmed text of the first child with that name.
func (n xmlNode) childText(name string) string {
	c, _ := n.child(name)
	return strings.TrimSpace(c.Text)
}

func (n xmlNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

func readXML(t *testing.T, path string) xmlNode {
	t.Helper()
	var n xmlNode
	if err := xml.Unmarshal(readFile(t, path), &n); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	// Both 18.16 and 24.x accept <clickhouse> as the root of a users.d file.
	if n.name() != "clickhouse" {
		t.Errorf("%s: root element <%s>, want <clickhouse>", path, n.name())
	}
	return n
}

// section returns the children of a top-level section by name.
func section(root xmlNode, name string) map[string]xmlNode {
	out := map[string]xmlNode{}
	if s, ok := root.child(name); ok {
		for _, c := range s.Children {
			out[c.name()] = c
		}
	}
	return out
}

type chUser struct {
	passwordEnv, profile, quota string
	node                        xmlNode
}

// passwordElems are the ways a users.d file can give a password.
var passwordElems = []string{"password", "password_sha256_hex", "password_double_sha1_hex"}

// portableUsers parses the users of the portable file, failing t on a
// password written into it.
func portableUsers(t *testing.T, path string) map[string]chUser {
	t.Helper()
	out := map[string]chUser{}
	for name, u := range section(readXML(t, path), "users") {
		cu := chUser{profile: u.childText("profile"), quota: u.childText("quota"), node: u}
		for _, c := range u.Children {
			if !slices.Contains(passwordElems, c.name()) {
				continue
			}
			if strings.TrimSpace(c.Text) != "" || c.attr("from_env") == "" {
				t.Errorf("%s: user %s: <%s> must be empty with from_env=\"VAR\": no secret in the file", path, name, c.name())
			}
			if cu.passwordEnv != "" {
				t.Errorf("%s: user %s has more than one password element", path, name)
			}
			cu.passwordEnv = c.attr("from_env")
		}
		if _, ok := u.child("no_password"); ok || cu.passwordEnv == "" {
			t.Errorf("%s: user %s has no password from the environment", path, name)
		}
		out[name] = cu
	}
	return out
}

func intSetting(t *testing.T, where string, n xmlNode, name string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(n.childText(name), 10, 64)
	if err != nil {
		t.Errorf("%s: %s: %v", where, name, err)
	}
	return v
}

func TestClickHouseUsersFile(t *testing.T) {
	path := filepath.Join(chUsersDir, "users.d", "settlewatch.xml")
	root := readXML(t, path)
	users := portableUsers(t, path)
	if got, want := slices.Sorted(maps.Keys(users)), []string{grafanaUser, adminUser, analyticsUser, collectorUser}; !slices.Equal(got, want) {
		t.Fatalf("users %v, want %v", got, want)
	}
	profiles, quotas := section(root, "profiles"), section(root, "quotas")
	envs := map[string]string{}
	for name, u := range users {
		if other, ok := envs[u.passwordEnv]; ok {
			t.Errorf("users %s and %s share the password variable %s", name, other, u.passwordEnv)
		}
		envs[u.passwordEnv] = name
		if _, ok := profiles[u.profile]; !ok && u.profile != "default" {
			t.Errorf("user %s: profile %q is not defined", name, u.profile)
		}
		if _, ok := quotas[u.quota]; !ok && u.quota != "default" {
			t.Errorf("user %s: quota %q is not defined", name, u.quota)
		}
		// Privileges live in exactly one overlay, chosen by server version.
		for _, c := range []string{"grants", "allow_databases", "access_management"} {
			if _, ok := u.node.child(c); ok {
				t.Errorf("user %s: <%s> belongs in an overlay, not in the portable file", name, c)
			}
		}
	}
	// 18.16 refuses every login of a user whose profile has constraints
	// ("Unknown setting constraints", code 115).
	for name, p := range profiles {
		if _, ok := p.child("constraints"); ok {
			t.Errorf("profile %s: constraints are for the grants overlay (18.16 has none)", name)
		}
	}
	if users[adminUser].profile != "default" {
		t.Errorf("%s has profile %q, want default: it runs the migrations", adminUser, users[adminUser].profile)
	}
	for _, name := range []string{collectorUser, analyticsUser} {
		p := profiles[users[name].profile]
		if users[name].profile != writerProfile || p.childText("allow_ddl") != "0" || p.childText("readonly") != "" {
			t.Errorf("user %s: profile %q must set allow_ddl=0 and leave readonly unset", name, users[name].profile)
		}
	}
	g := users[grafanaUser]
	gp := profiles[g.profile]
	if g.profile != grafanaProfile || gp.childText("readonly") != "2" {
		t.Errorf("user grafana: profile %q with readonly=%q, want %s with readonly=2 (reads; the data source sends settings)",
			g.profile, gp.childText("readonly"), grafanaProfile)
	}
	for _, s := range []string{"max_execution_time", "max_result_rows", "max_memory_usage"} {
		if intSetting(t, "profile "+g.profile, gp, s) <= 0 {
			t.Errorf("profile %s: %s must be a positive limit", g.profile, s)
		}
	}
	q, ok := quotas[g.quota]
	if g.quota != grafanaQuota || !ok {
		t.Fatalf("user grafana: quota %q, want %s", g.quota, grafanaQuota)
	}
	iv, _ := q.child("interval")
	for _, s := range []string{"duration", "queries", "errors", "result_rows"} {
		if intSetting(t, "quota "+g.quota, iv, s) <= 0 {
			t.Errorf("quota %s: %s must be positive", g.quota, s)
		}
	}
}

// grant is one privilege on one table ("*" for the whole database, "*.*"
// for the global one).
type grant struct{ user, priv, table string }

var grantRE = regexp.MustCompile(`^GRANT\s+([A-Z, ]+?)\s+ON\s+([a-z_*]+)\.([a-z_*]+)(?:\s+TO\s+([a-z_]+))?$`)

// tempTables is the one global grant: the rollup job stages a window in a
// session's temporary table (analytics/rollup).
const tempTables = "CREATE TEMPORARY TABLE"

// parseGrant expands "GRANT A, B ON db.t [TO role]" to one grant per privilege.
func parseGrant(t *testing.T, user, q string) []grant {
	t.Helper()
	m := grantRE.FindStringSubmatch(strings.Join(strings.Fields(q), " "))
	if m == nil {
		t.Errorf("grant %q: not of the form GRANT <privileges> ON %s.<table>", q, database)
		return nil
	}
	if m[2] == "*" && m[3] == "*" && m[1] == tempTables {
		m[3] = "*.*"
	} else if m[2] != database {
		t.Errorf("grant %q: database %q, want %s", q, m[2], database)
	}
	if m[4] != "" {
		user = m[4]
	}
	var out []grant
	for _, p := range strings.Split(m[1], ",") {
		out = append(out, grant{user, strings.TrimSpace(p), m[3]})
	}
	return out
}

// xmlGrants reads the grants overlay: user → grants.
func xmlGrants(t *testing.T) (map[string][]grant, xmlNode) {
	t.Helper()
	root := readXML(t, filepath.Join(chUsersDir, "users.d", "settlewatch-grants.xml"))
	out := map[string][]grant{}
	for name, u := range section(root, "users") {
		gs, ok := u.child("grants")
		if !ok || len(u.Children) != 1 {
			t.Errorf("grants overlay: user %s must have <grants> and nothing else", name)
			continue
		}
		for _, q := range gs.Children {
			out[name] = append(out[name], parseGrant(t, name, q.Text)...)
		}
	}
	return out, root
}

// sqlRoles maps the roles of grants.sql to the XML users they stand for.
var sqlRoles = map[string]string{
	"settlewatch_collector_role": collectorUser,
	"settlewatch_analytics_role": analyticsUser,
	"settlewatch_grafana_role":   grafanaUser,
}

// sqlStatements splits grants.sql into statements without comments.
func sqlStatements(t *testing.T, path string) []string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(string(readFile(t, path)), "\n") {
		if i := strings.Index(line, "--"); i >= 0 {
			line = line[:i]
		}
		b.WriteString(line + "\n")
	}
	var out []string
	for _, s := range strings.Split(b.String(), ";") {
		if s = strings.Join(strings.Fields(s), " "); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func TestClickHouseGrants(t *testing.T) {
	byUser, root := xmlGrants(t)
	portable := portableUsers(t, filepath.Join(chUsersDir, "users.d", "settlewatch.xml"))
	if got, want := slices.Sorted(maps.Keys(byUser)), []string{grafanaUser, analyticsUser, collectorUser}; !slices.Equal(got, want) {
		t.Errorf("grants overlay users %v, want %v (the schema owner keeps all privileges)", got, want)
	}
	tables := map[string]bool{"*": true}
	for _, tb := range chschema.All() {
		tables[tb.Name] = true
	}
	have := map[grant]bool{}
	for user, gs := range byUser {
		if _, ok := portable[user]; !ok {
			t.Errorf("grants overlay: user %s is not defined in settlewatch.xml", user)
		}
		for _, g := range gs {
			if g.table == "*.*" {
				have[g] = true
				continue
			}
			if !tables[g.table] {
				t.Errorf("user %s: grant on %s.%s, which is not a table of the schema (chschema.All)", user, database, g.table)
			}
			if g.priv != "SELECT" && g.priv != "INSERT" {
				t.Errorf("user %s: %s on %s: application users only read and insert", user, g.priv, g.table)
			}
			have[g] = true
		}
	}
	// Exactly what each program does (assembly reads all facts of a
	// transaction, at ingest those of the recent days, listed in
	// recent_fact_counts_by_hash; the sweep re-writes transactions; the materialized
	// views fill transactions_by_time from transaction_versions, and
	// recent_fact_counts_by_hash from payment_facts_by_arrival).
	var want []grant
	add := func(user, priv string, ts ...chschema.Table) {
		for _, tb := range ts {
			want = append(want, grant{user, priv, tb.Name})
		}
	}
	ingest := []chschema.Table{chschema.Spans, chschema.PaymentFacts, chschema.RecentFactCounts, chschema.BatchCloses}
	add(collectorUser, "SELECT", ingest...)
	add(collectorUser, "INSERT", append(ingest, chschema.Transactions, chschema.TransactionsByTime)...)
	want = append(want, grant{analyticsUser, "SELECT", "*"})
	add(analyticsUser, "INSERT", append(chschema.AnalyticsTables(), chschema.Transactions, chschema.TransactionsByTime)...)
	want = append(want, grant{analyticsUser, tempTables, "*.*"})
	want = append(want, grant{grafanaUser, "SELECT", "*"})
	for _, g := range want {
		if !have[g] {
			t.Errorf("grants overlay: %s lacks %s on %s", g.user, g.priv, g.table)
		}
		delete(have, g)
	}
	for g := range have {
		t.Errorf("grants overlay: %s has %s on %s, which it does not need", g.user, g.priv, g.table)
	}

	// grants.sql holds the same grants, as roles.
	sqlHave := map[grant]bool{}
	for _, s := range sqlStatements(t, filepath.Join(chUsersDir, "grants.sql")) {
		if !strings.HasPrefix(s, "GRANT ") {
			continue
		}
		for _, g := range parseGrant(t, "", s) {
			user, ok := sqlRoles[g.user]
			if !ok {
				t.Errorf("grants.sql grants to %q, not one of %v", g.user, slices.Sorted(maps.Keys(sqlRoles)))
			}
			g.user = user
			sqlHave[g] = true
		}
	}
	xmlSet := map[grant]bool{}
	for _, gs := range byUser {
		for _, g := range gs {
			xmlSet[g] = true
		}
	}
	if only := minus(sqlHave, xmlSet); len(only) > 0 {
		t.Errorf("grants.sql grants %v, which settlewatch-grants.xml does not", only)
	}
	if only := minus(xmlSet, sqlHave); len(only) > 0 {
		t.Errorf("settlewatch-grants.xml grants %v, which grants.sql does not", only)
	}

	// The constraints bound what Grafana may raise its profile's defaults to.
	defaults := section(readXML(t, filepath.Join(chUsersDir, "users.d", "settlewatch.xml")), "profiles")[grafanaProfile]
	cons := section(section(root, "profiles")[grafanaProfile], "constraints")
	for _, s := range []string{"max_execution_time", "max_result_rows", "max_memory_usage"} {
		c, ok := cons[s]
		if !ok {
			t.Errorf("grants overlay: profile %s has no constraint on %s: readonly=2 lets Grafana raise it", grafanaProfile, s)
			continue
		}
		if max, def := intSetting(t, "constraint", c, "max"), intSetting(t, "profile", defaults, s); max < def {
			t.Errorf("constraint %s max %d is below the profile's own %d", s, max, def)
		}
	}
}

// minus lists the grants of a that b lacks, as user:privilege:table.
func minus(a, b map[grant]bool) []string {
	var out []string
	for g := range a {
		if !b[g] {
			out = append(out, fmt.Sprintf("%s:%s:%s", g.user, g.priv, g.table))
		}
	}
	slices.Sort(out)
	return out
}

// grants.sql's profiles and quota carry the portable file's values.
func TestClickHouseGrantsSQLLimits(t *testing.T) {
	root := readXML(t, filepath.Join(chUsersDir, "users.d", "settlewatch.xml"))
	profiles, quotas := section(root, "profiles"), section(root, "quotas")
	var sql string
	for _, s := range sqlStatements(t, filepath.Join(chUsersDir, "grants.sql")) {
		sql += s + ";\n"
	}
	setting := func(stmt, name string) string {
		m := regexp.MustCompile(`\b` + name + ` = ('?[A-Za-z0-9_]+'?)`).FindStringSubmatch(stmt)
		if m == nil {
			return ""
		}
		return strings.Trim(m[1], "'")
	}
	stmt := func(prefix string) string {
		for _, s := range strings.Split(sql, ";\n") {
			if strings.HasPrefix(s, prefix) {
				return s
			}
		}
		t.Errorf("grants.sql has no %q statement", prefix)
		return ""
	}
	w := stmt("CREATE SETTINGS PROFILE OR REPLACE settlewatch_writer_sql ")
	if got := setting(w, "allow_ddl"); got != profiles[writerProfile].childText("allow_ddl") {
		t.Errorf("grants.sql writer allow_ddl %q, settlewatch.xml %q", got, profiles[writerProfile].childText("allow_ddl"))
	}
	for _, role := range []string{"settlewatch_collector_role", "settlewatch_analytics_role"} {
		if !strings.Contains(w, role) {
			t.Errorf("grants.sql writer profile is not given to %s", role)
		}
	}
	g := stmt("CREATE SETTINGS PROFILE OR REPLACE settlewatch_grafana_sql ")
	for _, c := range profiles[grafanaProfile].Children {
		if got := setting(g, c.name()); got != strings.TrimSpace(c.Text) {
			t.Errorf("grants.sql grafana profile %s=%q, settlewatch.xml %q", c.name(), got, strings.TrimSpace(c.Text))
		}
	}
	q := stmt("CREATE QUOTA OR REPLACE settlewatch_grafana_sql ")
	iv, _ := quotas[grafanaQuota].child("interval")
	if !strings.Contains(q, "FOR INTERVAL "+iv.childText("duration")+" second") || !strings.Contains(q, "TO settlewatch_grafana_role") {
		t.Errorf("grants.sql quota %q: want the interval of %s seconds, to settlewatch_grafana_role", q, iv.childText("duration"))
	}
	for _, s := range []string{"queries", "errors", "result_rows"} {
		if got := setting(q, s); got != iv.childText(s) {
			t.Errorf("grants.sql quota %s=%q, settlewatch.xml %q", s, got, iv.childText(s))
		}
	}
}

func TestClickHouseLegacyDatabases(t *testing.T) {
	root := readXML(t, filepath.Join(chUsersDir, "legacy", "settlewatch-databases.xml"))
	users := section(root, "users")
	if got, want := slices.Sorted(maps.Keys(users)), []string{grafanaUser, analyticsUser, collectorUser}; !slices.Equal(got, want) {
		t.Errorf("legacy overlay users %v, want %v", got, want)
	}
	for name, u := range users {
		dbs, ok := u.child("allow_databases")
		if !ok || len(u.Children) != 1 || len(dbs.Children) != 1 || strings.TrimSpace(dbs.Children[0].Text) != database {
			t.Errorf("legacy overlay: user %s must have only allow_databases = [%s]", name, database)
		}
	}
	// The 25.x compose stack uses grants; a 24.x server refuses a user with
	// both allow_databases and grants.
	for _, v := range list(services(t), "clickhouse", "volumes") {
		if strings.Contains(v.(string), "legacy/") {
			t.Errorf("compose mounts %s: the legacy overlay conflicts with the grants overlay", v)
		}
	}
}

// No ClickHouse configuration file in deploy/ holds a password.
func TestNoPasswordInUsersFiles(t *testing.T) {
	var files []string
	err := filepath.WalkDir(repoPath("deploy"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".xml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, f := range files {
		var n xmlNode
		if err := xml.Unmarshal(readFile(t, f), &n); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		for _, u := range section(n, "users") {
			users++
			for _, c := range u.Children {
				if slices.Contains(passwordElems, c.name()) && strings.TrimSpace(c.Text) != "" {
					t.Errorf("%s: user %s has a literal %s", f, u.name(), c.name())
				}
			}
		}
	}
	if users < 10 { // 4 + 3 + 3 users in compose, twice that with the copies
		t.Errorf("found only %d user entries in %d XML files under deploy/", users, len(files))
	}
}

func TestKubernetesClickHouseUsers(t *testing.T) {
	k, objs := kustomize(t)
	// The ConfigMap for the existing ClickHouse carries copies of the
	// compose files (kustomize cannot read outside its folder).
	var files []string
	for _, g := range list(k, "configMapGenerator") {
		if str(g, "name") == "settlewatch-clickhouse-users" {
			for _, f := range list(g, "files") {
				_, src, _ := strings.Cut(f.(string), "=")
				files = append(files, src)
			}
		}
	}
	slices.Sort(files)
	if want := []string{"clickhouse/grants.sql", "clickhouse/users.d/settlewatch-grants.xml", "clickhouse/users.d/settlewatch.xml"}; !slices.Equal(files, want) {
		t.Errorf("ConfigMap settlewatch-clickhouse-users files %v, want %v", files, want)
	}
	for _, f := range files {
		rel := strings.TrimPrefix(f, "clickhouse/")
		if !bytes.Equal(readFile(t, filepath.Join(k8sDir, f)), readFile(t, filepath.Join(chUsersDir, rel))) {
			t.Errorf("deploy/kubernetes/%s differs from deploy/compose/clickhouse/%s: copy it again", f, rel)
		}
	}
	// The analytics daemon runs as its own user; its init container migrates
	// as the schema owner of the ConfigMap.
	users := portableUsers(t, filepath.Join(chUsersDir, "users.d", "settlewatch.xml"))
	dep := objs["Deployment/settlewatch-analytics"].doc
	init := list(dep, "spec", "template", "spec", "initContainers")
	main := list(dep, "spec", "template", "spec", "containers")
	if len(init) != 1 || len(main) != 1 {
		t.Fatalf("analytics: %d init containers, %d containers", len(init), len(main))
	}
	if env := envOf(init[0]); env["SETTLEWATCH_CH_USER"] != "" || env["SETTLEWATCH_CH_PASSWORD"] != "secret:settlewatch-clickhouse-credentials/password" {
		t.Errorf("migrate init container env %v: want the ConfigMap's schema owner and the Secret key password", env)
	}
	var owner string
	for _, g := range list(k, "configMapGenerator") {
		for _, l := range list(g, "literals") {
			if v, ok := strings.CutPrefix(l.(string), "SETTLEWATCH_CH_USER="); ok && str(g, "name") == "settlewatch-clickhouse" {
				owner = v
			}
		}
	}
	if owner != adminUser || users[owner].profile != "default" {
		t.Errorf("the ConfigMap's SETTLEWATCH_CH_USER is %q, want the schema owner %s", owner, adminUser)
	}
	env := envOf(main[0])
	if env["SETTLEWATCH_CH_USER"] != analyticsUser || env["SETTLEWATCH_CH_PASSWORD"] != "secret:settlewatch-clickhouse-credentials/analytics-password" {
		t.Errorf("analytics container env %v: want user %s with the Secret key analytics-password", env, analyticsUser)
	}
	if slices.Contains(list(main[0], "args"), "-migrate") {
		t.Error("analytics runs with -migrate, but its user may not run DDL")
	}
}

// The 18.16 merge tuning is a server config.d file that sets what the test
// server (chtest) runs with: every merge column by column.
func TestLegacyMergesConfig(t *testing.T) {
	root := readXML(t, filepath.Join(chUsersDir, "legacy", "settlewatch-merges.xml"))
	mt, ok := root.child("merge_tree")
	if !ok || len(root.Children) != 1 {
		t.Fatalf("want one <merge_tree> section, got %+v", root.Children)
	}
	if got := mt.childText("vertical_merge_algorithm_min_rows_to_activate"); got != "1" || len(mt.Children) != 1 {
		t.Errorf("merge_tree settings %+v, want only vertical_merge_algorithm_min_rows_to_activate = 1", mt.Children)
	}
}

// The 18.16 allocator drop-in gives the server the MALLOC_CONF the test and
// benchmark servers run with, in a [Service] section systemd reads.
func TestLegacyAllocatorDropIn(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chUsersDir, "legacy", "settlewatch-jemalloc.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var section string
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]" && strings.HasPrefix(line, "Environment="):
			env = append(env, strings.TrimPrefix(line, "Environment="))
		default:
			t.Errorf("unexpected line %q in section %q", line, section)
		}
	}
	if want := "MALLOC_CONF=" + chtest.AllocatorConf; !slices.Equal(env, []string{want}) {
		t.Errorf("drop-in environment %q, want [%q]", env, want)
	}
}
