// Command pulumi-language-python is a Python language host for the Pulumi CLI built from Go modules.
//
// Pulumi's own host lives in a module of its own (sdk/python/cmd/pulumi-language-python/v3) that is never
// tagged, so no Go module proxy serves it; the CLI (pkg/v3) and the SDK (sdk/v3) are served. This host is
// built on the SDK's own Python toolchain package (virtualenv resolution, commands) and policy proxy, and
// implements what this project's programs and policy packs need from a host: running a program, running a
// policy pack, reporting its version. The engine starts it with its own address as the only argument and
// reads the port it serves on from its first line of output.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/cmdutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/logging"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// The SDK's program launcher script, shipped in the sdk/v3 module and installed beside this binary.
const execScript = "pulumi-language-python-exec"

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	// The engine passes -tracing when asked to trace; this host does not trace, but must accept it.
	flag.String("tracing", "", "ignored: this host emits no traces")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	logging.InitLogging(false, 0, false)

	self, err := os.Executable()
	if err != nil {
		cmdutil.Exit(fmt.Errorf("locating this executable: %w", err))
	}
	launcher := filepath.Join(filepath.Dir(self), execScript)
	if _, err := os.Stat(launcher); err != nil {
		cmdutil.Exit(fmt.Errorf("the program launcher %s is missing beside the language host: %w", launcher, err))
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cancel := make(chan bool)
	go func() {
		<-ctx.Done()
		close(cancel)
	}()

	host := newLanguageHost(launcher)
	if engine := flag.Arg(0); engine != "" {
		host.engineAddress = engine
		// Exit when the engine goes away, so that an interrupted CLI leaves no host behind.
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, stop); err != nil {
			cmdutil.Exit(fmt.Errorf("watching the engine at %s: %w", engine, err))
		}
	}

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		cmdutil.Exit(fmt.Errorf("serving the language host: %w", err))
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		cmdutil.Exit(fmt.Errorf("language host stopped serving: %w", err))
	}
}
