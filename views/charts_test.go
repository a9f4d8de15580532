package views

import (
	"math"
	"testing"
)

func TestStackedBarsReachTheirTotalAndTheAxisRoundsUp(t *testing.T) {
	c := Chart{ID: "c", Title: "Calls", Unit: "calls", Labels: []string{"a", "b"}, Stacked: true, Series: []ChartSeries{
		{Name: "OK", Values: []float64{30, 0}}, {Name: "Throttled", Values: []float64{7, 2}},
	}}
	if top := c.niceMax(); top != 50 {
		t.Fatalf("axis top %v for a largest total of 37, want 50", top)
	}
	g := c.geometry()
	if len(g.Rects) != 3 {
		t.Fatalf("%d bars, want 3 (a zero is not drawn)", len(g.Rects))
	}
	// The two bars of interval a stack: together 37/50 of the plot's height.
	height := g.Rects[0].H + g.Rects[1].H
	want := 37.0 / 50 * (chartBottom - chartTop)
	if math.Abs(height-want) > 0.01 || math.Abs(g.Rects[1].Y+g.Rects[1].H-g.Rects[0].Y) > 0.01 {
		t.Fatalf("stack of interval a: heights %v+%v, want %v in all, the second on top of the first", g.Rects[0].H, g.Rects[1].H, want)
	}
	if s := c.Summary(); s != "Calls (calls): 30 ok in all; 9 throttled in all." {
		t.Fatalf("summary %q", s)
	}
	if s := (Chart{Title: "Calls", Labels: []string{"a"}, Series: []ChartSeries{{Name: "OK", Values: []float64{0}}}}).Summary(); s != "Calls: nothing in this period." {
		t.Fatalf("empty summary %q", s)
	}
}
