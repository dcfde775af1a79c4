package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/stages/all"
)

func init() {
	register(&cli.Command{
		Name:  "options",
		Usage: "list the per-shop options a registry may set: name, type, default, range and what each does",
		Description: "Every stage and platform declares its options; manifest build and plan refuse an unknown\n" +
			"name or a bad value before anything is submitted.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"FEEDBATCH_JSON"}},
		},
		Action: optionsAction,
	})
}

// optionInfo is one option as `feedbatch options --json` prints it.
type optionInfo struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Default string `json:"default,omitempty"`
	Range   string `json:"range,omitempty"`
	Doc     string `json:"doc"`
}

func optionInfos() []optionInfo {
	var out []optionInfo
	for _, o := range all.Options().Sorted() {
		out = append(out, optionInfo{Name: o.Name, Type: o.Kind.String(), Default: o.Default, Range: optionRange(o), Doc: o.Doc})
	}
	return out
}

// optionRange is "0..1", "1s..1h0m0s" or "" for an unbounded option.
func optionRange(o stages.Option) string {
	if !o.Bounded {
		return ""
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	if o.Kind == stages.KindDuration {
		f = func(v float64) string { return time.Duration(v * float64(time.Second)).String() }
	}
	return f(o.Min) + ".." + f(o.Max)
}

func optionsAction(c *cli.Context) error {
	infos := optionInfos()
	w := c.App.Writer
	if c.Bool("json") {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPTION\tTYPE\tDEFAULT\tRANGE\tDESCRIPTION")
	for _, o := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Name, o.Type, orDash(o.Default), orDash(o.Range), o.Doc)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
