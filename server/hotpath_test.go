package server

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"

	pb "github.com/iaasbench/iaasbench/inferencepb"
	"github.com/iaasbench/iaasbench/internal/backend"
)

// The raw views agree with an explicit little-endian decoding, aligned or
// not (an unaligned slice is copied), and a wrong size is still refused
// with decodeRaw's error.
func TestRawViews(t *testing.T) {
	want := []float32{0, 1, -2.5, float32(math.Inf(1)), math.SmallestNonzeroFloat32, 3.4e38, -0}
	buf := make([]byte, 4*len(want)+3)
	for _, off := range []int{0, 1, 2, 3} {
		b := buf[off : off+4*len(want)]
		for i, v := range want {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		tensor := backend.Tensor{Type: pb.DataType_TYPE_FP32, Shape: []int64{int64(len(want))}}
		if err := decodeRawView("m", "x", &tensor, len(want), b); err != nil {
			t.Fatal(err)
		}
		got := tensor.FP32
		if len(got) != len(want) {
			t.Fatalf("offset %d: %d values, want %d", off, len(got), len(want))
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Errorf("offset %d value %d: %g, want %g", off, i, got[i], want[i])
			}
		}
		if back := rawBytes(got); string(back) != string(b) {
			t.Errorf("offset %d: rawBytes of the decoded values = %x, want %x", off, back, b)
		}
	}
	short := backend.Tensor{Type: pb.DataType_TYPE_FP32, Shape: []int64{3}}
	if err := decodeRawView("m", "x", &short, 3, buf[:8]); err == nil || !strings.Contains(err.Error(), "needs 12 bytes") {
		t.Errorf("8 bytes for 3 FP32 values: error %v, want decodeRaw's size error", err)
	}
	if got := rawBytes(nil); got == nil || len(got) != 0 {
		t.Errorf("rawBytes(nil) = %#v, want an empty non-nil slice", got)
	}
}

// Batch statistics per size, below and above the lock-free sizes,
// recorded concurrently, come out sorted with every execution counted.
func TestBatchStatsBySize(t *testing.T) {
	s := newModelStats()
	sizes := []int{8, 1, smallBatches + 43, 8, smallBatches - 1, smallBatches}
	done := make(chan struct{})
	for g := 0; g < 4; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for _, rows := range sizes {
				s.execution(rows, 1, 2, 3)
			}
		}()
	}
	for g := 0; g < 4; g++ {
		<-done
	}
	st := s.pb("m", "1")
	want := []struct{ size, count uint64 }{{1, 4}, {8, 8}, {smallBatches - 1, 4}, {smallBatches, 4}, {smallBatches + 43, 4}}
	if len(st.BatchStats) != len(want) {
		t.Fatalf("%d batch sizes, want %d: %v", len(st.BatchStats), len(want), st.BatchStats)
	}
	for i, w := range want {
		b := st.BatchStats[i]
		if b.BatchSize != w.size || b.ComputeInfer.Count != w.count || b.ComputeInfer.Ns != 2*w.count {
			t.Errorf("batch stats %d: size %d count %d ns %d, want size %d count %d ns %d",
				i, b.BatchSize, b.ComputeInfer.Count, b.ComputeInfer.Ns, w.size, w.count, 2*w.count)
		}
	}
	if st.ExecutionCount != 24 {
		t.Errorf("execution count %d, want 24", st.ExecutionCount)
	}
}
