"""The official Alibaba Cloud SDKs against `eci-imagecache serve`.

A full scenario with the current SDK (alibabacloud-eci20180808) signing V3,
again signing V2, a wrong secret that must fail, and the legacy SDK
(aliyun-python-sdk-eci, GET with the classic signature). Every response
field's JSON type is checked against the SDK model, since the SDK does not
check types itself.

Run by `cargo test` through cli/tests/sdk_suite.rs, which sets up the
virtual environment (tests/sdk/setup.sh) and passes the binary in ECI_BIN.
"""

import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

from alibabacloud_eci20180808 import models as m
from alibabacloud_eci20180808.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException

AK, SECRET = "AKIDEXAMPLE", "SECRETEXAMPLE"
CONTROL_TOKEN = "sdk-suite-control-token"
REGION = "cn-hangzhou"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra, quota="4"):
        self.port = free_port()
        self.dir = tempfile.mkdtemp()
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(
            [os.environ["ECI_BIN"], "serve", "--listen", f"127.0.0.1:{self.port}",
             "--seed", "1", "--now", "2024-05-01T08:00:00Z", "--quota", quota,
             "--access-key", f"{AK}:{SECRET}", "--control-token", CONTROL_TOKEN,
             "--state", os.path.join(self.dir, "state"), *extra],
            stdout=subprocess.DEVNULL, stderr=self.log)
        # The socket answers before the state is loaded (503 "loading"):
        # ready is the health endpoint's 200.
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(
                        f"http://127.0.0.1:{self.port}/_emulator/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline or self.proc.poll() is not None:
                raise RuntimeError("server did not start")
            time.sleep(0.05)

    def control(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_emulator/{path}", data=data,
                                     method="POST" if data is not None or path == "reset" else "GET",
                                     headers={"Content-Type": "application/json",
                                              "x-eci-emulator-token": CONTROL_TOKEN})
        with urllib.request.urlopen(req) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


SERVER = None


def setUpModule():
    global SERVER
    SERVER = Server()


def tearDownModule():
    SERVER.stop()


def client(signature_algorithm=None, secret=SECRET, server=None):
    server = server or SERVER
    config = open_api_models.Config(access_key_id=AK, access_key_secret=secret,
                                    endpoint=f"127.0.0.1:{server.port}", protocol="http",
                                    region_id=REGION)
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return Client(config)


# The JSON type of every field of the DescribeImageCaches model.
CACHE_TYPES = {
    "ContainerGroupId": str, "CreationTime": str, "EliminationStrategy": str, "Events": list,
    "ExpireDateTime": str, "FlashSnapshotId": str, "ImageCacheId": str, "ImageCacheName": str,
    "ImageCacheSize": int, "Images": list, "LastMatchedTime": str, "Progress": str, "RegionId": str,
    "ResourceGroupId": str, "SnapshotId": str, "Status": str, "Tags": list,
}
EVENT_TYPES = {"Count": int, "FirstTimestamp": str, "LastTimestamp": str, "Message": str,
               "Name": str, "Reason": str, "Type": str}


def check_types(test, raw):
    """Every key is one the SDK model knows, with the model's JSON type."""
    test.assertEqual(set(raw) - {"RequestId", "ImageCaches", "NextToken", "TotalCount"}, set())
    test.assertIsInstance(raw["RequestId"], str)
    test.assertIs(type(raw["TotalCount"]), int)
    if "NextToken" in raw:
        test.assertIsInstance(raw["NextToken"], str)
        test.assertTrue(raw["NextToken"])
    test.assertIsInstance(raw["ImageCaches"], list)
    for cache in raw["ImageCaches"]:
        for key, value in cache.items():
            test.assertIn(key, CACHE_TYPES, key)
            test.assertIs(type(value), CACHE_TYPES[key], key)
        for image in cache["Images"]:
            test.assertIsInstance(image, str)
        for tag in cache["Tags"]:
            test.assertEqual(set(tag), {"Key", "Value"})
            test.assertTrue(all(isinstance(v, str) for v in tag.values()))
        for event in cache["Events"]:
            test.assertEqual(set(event), set(EVENT_TYPES))
            for key, value in event.items():
                test.assertIs(type(value), EVENT_TYPES[key], key)


class Scenario:
    """The whole scenario, for one signature mode."""

    signature_algorithm = None

    def setUp(self):
        SERVER.control("reset", {})
        self.c = client(self.signature_algorithm)

    def describe(self, **kw):
        resp = self.c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION, **kw))
        self.assertEqual(resp.status_code, 200)
        self.assertIsNotNone(resp.body, "the SDK model rejected the shape")
        check_types(self, resp.body.to_map())
        return resp.body

    def error(self, call, code, status):
        with self.assertRaises(ClientException) as ctx:
            call()
        self.assertEqual((ctx.exception.code, ctx.exception.status_code), (code, status))
        self.assertTrue(ctx.exception.request_id)
        return ctx.exception

    def test_scenario(self):
        create = m.CreateImageCacheRequest(
            region_id=REGION, image_cache_name="web",
            image=["registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl", "redis:7"],
            image_cache_size=30, retention_days=7, elimination_strategy="LRU", resource_group_id="rg-demo",
            client_token="tok-web", flash=True,
            tag=[m.CreateImageCacheRequestTag(key="env", value="prod"), m.CreateImageCacheRequestTag(key="team", value="a b/c")],
            image_registry_credential=[m.CreateImageCacheRequestImageRegistryCredential(server="registry.example.com", user_name="u", password="p@ss word")],
            acr_registry_info=[m.CreateImageCacheRequestAcrRegistryInfo(instance_id="cri-1", domain=["team-registry.cn-hangzhou.cr.aliyuncs.com", "team.example.com"])],
            v_switch_id="vsw-1,vsw-2", security_group_id="sg-1", zone_id="cn-hangzhou-k", annotations='{"a":"b"}')
        web = self.c.create_image_cache(create).body
        self.assertTrue(web.image_cache_id.startswith("imc-") and web.container_group_id.startswith("eci-"))
        # ClientToken replay: the first answer again, nothing new.
        again = self.c.create_image_cache(create).body
        self.assertEqual((again.image_cache_id, again.container_group_id), (web.image_cache_id, web.container_group_id))
        create.image_cache_name = "other"
        self.error(lambda: self.c.create_image_cache(create), "IdempotentParameterMismatch", 400)
        api = self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="api", image=["nginx:1.25", "busybox"])).body
        self.assertEqual(self.describe(image_cache_id=web.image_cache_id).image_caches[0].status, "Preparing")
        # Wait until Ready: the emulator's clock moves on request.
        SERVER.control("clock", {"Advance": 3600})
        body = self.describe()
        self.assertEqual(body.total_count, 2)
        self.assertEqual({c.status for c in body.image_caches}, {"Ready"})
        ready = {c.image_cache_id: c for c in body.image_caches}[web.image_cache_id]
        self.assertEqual(ready.progress, "100%")
        self.assertEqual(ready.images[0], "registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl")
        created = datetime.datetime.strptime(ready.creation_time, "%Y-%m-%dT%H:%M:%SZ")
        expires = (created + datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(ready.expire_date_time, expires)
        self.assertEqual((ready.elimination_strategy, ready.image_cache_size, ready.resource_group_id), ("LRU", 30, "rg-demo"))
        self.assertEqual([(t.key, t.value) for t in ready.tags], [("env", "prod"), ("team", "a b/c")])
        self.assertIsNone(ready.flash_snapshot_id)
        # Every filter.
        self.assertEqual(self.describe(image_cache_name="api").image_caches[0].image_cache_id, api.image_cache_id)
        self.assertEqual(self.describe(snapshot_id=ready.snapshot_id).total_count, 1)
        self.assertEqual(self.describe(resource_group_id="rg-demo").total_count, 1)
        self.assertEqual(self.describe(image="registry.cn-hangzhou.aliyuncs.com/eci_open/nginx").total_count, 1)
        self.assertEqual(self.describe(image="docker.io/library/nginx:1.25").total_count, 1)
        self.assertEqual(self.describe(tag=[m.DescribeImageCachesRequestTag(key="env")]).total_count, 1)
        self.assertEqual(self.describe(tag=[m.DescribeImageCachesRequestTag(key="env", value="dev")]).total_count, 0)
        self.assertEqual(self.describe(image_cache_id="imc-unknown").total_count, 0)
        # MatchImage: exact matches first, partial after; full match; count.
        matched = self.describe(match_image=["nginx:1.25", "redis:6"])
        self.assertEqual([c.image_cache_id for c in matched.image_caches], [api.image_cache_id, web.image_cache_id])
        self.assertEqual(self.describe(match_image=["nginx:1.25", "busybox"], image_full_match=True).total_count, 1)
        self.assertEqual(self.describe(match_image=["nginx:1.25", "redis:7"], image_full_match=True).total_count, 0)
        self.assertEqual(self.describe(match_image=["redis:7", "registry.cn-hangzhou.aliyuncs.com/eci_open/nginx:1.15.10-perl"], image_match_count_request=2).total_count, 1)
        # Paging with NextToken until it is absent.
        for i in range(2):
            self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name=f"page{i}", image=["alpine"]))
        seen, token = [], None
        while True:
            page = self.describe(limit=1, next_token=token)
            self.assertEqual(page.total_count, 4)
            seen += [c.image_cache_id for c in page.image_caches]
            token = page.next_token
            if not token:
                break
        self.assertEqual(len(seen), 4)
        self.assertEqual(len(set(seen)), 4)
        self.error(lambda: self.describe(next_token="forged"), "InvalidParameter.NextToken", 400)
        # Update, then NoNeedUpdate, OperationConflict while Updating.
        update = m.UpdateImageCacheRequest(region_id=REGION, image_cache_id=web.image_cache_id, image=["nginx:1.26"], client_token="tok-up")
        self.assertEqual(self.c.update_image_cache(update).status_code, 200)
        self.assertEqual(self.c.update_image_cache(update).status_code, 200)  # replay
        self.error(lambda: self.c.update_image_cache(m.UpdateImageCacheRequest(region_id=REGION, image_cache_id=web.image_cache_id, image=["nginx:1.27"])), "OperationConflict", 400)
        SERVER.control("clock", {"Advance": 3600})
        self.error(lambda: self.c.update_image_cache(m.UpdateImageCacheRequest(region_id=REGION, image_cache_id=web.image_cache_id, image=["nginx:1.26"])), "NoNeedUpdate", 400)
        # Quota 4: the next create evicts the LRU cache (web); then, with
        # none evictable left, QuotaExceeded.
        self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="fifth", image=["mysql"]))
        self.assertEqual(self.describe(image_cache_id=web.image_cache_id).total_count, 0)
        self.error(lambda: self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="sixth", image=["mysql"])), "QuotaExceeded", 403)
        # Delete, with a replay; then the unknown id.
        delete = m.DeleteImageCacheRequest(region_id=REGION, image_cache_id=api.image_cache_id, client_token="tok-del")
        self.assertEqual(self.c.delete_image_cache(delete).status_code, 200)
        self.assertEqual(self.c.delete_image_cache(delete).status_code, 200)
        self.error(lambda: self.c.delete_image_cache(m.DeleteImageCacheRequest(region_id=REGION, image_cache_id=api.image_cache_id)), "InvalidImageCacheId.NotFound", 404)
        # Errors as SDK exceptions.
        self.error(lambda: self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="bad-tag", image=["x"], tag=[m.CreateImageCacheRequestTag(key="acs:team", value="a")])), "InvalidParameter", 400)
        self.error(lambda: self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="bad-server", image=["x"], image_registry_credential=[m.CreateImageCacheRequestImageRegistryCredential(server="https://registry.example.com")])), "InvalidParameter", 400)
        self.error(lambda: self.c.create_image_cache(m.CreateImageCacheRequest(region_id=REGION, image_cache_name="noimage")), "MissingParameter", 400)
        self.error(lambda: self.c.describe_image_caches(m.DescribeImageCachesRequest(limit=1)), "MissingParameter", 400)


def call_with_extra(c, action, query):
    """An RPC call through the SDK's generic `call_api`, signed, with
    parameters the generated request models do not have."""
    from alibabacloud_tea_util import models as util_models
    params = open_api_models.Params(action=action, version="2018-08-08", protocol="HTTP",
                                    pathname="/", method="POST", auth_type="AK", style="RPC",
                                    req_body_type="formData", body_type="json")
    return c.call_api(params, open_api_models.OpenApiRequest(query=query), util_models.RuntimeOptions())


class Paging(unittest.TestCase):
    """More caches than a page holds: at most 20 a page, as the cloud; a
    client must follow NextToken, and one that forgets it sees 20."""

    def test_paging_past_twenty(self):
        server = Server("--instant", quota="50")
        try:
            c = client(server=server)
            ids = []
            for i in range(25):
                body = c.create_image_cache(m.CreateImageCacheRequest(
                    region_id=REGION, image_cache_name=f"cache-{i:02}", image=[f"app{i}:1"])).body
                ids.append(body.image_cache_id)
            first = c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION)).body
            self.assertEqual((len(first.image_caches), first.total_count), (20, 25))
            self.assertTrue(first.next_token)
            capped = c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION, limit=1000)).body
            self.assertEqual(len(capped.image_caches), 20, "Limit above the cap gives the cap")
            seen, token, pages = [], None, 0
            while True:
                page = c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION, limit=7, next_token=token)).body
                self.assertEqual(page.total_count, 25)
                seen += [x.image_cache_id for x in page.image_caches]
                pages += 1
                token = page.next_token
                if not token:
                    break
            self.assertEqual(pages, 4)
            self.assertEqual(sorted(seen), sorted(ids))
            self.assertEqual(len(set(seen)), 25)
            # Newest first, then id: the pages in the order of section 4.2.
            self.assertEqual(seen[:20], [x.image_cache_id for x in first.image_caches])
        finally:
            server.stop()


class UnknownParameters(unittest.TestCase):
    """The Go SDK's VkClientVersion and an invented parameter: ignored (and
    logged) as the cloud's gateway does; rejected under --strict-params."""

    QUERY = {"RegionId": REGION, "ImageCacheName": "web", "Image.1": "nginx",
             "VkClientVersion": "1.0.0", "InventedParameter": "value-never-logged-7f3a",
             "BearerToken": "bearer-secret-9c1d"}

    def test_ignored_by_default(self):
        SERVER.control("reset", {})
        resp = call_with_extra(client(), "CreateImageCache", dict(self.QUERY))
        self.assertEqual(resp["statusCode"], 200)
        self.assertTrue(resp["body"]["ImageCacheId"].startswith("imc-"))
        resp = call_with_extra(client(), "DeleteImageCache",
                               {"RegionId": REGION, "ImageCacheId": resp["body"]["ImageCacheId"],
                                "VkClientVersion": "1.0.0"})
        self.assertEqual(resp["statusCode"], 200)
        SERVER.log.flush()
        SERVER.log.seek(0)
        log = SERVER.log.read()
        self.assertIn('ignored=["InventedParameter", "VkClientVersion"]', log)
        # Names only, never values; a credential is not even named.
        for secret in ("value-never-logged-7f3a", "bearer-secret-9c1d", "BearerToken"):
            self.assertNotIn(secret, log)

    def test_rejected_when_strict(self):
        server = Server("--strict-params")
        try:
            with self.assertRaises(ClientException) as ctx:
                call_with_extra(client(server=server), "CreateImageCache", dict(self.QUERY))
            self.assertEqual((ctx.exception.code, ctx.exception.status_code), ("InvalidParameter", 400))
            self.assertIn('"InventedParameter"', ctx.exception.message)
            ok = call_with_extra(client(server=server), "CreateImageCache",
                                 {"RegionId": REGION, "ImageCacheName": "web", "Image.1": "nginx"})
            self.assertEqual(ok["statusCode"], 200)
        finally:
            server.stop()


class V3(Scenario, unittest.TestCase):
    signature_algorithm = None


class V2(Scenario, unittest.TestCase):
    signature_algorithm = "v2"


class WrongSecret(unittest.TestCase):
    def test_wrong_secret_fails(self):
        for algorithm in (None, "v2"):
            c = client(algorithm, secret="not-the-secret")
            with self.assertRaises(ClientException) as ctx:
                c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION))
            self.assertEqual((ctx.exception.code, ctx.exception.status_code), ("SignatureDoesNotMatch", 400))
        c = open_api_models.Config(access_key_id="AKIDUNKNOWN", access_key_secret=SECRET,
                                   endpoint=f"127.0.0.1:{SERVER.port}", protocol="http")
        with self.assertRaises(ClientException) as ctx:
            Client(c).describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION))
        self.assertEqual((ctx.exception.code, ctx.exception.status_code), ("InvalidAccessKeyId.NotFound", 404))


class Inspection(unittest.TestCase):
    """What the official SDKs did, as the emulator's request history and
    metrics tell it: the history names the signing account and keeps no
    secret; the metrics parse with the Prometheus project's own strict
    OpenMetrics parser and count each call."""

    def test_history_and_metrics_count_the_scenario(self):
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
        server = Server()
        try:
            c = client(server=server)
            for name in ("a", "b"):
                c.create_image_cache(m.CreateImageCacheRequest(
                    region_id=REGION, image_cache_name=name, image=["nginx:1.25"],
                    image_registry_credential=[m.CreateImageCacheRequestImageRegistryCredential(
                        server="registry.example.com", user_name="someone", password="p@ss word")]))
            c.describe_image_caches(m.DescribeImageCachesRequest(region_id=REGION))
            with self.assertRaises(ClientException):
                c.delete_image_cache(m.DeleteImageCacheRequest(region_id=REGION, image_cache_id="imc-nope"))
            server.control("clock", {"Advance": 3600})
            for image in ("nginx:1.25", "redis:7"):
                call_with_extra(client("v2", server=server), "AutoMatch",
                                {"RegionId": REGION, "Image.1": image})

            history = server.control("requests?limit=10")
            calls = history["Requests"]
            self.assertEqual([call["Action"] for call in calls],
                             ["AutoMatch", "AutoMatch", "DeleteImageCache", "DescribeImageCaches",
                              "CreateImageCache", "CreateImageCache"])
            self.assertEqual({call["Account"] for call in calls}, {AK})
            self.assertEqual([call.get("Matched") for call in calls[:2]], [False, True])
            text = json.dumps(history)
            for secret in ("p@ss word", "someone", SECRET):
                self.assertNotIn(secret, text)
            # With keys, only what the signature covers is kept: never the
            # signature itself; the key id only redacted.
            v2 = dict(calls[0]["Parameters"])
            self.assertEqual(v2["RegionId"], REGION)
            self.assertNotIn("Signature", v2)
            self.assertIn(v2.get("AccessKeyId", "(redacted)"), ["(redacted)"])

            req = urllib.request.Request(f"http://127.0.0.1:{server.port}/_emulator/metrics",
                                         headers={"x-eci-emulator-token": CONTROL_TOKEN})
            with urllib.request.urlopen(req) as r:
                self.assertTrue(r.headers["Content-Type"].startswith("application/openmetrics-text"))
                metrics = r.read().decode()
            samples = {}
            for family in text_string_to_metric_families(metrics):
                for sample in family.samples:
                    samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
            requests = "eci_imagecache_requests_total"
            self.assertEqual(samples[(requests, (("action", "CreateImageCache"), ("code", ""), ("status", "200")))], 2)
            self.assertEqual(samples[(requests, (("action", "DescribeImageCaches"), ("code", ""), ("status", "200")))], 1)
            self.assertEqual(samples[(requests, (("action", "DeleteImageCache"),
                                                 ("code", "InvalidImageCacheId.NotFound"), ("status", "404")))], 1)
            self.assertEqual(samples[(requests, (("action", "AutoMatch"), ("code", ""), ("status", "200")))], 2)
            self.assertEqual(samples[("eci_imagecache_auto_match_total", (("outcome", "hit"),))], 1)
            self.assertEqual(samples[("eci_imagecache_auto_match_total", (("outcome", "miss"),))], 1)
            self.assertEqual(samples[("eci_imagecache_caches", (("status", "Ready"),))], 2)
            self.assertEqual(samples[("eci_imagecache_request_duration_seconds_count",
                                      (("action", "CreateImageCache"),))], 2)
        finally:
            server.stop()


class Legacy(unittest.TestCase):
    """aliyun-python-sdk-eci: GET, classic signature."""

    def test_legacy_sdk(self):
        from aliyunsdkcore.client import AcsClient
        from aliyunsdkcore.acs_exception.exceptions import ServerException
        from aliyunsdkeci.request.v20180808 import (CreateImageCacheRequest, DeleteImageCacheRequest,
                                                    DescribeImageCachesRequest)
        SERVER.control("reset", {})
        acs = AcsClient(AK, SECRET, REGION)

        def send(request):
            request.set_endpoint(f"127.0.0.1:{SERVER.port}")
            request.set_protocol_type("http")
            return json.loads(acs.do_action_with_exception(request))

        create = CreateImageCacheRequest.CreateImageCacheRequest()
        create.set_ImageCacheName("legacy")
        create.set_Images(["nginx:1.25"])
        create.set_AcrRegistryInfos([{"Domains": ["a.example.com", "b.example.com"], "InstanceId": "cri-1"}])
        created = send(create)
        self.assertTrue(created["ImageCacheId"].startswith("imc-"))
        describe = DescribeImageCachesRequest.DescribeImageCachesRequest()
        body = send(describe)
        check_types(self, body)
        self.assertEqual(body["TotalCount"], 1)
        delete = DeleteImageCacheRequest.DeleteImageCacheRequest()
        delete.set_ImageCacheId(created["ImageCacheId"])
        send(delete)
        with self.assertRaises(ServerException) as ctx:
            send(delete)
        self.assertEqual((ctx.exception.get_error_code(), ctx.exception.get_http_status()), ("InvalidImageCacheId.NotFound", 404))


if __name__ == "__main__":
    unittest.main(verbosity=2)
