//go:build race

package e2e

// raceDetector says the tests run under -race, which makes the server several
// times slower: the load test then lowers its default rate.
const raceDetector = true
