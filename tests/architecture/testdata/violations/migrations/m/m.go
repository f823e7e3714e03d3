// Package m breaks migrations-frozen.
package m

import _ "fixture/modules/b"
