package main

import (
	"fmt"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
)

var toolchains = map[string]toolchain.PythonOptions{
	"pip":    {Toolchain: toolchain.Pip},
	"uv":     {Toolchain: toolchain.Uv},
	"poetry": {Toolchain: toolchain.Poetry},
}

// pythonOptions reads the `runtime.options` of Pulumi.yaml or PulumiPolicy.yaml (virtualenv, toolchain).
// A plugin (a policy pack) without a virtualenv option gets `venv`, as Pulumi's own host gives it: a plugin
// never runs in whatever Python happens to be on PATH.
func pythonOptions(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.PythonOptions, error) {
	options := toolchain.PythonOptions{Root: info.GetRootDirectory(), ProgramDir: info.GetProgramDirectory()}
	settings := info.GetOptions().AsMap()
	if value, ok := settings["toolchain"]; ok {
		name, _ := value.(string)
		chosen, known := toolchains[name]
		if !known {
			return options, fmt.Errorf("runtime option toolchain: %v is not one of pip, uv, poetry", value)
		}
		options.Toolchain = chosen.Toolchain
	}
	if value, ok := settings["virtualenv"]; ok {
		path, isString := value.(string)
		if !isString {
			return options, fmt.Errorf("runtime option virtualenv: %v is not a path", value)
		}
		options.Virtualenv = path
	}
	if isPlugin && options.Virtualenv == "" && options.Toolchain != toolchain.Uv &&
		options.Toolchain != toolchain.Poetry {
		options.Virtualenv = "venv"
	}
	return options, nil
}

func resolveToolchain(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	options, err := pythonOptions(info, isPlugin)
	if err != nil {
		return nil, err
	}
	return toolchain.ResolveToolchain(options)
}
