package db

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// JSONValue encodes v as JSON text for a jsonb column (the Value half of a driver.Valuer).
func JSONValue(v any) (driver.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("db: encode jsonb: %w", err)
	}
	return string(b), nil
}

// ScanJSON decodes a jsonb column into dst (the body of an sql.Scanner).
func ScanJSON(src any, dst any) error {
	switch v := src.(type) {
	case []byte:
		return json.Unmarshal(v, dst)
	case string:
		return json.Unmarshal([]byte(v), dst)
	default:
		return fmt.Errorf("db: cannot scan %T into jsonb", src)
	}
}
