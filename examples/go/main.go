// Quickstart: the official Go SDK (github.com/alibabacloud-go/eci-20180808/v3)
// against `eci-imagecache serve`.
//
//	eci-imagecache serve --access-key AKIDEXAMPLE:SECRETEXAMPLE --instant
//	cd examples/go && go mod tidy && go run .
//
// Environment:
//
//	ECI_ENDPOINT                     host:port of the emulator (default 127.0.0.1:8080)
//	ALIBABA_CLOUD_ACCESS_KEY_ID      default AKIDEXAMPLE
//	ALIBABA_CLOUD_ACCESS_KEY_SECRET  default SECRETEXAMPLE
//	ECI_REGION                       default cn-hangzhou
//	ECI_WAIT_SECONDS                 how long to wait for Ready (default 300)
//
// Creates an image cache, waits until it is Ready (at once under --instant;
// about --preparing + --creating seconds on the system clock; never on a
// manual --now clock unless /_emulator/clock moves it), prints it, deletes
// it, and checks every deterministic value on the way: any mismatch exits
// non-zero.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"
)

const name = "quickstart-go"

var images = []string{"nginx:1.25", "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/alpine:3.5"}

func env(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

// cleanup runs before a failure exits (it deletes the cache once created).
var cleanup = func() {}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	c := cleanup
	cleanup = func() {}
	c()
	os.Exit(1)
}

func check(what string, got, want interface{}) {
	if !reflect.DeepEqual(got, want) {
		fail("MISMATCH %s: got %#v, want %#v", what, got, want)
	}
}

func must(what string, err error) {
	if err != nil {
		fail("FAILED %s: %v", what, err)
	}
}

func main() {
	region := env("ECI_REGION", "cn-hangzhou")
	wait, err := strconv.ParseFloat(env("ECI_WAIT_SECONDS", "300"), 64)
	must("ECI_WAIT_SECONDS", err)

	// The endpoint override: a host:port, and plain HTTP.
	client, err := eci.NewClient(&openapi.Config{
		AccessKeyId:     tea.String(env("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKIDEXAMPLE")),
		AccessKeySecret: tea.String(env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SECRETEXAMPLE")),
		RegionId:        tea.String(region),
		Endpoint:        tea.String(env("ECI_ENDPOINT", "127.0.0.1:8080")),
		Protocol:        tea.String("http"),
	})
	must("NewClient", err)

	created, err := client.CreateImageCache(&eci.CreateImageCacheRequest{
		RegionId:       tea.String(region),
		ImageCacheName: tea.String(name),
		Image:          tea.StringSlice(images),
		ImageCacheSize: tea.Int32(20),
		RetentionDays:  tea.Int32(7),
		Tag:            []*eci.CreateImageCacheRequestTag{{Key: tea.String("recipe"), Value: tea.String("go")}},
	})
	must("CreateImageCache", err)
	check("CreateImageCache status", tea.Int32Value(created.StatusCode), int32(200))
	id := tea.StringValue(created.Body.ImageCacheId)
	group := tea.StringValue(created.Body.ContainerGroupId)
	check("ImageCacheId prefix", strings.HasPrefix(id, "imc-"), true)
	check("ContainerGroupId prefix", strings.HasPrefix(group, "eci-"), true)
	fmt.Printf("created %s (container group %s)\n", id, group)

	describe := func() *eci.DescribeImageCachesResponseBody {
		resp, err := client.DescribeImageCaches(&eci.DescribeImageCachesRequest{
			RegionId: tea.String(region), ImageCacheId: tea.String(id),
		})
		must("DescribeImageCaches", err)
		check("DescribeImageCaches status", tea.Int32Value(resp.StatusCode), int32(200))
		return resp.Body
	}
	remove := func() {
		resp, err := client.DeleteImageCache(&eci.DeleteImageCacheRequest{
			RegionId: tea.String(region), ImageCacheId: tea.String(id),
		})
		must("DeleteImageCache", err)
		check("DeleteImageCache status", tea.Int32Value(resp.StatusCode), int32(200))
		fmt.Printf("deleted %s\n", id)
	}
	cleanup = remove

	deadline := time.Now().Add(time.Duration(wait * float64(time.Second)))
	var cache *eci.DescribeImageCachesResponseBodyImageCaches
	last := ""
	for {
		body := describe()
		check("TotalCount", tea.Int32Value(body.TotalCount), int32(1))
		cache = body.ImageCaches[0]
		status := tea.StringValue(cache.Status)
		if now := status + " " + tea.StringValue(cache.Progress); now != last {
			last = now
			fmt.Printf("status %s (%s)\n", status, tea.StringValue(cache.Progress))
		}
		if status == "Ready" {
			break
		}
		if status != "Preparing" && status != "Creating" {
			fail("MISMATCH status: %q is neither on the way to Ready nor Ready", status)
		}
		if time.Now().After(deadline) {
			fail("TIMEOUT: %s not Ready after %.0f s (status %s); a manual clock (--now) "+
				"only moves through /_emulator/clock: use --instant or the system clock", id, wait, status)
		}
		time.Sleep(time.Second)
	}

	printed, _ := json.MarshalIndent(cache, "", "  ")
	fmt.Println(string(printed))
	check("ImageCacheId", tea.StringValue(cache.ImageCacheId), id)
	check("ContainerGroupId", tea.StringValue(cache.ContainerGroupId), group)
	check("ImageCacheName", tea.StringValue(cache.ImageCacheName), name)
	check("RegionId", tea.StringValue(cache.RegionId), region)
	check("Status", tea.StringValue(cache.Status), "Ready")
	check("Progress", tea.StringValue(cache.Progress), "100%")
	// Images come back as they were sent, not canonicalised.
	check("Images", tea.StringSliceValue(cache.Images), images)
	check("ImageCacheSize", tea.Int32Value(cache.ImageCacheSize), int32(20))
	check("Tags length", len(cache.Tags), 1)
	check("Tag", []string{tea.StringValue(cache.Tags[0].Key), tea.StringValue(cache.Tags[0].Value)}, []string{"recipe", "go"})
	check("SnapshotId prefix", strings.HasPrefix(tea.StringValue(cache.SnapshotId), "s-"), true)
	// RetentionDays=7: ExpireDateTime is CreationTime + 7 days.
	createdAt, err := time.Parse("2006-01-02T15:04:05Z", tea.StringValue(cache.CreationTime))
	must("CreationTime", err)
	check("ExpireDateTime", tea.StringValue(cache.ExpireDateTime), createdAt.AddDate(0, 0, 7).Format("2006-01-02T15:04:05Z"))
	check("last event", tea.StringValue(cache.Events[len(cache.Events)-1].Reason), "Ready")

	cleanup = func() {}
	remove()
	check("TotalCount after delete", tea.Int32Value(describe().TotalCount), int32(0))
	fmt.Println("go quickstart: OK")
}
