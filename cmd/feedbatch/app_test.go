package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/urfave/cli/v2"

	"github.com/feedbatch/feedbatch/planner"
	"github.com/feedbatch/feedbatch/stages"
	"github.com/feedbatch/feedbatch/store"
)

// runApp runs the CLI in-process and returns its error and exit code.
func runApp(t *testing.T, args ...string) (int, error) {
	t.Helper()
	app := newApp()
	app.Writer = io.Discard
	app.ErrWriter = io.Discard
	err := app.RunContext(t.Context(), append([]string{"feedbatch"}, args...))
	return exitCode(err), err
}

func TestUnknownCommandIsUsageError(t *testing.T) {
	code, err := runApp(t, "no-such-command")
	if code != exitUsage {
		t.Fatalf("exit %d, want %d (err %v)", code, exitUsage, err)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range newApp().Commands {
		t.Run(c.Name, func(t *testing.T) {
			if c.Usage == "" {
				t.Errorf("command %q has no usage text", c.Name)
			}
			if code, err := runApp(t, c.Name, "--help"); code != exitOK {
				t.Errorf("%s --help: exit %d: %v", c.Name, code, err)
			}
		})
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, exitOK},
		{"canceled", fmt.Errorf("wait: %w", context.Canceled), exitCanceled},
		{"usage", usagef("bad flag"), exitUsage},
		{"not found", fmt.Errorf("get: %w", store.ErrNotFound), exitNotFound},
		{"shops failed", fmt.Errorf("run: %w", errShopsFailed), exitShopsFailed},
		{"stage retryable", stageError{errors.New("timeout")}, stages.ExitRetryable},
		{"stage permanent", stageError{stages.Permanentf("bad catalog")}, stages.ExitPermanent},
		{"stage interrupted", stageError{fmt.Errorf("get catalog: %w", context.Canceled)}, stages.ExitRetryable},
		{"stage interrupted, cut short as permanent", stageError{fmt.Errorf("%w (interrupted: %w)", stages.Permanentf("after 3 rows: unexpected EOF"), context.Canceled)}, stages.ExitRetryable},
		{"stage invalid store key", stageError{fmt.Errorf("put: %w", store.CheckKey("shops/../x"))}, stages.ExitPermanent},
		{"no help topic", cli.Exit("No help topic for 'x'", 3), exitUsage},
		{"other", errors.New("boom"), exitError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := exitCode(tc.err); got != tc.want {
				t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"whitespace", errors.New("a  b\tc \n"), "a b c"},
		{"lines are items", errors.Join(errors.New("a"), errors.New(" b\t c\n"), errors.New("d")), "a; b c; d"},
		{"list after a colon", fmt.Errorf("registry: 2 problem(s):\n%w", errors.Join(errors.New("x:1: bad"), errors.New("x:2: worse"))),
			"registry: 2 problem(s): x:1: bad; x:2: worse"},
		{"sdk chain", errors.New(`cancel live: describe jobs: operation error Batch: DescribeJobs, exceeded maximum number of attempts, 8, https response error StatusCode: 0, RequestID: , request send failed, Post "http://127.0.0.1:43599/v1/describejobs": dial tcp 127.0.0.1:43599: connect: connection refused`),
			`cancel live: describe jobs: Batch DescribeJobs: Post "http://127.0.0.1:43599/v1/describejobs": dial tcp 127.0.0.1:43599: connect: connection refused`},
		{"sdk api error", errors.New(`submit fb-x: operation error Batch: SubmitJob, https response error StatusCode: 400, RequestID: 12-ab, ClientException: bad queue`),
			`submit fb-x: Batch SubmitJob: ClientException: bad queue`},
		{"interrupted", fmt.Errorf("describe jobs: operation error Batch: DescribeJobs, canceled, %w", context.Canceled), "interrupted"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := oneLine(tc.err)
			if got != tc.want || bytes.ContainsAny([]byte(got), "\n\t") {
				t.Errorf("oneLine = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStrictCommands: bad flags and environment values, unknown subcommands
// and stray arguments are usage errors on one line, with nothing on stdout
// and nothing run.
func TestStrictCommands(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
		msg  string
	}{
		{"bad env value", map[string]string{"FEEDBATCH_VCPUS": "abc"}, []string{"status", "r1"}, exitUsage, ""},
		{"bad flag value before the run", nil, []string{"status", "--vcpus", "abc", "r1"}, exitUsage, ""},
		{"unknown flag before the run", nil, []string{"manifest", "show", "--nope", "r1"}, exitUsage, ""},
		{"unknown engine command", nil, []string{"engine", "bogus"}, exitUsage, ""},
		{"engine serve argument", nil, []string{"engine", "serve", "x"}, exitUsage, `unexpected argument "x" (feedbatch engine serve takes no arguments)`},
		{"run argument hides flags", nil, []string{"run", "extra", "--run", "r9"}, exitUsage, `unexpected argument "extra"`},
		{"plan argument", nil, []string{"plan", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"negative poll after the run", nil, []string{"status", "r1", "--wait", "--poll", "-1s"}, exitUsage, "--poll -1s"},
		{"zero poll before the run", nil, []string{"status", "--poll", "0s", "r1", "--wait"}, exitUsage, "--poll 0s"},
		{"unknown log level", nil, []string{"--log-level", "verbose", "status", "r1"}, exitUsage, "--log-level"},
		{"unknown log format", nil, []string{"--log-format", "xml", "status", "r1"}, exitUsage, "--log-format"},
		{"negative vcpus", nil, []string{"run", "--vcpus", "-3", "--run", "r9"}, exitUsage, "--vcpus -3"},
		{"negative memory after the run", nil, []string{"status", "r1", "--memory-mib", "-1"}, exitUsage, "--memory-mib -1"},
		{"endpoint not a URL", map[string]string{"FEEDBATCH_BATCH_ENDPOINT": "notaurl"}, []string{"plan", "--run", "r9"}, exitUsage, "FEEDBATCH_BATCH_ENDPOINT"},
		{"logs endpoint not a URL", map[string]string{"FEEDBATCH_LOGS_ENDPOINT": "127.0.0.1:5"}, []string{"run", "--run", "r9"}, exitUsage, "FEEDBATCH_LOGS_ENDPOINT"},
		{"empty log variables are the defaults", map[string]string{"FEEDBATCH_LOG_FORMAT": "", "FEEDBATCH_LOG_LEVEL": ""}, []string{"engine", "serve", "x"}, exitUsage, "unexpected argument"},
		{"help for an unknown command", nil, []string{"help", "nosuch"}, exitUsage, "No help topic"},
		{"help for an unknown subcommand", nil, []string{"manifest", "help", "nosuch"}, exitUsage, "No help topic"},
		{"global flag after the run", nil, []string{"status", "r1", "--log-level=verbose"}, exitUsage, "--log-level"},
		{"run ARG --help", nil, []string{"run", "extra", "--help"}, exitOK, ""},
		{"engine serve ARG --help", nil, []string{"engine", "serve", "x", "-h"}, exitOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, errOut, code := runAppOut(t, append([]string{"--root", root}, tc.args...)...)
			if code != tc.want {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.want, out, errOut)
			}
			if code == exitOK {
				if !strings.Contains(out, "USAGE") {
					t.Errorf("no help on stdout:\n%s", out)
				}
				return
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Errorf("error does not say %q:\n%s", tc.msg, errOut)
			}
			if out != "" {
				t.Errorf("stdout not empty:\n%s", out)
			}
			if n := strings.Count(strings.TrimSpace(errOut), "\n"); n != 0 {
				t.Errorf("want one error line, got:\n%s", errOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(root, "runs")); !os.IsNotExist(err) {
		t.Errorf("something was planned: %v", err)
	}
}

// TestGlobalFlagsAfterTheCommand: --root, --log-level and --log-format
// work after the command and after its arguments; the last one given wins;
// nothing after "--" moves.
func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	for _, tc := range []struct {
		in, want []string
	}{
		{[]string{"fb", "status", "r1", "--root", "/d"}, []string{"fb", "--root", "/d", "status", "r1"}},
		{[]string{"fb", "--root", "/a", "status", "--root=/b", "r1", "-log-level", "debug"}, []string{"fb", "--root", "/a", "--root=/b", "-log-level", "debug", "status", "r1"}},
		{[]string{"fb", "manifest", "show", "r1", "--log-format=json"}, []string{"fb", "--log-format=json", "manifest", "show", "r1"}},
		{[]string{"fb", "status", "--", "--root", "x"}, []string{"fb", "status", "--", "--root", "x"}},
		{[]string{"fb", "status", "r1", "--shop", "a"}, []string{"fb", "status", "r1", "--shop", "a"}},
		{[]string{"fb"}, []string{"fb"}},
		{[]string{"fb", "--help"}, []string{"fb", "--help"}},
		{[]string{"fb", "-h", "status", "--root", "/d"}, []string{"fb", "-h", "--root", "/d", "status"}},
	} {
		if diff := cmp.Diff(tc.want, hoistGlobalFlags(tc.in)); diff != "" {
			t.Errorf("hoist %q -want +got:\n%s", tc.in, diff)
		}
	}
	// A mistyped root given after the command is the one searched.
	dir := t.TempDir()
	_, errOut, code := runAppOut(t, "status", "2026-12-01", "--root", filepath.Join(dir, "typo"))
	if code != exitNotFound || !strings.Contains(errOut, filepath.Join(dir, "typo")) {
		t.Errorf("exit %d, want %d naming the root:\n%s", code, exitNotFound, errOut)
	}
}

// TestInvalidRegistryProblemPerLine: every problem of a registry, each with
// its line, one per line under one heading; nothing planned.
func TestInvalidRegistryProblemPerLine(t *testing.T) {
	dir := t.TempDir()
	reg := filepath.Join(dir, "shops.yaml")
	const yaml = `shops:
  - {id: a, name: A, source: {url: a.csv, format: csv}, platforms: [google], country: US, currency: USD}
  - {id: a, name: B, source: {url: b.csv, format: csv}, platforms: [tiktok], country: US, currency: USD}
  - {id: "Bad Id", name: C, source: {url: "gopher://x/y", format: csv}, platforms: [google], country: US, currency: USD}
`
	if err := os.WriteFile(reg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range [][]string{{"manifest", "build"}, {"run", "--run", "r1"}} {
		t.Run(cmd[0], func(t *testing.T) {
			root := filepath.Join(dir, cmd[0])
			out, errOut, code := runAppOut(t, append(append([]string{"--root", root}, cmd...), "--registry", reg)...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) < 4 || !strings.HasSuffix(lines[0], "problem(s):") {
				t.Errorf("want a heading and a line per problem, got:\n%s", errOut)
			}
			for _, l := range lines[1:] {
				if !strings.HasPrefix(l, "  shops.yaml:") {
					t.Errorf("problem line %q does not start with its registry line", l)
				}
			}
			for _, want := range []string{"shops.yaml:3:", "duplicate id", "tiktok", "shops.yaml:4:", "gopher"} {
				if !strings.Contains(errOut, want) {
					t.Errorf("error does not say %q:\n%s", want, errOut)
				}
			}
			if _, err := os.Stat(filepath.Join(root, "runs")); !os.IsNotExist(err) {
				t.Errorf("something was planned: %v", err)
			}
		})
	}
}

// TestFlagHelp: every flag of every command and subcommand has an
// environment variable and a help line with at most one default and no
// backquotes (urfave/cli takes `text` in a usage for the value's name).
func TestFlagHelp(t *testing.T) {
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Name == "help" {
				continue // urfave/cli's, added once an app has run; it contains itself
			}
			name := strings.TrimSpace(prefix + " " + c.Name)
			walk(name, c.Subcommands)
			for _, f := range c.Flags {
				if f == cli.HelpFlag {
					continue // added by urfave/cli once the command has run
				}
				t.Run(name+" --"+f.Names()[0], func(t *testing.T) {
					if ef, ok := f.(interface{ GetEnvVars() []string }); !ok || len(ef.GetEnvVars()) == 0 {
						t.Errorf("no FEEDBATCH_* environment variable")
					}
					if u := f.(cli.DocGenerationFlag).GetUsage(); strings.Contains(u, "`") {
						t.Errorf("usage has a backquote: %s", u)
					}
					if s := f.String(); strings.Count(s, "(default:") > 1 {
						t.Errorf("two defaults: %s", s)
					}
				})
			}
		}
	}
	walk("", newApp().Commands)
}

// TestRegistryNotFound: a registry that is neither a file nor a key under
// the root is "not found" (exit 3), said in words.
func TestRegistryNotFound(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, registry, want string }{
		{"relative", "nosuch.yaml", "registry nosuch.yaml: no such file here, nor key under --root"},
		{"absolute", filepath.Join(dir, "nosuch.yaml"), "no such file"},
		{"store key", "store:nosuch.yaml", "not found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runAppOut(t, "--root", filepath.Join(dir, "root"), "manifest", "build", "--registry", tc.registry)
			if code != exitNotFound {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitNotFound, out, errOut)
			}
			if !strings.Contains(errOut, tc.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("want one line saying %q, got:\n%s", tc.want, errOut)
			}
		})
	}
}

// TestProgressSkipped: a progress line counts shops skipped because their
// upstream shop failed apart from failures of their own (it printed
// "feed 8/8 failed 3" for 1 failed + 2 skipped).
func TestProgressSkipped(t *testing.T) {
	steps := []planner.Step{{Name: "collect"}, {Name: "feed", After: []string{"collect"}}, {Name: "image", After: []string{"collect"}}}
	for _, tc := range []struct {
		name string
		ps   []planner.StageProgress
		want string
	}{
		{"one failed, two skipped", []planner.StageProgress{
			{Stage: "collect", Total: 8, Succeeded: 6, Failed: 2},
			{Stage: "feed", Total: 8, Succeeded: 5, Failed: 3},
			{Stage: "image", Total: 8, Succeeded: 6, Failed: 2},
		}, "collect 8/8 failed 2 | feed 8/8 failed 1 skipped 2 | image 8/8 skipped 2"},
		{"split by the engine", []planner.StageProgress{
			{Stage: "collect", Total: 8, Succeeded: 7, Failed: 1, Split: true},
			{Stage: "feed", Total: 8, Succeeded: 4, Failed: 3, Skipped: 1, Split: true},
			{Stage: "image", Total: 8, Succeeded: 7, Skipped: 1, Split: true},
		}, "collect 8/8 failed 1 | feed 8/8 failed 3 skipped 1 | image 8/8 skipped 1"},
		{"nothing failed", []planner.StageProgress{
			{Stage: "collect", Total: 2, Succeeded: 2}, {Stage: "feed", Total: 2, Running: 1, Succeeded: 1}, {Stage: "image", Total: 2, Succeeded: 2},
		}, "collect 2/2 | feed 1/2 running 1 | image 2/2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			p := newProgressPrinter(&b)
			p.steps = steps
			p.print(tc.ps)
			if got := strings.TrimSpace(b.String()); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// FuzzHoistGlobalFlags: hoisting only reorders the command line: the same
// arguments, the program name first, everything from "--" on in place.
func FuzzHoistGlobalFlags(f *testing.F) {
	f.Add("status r1 --root /d --shop a")
	f.Add("--root /a status --root=/b -- --root x")
	f.Add("manifest show r1 --log-level")
	f.Fuzz(func(t *testing.T, line string) {
		args := append([]string{"fb"}, strings.Fields(line)...)
		got := hoistGlobalFlags(slices.Clone(args))
		if len(got) != len(args) || got[0] != "fb" {
			t.Fatalf("hoist %q = %q", args, got)
		}
		a, b := slices.Clone(args), slices.Clone(got)
		slices.Sort(a)
		slices.Sort(b)
		if !slices.Equal(a, b) {
			t.Fatalf("hoist %q = %q: not the same arguments", args, got)
		}
		if i := slices.Index(args, "--"); i > 0 {
			if j := slices.Index(got, "--"); j < 0 || !slices.Equal(args[i:], got[len(got)-(len(args)-i):]) {
				t.Fatalf("hoist %q = %q: moved what follows --", args, got)
			}
		}
	})
}

// TestFlagEnvStaysWithItsApp: a flag's environment value is applied to the
// app's own copy of the flag, so a later app in the same process (the next
// test) does not inherit it.
func TestFlagEnvStaysWithItsApp(t *testing.T) {
	root := t.TempDir()
	t.Run("with the variable", func(t *testing.T) {
		t.Setenv("FEEDBATCH_NOTIFY_WEBHOOK", "http://127.0.0.1:9/hook")
		if code, _ := runApp(t, "--root", root, "finalize", "no-such-run"); code == exitOK {
			t.Fatal("finalize of a missing run succeeded")
		}
	})
	if v := notifyWebhookFlag.Value; v != "" {
		t.Errorf("the shared flag kept %q", v)
	}
	for _, c := range newApp().Commands {
		for _, f := range c.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Name == notifyWebhookFlag.Name && sf.Value != "" {
				t.Errorf("%s --%s starts as %q", c.Name, sf.Name, sf.Value)
			}
		}
	}
}
