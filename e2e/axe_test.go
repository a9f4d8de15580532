package e2e

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, the accessibility engine (testdata/axe-core).
//
//go:embed testdata/axe-core/axe.min.js
var axeSource string

// axeViolation is the part of an axe-core result the test reports.
type axeViolation struct {
	ID      string `json:"id"`
	Impact  string `json:"impact"`
	Help    string `json:"help"`
	Targets []string
}

// axeRun runs axe-core's WCAG 2.x A and AA rules on the page and answers the
// critical and serious violations, each with up to three of its elements.
const axeRun = `(async () => {
	const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]}, resultTypes: ["violations"]});
	return JSON.stringify(r.violations
		.filter(v => v.impact === "critical" || v.impact === "serious")
		.map(v => ({id: v.id, impact: v.impact, help: v.help, Targets: v.nodes.slice(0, 3).map(n => n.target.join(" "))})));
})()`

// accessible checks the current page with axe-core and fails the test for
// every critical or serious violation: the console's promise is that every
// page passes.
func accessible(t *testing.T, page string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		loaded, err := chromedp.Evaluate[bool](`typeof axe !== "undefined"`)(ctx, target)
		if err != nil {
			return chromedp.Void{}, err
		}
		if !loaded {
			if _, err := chromedp.Evaluate[any](axeSource+"\n;true")(ctx, target); err != nil {
				return chromedp.Void{}, fmt.Errorf("load axe-core: %w", err)
			}
		}
		out, err := chromedp.Evaluate[string](axeRun, chromedp.EvalAwaitPromise)(ctx, target)
		if err != nil {
			return chromedp.Void{}, fmt.Errorf("run axe-core: %w", err)
		}
		var violations []axeViolation
		if err := json.Unmarshal([]byte(out), &violations); err != nil {
			return chromedp.Void{}, fmt.Errorf("read axe-core's answer %q: %w", out, err)
		}
		for _, v := range violations {
			t.Errorf("page %s: %s accessibility violation %s (%s) at %s", page, v.Impact, v.ID, v.Help, strings.Join(v.Targets, "; "))
		}
		return chromedp.Void{}, nil
	}
}

// audit checks the page's accessibility and keeps its picture.
func audit(t *testing.T, name string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, target *chromedp.Target) (chromedp.Void, error) {
		if _, err := accessible(t, name)(ctx, target); err != nil {
			return chromedp.Void{}, err
		}
		return screenshot(t, name)(ctx, target)
	}
}
