// Package docker_test checks docker/Dockerfile without Docker: the binary it
// builds is static, its paths exist, it runs as a non-root user, and the job
// definitions' commands resolve to the binary it installs.
package docker_test

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/feedbatch/feedbatch/cfn"
	"github.com/feedbatch/feedbatch/internal/testtool"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd   string // upper case: FROM, RUN, COPY, ...
	args  string
	stage int // index of the FROM it belongs to
	line  int
}

// parseDockerfile is a small line parser: comments and blank lines dropped,
// backslash continuations joined, instructions grouped by build stage.
func parseDockerfile(t *testing.T, src []byte) []instruction {
	t.Helper()
	var out []instruction
	var cur strings.Builder
	start, stage := 0, -1
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if cur.Len() == 0 && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{cmd: cmd, args: strings.TrimSpace(args), stage: stage, line: start})
		cur.Reset()
	}
	if cur.Len() > 0 {
		t.Fatalf("Dockerfile ends in a continuation line")
	}
	return out
}

type dockerfile struct {
	all        []instruction
	final      []instruction // instructions of the last stage
	finalBase  string
	buildRun   string // the RUN line with "go build"
	copyFrom   string // binary path in the build stage
	binaryPath string // where the final stage puts it
	env        map[string]string
	user       string
	cmd        []string
	entrypoint []string
}

func load(t *testing.T) dockerfile {
	t.Helper()
	src, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	d := dockerfile{all: parseDockerfile(t, src), env: map[string]string{}}
	last := d.all[len(d.all)-1].stage
	for _, in := range d.all {
		if in.cmd == "RUN" && strings.Contains(in.args, "go build") {
			d.buildRun = in.args
		}
		if in.stage != last {
			continue
		}
		d.final = append(d.final, in)
		switch in.cmd {
		case "FROM":
			d.finalBase = strings.Fields(in.args)[0]
		case "COPY":
			f := strings.Fields(in.args)
			if len(f) == 3 && strings.HasPrefix(f[0], "--from=") {
				d.copyFrom, d.binaryPath = f[1], f[2]
			}
		case "ENV":
			for _, kv := range strings.Fields(in.args) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					t.Fatalf("line %d: ENV %q: use the KEY=value form", in.line, in.args)
				}
				d.env[k] = v
			}
		case "USER":
			d.user = in.args
		case "CMD", "ENTRYPOINT":
			var v []string
			if err := json.Unmarshal([]byte(in.args), &v); err != nil {
				t.Fatalf("line %d: %s must be exec (JSON) form, no shell in the image: %v", in.line, in.cmd, err)
			}
			if in.cmd == "CMD" {
				d.cmd = v
			} else {
				d.entrypoint = v
			}
		}
	}
	return d
}

var repoRoot = ".."

// buildLikeDockerfile builds the binary with the Dockerfile's own go build
// flags and package path.
func buildLikeDockerfile(t *testing.T, d dockerfile) string {
	t.Helper()
	re := regexp.MustCompile(`CGO_ENABLED=0 go build (-trimpath) -ldflags "([^"]*)" -o (\S+) (\./\S+)$`)
	_, build, _ := strings.Cut(d.buildRun, "CGO_ENABLED")
	m := re.FindStringSubmatch("CGO_ENABLED" + strings.Join(strings.Fields(build), " "))
	if m == nil {
		t.Fatalf("go build line not understood (want CGO_ENABLED=0 go build -trimpath -ldflags \"...\" -o OUT ./cmd/...): %q", d.buildRun)
	}
	ldflags := strings.ReplaceAll(m[2], "${VERSION}", "v9.9.9-test")
	if m[3] != d.copyFrom {
		t.Errorf("go build -o %s, but the final stage copies %s", m[3], d.copyFrom)
	}
	pkg := m[4]
	if fi, err := os.Stat(filepath.Join(repoRoot, pkg, "main.go")); err != nil || fi.IsDir() {
		t.Fatalf("build path %s: no main.go: %v", pkg, err)
	}
	if pkg != "./cmd/feedbatch" {
		t.Fatalf("the Dockerfile builds %s, want ./cmd/feedbatch", pkg)
	}
	// The same flags as every other test's build (testtool.Feedbatch), so
	// the packages come from the build cache and only the link is new.
	return testtool.Feedbatch(t, ldflags)
}

func TestDockerfile(t *testing.T) {
	d := load(t)

	t.Run("base", func(t *testing.T) {
		if !strings.HasPrefix(d.finalBase, "gcr.io/distroless/static") || !strings.HasSuffix(d.finalBase, ":nonroot") {
			t.Errorf("final base %q: want a distroless static nonroot image (CA bundle, passwd, no shell)", d.finalBase)
		}
		if d.all[0].cmd != "FROM" || !strings.HasPrefix(d.all[0].args, "golang:1.26 ") {
			t.Errorf("build stage %q: want golang:1.26 (go.mod's toolchain)", d.all[0].args)
		}
	})
	t.Run("user", func(t *testing.T) {
		u, _, _ := strings.Cut(d.user, ":")
		if u == "" || u == "root" || u == "0" {
			t.Errorf("USER %q: the image must run as non-root", d.user)
		}
	})
	t.Run("no shell needed", func(t *testing.T) {
		for _, in := range d.final {
			if in.cmd == "RUN" {
				t.Errorf("line %d: RUN in the final stage needs a shell the image does not have", in.line)
			}
		}
	})
	t.Run("commands resolve to the binary", func(t *testing.T) {
		defs, err := cfn.JobDefinitions()
		if err != nil {
			t.Fatal(err)
		}
		dir, name := path.Split(d.binaryPath)
		if !slices.Contains(filepath.SplitList(d.env["PATH"]), strings.TrimSuffix(dir, "/")) {
			t.Errorf("binary %s is not on the image's PATH %q", d.binaryPath, d.env["PATH"])
		}
		if len(d.entrypoint) > 0 {
			t.Errorf("ENTRYPOINT %q would be prepended to the job definitions' commands", d.entrypoint)
		}
		for _, def := range defs {
			if def.Command[0] != name && def.Command[0] != d.binaryPath {
				t.Errorf("%s: command %q does not start with %q or %q", def.Name, def.Command, name, d.binaryPath)
			}
		}
		if len(d.cmd) == 0 || (d.cmd[0] != name && d.cmd[0] != d.binaryPath) {
			t.Errorf("CMD %q does not run the binary", d.cmd)
		}
	})
	t.Run("dockerignore keeps the build inputs", func(t *testing.T) {
		b, err := os.ReadFile("Dockerfile.dockerignore")
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Fields(string(b))
		if !slices.Contains(lines, ".git") {
			t.Error(".git is not ignored")
		}
		for _, keep := range []string{"go.mod", "go.sum", "cmd", "cfn", "*.go", "**/*.go", "**/*.yaml"} {
			if slices.Contains(lines, keep) {
				t.Errorf("%s is ignored but the build needs it", keep)
			}
		}
	})
}

// TestBinary builds the binary as the Dockerfile does and checks that it
// needs nothing from the image: no dynamic loader, no shared libraries.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	d := load(t)
	bin := buildLikeDockerfile(t, d)

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("binary has PT_INTERP: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("binary needs shared libraries %v (%v)", libs, err)
	}
	if s := f.Section(".debug_info"); s != nil {
		t.Error("binary has DWARF: -s -w not applied")
	}

	run := func(t *testing.T, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), bin, args...)
		// The image's environment: no HOME config, PATH from the Dockerfile.
		cmd.Env = []string{"PATH=" + d.env["PATH"], "HOME=" + t.TempDir()}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("feedbatch %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	t.Run("version", func(t *testing.T) {
		if out := run(t, "--version"); !strings.Contains(out, "v9.9.9-test") {
			t.Errorf("--version = %q, want the -X main.version value", out)
		}
	})
	t.Run("CMD", func(t *testing.T) {
		run(t, d.cmd[1:]...)
	})
	t.Run("job definition commands", func(t *testing.T) {
		defs, err := cfn.JobDefinitions()
		if err != nil {
			t.Fatal(err)
		}
		for _, def := range defs {
			t.Run(def.Name, func(t *testing.T) {
				run(t, append(slices.Clone(def.Command[1:]), "--help")...)
			})
		}
	})
}

func TestParseDockerfile(t *testing.T) {
	src := "# c\nFROM a AS b\n\nRUN x \\\n  y\nFROM c\nUSER 1:1\n"
	got := parseDockerfile(t, []byte(src))
	want := []instruction{
		{cmd: "FROM", args: "a AS b", stage: 0, line: 2},
		{cmd: "RUN", args: "x  y", stage: 0, line: 4},
		{cmd: "FROM", args: "c", stage: 1, line: 6},
		{cmd: "USER", args: "1:1", stage: 1, line: 7},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("instruction %d: got %+v want %+v", i, got[i], want[i])
		}
	}
}
