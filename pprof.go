//go:build pprof

package main

import (
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// A binary built with -tags pprof serves Go's profiler on
// HANDOVER_PPROF_ADDR (a loopback address), for docs/performance.md's
// "where the time goes". Release builds leave it out.
func init() {
	if addr := os.Getenv("HANDOVER_PPROF_ADDR"); addr != "" {
		go http.ListenAndServe(addr, nil)
	}
}
