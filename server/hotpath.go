package server

import goruntime "runtime"

// grpcWorkers is how many goroutines gRPC keeps for serving calls. A call
// that finds none idle gets a fresh goroutine, whose stack then grows
// (copied twice or thrice) through the inference path: measured as 5–6%
// of the server's CPU with the talk's 8 requests in flight when there
// were GOMAXPROCS workers, because calls here block (waiting for an
// instance, a batch or a sequence slot) and so hold their worker. Enough
// workers for the requests usually in flight keeps each stack grown once;
// an idle worker costs its stack (a few KiB).
func grpcWorkers() uint32 { return uint32(max(64, 8*goruntime.GOMAXPROCS(0))) }
