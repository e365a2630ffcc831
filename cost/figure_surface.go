package cost

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/iaasbench/iaasbench/internal/stats"
	"github.com/iaasbench/iaasbench/results"
)

// FigureSurface is one figure fitted as a function of swept dimensions.
//
// The model: each dimension whose measured values are all positive is
// taken as log2 (instances, clients, GPUs, batch size and rate scale
// multiplicatively), and so is the figure when all its values are
// positive; each dimension is then scaled to [0, 1] over its measured
// range. In that space a thin-plate spline φ(r) = r² ln r with a linear
// polynomial tail interpolates the points. A quadratic response surface
// was rejected because throughput saturates: in log space it is two
// planes meeting at a kink, which a spline follows and a quadratic
// cannot; the linear tail makes the spline exact on power laws
// (throughput ∝ instances^a) and extrapolates them linearly. A ridge of
// 1e-6 on the kernel's diagonal keeps near-coincident points stable.
//
// Degenerate data is fitted in the affine subspace it spans (collinear
// points: a 1-D spline along their line); one distinct point gives a
// constant; if the spline's system is still singular, a least-squares
// linear fit is used. Points at the same coordinates are averaged (in the
// transformed space) first.
//
// A Surface is immutable once fitted and safe for concurrent use.
type FigureSurface struct {
	dims   []string
	figure string
	method string
	n      int // distinct coordinates fitted

	logDim     []bool
	lo, hi     []float64 // measured range per dimension, raw units
	tlo, tspan []float64 // transformed range; tspan 0 for a constant dimension
	logY       bool

	mu      []float64   // mean of the scaled coordinates
	basis   *mat.Dense  // d×k orthonormal basis of the points' subspace; nil when k = 0
	k       int         // dimension of that subspace
	centers [][]float64 // the points in subspace coordinates
	w       []float64   // spline weights (nil for constant and linear)
	poly    []float64   // constant term, then k linear terms

	loo float64
}

const (
	ridge       = 1e-6
	subspaceTol = 1e-6 // scaled units: how far off the points' subspace counts as outside
)

// FitFigure fits figure (one of FigureNames) over dims (names from
// results.Dimensions, any number, typically the swept ones) to the
// non-failed points of evals that have a finite value of the figure. It
// is an error only when no point qualifies or a name is unknown.
func FitFigure(evals []Evaluated, dims []string, figure string) (*FigureSurface, error) {
	if _, ok := figureTable[figure]; !ok {
		return nil, fmt.Errorf("fit surface: %w", unknownFigure(figure))
	}
	if err := checkDims(evals, dims); err != nil {
		return nil, fmt.Errorf("fit surface of %s: %w", figure, err)
	}
	seen := map[string]bool{}
	for _, d := range dims {
		if seen[d] {
			return nil, fmt.Errorf("fit surface of %s: dimension %q given twice", figure, d)
		}
		seen[d] = true
	}
	var xs [][]float64
	var ys []float64
	for _, ev := range evals {
		if ev.Status == results.StatusFailed {
			continue
		}
		if !finite(ev.Figures, figure) {
			continue
		}
		xs = append(xs, coordsOf(ev.Point, dims))
		ys = append(ys, ev.Figures[figure])
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("fit surface of %s: no measured point has it", figure)
	}
	return fit(dims, figure, xs, ys, nil), nil
}

// checkDims checks that every dimension is one of results.Dimensions or a
// model-config field that every non-failed point sets to a number.
func checkDims(evals []Evaluated, dims []string) error {
	var points []results.Point
	for _, ev := range evals {
		if ev.Status != results.StatusFailed {
			points = append(points, ev.Point)
		}
	}
	known := results.DimensionsOf(points)
	for _, d := range dims {
		if !slices.Contains(known, d) {
			why := ""
			if results.IsConfigField(d) && slices.Contains(results.ConfigFields(points), d) {
				why = ": a model-config field, but not set to a number by every point"
			}
			return fmt.Errorf("unknown dimension %q (want one of %s%s)%s", d, strings.Join(results.Dimensions, ", "), configDimsText(points), why)
		}
	}
	return nil
}

func configDimsText(points []results.Point) string {
	cd := results.ConfigDimensions(points)
	if len(cd) == 0 {
		return ""
	}
	return ", or a model-config field of these points: " + strings.Join(cd, ", ")
}

// coordsOf returns p's coordinates along dims (names already checked).
func coordsOf(p results.Point, dims []string) []float64 {
	c := make([]float64, len(dims))
	for j, d := range dims {
		c[j], _ = p.Coord(d)
	}
	return c
}

// Dims are the fitted dimensions, in the order Predict takes coordinates.
func (s *FigureSurface) Dims() []string { return append([]string(nil), s.dims...) }

// Figure is the fitted figure's name.
func (s *FigureSurface) Figure() string { return s.figure }

// Method says which model was fitted: "thin-plate spline", "linear"
// or "constant", with the subspace dimension when the data is degenerate.
func (s *FigureSurface) Method() string { return s.method }

// N is the number of distinct coordinates fitted.
func (s *FigureSurface) N() int { return s.n }

// LOO is the leave-one-out error of the fit: each distinct point is
// predicted from all the others. For a figure fitted in log space it is
// the RMS of the relative errors (0.1 = typically 10% off); otherwise the
// RMS error divided by the RMS value. NaN with fewer than two points.
func (s *FigureSurface) LOO() float64 { return s.loo }

// Predict returns the fitted figure at coords (one per Dims, raw units).
// inHull is false when the coordinates are outside the measured range of
// some dimension, or off the line/plane the measured points span when
// they are degenerate: the value is then an extrapolation, and callers
// must say so. A non-positive coordinate on a log-scaled dimension gives
// NaN. Predict panics if len(coords) != len(Dims()).
func (s *FigureSurface) Predict(coords []float64) (value float64, inHull bool) {
	if len(coords) != len(s.dims) {
		panic(fmt.Sprintf("cost: FigureSurface.Predict got %d coordinates for %d dimensions (%s)", len(coords), len(s.dims), strings.Join(s.dims, ", ")))
	}
	z := s.scale(coords)
	if z == nil {
		return math.NaN(), false
	}
	return s.eval(z), s.outside(coords) == ""
}

// outside explains why coords are not inside the measured range, or "".
func (s *FigureSurface) outside(coords []float64) string {
	for j, d := range s.dims {
		x := coords[j]
		if s.logDim[j] && x <= 0 {
			return fmt.Sprintf("%s=%s is not positive, but the fit is in log %s (measured %s)", d, formatNumber(x), d, s.rangeOf(j))
		}
		eps := 1e-9 * math.Max(1, math.Abs(s.hi[j]))
		if x < s.lo[j]-eps || x > s.hi[j]+eps {
			return fmt.Sprintf("%s=%s is outside the measured range of %s (%s)", d, formatNumber(x), d, s.rangeOf(j))
		}
	}
	z := s.scale(coords)
	r := make([]float64, len(z))
	for j := range z {
		r[j] = z[j] - s.mu[j]
	}
	u := s.project(r)
	off := 0.0
	for j := range r {
		p := r[j]
		for l := 0; l < s.k; l++ {
			p -= s.basis.At(j, l) * u[l]
		}
		off += p * p
	}
	if math.Sqrt(off) > subspaceTol {
		return fmt.Sprintf("(%s) is off the line or plane the measured points lie on", strings.Join(s.dims, ", "))
	}
	return ""
}

func (s *FigureSurface) rangeOf(j int) string {
	if s.lo[j] == s.hi[j] {
		return "only " + formatNumber(s.lo[j])
	}
	return formatNumber(s.lo[j]) + "–" + formatNumber(s.hi[j])
}

// scale maps raw coordinates to the fit's scaled space; nil when a log
// dimension gets a non-positive value.
func (s *FigureSurface) scale(coords []float64) []float64 {
	z := make([]float64, len(coords))
	for j, x := range coords {
		if s.logDim[j] {
			if x <= 0 {
				return nil
			}
			x = math.Log2(x)
		}
		if s.tspan[j] > 0 {
			z[j] = (x - s.tlo[j]) / s.tspan[j]
		} else {
			z[j] = x - s.tlo[j] // a constant dimension: 0 at the measured value
		}
	}
	return z
}

// project returns r's coordinates in the subspace basis.
func (s *FigureSurface) project(r []float64) []float64 {
	u := make([]float64, s.k)
	for l := 0; l < s.k; l++ {
		for j := range r {
			u[l] += s.basis.At(j, l) * r[j]
		}
	}
	return u
}

// eval is the model at scaled coordinates z, back in the figure's units.
func (s *FigureSurface) eval(z []float64) float64 {
	r := make([]float64, len(z))
	for j := range z {
		r[j] = z[j] - s.mu[j]
	}
	u := s.project(r)
	f := s.poly[0]
	for l := 0; l < s.k; l++ {
		f += s.poly[1+l] * u[l]
	}
	for i, c := range s.w {
		f += c * tps(stats.Distance(u, s.centers[i]))
	}
	if s.logY {
		return math.Exp(f)
	}
	return f
}

func tps(r float64) float64 {
	if r <= 0 {
		return 0
	}
	return r * r * math.Log(r)
}

// fit builds the surface from raw coordinates xs and values ys. A refit
// for leave-one-out passes its parent as like, to keep the parent's log
// or linear scales (a left-out point may be the only non-positive one),
// and skips its own leave-one-out.
func fit(dims []string, figure string, xs [][]float64, ys []float64, like *FigureSurface) *FigureSurface {
	d := len(dims)
	s := &FigureSurface{
		dims: append([]string(nil), dims...), figure: figure,
		logDim: make([]bool, d), lo: make([]float64, d), hi: make([]float64, d),
		tlo: make([]float64, d), tspan: make([]float64, d), logY: true,
		loo: math.NaN(),
	}
	for _, y := range ys {
		if y <= 0 {
			s.logY = false
		}
	}
	if like != nil {
		s.logY = like.logY
	}
	for j := 0; j < d; j++ {
		s.logDim[j] = true
		s.lo[j], s.hi[j] = math.Inf(1), math.Inf(-1)
		for _, x := range xs {
			s.lo[j] = math.Min(s.lo[j], x[j])
			s.hi[j] = math.Max(s.hi[j], x[j])
			if x[j] <= 0 {
				s.logDim[j] = false
			}
		}
		if like != nil {
			s.logDim[j] = like.logDim[j]
		}
		s.tlo[j], s.tspan[j] = s.lo[j], s.hi[j]-s.lo[j]
		if s.logDim[j] {
			s.tlo[j], s.tspan[j] = math.Log2(s.lo[j]), math.Log2(s.hi[j])-math.Log2(s.lo[j])
		}
	}

	// Merge points at the same coordinates: the spline interpolates, so
	// two values at one place would make its system singular.
	type uniq struct {
		raw, z []float64
		sum    float64
		n      int
	}
	var us []*uniq
	index := map[string]*uniq{}
	for i, x := range xs {
		z := s.scale(x)
		key := fmt.Sprint(z)
		ty := ys[i]
		if s.logY {
			ty = math.Log(ty)
		}
		u := index[key]
		if u == nil {
			u = &uniq{raw: x, z: z}
			index[key] = u
			us = append(us, u)
		}
		u.sum += ty
		u.n++
	}
	n := len(us)
	s.n = n
	zs := make([][]float64, n)
	ty := make([]float64, n)
	for i, u := range us {
		zs[i], ty[i] = u.z, u.sum/float64(u.n)
	}

	s.mu = make([]float64, d)
	for _, z := range zs {
		for j := range z {
			s.mu[j] += z[j] / float64(n)
		}
	}
	s.fitSubspace(zs)
	if s.k == 0 {
		s.method = "constant"
		s.poly = []float64{0}
		for _, y := range ty {
			s.poly[0] += y / float64(n)
		}
		s.centers = nil
	} else if err := s.fitSpline(ty); err != nil {
		s.fitLinear(ty)
	}
	if s.k > 0 && s.k < d {
		s.method += fmt.Sprintf(" (data spans %d of %d dimensions)", s.k, d)
	}

	if like == nil && n >= 2 {
		raws := make([][]float64, n)
		yraw := make([]float64, n)
		for i, u := range us {
			raws[i] = u.raw
			yraw[i] = ty[i]
			if s.logY {
				yraw[i] = math.Exp(ty[i])
			}
		}
		s.loo = s.leaveOneOut(raws, yraw, ty)
	}
	return s
}

// fitSubspace finds the affine subspace the scaled points span and their
// coordinates in it.
func (s *FigureSurface) fitSubspace(zs [][]float64) {
	n, d := len(zs), len(s.mu)
	s.k = 0
	if n < 2 || d == 0 {
		s.centers = make([][]float64, n)
		for i := range s.centers {
			s.centers[i] = []float64{}
		}
		return
	}
	m := mat.NewDense(n, d, nil)
	for i, z := range zs {
		for j := range z {
			m.Set(i, j, z[j]-s.mu[j])
		}
	}
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDThin) {
		return
	}
	sv := svd.Values(nil)
	for _, v := range sv {
		if v > 1e-8*math.Max(sv[0], 1e-300) && v > 1e-12 {
			s.k++
		}
	}
	var v mat.Dense
	svd.VTo(&v)
	s.basis = mat.NewDense(d, max(s.k, 1), nil)
	for j := 0; j < d; j++ {
		for l := 0; l < s.k; l++ {
			s.basis.Set(j, l, v.At(j, l))
		}
	}
	s.centers = make([][]float64, n)
	for i, z := range zs {
		r := make([]float64, d)
		for j := range z {
			r[j] = z[j] - s.mu[j]
		}
		s.centers[i] = s.project(r)
	}
}

// splineSystem is the interpolation system [Φ+λI P; Pᵀ 0].
func (s *FigureSurface) splineSystem() *mat.Dense {
	n, k := len(s.centers), s.k
	a := mat.NewDense(n+k+1, n+k+1, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := tps(stats.Distance(s.centers[i], s.centers[j]))
			if i == j {
				v += ridge
			}
			a.Set(i, j, v)
		}
		a.Set(i, n, 1)
		a.Set(n, i, 1)
		for l := 0; l < k; l++ {
			a.Set(i, n+1+l, s.centers[i][l])
			a.Set(n+1+l, i, s.centers[i][l])
		}
	}
	return a
}

func (s *FigureSurface) fitSpline(ty []float64) error {
	n, k := len(s.centers), s.k
	a := s.splineSystem()
	b := mat.NewVecDense(n+k+1, nil)
	for i, y := range ty {
		b.SetVec(i, y)
	}
	var lu mat.LU
	lu.Factorize(a)
	var x mat.VecDense
	if err := lu.SolveVecTo(&x, false, b); err != nil {
		return err
	}
	for i := 0; i < x.Len(); i++ {
		if v := x.AtVec(i); math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("spline solution is not finite")
		}
	}
	s.method = "thin-plate spline"
	s.w = make([]float64, n)
	for i := range s.w {
		s.w[i] = x.AtVec(i)
	}
	s.poly = make([]float64, k+1)
	for l := range s.poly {
		s.poly[l] = x.AtVec(n + l)
	}
	return nil
}

// fitLinear is the least-squares affine fit in the subspace, for when the
// spline's system cannot be solved.
func (s *FigureSurface) fitLinear(ty []float64) {
	n, k := len(s.centers), s.k
	p := mat.NewDense(n, k+1, nil)
	for i, c := range s.centers {
		p.Set(i, 0, 1)
		for l := 0; l < k; l++ {
			p.Set(i, 1+l, c[l])
		}
	}
	var x mat.Dense
	s.method, s.w = "linear", nil
	s.poly = make([]float64, k+1)
	if err := x.Solve(p, mat.NewDense(n, 1, append([]float64(nil), ty...))); err != nil {
		// Cannot happen for a basis from the SVD; keep the mean rather than fail.
		for _, y := range ty {
			s.poly[0] += y / float64(n)
		}
		s.k = 0
		return
	}
	for l := range s.poly {
		s.poly[l] = x.At(l, 0)
	}
}

// leaveOneOut returns the fit's leave-one-out error. For the spline it
// uses Rippa's identity (error_i = weight_i / (A⁻¹)_ii, one inverse of
// the system A instead of n refits); a point whose removal leaves the
// others degenerate, and the other models, are refitted without it.
func (s *FigureSurface) leaveOneOut(raws [][]float64, yraw, ty []float64) float64 {
	n := len(raws)
	pred := make([]float64, n) // leave-one-out prediction, transformed space
	done := make([]bool, n)
	if s.w != nil {
		var inv mat.Dense
		if err := inv.Inverse(s.splineSystem()); err == nil {
			scale := mat.Norm(&inv, math.Inf(1))
			for i := 0; i < n; i++ {
				if d := inv.At(i, i); math.Abs(d) > 1e-10*scale {
					pred[i] = ty[i] - s.w[i]/d
					done[i] = true
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		if done[i] {
			continue
		}
		xs := append(append([][]float64(nil), raws[:i]...), raws[i+1:]...)
		ys := append(append([]float64(nil), yraw[:i]...), yraw[i+1:]...)
		o := fit(s.dims, s.figure, xs, ys, s)
		v := o.eval(o.scale(raws[i]))
		if s.logY {
			v = math.Log(v)
		}
		pred[i] = v
	}
	var se, sy float64
	for i := 0; i < n; i++ {
		if s.logY {
			r := math.Exp(pred[i]-ty[i]) - 1
			se += r * r
		} else {
			e := pred[i] - ty[i]
			se += e * e
			sy += ty[i] * ty[i]
		}
	}
	if s.logY {
		return math.Sqrt(se / float64(n))
	}
	if sy == 0 {
		if se == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(se / sy)
}
