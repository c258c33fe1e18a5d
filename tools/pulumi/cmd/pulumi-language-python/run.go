package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// The launcher exits with this code once it has shown the user an actionable message (a program error it
// formatted itself): the engine then stops without adding a second, vaguer one.
const exitAfterUserMessage = 32

// Run runs a Pulumi program: the SDK's launcher, in the program's virtualenv, connected to the engine's
// resource monitor, with the stack's config in the environment the SDK reads it from.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := resolveToolchain(req.GetInfo(), false)
	if err != nil {
		return nil, err
	}
	if err := tc.ValidateVenv(ctx); err != nil {
		return nil, err
	}
	configEnv, err := configEnvironment(req)
	if err != nil {
		return nil, err
	}

	// Stopped by the end of the request or by Cancel, whichever comes first.
	runCtx, stop := context.WithCancel(h.cancelled)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd, err := tc.Command(runCtx, append([]string{"-u", h.launcher}, h.launcherArgs(req)...)...)
	if err != nil {
		return nil, err
	}
	// The engine ends the request once it has stopped the deployment (a failed policy, a provider error): the
	// program has nothing left to do. SIGTERM ends it quietly; SIGINT would print a KeyboardInterrupt
	// traceback under every such error. (A user's Ctrl-C reaches the program directly from the terminal.)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // The engine shows the host's output as the program's.
	addEnv(cmd, configEnv...)

	err = cmd.Run()
	var exited *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case errors.As(err, &exited) && exited.ExitCode() == exitAfterUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exited):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with code %d", exited.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the program's launcher: %v", err)}, nil
	}
}

// launcherArgs are the flags of the SDK's launcher, then the program and its own arguments.
func (h *languageHost) launcherArgs(req *pulumirpc.RunRequest) []string {
	var args []string
	for _, flag := range []struct{ name, value string }{
		{"monitor", req.GetMonitorAddress()},
		{"engine", h.engine()},
		{"project", req.GetProject()},
		{"root_directory", req.GetInfo().GetRootDirectory()},
		{"stack", req.GetStack()},
		{"pwd", req.GetPwd()},
		{"dry_run", strconv.FormatBool(req.GetDryRun())},
		{"parallel", strconv.Itoa(int(req.GetParallel()))},
		{"organization", req.GetOrganization()},
	} {
		if flag.value != "" {
			args = append(args, "--"+flag.name, flag.value)
		}
	}
	args = append(args, req.GetInfo().GetEntryPoint())
	return append(args, req.GetArgs()...)
}

// addEnv adds variables to a command's environment (nil means this process's own, which must be kept).
func addEnv(cmd *exec.Cmd, vars ...string) {
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, vars...)
}

// configEnvironment is the stack's config as the SDK reads it. A stack without config gets no variables at
// all, as upstream's host does: the SDK reads PULUMI_CONFIG=null as a map and fails on it.
func configEnvironment(req *pulumirpc.RunRequest) ([]string, error) {
	if len(req.GetConfig()) == 0 {
		return nil, nil
	}
	config, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("serializing the stack config: %w", err)
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, fmt.Errorf("serializing the stack's secret config keys: %w", err)
	}
	return []string{"PULUMI_CONFIG=" + string(config), "PULUMI_CONFIG_SECRET_KEYS=" + string(secretKeysJSON)}, nil
}
