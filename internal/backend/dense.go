package backend

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	pb "github.com/iaasbench/iaasbench/inferencepb"
)

// DenseName is the backend of fully connected networks: the talk's MLP and
// the noise remover.
const DenseName = "iaasbench_dense"

// Layer is one fully connected layer: out = act(W·in + B), W row-major
// [Out][In].
type Layer struct {
	In, Out    int
	W, B       []float32
	Activation string // relu, sigmoid, none
}

// Dense is a fully connected network with deterministic weights: the same
// seed and sizes give the same weights everywhere, so results can be
// checked against an independent computation.
type Dense struct {
	Layers []Layer

	// rowwise forces the Sgemv path even where the tiles run (tests and
	// benchmarks compare the two).
	rowwise bool
}

func newDense(p params) (*Dense, error) {
	if err := p.knownKeys("layers", "activation", "output_activation", "seed"); err != nil {
		return nil, err
	}
	if err := p.requireTypes(DenseName, pb.DataType_TYPE_FP32); err != nil {
		return nil, err
	}
	sizes, err := p.ints("layers")
	if err != nil {
		return nil, err
	}
	if len(sizes) < 2 {
		return nil, fmt.Errorf("parameter layers: need at least an input and an output size, got %v", sizes)
	}
	seed, err := p.int("seed", 1)
	if err != nil {
		return nil, err
	}
	act := p.str("activation", "relu")
	outAct := p.str("output_activation", "none")
	for _, a := range []string{act, outAct} {
		if a != "relu" && a != "sigmoid" && a != "none" {
			return nil, fmt.Errorf("activation %q: want relu, sigmoid or none", a)
		}
	}
	return NewDense(sizes, act, outAct, uint64(seed)), nil
}

// NewDense builds a network with layer sizes sizes[0]→sizes[1]→…, hidden
// activation act and output activation outAct. Weights follow PyTorch's
// default Linear initialisation, U(-1/√in, 1/√in), from a PCG seeded by seed.
func NewDense(sizes []int, act, outAct string, seed uint64) *Dense {
	d := &Dense{}
	for l := 0; l+1 < len(sizes); l++ {
		in, out := sizes[l], sizes[l+1]
		rng := rand.New(rand.NewPCG(seed, uint64(l)))
		bound := 1 / math.Sqrt(float64(in))
		ly := Layer{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out), Activation: act}
		if l+2 == len(sizes) {
			ly.Activation = outAct
		}
		for i := range ly.W {
			ly.W[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		for i := range ly.B {
			ly.B[i] = float32((rng.Float64()*2 - 1) * bound)
		}
		d.Layers = append(d.Layers, ly)
	}
	return d
}

// NewState: dense networks are stateless.
func (d *Dense) NewState() any { return nil }

// NewInstance gives an instance with its own activation buffers.
func (d *Dense) NewInstance() (Instance, error) {
	widest := 0
	for _, l := range d.Layers {
		widest = max(widest, l.Out, l.In)
	}
	inst := &denseInstance{d: d, a: make([]float32, widest), b: make([]float32, widest)}
	if haveTiles() && !d.rowwise {
		inst.tiles = newTiled(d)
	}
	return inst, nil
}

type denseInstance struct {
	d     *Dense
	a, b  []float32
	blas  gonum.Implementation
	tiles *tiled // nil: row-wise Sgemv
}

// Execute runs the batch in tiles of rows (densekernel.go) where the CPU
// has AVX2 and FMA, else row by row with Sgemv. Batched gonum Sgemm would
// start goroutines for the wider layers and is slower at the small batches
// the talk uses; both paths stay on the caller's goroutine, and the
// server's instances already give the parallelism.
func (in *denseInstance) Execute(_ context.Context, b *Batch) error {
	first, last := in.d.Layers[0], in.d.Layers[len(in.d.Layers)-1]
	x := b.Inputs[0].FP32
	if len(x) != b.Rows*first.In {
		return fmt.Errorf("input has %d values, want %d rows × %d", len(x), b.Rows, first.In)
	}
	// out is the response's: it outlives this execution, so it is not
	// scratch of the instance.
	out := make([]float32, b.Rows*last.Out)
	if in.tiles != nil {
		in.tiles.forward(x, b.Rows, out)
		b.Outputs = append(b.Outputs[:0], Tensor{Type: pb.DataType_TYPE_FP32, Shape: []int64{int64(b.Rows), int64(last.Out)}, FP32: out})
		return nil
	}
	for r := 0; r < b.Rows; r++ {
		cur := x[r*first.In : (r+1)*first.In]
		for li, l := range in.d.Layers {
			dst := in.a[:l.Out]
			if li%2 == 1 {
				dst = in.b[:l.Out]
			}
			if li == len(in.d.Layers)-1 {
				dst = out[r*l.Out : (r+1)*l.Out]
			}
			copy(dst, l.B)
			in.blas.Sgemv(blas.NoTrans, l.Out, l.In, 1, l.W, l.In, cur, 1, 1, dst, 1)
			activate(dst, l.Activation)
			cur = dst
		}
	}
	b.Outputs = append(b.Outputs[:0], Tensor{Type: pb.DataType_TYPE_FP32, Shape: []int64{int64(b.Rows), int64(last.Out)}, FP32: out})
	return nil
}

func activate(v []float32, act string) {
	switch act {
	case "relu":
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	case "sigmoid":
		for i, x := range v {
			v[i] = float32(1 / (1 + math.Exp(-float64(x))))
		}
	}
}
