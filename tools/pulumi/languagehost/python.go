package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"

	"release-train/tools/pulumi/lifetime"
)

// python is the interpreter a program runs with, and the environment it runs in.
type python struct {
	executable string
	virtualenv string // empty when the interpreter comes from PATH
}

// resolvePython picks the interpreter from the project's runtime options: the `virtualenv`
// option (relative to the project root unless absolute), else `python3` on PATH.
func resolvePython(info *pulumirpc.ProgramInfo) (python, error) {
	venv := ""
	if opts := info.GetOptions(); opts != nil {
		if v, ok := opts.AsMap()["virtualenv"].(string); ok {
			venv = v
		}
	}
	if venv == "" {
		exe, err := exec.LookPath("python3")
		if err != nil {
			return python{}, fmt.Errorf("no `virtualenv` runtime option and no python3 on PATH: %w", err)
		}
		return python{executable: exe}, nil
	}
	if !filepath.IsAbs(venv) {
		venv = filepath.Join(info.GetRootDirectory(), venv)
	}
	exe := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(exe); err != nil {
		return python{}, fmt.Errorf(
			"the virtualenv %s named in Pulumi.yaml has no bin/python; create it and install the requirements", venv)
	}
	return python{executable: exe, virtualenv: venv}, nil
}

func (p python) command(args ...string) *exec.Cmd {
	return p.commandContext(context.Background(), args...)
}

// commandContext runs the interpreter as if its virtualenv were activated.
func (p python) commandContext(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, p.executable, args...)
	env := os.Environ()
	if p.virtualenv != "" {
		filtered := env[:0]
		for _, kv := range env {
			if strings.HasPrefix(kv, "PYTHONHOME=") || strings.HasPrefix(kv, "PATH=") ||
				strings.HasPrefix(kv, "VIRTUAL_ENV=") {
				continue
			}
			filtered = append(filtered, kv)
		}
		env = append(filtered,
			"VIRTUAL_ENV="+p.virtualenv,
			"PATH="+filepath.Join(p.virtualenv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	cmd.Env = env
	lifetime.DiesWithThisPlugin(cmd)
	return cmd
}

// execScriptBeside is where the installer puts the SDK's program runner: next to this host.
func execScriptBeside(hostExecutable string) string {
	return filepath.Join(filepath.Dir(hostExecutable), "pulumi-language-python-exec")
}

func trimPythonVersion(out string) string {
	return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Python "))
}
