// Command gpx_settlewatch is the backend of the settlewatch Grafana data
// source. Grafana starts it (hashicorp/go-plugin over gRPC) and talks to it
// through the plugin SDK; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

func main() {
	// Manage serves the data source with automatic instance management: an
	// instance per data source and settings version, disposed when replaced.
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
