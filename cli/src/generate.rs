//! `eci-imagecache gen`: the seeded workload as one JSON document in the
//! `DescribeImageCaches` response shape, streamed cache by cache.

use std::io::{self, BufWriter, Write};

use clap::Args;
use eci_imagecache::wire::json::ImageCacheJson;
use eci_imagecache::workload::Workload;
use eci_imagecache_server::progress;

#[derive(Args)]
pub struct GenArgs {
    /// How many caches to generate.
    #[arg(long)]
    caches: usize,
    /// The seed: the same seed always gives the same caches.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Writes the caches to standard output, with a progress bar on standard
/// error when it is a terminal.
pub fn run(args: &GenArgs) -> io::Result<()> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(256 * 1024, stdout.lock());
    let bar = progress::counter(args.caches as u64, "generating caches");
    write!(out, r#"{{"RequestId":"gen-{}","ImageCaches":["#, args.seed)?;
    for (i, cache) in Workload::new(args.seed).caches(args.caches).enumerate() {
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, &ImageCacheJson::from(&cache))?;
        if i % 1024 == 0 {
            bar.set_position(i as u64);
        }
    }
    writeln!(out, r#"],"TotalCount":{}}}"#, args.caches)?;
    bar.finish_and_clear();
    out.flush()
}
