// Package p breaks platform-below-modules.
package p

import _ "fixture/modules/a"
