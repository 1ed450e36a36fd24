module github.com/eci-imagecache/eci-imagecache/examples/go

go 1.19

// The official ECI SDK for Go (v3.1.1 is the newest tag of
// alibabacloud-go/eci-20180808), with the darabonba-openapi/v2 and tea
// versions its own go.mod names. Run `go mod tidy` once to resolve the
// indirect modules and write go.sum (not committed: it could not be
// generated where this recipe was written, see docs/recipes.md).
require (
	github.com/alibabacloud-go/darabonba-openapi/v2 v2.0.11
	github.com/alibabacloud-go/eci-20180808/v3 v3.1.1
	github.com/alibabacloud-go/tea v1.2.2
)
