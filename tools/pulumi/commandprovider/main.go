// Command pulumi-resource-command is release-train's build of the `command` resource plugin.
//
// The Python package pulumi-command registers `command:local:Command` resources and asks the
// engine for the `command` plugin at its own version. That plugin's Go module is not served by the
// Go module proxy, so the project builds this one, which implements `local.Command` (create,
// update and delete commands, environment, working directory, interpreter, stdin, triggers) and
// reports the version the installer stamps into it, the Python package's version.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
)

// version is set at build time to the pulumi-command Python package's version.
var version = "0.0.0-dev"

func main() {
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.Parse()

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, newProvider(version))
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot serve the command provider: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "command provider stopped: %v\n", err)
		os.Exit(1)
	}
}
