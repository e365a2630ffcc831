package backend

// The dense backend's fast path: each layer as one product of the batch
// with the weights, in tiles of 4 rows × 16 outputs computed by AVX2/FMA
// code (densekernel_amd64.s) where the CPU has it. Row-wise gonum Sgemv
// (the fallback, dense.go) reads every weight once per row and runs
// 4-wide; a tile reads each weight once per 4 rows into 8-wide fused
// multiply-adds, which is what the talk's MLP at batch 8 needs (~3× less
// CPU per execution here). Gonum's Sgemm would batch too, but it starts
// goroutines for the 64×256 layer even at batch 8 and is slower than the
// row-wise calls.
//
// Results do not depend on the batch: every output is summed in the same
// order (bias first, then inputs in order, one fused multiply-add each)
// whichever tile computes its row, so a request's outputs are the same
// bits alone or merged into a dynamic batch. They differ from the Sgemv
// path's in the last bits (fused rounding, another summation order).

// tileCols is the width of a tile: two 8-float AVX registers.
const tileCols = 16

// packedLayer is a layer laid out for the tiles: its outputs in blocks of
// tileCols, each block stored input-major (w[b*in*16 + i*16 + c] is
// W[b*16+c][i]) so a tile reads it front to back, zero-padded past Out;
// the bias padded likewise.
type packedLayer struct {
	in, out, outPad int
	w, b            []float32
	relu            bool   // applied by the tile as it stores
	act             string // any other activation, applied after
}

func pack(l Layer) packedLayer {
	p := packedLayer{in: l.In, out: l.Out, outPad: (l.Out + tileCols - 1) / tileCols * tileCols, act: l.Activation}
	p.relu = l.Activation == "relu"
	p.w = make([]float32, p.outPad*l.In)
	p.b = make([]float32, p.outPad)
	copy(p.b, l.B)
	for j := 0; j < l.Out; j++ {
		blk, c := j/tileCols, j%tileCols
		for i := 0; i < l.In; i++ {
			p.w[blk*l.In*tileCols+i*tileCols+c] = l.W[j*l.In+i]
		}
	}
	return p
}

// tiled holds an instance's packed layers and scratch activations.
type tiled struct {
	layers  []packedLayer
	scratch [2][]float32
}

func newTiled(d *Dense) *tiled {
	t := &tiled{}
	for _, l := range d.Layers {
		t.layers = append(t.layers, pack(l))
	}
	return t
}

// forward computes rows rows of x (each of the first layer's In values)
// into out (rows × the last layer's Out).
func (t *tiled) forward(x []float32, rows int, out []float32) {
	cur, ldx := x, t.layers[0].in
	for li := range t.layers {
		l := &t.layers[li]
		buf := t.scratch[li%2]
		if n := rows * l.outPad; cap(buf) < n {
			buf = make([]float32, n)
			t.scratch[li%2] = buf
		} else {
			buf = buf[:n]
		}
		for r := 0; r < rows; r++ {
			copy(buf[r*l.outPad:(r+1)*l.outPad], l.b)
		}
		blockLen := l.in * tileCols
		for blk := 0; blk < l.outPad/tileCols; blk++ {
			w := l.w[blk*blockLen : (blk+1)*blockLen]
			col := blk * tileCols
			r := 0
			for ; r+4 <= rows; r += 4 {
				// Bounds: the tile reads 4 rows of l.in inputs and writes 4
				// rows of 16 outputs; check the last of each before handing
				// raw pointers to assembly.
				_ = cur[(r+3)*ldx+l.in-1]
				_ = buf[(r+3)*l.outPad+col+tileCols-1]
				tile4x16(l.in, &cur[r*ldx], ldx, &w[0], &buf[r*l.outPad+col], l.outPad, l.relu)
			}
			for ; r < rows; r++ {
				_ = cur[r*ldx+l.in-1]
				_ = buf[r*l.outPad+col+tileCols-1]
				tile1x16(l.in, &cur[r*ldx], &w[0], &buf[r*l.outPad+col], l.relu)
			}
		}
		if !l.relu {
			for r := 0; r < rows; r++ {
				activate(buf[r*l.outPad:r*l.outPad+l.out], l.act)
			}
		}
		cur, ldx = buf, l.outPad
	}
	last := t.layers[len(t.layers)-1]
	for r := 0; r < rows; r++ {
		copy(out[r*last.out:(r+1)*last.out], cur[r*ldx:r*ldx+last.out])
	}
}
