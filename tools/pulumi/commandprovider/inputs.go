package main

import (
	"fmt"
	"sort"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// localCommandType is the only resource type this plugin serves.
const localCommandType = "command:local:Command"

// inputKeys are the inputs of local.Command, as the Python SDK sends them.
var inputKeys = []resource.PropertyKey{
	"addPreviousOutputInEnv", "archivePaths", "assetPaths", "create", "delete", "dir",
	"environment", "interpreter", "logging", "stdin", "triggers", "update",
}

// replaceKeys are the inputs whose change replaces the command instead of updating it.
var replaceKeys = map[resource.PropertyKey]bool{"triggers": true}

// command is one invocation: what runs, where, with which environment and standard input.
type command struct {
	script      string
	interpreter []string
	dir         string
	environment map[string]string
	stdin       string
	addPrevious bool
}

// unsecret returns the plain value under any secret wrapper.
func unsecret(v resource.PropertyValue) resource.PropertyValue {
	for v.IsSecret() {
		v = v.SecretValue().Element
	}
	return v
}

func stringInput(inputs resource.PropertyMap, key resource.PropertyKey) (string, error) {
	v, ok := inputs[key]
	if !ok {
		return "", nil
	}
	v = unsecret(v)
	switch {
	case v.IsNull():
		return "", nil
	case v.IsString():
		return v.StringValue(), nil
	default:
		return "", fmt.Errorf("input %q must be a string", key)
	}
}

// commandFor reads the invocation of one lifecycle step ("create", "update" or "delete").
func commandFor(inputs resource.PropertyMap, step resource.PropertyKey) (command, error) {
	for _, unsupported := range []resource.PropertyKey{"assetPaths", "archivePaths"} {
		if v, ok := inputs[unsupported]; ok && !unsecret(v).IsNull() {
			return command{}, fmt.Errorf("input %q is not supported by this build of the command plugin", unsupported)
		}
	}
	c := command{interpreter: []string{"/bin/sh", "-c"}, environment: map[string]string{}, addPrevious: true}
	var err error
	if c.script, err = stringInput(inputs, step); err != nil {
		return command{}, err
	}
	if c.dir, err = stringInput(inputs, "dir"); err != nil {
		return command{}, err
	}
	if c.stdin, err = stringInput(inputs, "stdin"); err != nil {
		return command{}, err
	}
	if v, ok := inputs["interpreter"]; ok && !unsecret(v).IsNull() {
		v = unsecret(v)
		if !v.IsArray() || len(v.ArrayValue()) == 0 {
			return command{}, fmt.Errorf("input \"interpreter\" must be a non-empty list of strings")
		}
		c.interpreter = nil
		for _, e := range v.ArrayValue() {
			e = unsecret(e)
			if !e.IsString() {
				return command{}, fmt.Errorf("input \"interpreter\" must be a list of strings")
			}
			c.interpreter = append(c.interpreter, e.StringValue())
		}
	}
	if v, ok := inputs["environment"]; ok && !unsecret(v).IsNull() {
		v = unsecret(v)
		if !v.IsObject() {
			return command{}, fmt.Errorf("input \"environment\" must be a map of strings")
		}
		for k, e := range v.ObjectValue() {
			e = unsecret(e)
			if !e.IsString() {
				return command{}, fmt.Errorf("environment variable %q must be a string", k)
			}
			c.environment[string(k)] = e.StringValue()
		}
	}
	if v, ok := inputs["addPreviousOutputInEnv"]; ok && unsecret(v).IsBool() {
		c.addPrevious = unsecret(v).BoolValue()
	}
	return c, nil
}

// changedInputs lists the inputs whose values differ between two sets of inputs, sorted.
func changedInputs(olds, news resource.PropertyMap) []resource.PropertyKey {
	var changed []resource.PropertyKey
	for _, k := range inputKeys {
		o, hasOld := olds[k]
		n, hasNew := news[k]
		if !hasOld {
			o = resource.NewNullProperty()
		}
		if !hasNew {
			n = resource.NewNullProperty()
		}
		if n.ContainsUnknowns() || !unsecret(o).DeepEquals(unsecret(n)) {
			changed = append(changed, k)
		}
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i] < changed[j] })
	return changed
}

// anySecret tells whether any input is secret; the command's output is then secret too.
func anySecret(inputs resource.PropertyMap) bool {
	for _, k := range inputKeys {
		if v, ok := inputs[k]; ok && v.ContainsSecrets() {
			return true
		}
	}
	return false
}

// outputsOf is the resource's state: its inputs plus the command's stdout and stderr.
func outputsOf(inputs resource.PropertyMap, stdout, stderr resource.PropertyValue) resource.PropertyMap {
	outs := resource.PropertyMap{}
	for _, k := range inputKeys {
		if v, ok := inputs[k]; ok {
			outs[k] = v
		}
	}
	if anySecret(inputs) {
		stdout, stderr = resource.MakeSecret(stdout), resource.MakeSecret(stderr)
	}
	outs["stdout"] = stdout
	outs["stderr"] = stderr
	return outs
}

// previousOutput reads the stdout and stderr recorded in a resource's state.
func previousOutput(state resource.PropertyMap) (string, string) {
	get := func(k resource.PropertyKey) string {
		if v, ok := state[k]; ok && unsecret(v).IsString() {
			return unsecret(v).StringValue()
		}
		return ""
	}
	return get("stdout"), get("stderr")
}
