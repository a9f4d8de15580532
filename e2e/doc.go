// Package e2e holds the black-box suites: each starts the real wiring (package
// app) or the real binary and drives it over loopback HTTP against the Genesys
// sandbox running as a server of its own: end to end, crash, faults, hostile
// load, security, scale-out on PostgreSQL and the console in headless Chromium.
// It has no code of its own outside its tests.
package e2e
