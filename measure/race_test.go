//go:build race

package measure

// raceEnabled relaxes timing assertions: the race detector slows gRPC
// several times over, so schedules and latencies are not what they test.
const raceEnabled = true
