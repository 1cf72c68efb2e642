package main

import (
	"flag"
	"os"
	"strings"
	"testing"
)

// TestEveryFlagInREADME: the README's Flags table names every flag campaignd has.
func TestEveryFlagInREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "test.") {
			return
		}
		if !strings.Contains(readme, "| `-"+f.Name+"` |") {
			t.Errorf("the README's Flags table lacks -%s (%s)", f.Name, f.Usage)
		}
	})
}
