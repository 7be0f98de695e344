//go:build race

package stats

// raceEnabled shrinks the simulations under the race detector, which makes
// the router about ten times slower.
const raceEnabled = true
