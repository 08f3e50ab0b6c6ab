package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// printer writes a command's answer as aligned "label: value" lines or as one JSON object.
type printer struct {
	w    io.Writer
	json bool
}

func newPrinter(w io.Writer, g *globals) *printer { return &printer{w: w, json: g.output == "json"} }

// field is one labelled value of an answer.
type field struct {
	label string
	value any
}

// print writes fields as text, or v as JSON.
func (p *printer) print(v any, fields ...field) error {
	if p.json {
		enc := json.NewEncoder(p.w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%v\n", f.label, f.value)
	}
	return tw.Flush()
}
