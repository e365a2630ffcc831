package server

import (
	"encoding/binary"
	"math"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// grpcWorkers is how many goroutines gRPC keeps for serving calls. A call
// that finds none idle gets a fresh goroutine, whose stack then grows
// (copied twice or thrice) through the inference path: measured as 5–6%
// of the server's CPU with the talk's 8 requests in flight when there
// were GOMAXPROCS workers, because calls here block (waiting for an
// instance, a batch or a sequence slot) and so hold their worker. Enough
// workers for the requests usually in flight keeps each stack grown once;
// an idle worker costs its stack (a few KiB).
func grpcWorkers() uint32 { return uint32(max(64, 8*goruntime.GOMAXPROCS(0))) }

// littleEndian reports whether this CPU stores words as Triton's raw
// tensors do (little-endian): amd64 and arm64 do.
func littleEndian() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}

// decodeRawView is decodeRaw for gRPC's raw_input_contents, which belong
// to the request (slices of its own message body, see decodeInferRequest;
// or bytes of their own where proto.Unmarshal decoded it). On a
// little-endian CPU an FP32 input of the right size needs no decoding
// pass: 4-byte aligned, it becomes a view of its bytes (no allocation, no
// copy); unaligned, one memmove into a fresh []float32 rather than a loop
// over its values (a misaligned *float32 is not allowed). The view lives
// no longer than the request, and backends only read their inputs. (HTTP
// bodies are pooled and reused, so HTTP keeps decodeRaw's copy.)
func decodeRawView(model, name string, t *backend.Tensor, n int, raw []byte) error {
	if t.Type == pb.DataType_TYPE_FP32 && n > 0 && len(raw) == 4*n && littleEndian() {
		if p := unsafe.SliceData(raw); uintptr(unsafe.Pointer(p))%4 == 0 {
			t.FP32 = unsafe.Slice((*float32)(unsafe.Pointer(p)), n)
		} else {
			t.FP32 = make([]float32, n)
			copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(t.FP32))), 4*n), raw)
		}
		return nil
	}
	return decodeRaw(model, name, t, n, raw)
}

// rawBytes returns FP32 values as raw little-endian bytes: on a
// little-endian CPU a view of f rather than a copy. Outputs are the
// request's own (an execution's fresh buffer, its share of a batch's, or
// its own inputs) and nothing writes them once the execution is over.
func rawBytes(f []float32) []byte {
	if len(f) == 0 {
		return make([]byte, 0)
	}
	if littleEndian() {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), 4*len(f))
	}
	b := make([]byte, 4*len(f))
	for k, v := range f {
		binary.LittleEndian.PutUint32(b[4*k:], math.Float32bits(v))
	}
	return b
}

// streamWorkers run a stream's requests that may run concurrently on
// goroutines kept for the stream's life. A goroutine per request grew a
// fresh stack for each (newstack/copystack: ~1.5 µs per request of the
// talk's, profiled over a stream). A request that finds no worker idle
// starts one, so requests run as concurrently as before; a worker that
// finishes waits for the next unless maxIdle already wait.
type streamWorkers struct {
	serve   func(*pb.ModelInferRequest)
	work    chan *pb.ModelInferRequest // unbuffered: a send succeeds only into an idle worker
	idle    atomic.Int32
	maxIdle int32
	wg      sync.WaitGroup
}

func newStreamWorkers(serve func(*pb.ModelInferRequest)) *streamWorkers {
	return &streamWorkers{serve: serve, work: make(chan *pb.ModelInferRequest), maxIdle: int32(grpcWorkers())}
}

// run serves req on an idle worker or a new one.
func (w *streamWorkers) run(req *pb.ModelInferRequest) {
	select {
	case w.work <- req:
	default:
		w.wg.Add(1)
		go w.loop(req)
	}
}

func (w *streamWorkers) loop(req *pb.ModelInferRequest) {
	defer w.wg.Done()
	for {
		w.serve(req)
		if w.idle.Add(1) > w.maxIdle {
			w.idle.Add(-1)
			return
		}
		var ok bool
		req, ok = <-w.work
		w.idle.Add(-1)
		if !ok {
			return
		}
	}
}

// close lets idle workers go and waits for the busy ones to finish.
func (w *streamWorkers) close() {
	close(w.work)
	w.wg.Wait()
}
