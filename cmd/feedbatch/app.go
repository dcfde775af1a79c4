package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/internal/secret"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands is filled by the init functions of the cmd_*.go files, one file
// per subcommand.
var commands []*cli.Command

func register(c *cli.Command) { commands = append(commands, strict(c)) }

// strict makes c and its subcommands fail like every other user error: a
// bad flag or environment value is a usage error (one line, exit 2, no help
// dump on stdout), an unknown subcommand is named, and a command that takes
// no arguments refuses them (flags after a stray argument would otherwise be
// silently ignored) while still answering "<cmd> ARG --help".
func strict(c *cli.Command) *cli.Command {
	if c.OnUsageError == nil {
		c.OnUsageError = func(ctx *cli.Context, err error, _ bool) error {
			if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
				return undefinedFlag(ctx, name)
			}
			return usageError{err}
		}
	}
	if len(c.Subcommands) > 0 {
		if c.Action == nil {
			c.Action = unknownSubcommand
		}
		for _, sub := range c.Subcommands {
			strict(sub)
		}
	} else if c.ArgsUsage == "" && c.Before == nil {
		c.Before = noArguments
	}
	return c
}

// unknownSubcommand is the action of a command with subcommands: its help,
// or a usage error naming the unknown subcommand.
func unknownSubcommand(c *cli.Context) error {
	if !c.Args().Present() {
		return cli.ShowSubcommandHelp(c)
	}
	var names []string
	for _, sub := range c.Command.Subcommands {
		if sub.Name != "help" {
			names = append(names, sub.Name)
		}
	}
	return usagef("unknown %s command %q (want %s)", c.Command.Name, c.Args().First(), strings.Join(names, ", "))
}

// noArguments refuses positional arguments of a command that takes none.
func noArguments(c *cli.Context) error {
	if !c.Args().Present() {
		return nil
	}
	if slices.ContainsFunc(c.Args().Slice(), isHelpFlag) {
		if err := cli.ShowCommandHelp(c.Lineage()[1], c.Command.Name); err != nil {
			return err
		}
		return errHelpShown
	}
	return usagef("unexpected argument %q (feedbatch %s takes no arguments)", c.Args().First(), commandPath(c))
}

// commandPath is the command of c as typed after "feedbatch" ("manifest
// show").
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}

// undefinedFlag is the usage error for -name given to the command of c.
// (Global flags after the command never get here: hoistGlobalFlags moves
// them before it.)
func undefinedFlag(c *cli.Context, name string) error {
	return usagef("flag provided but not defined: -%s (feedbatch %s --help lists its flags)", name, commandPath(c))
}

func isHelpFlag(a string) bool { return a == "--help" || a == "-help" || a == "-h" || a == "--h" }

// Global flags shared by most commands.
var (
	rootFlag = &cli.StringFlag{
		Name:    "root",
		Usage:   "storage root: s3://bucket/prefix or file:///dir (a plain path is a directory)",
		EnvVars: []string{"FEEDBATCH_ROOT"},
		Value:   "feedbatch-data",
	}
	logFormatFlag = &cli.StringFlag{
		Name:    "log-format",
		Usage:   "log format: text or json (json inside containers)",
		EnvVars: []string{"FEEDBATCH_LOG_FORMAT"},
		Value:   "text",
	}
	logLevelFlag = &cli.StringFlag{
		Name:    "log-level",
		Usage:   "debug, info, warn or error",
		EnvVars: []string{"FEEDBATCH_LOG_LEVEL"},
		Value:   "info",
	}
)

// app is the feedbatch command line: urfave/cli's App, whose RunContext
// also accepts the global flags after the command.
type app struct{ *cli.App }

// RunContext runs args (args[0] is the program name) with the global flags
// found after the command moved before it.
func (a app) RunContext(ctx context.Context, args []string) error {
	return a.App.RunContext(ctx, hoistGlobalFlags(args))
}

// globalFlags are the app's flags, each of which takes a value.
var globalFlags = []*cli.StringFlag{rootFlag, logFormatFlag, logLevelFlag}

// globalFlagName is the name of the global flag arg sets (-root, --root,
// --root=x), and whether its value is in arg.
func globalFlagName(arg string) (name string, inline bool) {
	if !strings.HasPrefix(arg, "-") {
		return "", false
	}
	n, _, inline := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	for _, f := range globalFlags {
		if slices.Contains(f.Names(), n) {
			return n, inline
		}
	}
	return "", false
}

// hoistGlobalFlags moves global flags given after the command ("feedbatch
// status r1 --root /data") to before it, where urfave/cli parses them; a
// flag given twice keeps its last value. Nothing after "--" moves.
func hoistGlobalFlags(args []string) []string {
	if len(args) < 2 {
		return args
	}
	// The leading global flags, up to the command.
	i := 1
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if name, inline := globalFlagName(args[i]); name != "" && !inline {
			i++ // its value
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	out := slices.Clone(args[:i])
	var moved, rest []string
	for j := i; j < len(args); j++ {
		a := args[j]
		if a == "--" {
			rest = append(rest, args[j:]...)
			break
		}
		name, inline := globalFlagName(a)
		if name == "" || j == i || (!inline && (j+1 >= len(args) || args[j+1] == "--")) {
			// Not a global flag, or one without its value: the command
			// refuses it where it is.
			rest = append(rest, a)
			continue
		}
		moved = append(moved, a)
		if !inline {
			j++
			moved = append(moved, args[j])
		}
	}
	return append(append(out, moved...), rest...)
}

func newApp() app {
	cmds := make([]*cli.Command, len(commands))
	for i, c := range commands {
		cmds[i] = freshCommand(c)
	}
	slices.SortFunc(cmds, func(a, b *cli.Command) int { return strings.Compare(a.Name, b.Name) })
	return app{&cli.App{
		Name:                 "feedbatch",
		Usage:                "shop catalogs -> ad-platform feeds and images, one AWS Batch array child per shop",
		Version:              version,
		Flags:                freshFlags([]cli.Flag{rootFlag, logFormatFlag, logLevelFlag}),
		Commands:             cmds,
		EnableBashCompletion: true,
		Action: func(c *cli.Context) error {
			if c.Args().Present() {
				return usagef("unknown command %q (see feedbatch --help)", c.Args().First())
			}
			return cli.ShowAppHelp(c)
		},
		// The one exit-code switch is exitCode; never let the library exit.
		ExitErrHandler: func(*cli.Context, error) {},
		Before: func(c *cli.Context) error {
			if err := checkLogFlags(c); err != nil {
				return err
			}
			slog.SetDefault(newLogger(c))
			return nil
		},
		OnUsageError: func(c *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
	}}
}

// checkLogFlags refuses a --log-level or --log-format that newLogger would
// otherwise quietly replace by its default (empty, as from a variable set
// to "", is the default).
func checkLogFlags(c *cli.Context) error {
	var level slog.Level
	if v := c.String(logLevelFlag.Name); v != "" && level.UnmarshalText([]byte(v)) != nil {
		return usagef("--log-level %q: want debug, info, warn or error", v)
	}
	if v := c.String(logFormatFlag.Name); v != "" && v != "text" && v != "json" {
		return usagef("--log-format %q: want text or json", v)
	}
	return nil
}

// newLogger is the command's logger, writing to the app's error stream in
// the --log-format (json inside containers).
func newLogger(c *cli.Context) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String(logLevelFlag.Name))); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	var w io.Writer = os.Stderr
	if c.App != nil && c.App.ErrWriter != nil {
		w = c.App.ErrWriter
	}
	// Every log line is redacted: a child's log is an artefact (the engine
	// keeps it, the report links it).
	if c.String(logFormatFlag.Name) == "json" {
		return slog.New(secret.Handler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(secret.Handler(slog.NewTextHandler(w, opts)))
}

// freshCommand copies c, its flags and its subcommands. The library writes a
// flag's environment value into the flag itself (StringFlag.Value = $VAR)
// and never resets it, so an app built from shared flags would carry one
// command line's environment into the next in the same process (tests).
func freshCommand(c *cli.Command) *cli.Command {
	cp := *c
	cp.Flags = freshFlags(c.Flags)
	cp.Subcommands = nil
	for _, sub := range c.Subcommands {
		cp.Subcommands = append(cp.Subcommands, freshCommand(sub))
	}
	return &cp
}

// freshFlags copies each flag struct (every cli flag is a pointer to one).
func freshFlags(flags []cli.Flag) []cli.Flag {
	out := make([]cli.Flag, len(flags))
	for i, f := range flags {
		v := reflect.ValueOf(f)
		cp := reflect.New(v.Elem().Type())
		cp.Elem().Set(v.Elem())
		out[i] = cp.Interface().(cli.Flag)
	}
	return out
}
