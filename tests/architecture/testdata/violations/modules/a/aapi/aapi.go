// Package aapi is a's contract; it breaks contracts-stand-alone by importing b's internals.
package aapi

import _ "fixture/modules/b"
