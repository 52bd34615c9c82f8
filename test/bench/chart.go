package main

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"slices"
	"time"

	"github.com/raftvip/raftvip/test"
)

// A chart shows, for one trial of each system, which node answered the client over
// time: one panel per system, one lane per node, a bar where the node answered a
// probe (at the request's completion, so that the client-visible gap is the blank
// stretch), a thin strip under each lane while that node's kernel had the VIP (red
// while two nodes had it) and a lane of failed requests.

// panel is one system's trial in a chart.
type panel struct {
	Title   string
	Nodes   []string       // lanes, top to bottom
	Answers []answer       // relative to the fault
	Holders []holderChange // relative to the fault; each lasts until the next, the last until End
	End     time.Duration  // end of the observation, relative to the fault
}

// answer is one probe request: a success is drawn at its completion, a failure at
// its start (the client sent it then; it failed up to 3 s later).
type answer struct {
	Start time.Duration // relative to the fault
	At    time.Duration // completion, relative to the fault
	Node  string        // who answered; "" if it failed
}

// holderChange is the set of nodes whose kernel had the VIP from At on.
type holderChange struct {
	At      time.Duration
	Holders []string
}

var (
	white     = color.RGBA{255, 255, 255, 255}
	panelBG   = color.RGBA{246, 246, 246, 255}
	gridColor = color.RGBA{222, 222, 222, 255}
	ink       = color.RGBA{40, 40, 40, 255}
	faint     = color.RGBA{110, 110, 110, 255}
	failColor = color.RGBA{214, 39, 40, 255}
	holdColor = color.RGBA{90, 90, 90, 255}
	twoColor  = color.RGBA{214, 39, 40, 255}
	faultLine = color.RGBA{214, 39, 40, 255}
	laneColor = []color.RGBA{{31, 119, 180, 255}, {44, 160, 44, 255}, {255, 127, 14, 255}, {148, 103, 189, 255}}
)

// barSpan is how far back from its completion an answer is drawn: two probe periods,
// so that the probe's jitter does not show as gaps.
const barSpan = 2 * test.ProbePeriod

// Chart geometry, in pixels; text is the 5×7 font at scale 2.
const (
	chartW    = 1200
	leftW     = 110 // lane labels
	rightW    = 24
	textScale = 2
	textH     = glyphH * textScale
	barH      = 14
	stripH    = 4
	laneGap   = 6
	panelGap  = 18
)

// renderChart draws the panels over [from, to] relative to the fault.
func renderChart(title string, panels []panel, from, to time.Duration) *image.RGBA {
	h := 10 + textH + 10 + textH + 14 // title, legend
	for _, p := range panels {
		h += textH + 6 + (len(p.Nodes)+1)*(barH+stripH+laneGap) + panelGap
	}
	h += 8 + textH + 8 + textH + 12 // axis, tick labels, axis title
	img := image.NewRGBA(image.Rect(0, 0, chartW, h))
	fill(img, img.Bounds(), white)
	plotW := chartW - leftW - rightW
	x := func(t time.Duration) int {
		t = min(max(t, from), to)
		return leftW + int(float64(plotW)*float64(t-from)/float64(to-from))
	}
	tick := time.Second
	if to-from <= 3*time.Second {
		tick = 500 * time.Millisecond
	}
	var ticks []time.Duration
	for t := from.Truncate(tick); t <= to; t += tick {
		if t >= from {
			ticks = append(ticks, t)
		}
	}

	y := 10
	drawText(img, 10, y, title, textScale, ink)
	y += textH + 10
	lx := 10
	legend := func(c color.Color, hgt int, label string) {
		fill(img, image.Rect(lx, y+(textH-hgt)/2, lx+24, y+(textH+hgt)/2), c)
		lx += 30
		drawText(img, lx, y, label, textScale, faint)
		lx += textWidth(label, textScale) + 24
	}
	legend(laneColor[0], barH, "answered (at completion)")
	legend(failColor, barH, "failed (at start)")
	legend(holdColor, stripH, "has the vip")
	legend(twoColor, stripH, "two holders")
	y += textH + 22

	for _, p := range panels {
		drawText(img, 10, y, p.Title, textScale, ink)
		y += textH + 6
		top := y
		lanes := append(slices.Clone(p.Nodes), "failed")
		fill(img, image.Rect(leftW, top-2, leftW+plotW, top+len(lanes)*(barH+stripH+laneGap)-laneGap+2), panelBG)
		for _, t := range ticks {
			fill(img, image.Rect(x(t), top-2, x(t)+1, top+len(lanes)*(barH+stripH+laneGap)-laneGap+2), gridColor)
		}
		laneY := func(i int) int { return top + i*(barH+stripH+laneGap) }
		for i, name := range lanes {
			drawText(img, leftW-8-textWidth(name, textScale), laneY(i)+(barH-textH)/2, name, textScale, ink)
		}
		for _, a := range p.Answers {
			i, c := len(lanes)-1, failColor
			if a.Node != "" {
				i = slices.Index(p.Nodes, a.Node)
				if i < 0 {
					continue
				}
				c = laneColor[i%len(laneColor)]
			}
			at := a.At
			if a.Node == "" {
				at = a.Start + barSpan
			}
			if at < from || at > to {
				continue
			}
			x0, x1 := x(at-barSpan), x(at)
			if x1 <= x0 {
				x1 = x0 + 1
			}
			fill(img, image.Rect(x0, laneY(i), x1, laneY(i)+barH), c)
		}
		for k, c := range p.Holders {
			end := p.End
			if k+1 < len(p.Holders) {
				end = p.Holders[k+1].At
			}
			sc := holdColor
			if len(c.Holders) >= 2 {
				sc = twoColor
			}
			for _, n := range c.Holders {
				if i := slices.Index(p.Nodes, n); i >= 0 {
					x0, x1 := x(max(c.At, from)), x(min(end, to))
					fill(img, image.Rect(x0, laneY(i)+barH+1, max(x1, x0+1), laneY(i)+barH+1+stripH), sc)
				}
			}
		}
		// The fault: a dashed line at 0.
		for yy := top - 2; yy < top+len(lanes)*(barH+stripH+laneGap)-laneGap+2; yy += 6 {
			fill(img, image.Rect(x(0), yy, x(0)+2, yy+3), faultLine)
		}
		y = top + len(lanes)*(barH+stripH+laneGap) + panelGap
	}
	// The time axis.
	y += 2
	fill(img, image.Rect(leftW, y, leftW+plotW, y+1), ink)
	for _, t := range ticks {
		fill(img, image.Rect(x(t), y, x(t)+1, y+6), ink)
		label := seconds(t)
		drawText(img, x(t)-textWidth(label, textScale)/2, y+8, label, textScale, ink)
	}
	axis := "time since the fault (s); dashed line: the fault"
	drawText(img, leftW+(plotW-textWidth(axis, textScale))/2, y+8+textH+8, axis, textScale, faint)
	return img
}

// seconds renders a tick: "-0.5", "0", "1.5".
func seconds(t time.Duration) string {
	if t%time.Second == 0 {
		return fmt.Sprintf("%d", t/time.Second)
	}
	return fmt.Sprintf("%.1f", t.Seconds())
}

// writePNG writes img to path.
func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
