package backend

import "golang.org/x/sys/cpu"

// haveTiles reports whether this CPU (and OS) runs the AVX2/FMA tiles.
func haveTiles() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }

// tile4x16 computes y[r][0:16] = relu?(y[r][0:16] + Σ_i x[r*ldx+i]·w[i*16:i*16+16])
// for rows r = 0..3, y rows ldy apart; w is one packed block of k×16.
//
//go:noescape
func tile4x16(k int, x *float32, ldx int, w *float32, y *float32, ldy int, relu bool)

// tile1x16 is tile4x16 for one row.
//
//go:noescape
func tile1x16(k int, x *float32, w *float32, y *float32, relu bool)
