// Package workload names the ways a load is offered to a served model:
// the loop that paces requests, the RPC that carries them and, in open
// loop, the arrival process. Scenarios are written with these names,
// package measure runs them and results record them, so they are defined
// here, once, in a package that depends on nothing.
package workload

// Load modes.
const (
	ModeClosed = "closed" // each in-flight slot sends its next request when the last returns
	ModeOpen   = "open"   // requests are sent on a schedule, whatever the server does
)

// RPC kinds.
const (
	RPCUnary  = "unary"  // one ModelInfer call per request
	RPCStream = "stream" // one bidirectional ModelStreamInfer per client
)

// Arrival processes of an open loop.
const (
	ArrivalConstant = "constant" // evenly spaced sends
	ArrivalPoisson  = "poisson"  // exponentially distributed gaps
	ArrivalFrames   = "frames"   // data arrives in 1 s frames (a square wave), as from a detector: r requests at each whole second
)
