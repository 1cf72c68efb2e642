// Package bench holds benchmark workloads as Config + Run functions, used by `go test -bench` and
// by cmd/campaignbench.
package bench
