"""Quickstart: the official Python SDK (alibabacloud-eci20180808) against
`eci-imagecache serve`.

    eci-imagecache serve --access-key AKIDEXAMPLE:SECRETEXAMPLE --instant
    pip install -r tests/sdk/requirements.txt     # or: tests/sdk/setup.sh target/sdk-venv
    python examples/python/quickstart.py

Environment:
    ECI_ENDPOINT                     host:port of the emulator (default 127.0.0.1:8080)
    ALIBABA_CLOUD_ACCESS_KEY_ID      default AKIDEXAMPLE
    ALIBABA_CLOUD_ACCESS_KEY_SECRET  default SECRETEXAMPLE
    ECI_REGION                       default cn-hangzhou
    ECI_WAIT_SECONDS                 how long to wait for Ready (default 300)

Creates an image cache, waits until it is Ready (at once under --instant;
about --preparing + --creating seconds on the system clock; never on a
manual --now clock unless /_emulator/clock moves it), prints it, deletes
it, and checks every deterministic value on the way: any mismatch exits
non-zero.
"""

import calendar
import json
import os
import sys
import time

from alibabacloud_eci20180808 import models as eci_models
from alibabacloud_eci20180808.client import Client
from alibabacloud_tea_openapi import models as open_api_models

ENDPOINT = os.environ.get("ECI_ENDPOINT", "127.0.0.1:8080")
AK = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKIDEXAMPLE")
SECRET = os.environ.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "SECRETEXAMPLE")
REGION = os.environ.get("ECI_REGION", "cn-hangzhou")
WAIT_SECONDS = float(os.environ.get("ECI_WAIT_SECONDS", "300"))

NAME = "quickstart-python"
IMAGES = ["nginx:1.25", "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/alpine:3.5"]


def check(what, got, want):
    if got != want:
        sys.exit(f"MISMATCH {what}: got {got!r}, want {want!r}")


def main():
    # The endpoint override: a host:port, and plain HTTP.
    config = open_api_models.Config(
        access_key_id=AK,
        access_key_secret=SECRET,
        region_id=REGION,
        endpoint=ENDPOINT,
        protocol="http",
    )
    client = Client(config)

    created = client.create_image_cache(eci_models.CreateImageCacheRequest(
        region_id=REGION,
        image_cache_name=NAME,
        image=IMAGES,
        image_cache_size=20,
        retention_days=7,
        tag=[eci_models.CreateImageCacheRequestTag(key="recipe", value="python")],
    ))
    check("CreateImageCache status", created.status_code, 200)
    cache_id = created.body.image_cache_id
    check("ImageCacheId prefix", cache_id[:4], "imc-")
    check("ContainerGroupId prefix", created.body.container_group_id[:4], "eci-")
    print(f"created {cache_id} (container group {created.body.container_group_id})")

    try:
        deadline = time.monotonic() + WAIT_SECONDS
        last = None
        while True:
            described = client.describe_image_caches(eci_models.DescribeImageCachesRequest(
                region_id=REGION, image_cache_id=cache_id))
            check("DescribeImageCaches status", described.status_code, 200)
            check("TotalCount", described.body.total_count, 1)
            cache = described.body.image_caches[0]
            if (cache.status, cache.progress) != last:
                last = (cache.status, cache.progress)
                print(f"status {cache.status} ({cache.progress})")
            if cache.status == "Ready":
                break
            if cache.status not in ("Preparing", "Creating"):
                sys.exit(f"MISMATCH status: {cache.status!r} is neither on the way to Ready nor Ready")
            if time.monotonic() > deadline:
                sys.exit(f"TIMEOUT: {cache_id} not Ready after {WAIT_SECONDS:.0f} s (status {cache.status}); "
                         "a manual clock (--now) only moves through /_emulator/clock: "
                         "use --instant or the system clock")
            time.sleep(1)

        print(json.dumps(cache.to_map(), indent=2, sort_keys=True))
        check("ImageCacheId", cache.image_cache_id, cache_id)
        check("ContainerGroupId", cache.container_group_id, created.body.container_group_id)
        check("ImageCacheName", cache.image_cache_name, NAME)
        check("RegionId", cache.region_id, REGION)
        check("Status", cache.status, "Ready")
        check("Progress", cache.progress, "100%")
        # Images come back as they were sent, not canonicalised.
        check("Images", cache.images, IMAGES)
        check("ImageCacheSize", cache.image_cache_size, 20)
        check("Tags", [(t.key, t.value) for t in cache.tags], [("recipe", "python")])
        check("SnapshotId prefix", (cache.snapshot_id or "")[:2], "s-")
        # RetentionDays=7: ExpireDateTime is CreationTime + 7 days.
        created_at = time.strptime(cache.creation_time, "%Y-%m-%dT%H:%M:%SZ")
        expires = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                time.gmtime(calendar.timegm(created_at) + 7 * 86400))
        check("ExpireDateTime", cache.expire_date_time, expires)
        check("last event", cache.events[-1].reason, "Ready")
    finally:
        deleted = client.delete_image_cache(eci_models.DeleteImageCacheRequest(
            region_id=REGION, image_cache_id=cache_id))
        check("DeleteImageCache status", deleted.status_code, 200)
        print(f"deleted {cache_id}")

    gone = client.describe_image_caches(eci_models.DescribeImageCachesRequest(
        region_id=REGION, image_cache_id=cache_id))
    check("TotalCount after delete", gone.body.total_count, 0)
    print("python quickstart: OK")


if __name__ == "__main__":
    main()
