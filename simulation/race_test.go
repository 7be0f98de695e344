//go:build race

package simulation

// raceEnabled shortens the long runs under the race detector, which makes
// the router about five times slower.
const raceEnabled = true
