// Package b is fine on its own.
package b
