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
	px := pixelsOf(img)
	w, h := px.w, px.h
	if w < MinSide || h < MinSide {
		return fmt.Errorf("the image is %dx%d, under %dx%d", w, h, MinSide, MinSide)
	}
	if c, ok := px.flat(); ok {
		return fmt.Errorf("the %dx%d image is one flat colour, %s", w, h, hex(c))
	}
	top := min(h*2/3, w*2)
	drawn := 0
	var grid strings.Builder
	for gy := range Grid {
		grid.WriteString("\n\t")
		for gx := range Grid {
			cell := image.Rect(gx*w/Grid, gy*top/Grid, (gx+1)*w/Grid, (gy+1)*top/Grid)
			if px.drawn(cell) {
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

// pixels is an image as 0xRRGGBB values, row by row, each blended over
// white (a transparent pixel looks like the page's white).
type pixels struct {
	w, h int
	rgb  []uint32
}

func pixelsOf(img image.Image) pixels {
	r := img.Bounds()
	p := pixels{w: r.Dx(), h: r.Dy(), rgb: make([]uint32, 0, r.Dx()*r.Dy())}
	blend := func(c, a uint32) uint32 { return (c*a + 255*(255-a)) / 255 }
	switch m := img.(type) {
	case *image.NRGBA:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := m.Pix[m.PixOffset(r.Min.X, y) : m.PixOffset(r.Max.X-1, y)+4]
			for i := 0; i < len(row); i += 4 {
				a := uint32(row[i+3])
				p.rgb = append(p.rgb, blend(uint32(row[i]), a)<<16|blend(uint32(row[i+1]), a)<<8|blend(uint32(row[i+2]), a))
			}
		}
	case *image.RGBA: // premultiplied
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := m.Pix[m.PixOffset(r.Min.X, y) : m.PixOffset(r.Max.X-1, y)+4]
			for i := 0; i < len(row); i += 4 {
				white := 255 - uint32(row[i+3])
				p.rgb = append(p.rgb, (uint32(row[i])+white)<<16|(uint32(row[i+1])+white)<<8|(uint32(row[i+2])+white))
			}
		}
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb, ca := img.At(x, y).RGBA() // premultiplied, 0-0xffff
				white := 0xffff - ca
				p.rgb = append(p.rgb, ((cr+white)>>8)<<16|((cg+white)>>8)<<8|(cb+white)>>8)
			}
		}
	}
	return p
}

// flat reports whether every pixel has one colour, and which.
func (p pixels) flat() (uint32, bool) {
	for _, c := range p.rgb {
		if c != p.rgb[0] {
			return p.rgb[0], false
		}
	}
	return p.rgb[0], true
}

// drawn reports whether enough of cell's pixels differ from its
// commonest colour (found on every 4th pixel of every 4th row: the
// background of a page's region is far ahead of any other colour).
func (p pixels) drawn(cell image.Rectangle) bool {
	counts := map[uint32]int{}
	var bg uint32
	n := 0
	for y := cell.Min.Y; y < cell.Max.Y; y += 4 {
		row := p.rgb[y*p.w+cell.Min.X : y*p.w+cell.Max.X]
		for x := 0; x < len(row); x += 4 {
			c := row[x]
			counts[c]++
			if counts[c] > n {
				bg, n = c, counts[c]
			}
		}
	}
	differ := 0
	for y := cell.Min.Y; y < cell.Max.Y; y++ {
		for _, c := range p.rgb[y*p.w+cell.Min.X : y*p.w+cell.Max.X] {
			if c != bg && distance(c, bg) > colourSlack {
				differ++
			}
		}
	}
	need := max(drawnPixels, int(drawnShare*float64(cell.Dx()*cell.Dy())))
	return differ >= need
}

// distance is the sum of the differences of R, G and B.
func distance(a, b uint32) int {
	d := 0
	for shift := 0; shift <= 16; shift += 8 {
		x, y := int(a>>shift&0xff), int(b>>shift&0xff)
		d += max(x-y, y-x)
	}
	return d
}

func hex(c uint32) string { return fmt.Sprintf("#%06x", c) }
