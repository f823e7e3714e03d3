// Package configs holds the service's configuration files. default.yaml documents every key
// and is compiled into the binary as the base layer; dev.yaml is what `make run` uses.
package configs

import _ "embed"

// Default is default.yaml: every key with its default value.
//
//go:embed default.yaml
var Default []byte
