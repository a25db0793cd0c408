// Command gpx_settlewatch is the backend of the settlewatch Grafana data
// source. Grafana starts it (hashicorp/go-plugin over gRPC) and talks to it
// through the plugin SDK; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/settlewatch/settlewatch/gctarget"
	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/plugin"
)

// gcPercent is the plugin's garbage-collection target unless the operator
// sets GOGC. Its live heap is a few MB, so at Go's default a month's hourly
// trend ran several collections per request; at 400 the plugin's overhead on
// that trend fell by about a third, for 16 MiB more peak RSS
// (docs/benchmarks.md, "Plugin").
const gcPercent = 400

func main() {
	gctarget.SetPercent(gcPercent, os.Getenv)
	// Manage serves the data source with automatic instance management: an
	// instance per data source and settings version, disposed when replaced.
	if err := datasource.Manage(plugin.PluginID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error(err.Error())
		os.Exit(1)
	}
}
