package main

import "testing"

func TestGlyphs(t *testing.T) {
	for r, g := range glyphs {
		for i, line := range g {
			if len(line) != glyphW {
				t.Errorf("glyph %q row %d: %d columns, want %d", r, i, len(line), glyphW)
			}
		}
	}
}
