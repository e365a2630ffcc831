// AVX2/FMA tiles of the dense backend's layer product; see densekernel.go
// for the layout. Accumulators start from y (the bias), run over k, and
// are stored back to y, clamped at zero when relu is set.

#include "textflag.h"

// func tile4x16(k int, x *float32, ldx int, w *float32, y *float32, ldy int, relu bool)
// y[r][0:16] (+)= Σ_i x[r*ldx+i] · w[i*16 : i*16+16] for r = 0..3.
TEXT ·tile4x16(SB), NOSPLIT, $0-49
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ ldx+16(FP), R8
	SHLQ $2, R8
	MOVQ w+24(FP), DI
	MOVQ y+32(FP), DX
	MOVQ ldy+40(FP), R9
	SHLQ $2, R9

	// Row pointers: x rows in SI, R10, R11, R12; y rows in DX, R13, BX, AX.
	LEAQ (SI)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (DX)(R9*1), R13
	LEAQ (R13)(R9*1), BX
	LEAQ (BX)(R9*1), AX

	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	VMOVUPS (R13), Y2
	VMOVUPS 32(R13), Y3
	VMOVUPS (BX), Y4
	VMOVUPS 32(BX), Y5
	VMOVUPS (AX), Y6
	VMOVUPS 32(AX), Y7

	TESTQ CX, CX
	JZ    store4

loop4:
	// One step of i: 16 weights, each row's x[i] broadcast, 8 FMAs into
	// 8 independent accumulators (enough to hide the FMA latency).
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	VBROADCASTSS (R10), Y11
	VFMADD231PS  Y8, Y11, Y2
	VFMADD231PS  Y9, Y11, Y3
	VBROADCASTSS (R11), Y12
	VFMADD231PS  Y8, Y12, Y4
	VFMADD231PS  Y9, Y12, Y5
	VBROADCASTSS (R12), Y13
	VFMADD231PS  Y8, Y13, Y6
	VFMADD231PS  Y9, Y13, Y7
	ADDQ         $4, SI
	ADDQ         $4, R10
	ADDQ         $4, R11
	ADDQ         $4, R12
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop4

store4:
	MOVBLZX relu+48(FP), CX
	TESTQ   CX, CX
	JZ      nomax4
	VXORPS  Y14, Y14, Y14
	VMAXPS  Y14, Y0, Y0
	VMAXPS  Y14, Y1, Y1
	VMAXPS  Y14, Y2, Y2
	VMAXPS  Y14, Y3, Y3
	VMAXPS  Y14, Y4, Y4
	VMAXPS  Y14, Y5, Y5
	VMAXPS  Y14, Y6, Y6
	VMAXPS  Y14, Y7, Y7

nomax4:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, (R13)
	VMOVUPS Y3, 32(R13)
	VMOVUPS Y4, (BX)
	VMOVUPS Y5, 32(BX)
	VMOVUPS Y6, (AX)
	VMOVUPS Y7, 32(AX)
	VZEROUPPER
	RET

// func tile1x16(k int, x *float32, w *float32, y *float32, relu bool)
// y[0:16] (+)= Σ_i x[i] · w[i*16 : i*16+16]: one row, summed in the same
// order as tile4x16 sums each of its rows, so that a row's result does not
// depend on which tile computed it (nor on the rest of its batch).
TEXT ·tile1x16(SB), NOSPLIT, $0-33
	MOVQ k+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ w+16(FP), DI
	MOVQ y+24(FP), DX

	VMOVUPS (DX), Y0
	VMOVUPS 32(DX), Y1
	TESTQ   CX, CX
	JZ      store1

loop1:
	VMOVUPS      (DI), Y8
	VMOVUPS      32(DI), Y9
	VBROADCASTSS (SI), Y10
	VFMADD231PS  Y8, Y10, Y0
	VFMADD231PS  Y9, Y10, Y1
	ADDQ         $4, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          loop1

store1:
	MOVBLZX relu+32(FP), CX
	TESTQ   CX, CX
	JZ      nomax1
	VXORPS  Y14, Y14, Y14
	VMAXPS  Y14, Y0, Y0
	VMAXPS  Y14, Y1, Y1

nomax1:
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VZEROUPPER
	RET
