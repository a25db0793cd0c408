package deploytest

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/settlewatch/settlewatch/chconn"
)

var clusterDir = repoPath("deploy", "clickhouse-cluster")

type clusterXML struct {
	RemoteServers struct {
		Clusters []struct {
			XMLName xml.Name
			Shards  []struct {
				InternalReplication string `xml:"internal_replication"`
				Replicas            []struct {
					Host string `xml:"host"`
					Port int    `xml:"port"`
				} `xml:"replica"`
			} `xml:"shard"`
		} `xml:",any"`
	} `xml:"remote_servers"`
	ZooKeeper struct {
		Nodes []struct {
			Host string `xml:"host"`
			Port int    `xml:"port"`
		} `xml:"node"`
	} `xml:"zookeeper"`
	DDLPath         string `xml:"distributed_ddl>path"`
	InterserverPort int    `xml:"interserver_http_port"`
}

type macrosXML struct {
	Shard           string `xml:"macros>shard"`
	Replica         string `xml:"macros>replica"`
	InterserverHost string `xml:"interserver_http_host"`
}

func TestClusterConfig(t *testing.T) {
	var c clusterXML
	if err := xml.Unmarshal(readFile(t, filepath.Join(clusterDir, "config.d", "cluster.xml")), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.RemoteServers.Clusters) != 1 {
		t.Fatalf("%d clusters in remote_servers, want 1", len(c.RemoteServers.Clusters))
	}
	cl := c.RemoteServers.Clusters[0]
	name := cl.XMLName.Local
	if !chconn.ValidIdent(name) {
		t.Errorf("cluster name %q cannot be used in ON CLUSTER", name)
	}
	if len(cl.Shards) != 1 || len(cl.Shards[0].Replicas) != 2 {
		t.Fatalf("cluster %s: want one shard with two replicas, got %+v", name, cl.Shards)
	}
	if cl.Shards[0].InternalReplication != "true" {
		t.Error("internal_replication must be true: the tables replicate themselves")
	}
	if len(c.ZooKeeper.Nodes) == 0 || c.DDLPath == "" || c.InterserverPort == 0 {
		t.Errorf("zookeeper %+v, distributed_ddl path %q, interserver port %d", c.ZooKeeper, c.DDLPath, c.InterserverPort)
	}
	// One macros file per replica of the shard, each naming itself.
	seen := map[string]bool{}
	for _, r := range cl.Shards[0].Replicas {
		var m macrosXML
		if err := xml.Unmarshal(readFile(t, filepath.Join(clusterDir, "replicas", r.Host+".xml")), &m); err != nil {
			t.Fatalf("replica %s: %v", r.Host, err)
		}
		if m.Shard != "01" || m.Replica != r.Host || m.InterserverHost != r.Host || seen[m.Replica] {
			t.Errorf("replica %s: macros shard=%q replica=%q interserver host %q", r.Host, m.Shard, m.Replica, m.InterserverHost)
		}
		seen[m.Replica] = true
	}
	// The collector overlay names the same cluster.
	overlay := yamlDoc(t, filepath.Join(clusterDir, "collector-cluster.yaml"))
	if got := str(overlay, "exporters", "settlewatch_clickhouse", "cluster"); got != name {
		t.Errorf("collector-cluster.yaml sets cluster %q, remote_servers has %q", got, name)
	}
	users := readFile(t, filepath.Join(clusterDir, "users.d", "settlewatch-cluster.xml"))
	if !bytes.Contains(users, []byte("<insert_distributed_sync>1</insert_distributed_sync>")) {
		t.Error("users.d/settlewatch-cluster.xml must set insert_distributed_sync=1")
	}
}

func TestClusterScript(t *testing.T) {
	p := filepath.Join(clusterDir, "test.sh")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&0o111 == 0 {
		t.Error("test.sh is not executable")
	}
	s := string(readFile(t, p))
	for _, want := range []string{"SETTLEWATCH_CLUSTER_TEST=1", "./clustertest", "zookeeper", "-timeout"} {
		if !strings.Contains(s, want) {
			t.Errorf("test.sh does not mention %q", want)
		}
	}
}
