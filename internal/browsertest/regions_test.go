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
func drawPage(w, h int, bg, fg color.Color, x0, x1, y0, y1 int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, bg)
		}
	}
	for y := y0; y+12 <= y1; y += 24 {
		for x := x0; x+6 <= x1; x += 9 {
			if (x/9+y/24)%7 == 3 { // a space between words
				continue
			}
			for dy := range 12 {
				for dx := range 6 {
					if (dx+dy)%3 != 0 {
						img.Set(x+dx, y+dy, fg)
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
	if err := png.Encode(&b, img); err != nil {
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
		{"desktop page", drawPage(1280, 900, white, black, 16, 1264, 16, 880), ""},
		{"dark mode page", drawPage(1280, 900, dark, light, 16, 1264, 16, 880), ""},
		{"phone page, twice as tall as wide", drawPage(780, 1688, white, black, 16, 764, 16, 1600), ""},
		{"short page, drawn over its top half", drawPage(1280, 900, white, black, 16, 1264, 16, 450), ""},
		{"one column of text", drawPage(1280, 900, white, black, 16, 400, 16, 880), "3 of the 9 regions"},
		{"a header strip only", drawPage(1280, 900, white, black, 16, 1264, 16, 180), "3 of the 9 regions"},
		{"bottom half only", drawPage(1280, 900, white, black, 16, 1264, 450, 880), "3 of the 9 regions"},
		{"blank", drawPage(1280, 900, white, black, 0, 0, 0, 0), "one flat colour, #ffffff"},
		{"one dark colour", drawPage(390, 844, dark, light, 0, 0, 0, 0), "one flat colour, #1e1e1e"},
		{"transparent", image.NewNRGBA(image.Rect(0, 0, 200, 200)), "one flat colour, #ffffff"},
		{"a few specks", specks(1280, 900), "0 of the 9 regions"},
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
	img := drawPage(w, h, color.White, color.Black, 0, 0, 0, 0)
	for y := 50; y < h; y += 150 {
		for x := 50; x < w; x += 200 {
			img.Set(x, y, color.Black)
		}
	}
	return img
}
