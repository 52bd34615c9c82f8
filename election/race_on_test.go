//go:build race

package election

// raceEnabled: the race detector slows the simulation tenfold, so it runs fewer seeds.
const raceEnabled = true
