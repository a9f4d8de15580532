//go:build !race

package e2e

// raceDetector says the tests run under -race (see race_on_test.go).
const raceDetector = false
