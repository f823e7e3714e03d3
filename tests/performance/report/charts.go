package report

import (
	"fmt"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"usersvc/tests/performance/perfkit"
)

// drawChart writes c as <dir>/<c.Name>.png and .svg and returns the two file names.
func drawChart(dir string, c perfkit.Chart) ([]string, error) {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	if c.LogX && positive(c.Series, func(pt perfkit.Point) float64 { return pt.X }) {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	if c.LogY && positive(c.Series, func(pt perfkit.Point) float64 { return pt.Y }) {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
	}
	// Start the y axis at zero on linear charts, so a small difference is not drawn as a
	// large one.
	if !c.LogY {
		p.Y.Min = 0
		// Headroom above the highest point, so the legend does not sit on the lines.
		p.Y.Max = 1.35 * maxY(c.Series)
	}
	var lines []any
	for _, s := range c.Series {
		xys := make(plotter.XYs, len(s.Points))
		for i, pt := range s.Points {
			xys[i] = plotter.XY{X: pt.X, Y: pt.Y}
		}
		lines = append(lines, s.Label, xys)
	}
	if err := plotutil.AddLinePoints(p, lines...); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", c.Name, err)
	}
	var files []string
	for _, ext := range []string{".png", ".svg"} {
		name := c.Name + ext
		if err := p.Save(18*vg.Centimeter, 11*vg.Centimeter, filepath.Join(dir, name)); err != nil {
			return nil, fmt.Errorf("report: chart %s: %w", name, err)
		}
		files = append(files, name)
	}
	return files, nil
}

func maxY(series []perfkit.Series) float64 {
	m := 0.0
	for _, s := range series {
		for _, pt := range s.Points {
			m = max(m, pt.Y)
		}
	}
	if m == 0 {
		return 1
	}
	return m
}

// positive reports whether every value is above zero (a log axis cannot show the others).
func positive(series []perfkit.Series, v func(perfkit.Point) float64) bool {
	for _, s := range series {
		for _, pt := range s.Points {
			if v(pt) <= 0 {
				return false
			}
		}
	}
	return true
}
