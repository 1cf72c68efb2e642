package main

import (
	"runtime/debug"
	"strings"
)

// version is the release version; release builds set it with -ldflags "-X main.version=v1.2.3".
// Otherwise the module version and VCS revision recorded by go build are used.
var version = ""

// buildVersion returns the version printed by -version and exposed as campaignd_build_info:
// "campaignd <version> (<revision>[, modified], <go version>)".
func buildVersion() (v, revision string) {
	v = version
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return firstNonEmpty(v, "unknown"), ""
	}
	if v == "" {
		v = bi.Main.Version
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(revision) > 12 {
		revision = revision[:12]
	}
	if modified && revision != "" {
		revision += "-modified"
	}
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	return v, revision
}

func versionLine() string {
	v, rev := buildVersion()
	bi, _ := debug.ReadBuildInfo()
	var parts []string
	if rev != "" {
		parts = append(parts, rev)
	}
	if bi != nil {
		parts = append(parts, bi.GoVersion)
	}
	return "campaignd " + v + " (" + strings.Join(parts, ", ") + ")"
}

// versionString is "<version>" or "<version>-<revision>".
func versionString() string {
	v, rev := buildVersion()
	if rev == "" {
		return v
	}
	return v + "-" + rev
}
