package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"release-train/tools/pulumi/lifetime"
)

// userActionableExit is the exit code the SDK's program runner uses after it has already shown
// the user a clear message; the engine is then told to bail without adding its own.
const userActionableExit = 32

// pythonHost implements the LanguageRuntime service for Python programs.
type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	engineAddress string
	execScript    string
	version       string
}

func newPythonHost(engineAddress, execScript, version string) *pythonHost {
	return &pythonHost{engineAddress: engineAddress, execScript: execScript, version: version}
}

func (h *pythonHost) Handshake(
	_ context.Context, _ *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: h.version}, nil
}

// GetRequiredPlugins announces nothing: providers are loaded when the program registers them.
func (h *pythonHost) GetRequiredPlugins(
	context.Context, *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

// GetRequiredPackages announces nothing either. Announcing every provider package installed in
// the virtualenv would make the engine fetch plugins the program never uses.
func (h *pythonHost) GetRequiredPackages(
	context.Context, *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

func (h *pythonHost) About(_ context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	py, err := resolvePython(req.GetInfo())
	if err != nil {
		return nil, err
	}
	out, err := py.command("--version").Output()
	if err != nil {
		return nil, fmt.Errorf("running %s --version: %w", py.executable, err)
	}
	return &pulumirpc.AboutResponse{Executable: py.executable, Version: trimPythonVersion(string(out))}, nil
}

// Run executes the program with the SDK's program runner and reports how it ended.
func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	if _, err := os.Stat(h.execScript); err != nil {
		return nil, fmt.Errorf("the Python program runner is missing next to the language host: %w", err)
	}
	py, err := resolvePython(req.GetInfo())
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("encoding the stack configuration: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("encoding the secret configuration keys: %w", err)
	}

	args := append([]string{"-u", h.execScript}, runnerArguments(req, h.engineAddress)...)
	cmd := py.commandContext(ctx, args...)
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr
	cmd.Env = append(cmd.Env, "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON))

	if err := lifetime.RunBound(cmd); err != nil {
		_ = os.Stdout.Sync()
		_ = os.Stderr.Sync()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == userActionableExit {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start the Python program runner: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// runnerArguments builds the command line of the SDK's program runner from a run request.
func runnerArguments(req *pulumirpc.RunRequest, engineAddress string) []string {
	var args []string
	add := func(name, value string) {
		if value != "" {
			args = append(args, "--"+name, value)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", engineAddress)
	add("project", req.GetProject())
	add("root_directory", req.GetInfo().GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", req.GetPwd())
	add("dry_run", strconv.FormatBool(req.GetDryRun()))
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	add("organization", req.GetOrganization())

	entry := req.GetInfo().GetEntryPoint()
	if entry == "" {
		entry = req.GetProgram()
	}
	if entry == "" {
		entry = "."
	}
	args = append(args, entry)
	return append(args, req.GetArgs()...)
}

// GetProgramDependencies lists the packages installed in the program's interpreter.
func (h *pythonHost) GetProgramDependencies(
	_ context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	py, err := resolvePython(req.GetInfo())
	if err != nil {
		return nil, err
	}
	args := []string{"-m", "pip", "list", "--format=json", "--disable-pip-version-check"}
	if !req.GetTransitiveDependencies() {
		args = append(args, "--not-required")
	}
	out, err := py.command(args...).Output()
	if err != nil {
		return nil, fmt.Errorf("listing the packages of %s: %w", py.executable, err)
	}
	var packages []struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := json.Unmarshal(out, &packages); err != nil {
		return nil, fmt.Errorf("reading pip's package list: %w", err)
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, p := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}
