// Command campaignbench runs end-to-end load against a live campaignd over its HTTP API.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "campaignbench: no workloads yet")
	os.Exit(2)
}
