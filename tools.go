//go:build tools

// This file pins modules that packages are about to use, so that `go mod
// tidy` run mid-change keeps them.
package pollwire

import (
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/tidwall/gjson"
	_ "golang.org/x/oauth2"
)
