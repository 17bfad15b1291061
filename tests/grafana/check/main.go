// Command check loads a Grafana dashboard JSON as Grafana's own dashboard model (the
// grafana-foundation-sdk types generated from Grafana's schema), strictly: unknown
// fields, wrong types and missing required fields fail. It then prints every PromQL
// expression in the dashboard (panel targets and query variables), one JSON string per
// line, for the test to run against Prometheus.
//
// grafana-foundation-sdk v0.0.22 returns an empty cog.BuildErrors as a non-nil error
// from its nested parsers, which silently drops every panel and target of a dashboard
// parsed whole; so panels and targets are parsed one by one here.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "grafana-check: "+format+"\n", a...)
	os.Exit(1)
}

// real turns the SDK's empty cog.BuildErrors (a non-nil error holding no error) into nil.
func real(err error) error {
	if be, ok := err.(cog.BuildErrors); ok && len(be) == 0 {
		return nil
	}
	return err
}

func main() {
	if len(os.Args) != 2 {
		fail("usage: grafana-check DASHBOARD.json")
	}
	raw, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	plugins.RegisterDefaultPlugins()
	var d dashboard.Dashboard
	if err := real(d.UnmarshalJSONStrict(raw)); err != nil {
		fail("%s is not a Grafana dashboard model: %v", os.Args[1], err)
	}
	if err := real(d.Validate()); err != nil {
		fail("%s does not validate: %v", os.Args[1], err)
	}
	// The SDK's PanelOrRowPanel drops every panel (its Panel parser returns an empty
	// BuildErrors as a non-nil error), so each panel is parsed strictly here.
	var top struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		fail("%v", err)
	}
	emit := func(kind, title, expr string) {
		b, _ := json.Marshal(map[string]string{"kind": kind, "title": title, "expr": expr})
		fmt.Println(string(b))
	}
	panels := 0
	for i, rp := range top.Panels {
		var p dashboard.Panel
		if err := real(p.UnmarshalJSONStrict(rp)); err != nil {
			fail("panels[%d] is not a Grafana panel model: %v", i, err)
		}
		if err := real(p.Validate()); err != nil {
			fail("panels[%d] does not validate: %v", i, err)
		}
		panels++
		title := ""
		if p.Title != nil {
			title = *p.Title
		}
		// Targets too: the SDK drops them for the same reason.
		var raws struct {
			Targets []json.RawMessage `json:"targets"`
		}
		if err := json.Unmarshal(rp, &raws); err != nil {
			fail("%v", err)
		}
		if len(raws.Targets) == 0 {
			fail("panel %q has no query", title)
		}
		for j, rt := range raws.Targets {
			var q prometheus.Dataquery
			if err := real(q.UnmarshalJSONStrict(rt)); err != nil {
				fail("panel %q targets[%d] is not a Prometheus query: %v", title, j, err)
			}
			if err := real(q.Validate()); err != nil {
				fail("panel %q targets[%d] does not validate: %v", title, j, err)
			}
			emit("panel", title, q.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Type == dashboard.VariableTypeQuery && v.Query != nil {
			if v.Query.Map != nil {
				if s, ok := v.Query.Map["query"].(string); ok {
					emit("variable", v.Name, s)
				}
			} else if v.Query.String != nil {
				emit("variable", v.Name, *v.Query.String)
			}
		}
	}
	if panels == 0 {
		fail("no panels")
	}
}
