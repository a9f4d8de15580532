package views

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Chart is one server-rendered SVG chart with its text alternative: a
// summary read by screen readers and a data table under the chart.
type Chart struct {
	ID      string // element id prefix, unique on the page
	Title   string
	Unit    string   // what the values count: "handovers", "seconds"
	Labels  []string // one per interval: "10:00", "Mon 12:00"
	Stacked bool     // stacked bars; otherwise lines
	Series  []ChartSeries
	// Note says something the numbers do not, for example how many
	// conversations the percentiles stand on.
	Note string
}

// ChartSeries is one named row of values, one per interval.
type ChartSeries struct {
	Name   string
	Values []float64
	// Tone colours the series by what it means (ToneGood, ToneBad, …);
	// empty picks a colour by position.
	Tone string
}

// Series tones: colours of the Okabe–Ito palette, which stays apart for
// the common colour-vision deficiencies (static/app.css).
const (
	ToneMain = "main" // blue
	ToneGood = "good" // bluish green
	ToneWarn = "warn" // orange
	ToneBad  = "bad"  // vermillion
	ToneMore = "more" // reddish purple: another kind of failure
)

// The chart's drawing area in SVG units; the SVG scales to its container.
const (
	chartWidth   = 640
	chartHeight  = 240
	chartLeft    = 52
	chartRight   = 632
	chartTop     = 14
	chartBottom  = 200
	chartXLabelY = 222
)

type chartRect struct {
	X, Y, W, H float64
	Series     int
	Tip        string
}

type chartLine struct {
	Points string
	Series int
}

type chartTick struct {
	Y     float64
	Label string
}

type chartXLabel struct {
	X     float64
	Label string
}

// chartGeometry is what the template draws.
type chartGeometry struct {
	Rects   []chartRect
	Lines   []chartLine
	Dots    []chartRect // line points, for their tooltips
	YTicks  []chartTick
	XLabels []chartXLabel
}

func (c Chart) geometry() chartGeometry {
	var g chartGeometry
	n := len(c.Labels)
	if n == 0 {
		return g
	}
	top := c.niceMax()
	y := func(v float64) float64 { return chartBottom - v/top*(chartBottom-chartTop) }
	slot := float64(chartRight-chartLeft) / float64(n)
	center := func(i int) float64 { return chartLeft + slot*(float64(i)+0.5) }
	for _, v := range []float64{0, top / 2, top} {
		g.YTicks = append(g.YTicks, chartTick{Y: y(v), Label: formatValue(v)})
	}
	every := max(1, (n+5)/6) // at most about six labels on the time axis
	for i := 0; i < n; i += every {
		g.XLabels = append(g.XLabels, chartXLabel{X: center(i), Label: c.Labels[i]})
	}
	if c.Stacked {
		width := slot * 0.7
		for i := range n {
			base := 0.0
			for s, series := range c.Series {
				v := series.Values[i]
				if v <= 0 {
					continue
				}
				g.Rects = append(g.Rects, chartRect{
					X: center(i) - width/2, Y: y(base + v), W: width, H: y(base) - y(base+v), Series: s,
					Tip: fmt.Sprintf("%s: %s %s", c.Labels[i], formatValue(v), strings.ToLower(series.Name)),
				})
				base += v
			}
		}
		return g
	}
	for s, series := range c.Series {
		var points []string
		for i, v := range series.Values {
			points = append(points, fmt.Sprintf("%.1f,%.1f", center(i), y(v)))
			g.Dots = append(g.Dots, chartRect{X: center(i), Y: y(v), Series: s,
				Tip: fmt.Sprintf("%s: %s %s %s", c.Labels[i], strings.ToLower(series.Name), formatValue(v), c.Unit)})
		}
		g.Lines = append(g.Lines, chartLine{Points: strings.Join(points, " "), Series: s})
	}
	return g
}

// niceMax is the top of the value axis: the largest value (or stacked total)
// rounded up to 1, 2 or 5 times a power of ten, so the ticks read well.
func (c Chart) niceMax() float64 {
	top := 0.0
	for i := range c.Labels {
		total := 0.0
		for _, s := range c.Series {
			if c.Stacked {
				total += s.Values[i]
			} else {
				total = max(total, s.Values[i])
			}
		}
		top = max(top, total)
	}
	if top <= 0 {
		return 1
	}
	magnitude := math.Pow(10, math.Floor(math.Log10(top)))
	for _, step := range []float64{1, 2, 5, 10} {
		if top <= step*magnitude {
			return step * magnitude
		}
	}
	return 10 * magnitude
}

// Summary is the chart in one sentence: each series' total (or, for lines,
// its highest value) and where the busiest interval was. It is the SVG's
// description for screen readers.
func (c Chart) Summary() string {
	if c.Empty() {
		return c.Title + ": nothing in this period."
	}
	var parts []string
	for _, s := range c.Series {
		total, peak, at := 0.0, 0.0, 0
		for i, v := range s.Values {
			total += v
			if v > peak {
				peak, at = v, i
			}
		}
		if c.Stacked {
			parts = append(parts, fmt.Sprintf("%s %s in all", formatValue(total), strings.ToLower(s.Name)))
		} else if peak > 0 {
			parts = append(parts, fmt.Sprintf("%s highest %s at %s", strings.ToLower(s.Name), formatValue(peak), c.Labels[at]))
		}
	}
	return c.Title + " (" + c.Unit + "): " + strings.Join(parts, "; ") + "."
}

// Empty tells whether every value is zero.
func (c Chart) Empty() bool {
	for _, s := range c.Series {
		for _, v := range s.Values {
			if v != 0 {
				return false
			}
		}
	}
	return true
}

func formatValue(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func svgNumber(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func (c Chart) seriesClass(i int) string {
	if tone := c.Series[i].Tone; tone != "" {
		return "tone-" + tone
	}
	return "series-" + strconv.Itoa(i%6)
}
