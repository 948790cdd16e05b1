package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"release-train/tools/pulumi/lifetime"
)

// result is what one command printed.
type result struct {
	stdout string
	stderr string
}

// run executes a command with its interpreter; previous output goes into the environment.
func run(ctx context.Context, c command, prevStdout, prevStderr string) (result, error) {
	args := append(append([]string{}, c.interpreter[1:]...), c.script)
	cmd := exec.CommandContext(ctx, c.interpreter[0], args...)
	cmd.Dir = c.dir
	cmd.Env = os.Environ()
	for k, v := range c.environment {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if c.addPrevious {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+prevStdout, "PULUMI_COMMAND_STDERR="+prevStderr)
	}
	if c.stdin != "" {
		cmd.Stdin = strings.NewReader(c.stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := lifetime.RunBound(cmd)
	res := result{
		stdout: strings.TrimRight(stdout.String(), "\n"),
		stderr: strings.TrimRight(stderr.String(), "\n"),
	}
	if err != nil {
		return res, fmt.Errorf("command failed: %w\nstdout: %s\nstderr: %s", err, res.stdout, res.stderr)
	}
	return res, nil
}
