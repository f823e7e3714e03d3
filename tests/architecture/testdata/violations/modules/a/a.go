// Package a breaks contracts-only: it imports b's internals, not b's contract.
package a

import (
	_ "fixture/modules/a/aapi"
	_ "fixture/modules/b"
)
