// Command pluginpkg packages and checks the settlewatch Grafana plugin.
//
//	pluginpkg zip -dist grafana-plugin/dist -out settlewatch-settlement-datasource-0.1.0.zip
//	pluginpkg check settlewatch-settlement-datasource-0.1.0.zip   (or a dist directory)
//
// check exits 1 and prints every problem when the package is not fit to ship.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/settlewatch/settlewatch/grafana-plugin/pkg/pluginpkg"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "zip":
		fs := flag.NewFlagSet("zip", flag.ExitOnError)
		dist := fs.String("dist", "dist", "the built plugin directory")
		out := fs.String("out", "", "the zip to write")
		_ = fs.Parse(os.Args[2:])
		if *out == "" {
			usage()
		}
		if err := pluginpkg.Zip(*dist, *out); err != nil {
			fmt.Fprintf(os.Stderr, "pluginpkg zip: %v\n", err)
			os.Exit(1)
		}
	case "check":
		if len(os.Args) != 3 {
			usage()
		}
		problems := pluginpkg.Check(os.Args[2])
		for _, p := range problems {
			fmt.Fprintf(os.Stderr, "  %v\n", p)
		}
		if len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "pluginpkg check %s: %d problem(s)\n", os.Args[2], len(problems))
			os.Exit(1)
		}
		fmt.Printf("pluginpkg check %s: ok\n", os.Args[2])
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: pluginpkg zip -dist DIR -out FILE.zip | pluginpkg check FILE.zip|DIR")
	os.Exit(2)
}
