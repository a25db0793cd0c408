// Command fakeplugin stands in for the plugin executable in the package
// check's tests: it answers -buildinfo like an SDK plugin stamped with the
// version in its own ldflags.
package main

import (
	"fmt"
	"os"
)

var version = "0.0.0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-buildinfo" {
		fmt.Printf(`{"time":1,"pluginID":"settlewatch-settlement-datasource","version":%q}`+"\n", version)
		return
	}
	os.Exit(1)
}
