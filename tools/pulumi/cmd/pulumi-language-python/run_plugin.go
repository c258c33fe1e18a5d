package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strconv"

	"github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// RunPlugin runs a plugin written in Python. A policy pack (kind analyzer) runs as `python -m pulumi.policy
// <args> <pack dir>` in the pack's directory, behind the SDK's policy proxy: the engine configures the stack
// on the proxy first, and the pack starts with that configuration in its environment. Any other plugin is a
// directory with a __main__.py, run with its arguments from the engine's working directory.
func (h *languageHost) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	ctx := server.Context()
	isPolicyPack := req.GetKind() == string(apitype.AnalyzerPlugin)
	tc, err := resolveToolchain(req.GetInfo(), true)
	if err != nil {
		return err
	}
	dir := req.GetInfo().GetProgramDirectory()
	args := append([]string{dir}, req.GetArgs()...)
	if isPolicyPack {
		args = append(append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...), dir)
	}
	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return err
	}
	cmd.Dir = req.GetPwd()

	closer, stdout, stderr, err := rpcutil.MakeRunPluginStreams(server, false)
	if err != nil {
		return err
	}
	defer closer.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr

	var proxy *sdk.PolicyProxy
	if isPolicyPack {
		cmd.Dir = dir // Policy packs have always run from their own directory.
		proxy, cmd.Stdout, err = sdk.NewPolicyProxy(ctx, stdout)
		if err != nil {
			return fmt.Errorf("starting the policy proxy: %w", err)
		}
		stack, err := proxy.AwaitConfiguration(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the stack's configuration: %w", err)
		}
		env, err := policyPackEnv(stack)
		if err != nil {
			return err
		}
		addEnv(cmd, env...)
	}
	addEnv(cmd, req.GetEnv()...)

	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting plugin %s: %w", req.GetName(), err)
	}
	if proxy != nil {
		err = proxy.Attach(ctx, cmd) // Returns when the pack exits.
	} else {
		err = cmd.Wait()
	}
	var exited *exec.ExitError
	if errors.As(err, &exited) {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(exited.ExitCode())},
		})
	}
	if err != nil {
		return fmt.Errorf("running plugin %s: %w", req.GetName(), err)
	}
	return closer.Close()
}

// policyPackEnv is the stack a policy pack validates, where pulumi-policy reads it.
func policyPackEnv(stack *pulumirpc.AnalyzerStackConfigureRequest) ([]string, error) {
	if stack == nil {
		return nil, nil
	}
	env := []string{
		"PULUMI_ORGANIZATION=" + stack.GetOrganization(),
		"PULUMI_PROJECT=" + stack.GetProject(),
		"PULUMI_STACK=" + stack.GetStack(),
		"PULUMI_DRY_RUN=" + strconv.FormatBool(stack.GetDryRun()),
	}
	if config := stack.GetConfig(); config != nil {
		encoded, err := json.Marshal(config)
		if err != nil {
			return nil, fmt.Errorf("serializing the stack config for the policy pack: %w", err)
		}
		env = append(env, "PULUMI_CONFIG="+string(encoded))
	}
	return env, nil
}
