//go:build tools

// Package tools pins the Pulumi CLI this project builds from the Go module proxy.
//
// scripts/install-pulumi.sh runs `go install` on the blank import below, using the versions this
// module's go.mod and go.sum fix. The language host and the command plugin live beside this file
// (languagehost/, commandprovider/): their upstream modules are not on the proxy.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
