package detect

// fit is an ordinary least-squares line through (x, y) points. Values are
// taken relative to the first point so that sums of squares of Unix times
// and byte counts keep their precision.
type fit struct {
	n                     int
	x0, y0                float64
	sx, sy, sxx, sxy, syy float64
}

func (f *fit) add(x, y float64) {
	if f.n == 0 {
		f.x0, f.y0 = x, y
	}
	x, y = x-f.x0, y-f.y0
	f.n++
	f.sx += x
	f.sy += y
	f.sxx += x * x
	f.sxy += x * y
	f.syy += y * y
}

// line returns the slope and R² (the share of the variance of y the line
// explains). ok is false with fewer than two distinct x. A flat series has
// R² 0: nothing to explain.
func (f *fit) line() (slope, r2 float64, ok bool) {
	if f.n < 2 {
		return 0, 0, false
	}
	n := float64(f.n)
	vxx := f.sxx - f.sx*f.sx/n
	vxy := f.sxy - f.sx*f.sy/n
	vyy := f.syy - f.sy*f.sy/n
	if vxx <= 0 {
		return 0, 0, false
	}
	slope = vxy / vxx
	if vyy > 0 {
		r2 = vxy * vxy / (vxx * vyy)
		r2 = min(max(r2, 0), 1)
	}
	return slope, r2, true
}
