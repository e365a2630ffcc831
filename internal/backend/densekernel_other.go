//go:build !amd64

package backend

// haveTiles: the tiles are written for amd64 only; elsewhere the dense
// backend runs gonum's row-wise Sgemv.
func haveTiles() bool { return false }

func tile4x16(k int, x *float32, ldx int, w *float32, y *float32, ldy int, relu bool) {
	panic("backend: dense tiles need amd64")
}

func tile1x16(k int, x *float32, w *float32, y *float32, relu bool) {
	panic("backend: dense tiles need amd64")
}
