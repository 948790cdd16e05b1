// Command pulumi-language-python is release-train's Python language host for the Pulumi engine.
//
// The upstream host's Go module is not served by the Go module proxy, so the project builds this
// small one instead. It serves the LanguageRuntime gRPC service the engine dials: it runs a
// program with the Python SDK's own program runner (`pulumi-language-python-exec`, installed next
// to this binary from the SDK module), inside the virtualenv named by the project's runtime
// options. Plugins are not announced ahead of the run: the engine loads each provider when the
// program registers it, at the version the Python package asks for.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set at build time to the version of the engine this host ships with.
var version = "0.0.0-dev"

func main() {
	// The engine may pass flags of its own before the engine address; accept and ignore them
	// (the logging flags are registered by the SDK's logging package).
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.String("root", "", "project root (ignored)")
	flag.Parse()
	if flag.NArg() < 1 {
		fmt.Fprintln(os.Stderr, "usage: pulumi-language-python [flags] ENGINE_ADDRESS")
		os.Exit(2)
	}

	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot locate own executable: %v\n", err)
		os.Exit(1)
	}
	host := newPythonHost(flag.Arg(0), execScriptBeside(exe), version)

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot serve the language runtime: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of standard output.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "language runtime stopped: %v\n", err)
		os.Exit(1)
	}
}
