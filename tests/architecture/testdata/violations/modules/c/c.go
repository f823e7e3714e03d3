// Package c breaks declared-uses (a's contract, but c does not declare a) and
// modules-below-app.
package c

import (
	_ "fixture/app"
	_ "fixture/modules/a/aapi"
)
