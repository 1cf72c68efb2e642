package main

import (
	"fmt"
	"log/slog"
	"syscall"
)

// reservedFDs are the file descriptors left to everything but client connections: Pebble's
// files (its table cache opens up to about 1,000), the WAL, the sinks' connections.
const reservedFDs = 1024

// raiseOpenFileLimit raises the soft RLIMIT_NOFILE to the hard limit (Go does it at start on
// Linux too; doing it here makes it explicit and logged) and returns the soft limit in force.
func raiseOpenFileLimit(log *slog.Logger) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("cannot read the open file limit: %w", err)
	}
	if lim.Cur < lim.Max {
		raised := lim
		raised.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			log.Warn("cannot raise the open file limit to the hard limit", "soft", lim.Cur, "hard", lim.Max, "err", err)
		} else {
			lim = raised
		}
	}
	log.Info("open file limit", "soft", lim.Cur, "hard", lim.Max)
	return lim.Cur, nil
}

// connectionLimit returns the -http.maxConcurrentConns in force: flagValue when set, else
// 10,000 or what the open file limit leaves beside reservedFDs, whichever is smaller (at
// least 64). A flag value the limit cannot hold is kept and logged: accepting past the limit
// waits for descriptors (accept errors are retried) instead of failing.
func connectionLimit(log *slog.Logger, flagValue int, nofile uint64) int {
	avail := 64
	if nofile > reservedFDs+64 {
		avail = int(min(nofile-reservedFDs, 1<<30))
	}
	if flagValue > 0 {
		if flagValue > avail {
			log.Warn("-http.maxConcurrentConns exceeds what the open file limit leaves for connections; connections past it wait for file descriptors",
				"maxConcurrentConns", flagValue, "open_file_limit", nofile, "reserved", reservedFDs)
		}
		return flagValue
	}
	return min(10000, avail)
}
