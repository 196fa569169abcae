package browsertest

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"strings"
)

// The rule CheckRegions applies. A screenshot is at least MinSide pixels
// each way; the top of it (two thirds of its height, at most twice its
// width: where a page's content is) is cut into Grid x Grid regions, and
// at least MinDrawn of them hold a drawing: more than a few pixels
// (drawnShare of the region, drawnPixels at least) that differ from the
// region's commonest colour.
const (
	MinSide  = 64
	Grid     = 3
	MinDrawn = 5

	drawnShare  = 0.002
	drawnPixels = 16
	// colourSlack is how far, summed over R, G and B (0-255 each), a pixel
	// may be from the background and still count as background.
	colourSlack = 24
)

// CheckRegionsFile is CheckRegions of the PNG file at path.
func CheckRegionsFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := CheckRegions(b); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// CheckRegions returns an error when the PNG is not a page's drawing: not
// a PNG, too small, one flat colour, or with too few drawn regions in its
// top part (see MinDrawn). The error draws the grid: '#' a drawn region,
// '.' a blank one.
func CheckRegions(pngData []byte) error {
	img, err := png.Decode(bytes.NewReader(pngData))
	if err != nil {
		return fmt.Errorf("not a PNG: %w", err)
	}
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	if w < MinSide || h < MinSide {
		return fmt.Errorf("the image is %dx%d, under %dx%d", w, h, MinSide, MinSide)
	}
	if c, ok := flat(img, r); ok {
		return fmt.Errorf("the %dx%d image is one flat colour, %s", w, h, hex(c))
	}
	top := min(h*2/3, w*2)
	drawn := 0
	var grid strings.Builder
	for gy := range Grid {
		grid.WriteString("\n\t")
		for gx := range Grid {
			cell := image.Rect(
				r.Min.X+gx*w/Grid, r.Min.Y+gy*top/Grid,
				r.Min.X+(gx+1)*w/Grid, r.Min.Y+(gy+1)*top/Grid)
			if isDrawn(img, cell) {
				drawn++
				grid.WriteByte('#')
			} else {
				grid.WriteByte('.')
			}
		}
	}
	if drawn < MinDrawn {
		return fmt.Errorf("%d of the %d regions of the top %d px of the %dx%d image are drawn, want %d or more:%s",
			drawn, Grid*Grid, top, w, h, MinDrawn, grid.String())
	}
	return nil
}

// isDrawn reports whether enough of cell's pixels differ from its
// commonest colour.
func isDrawn(img image.Image, cell image.Rectangle) bool {
	bg, _ := commonest(img, cell)
	differ := 0
	for y := cell.Min.Y; y < cell.Max.Y; y++ {
		for x := cell.Min.X; x < cell.Max.X; x++ {
			if distance(rgb(img, x, y), bg) > colourSlack {
				differ++
			}
		}
	}
	need := max(drawnPixels, int(drawnShare*float64(cell.Dx()*cell.Dy())))
	return differ >= need
}

// flat reports whether every pixel of r has one colour, and which.
func flat(img image.Image, r image.Rectangle) ([3]uint8, bool) {
	first := rgb(img, r.Min.X, r.Min.Y)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if rgb(img, x, y) != first {
				return first, false
			}
		}
	}
	return first, true
}

// commonest returns the commonest colour of the pixels in r and how many
// pixels have it.
func commonest(img image.Image, r image.Rectangle) ([3]uint8, int) {
	counts := map[[3]uint8]int{}
	var best [3]uint8
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c := rgb(img, x, y)
			counts[c]++
			if counts[c] > n {
				best, n = c, counts[c]
			}
		}
	}
	return best, n
}

// rgb is the pixel's colour as 8-bit R, G, B, blended over white (a
// transparent pixel looks like the page's white).
func rgb(img image.Image, x, y int) [3]uint8 {
	r, g, b, a := img.At(x, y).RGBA() // premultiplied, 0-0xffff
	white := 0xffff - a
	return [3]uint8{uint8((r + white) >> 8), uint8((g + white) >> 8), uint8((b + white) >> 8)}
}

func distance(a, b [3]uint8) int {
	d := 0
	for i := range a {
		d += max(int(a[i])-int(b[i]), int(b[i])-int(a[i]))
	}
	return d
}

func hex(c [3]uint8) string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }
