// Quickstart: the official Node.js SDK (@alicloud/eci20180808) against
// `eci-imagecache serve`.
//
//     eci-imagecache serve --access-key AKIDEXAMPLE:SECRETEXAMPLE --instant
//     cd examples/node && npm ci && node quickstart.js
//
// Environment:
//     ECI_ENDPOINT                     host:port of the emulator (default 127.0.0.1:8080)
//     ALIBABA_CLOUD_ACCESS_KEY_ID      default AKIDEXAMPLE
//     ALIBABA_CLOUD_ACCESS_KEY_SECRET  default SECRETEXAMPLE
//     ECI_REGION                       default cn-hangzhou
//     ECI_WAIT_SECONDS                 how long to wait for Ready (default 300)
//
// Creates an image cache, waits until it is Ready (at once under --instant;
// about --preparing + --creating seconds on the system clock; never on a
// manual --now clock unless /_emulator/clock moves it), prints it, deletes
// it, and checks every deterministic value on the way: any mismatch exits
// non-zero.
'use strict';

const assert = require('node:assert/strict');
const OpenApi = require('@alicloud/openapi-client');
const Eci = require('@alicloud/eci20180808');

const ENDPOINT = process.env.ECI_ENDPOINT || '127.0.0.1:8080';
const AK = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID || 'AKIDEXAMPLE';
const SECRET = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET || 'SECRETEXAMPLE';
const REGION = process.env.ECI_REGION || 'cn-hangzhou';
const WAIT_SECONDS = Number(process.env.ECI_WAIT_SECONDS || '300');

const NAME = 'quickstart-node';
const IMAGES = ['nginx:1.25', 'registry-vpc.cn-hangzhou.aliyuncs.com/eci_open/alpine:3.5'];

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  // The endpoint override: a host:port, and plain HTTP.
  const config = new OpenApi.Config({
    accessKeyId: AK,
    accessKeySecret: SECRET,
    regionId: REGION,
    endpoint: ENDPOINT,
    protocol: 'http',
  });
  const client = new Eci.default(config);

  const created = await client.createImageCache(new Eci.CreateImageCacheRequest({
    regionId: REGION,
    imageCacheName: NAME,
    image: IMAGES,
    imageCacheSize: 20,
    retentionDays: 7,
    tag: [new Eci.CreateImageCacheRequestTag({ key: 'recipe', value: 'node' })],
  }));
  assert.equal(created.statusCode, 200, 'CreateImageCache status');
  const cacheId = created.body.imageCacheId;
  assert.match(cacheId, /^imc-/, 'ImageCacheId');
  assert.match(created.body.containerGroupId, /^eci-/, 'ContainerGroupId');
  console.log(`created ${cacheId} (container group ${created.body.containerGroupId})`);

  let cache;
  try {
    const deadline = Date.now() + WAIT_SECONDS * 1000;
    let last;
    for (;;) {
      const described = await client.describeImageCaches(new Eci.DescribeImageCachesRequest({
        regionId: REGION, imageCacheId: cacheId,
      }));
      assert.equal(described.statusCode, 200, 'DescribeImageCaches status');
      assert.equal(described.body.totalCount, 1, 'TotalCount');
      cache = described.body.imageCaches[0];
      if (`${cache.status} ${cache.progress}` !== last) {
        last = `${cache.status} ${cache.progress}`;
        console.log(`status ${cache.status} (${cache.progress})`);
      }
      if (cache.status === 'Ready') break;
      assert.ok(['Preparing', 'Creating'].includes(cache.status),
        `status ${cache.status} is neither on the way to Ready nor Ready`);
      if (Date.now() > deadline) {
        throw new Error(`TIMEOUT: ${cacheId} not Ready after ${WAIT_SECONDS} s (status ${cache.status}); `
          + 'a manual clock (--now) only moves through /_emulator/clock: use --instant or the system clock');
      }
      await sleep(1000);
    }

    console.log(JSON.stringify(cache.toMap(), null, 2));
    assert.equal(cache.imageCacheId, cacheId, 'ImageCacheId');
    assert.equal(cache.containerGroupId, created.body.containerGroupId, 'ContainerGroupId');
    assert.equal(cache.imageCacheName, NAME, 'ImageCacheName');
    assert.equal(cache.regionId, REGION, 'RegionId');
    assert.equal(cache.status, 'Ready', 'Status');
    assert.equal(cache.progress, '100%', 'Progress');
    // Images come back as they were sent, not canonicalised.
    assert.deepEqual(cache.images, IMAGES, 'Images');
    assert.equal(cache.imageCacheSize, 20, 'ImageCacheSize');
    assert.deepEqual(cache.tags.map((t) => [t.key, t.value]), [['recipe', 'node']], 'Tags');
    assert.match(cache.snapshotId, /^s-/, 'SnapshotId');
    // RetentionDays=7: ExpireDateTime is CreationTime + 7 days.
    const expires = new Date(Date.parse(cache.creationTime) + 7 * 86400 * 1000)
      .toISOString().replace(/\.\d{3}Z$/, 'Z');
    assert.equal(cache.expireDateTime, expires, 'ExpireDateTime');
    assert.equal(cache.events[cache.events.length - 1].reason, 'Ready', 'last event');
  } finally {
    const deleted = await client.deleteImageCache(new Eci.DeleteImageCacheRequest({
      regionId: REGION, imageCacheId: cacheId,
    }));
    assert.equal(deleted.statusCode, 200, 'DeleteImageCache status');
    console.log(`deleted ${cacheId}`);
  }

  const gone = await client.describeImageCaches(new Eci.DescribeImageCachesRequest({
    regionId: REGION, imageCacheId: cacheId,
  }));
  assert.equal(gone.body.totalCount, 0, 'TotalCount after delete');
  console.log('node quickstart: OK');
}

main().catch((err) => {
  console.error(`MISMATCH or failure: ${err && err.stack ? err.stack : err}`);
  if (err && err.data) console.error(JSON.stringify(err.data));
  process.exit(1);
});
