// Package app may import every module.
package app
