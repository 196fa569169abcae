package browsertest

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
)

// drawPage draws a synthetic screenshot: a background, and "text" (small
// glyph-sized blocks in lines) from y0 to y1 across columns x0..x1.
func drawPage(w, h int, bg, fg color.NRGBA, x0, x1, y0, y1 int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	px := func(row []byte, x int, c color.NRGBA) { copy(row[4*x:], []byte{c.R, c.G, c.B, c.A}) }
	blank := make([]byte, 4*w)
	for x := range w {
		px(blank, x, bg)
	}
	for y := range h {
		copy(img.Pix[y*img.Stride:], blank)
	}
	for y := y0; y+12 <= y1; y += 24 {
		for dy := range 12 {
			row := img.Pix[(y+dy)*img.Stride:]
			for x := x0; x+6 <= x1; x += 9 {
				if (x/9+y/24)%7 == 3 { // a space between words
					continue
				}
				for dx := range 6 {
					if (dx+dy)%3 != 0 {
						px(row, x+dx, fg)
					}
				}
			}
		}
	}
	return img
}

func encode(t *testing.T, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	// Uncompressed: quick to write and read, also under -race.
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestCheckRegions(t *testing.T) {
	white := color.NRGBA{255, 255, 255, 255}
	black := color.NRGBA{20, 20, 20, 255}
	dark := color.NRGBA{0x1e, 0x1e, 0x1e, 255}
	light := color.NRGBA{0xdd, 0xdd, 0xdd, 255}
	for _, tc := range []struct {
		name string
		img  image.Image
		want string // "" when the image passes; else a part of the error
	}{
		{"desktop page", drawPage(640, 450, white, black, 8, 632, 8, 440), ""},
		{"dark mode page", drawPage(640, 450, dark, light, 8, 632, 8, 440), ""},
		{"phone page, twice as tall as wide", drawPage(390, 844, white, black, 8, 382, 8, 800), ""},
		{"short page, drawn over its top half", drawPage(640, 450, white, black, 8, 632, 8, 225), ""},
		{"one column of text", drawPage(640, 450, white, black, 8, 200, 8, 440), "3 of the 9 regions"},
		{"a header strip only", drawPage(640, 450, white, black, 8, 632, 8, 90), "3 of the 9 regions"},
		{"bottom half only", drawPage(640, 450, white, black, 8, 632, 225, 440), "3 of the 9 regions"},
		{"blank", drawPage(640, 450, white, black, 0, 0, 0, 0), "one flat colour, #ffffff"},
		{"one dark colour", drawPage(390, 844, dark, light, 0, 0, 0, 0), "one flat colour, #1e1e1e"},
		{"transparent", image.NewNRGBA(image.Rect(0, 0, 200, 200)), "one flat colour, #ffffff"},
		{"a few specks", specks(640, 450), "0 of the 9 regions"},
		{"too small", drawPage(40, 900, white, black, 0, 40, 0, 900), "40x900, under 64x64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckRegions(encode(t, tc.img))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("CheckRegions: %v, want nil", err)
			case tc.want != "" && err == nil:
				t.Errorf("CheckRegions: nil, want an error with %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("CheckRegions: %v, want %q in it", err, tc.want)
			}
		})
	}
	if err := CheckRegions([]byte("GIF89a not a png")); err == nil || !strings.Contains(err.Error(), "not a PNG") {
		t.Errorf("CheckRegions(not a PNG) = %v, want not a PNG", err)
	}
}

// specks is a white image with a dot in each region: noise, not a page.
func specks(w, h int) image.Image {
	black := color.NRGBA{0, 0, 0, 255}
	img := drawPage(w, h, color.NRGBA{255, 255, 255, 255}, black, 0, 0, 0, 0)
	for y := 25; y < h; y += 75 {
		for x := 25; x < w; x += 100 {
			img.SetNRGBA(x, y, black)
		}
	}
	return img
}
