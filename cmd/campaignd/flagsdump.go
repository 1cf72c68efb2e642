package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"
)

// flagsText renders the flags the way VictoriaMetrics' /flags does: one -name="value" line per
// flag (defaults included), secrets shown as "secret", and a URL's password hidden.
func flagsText(fs *flag.FlagSet) []byte {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) {
		v := f.Value.String()
		switch {
		case isSecretFlag(f.Name):
			if v != "" {
				v = "secret"
			}
		case strings.Contains(v, "://"):
			if u, err := url.Parse(v); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					u.User = url.UserPassword(u.User.Username(), "secret")
					v = u.String()
				}
			}
		}
		fmt.Fprintf(&b, "-%s=%q\n", f.Name, v)
	})
	return []byte(b.String())
}

// isSecretFlag reports whether a flag's value must never be shown: secrets, auth keys, passwords.
func isSecretFlag(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"secret", "authkey", "password", "token"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
