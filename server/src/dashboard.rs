//! `GET /_emulator/`: one read-only HTML page of what the emulator holds,
//! written on the server (no script, no external asset: it works offline
//! and in any browser) and refreshed every few seconds by the browser.
//!
//! It shows the clock, each account's regions with their caches (status,
//! a progress bar, images, tags, last match, expiry), and the last API
//! calls. A region lists at most [`MAX_CACHES_SHOWN`] caches, newest
//! first, the page at most [`MAX_ROWS`], and each says how many more there
//! are, so the page stays small at a million caches however they are
//! spread. Every text from a cache or a call is HTML-escaped; the page is
//! sent with a Content-Security-Policy that allows nothing but its style.
//!
//! With a control token, a browser (which cannot send the token header on
//! a page load) may give it as `?token=…` on this page only.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eci_imagecache::clock::Clock;
use eci_imagecache::engine::Engine;
use eci_imagecache::wire::json::ImageCacheJson;

use crate::app::App;
use crate::health::VERSION;
use crate::history::CallRecord;
use crate::router::error_response;

/// The most caches a region shows.
pub const MAX_CACHES_SHOWN: usize = 200;

/// The most caches the page shows in all: regions past it are only
/// counted, so the page stays small however the caches are spread.
pub const MAX_ROWS: usize = 1000;

/// The most recent calls shown.
pub const CALLS_SHOWN: usize = 25;

/// Seconds between refreshes.
pub const REFRESH_SECONDS: u32 = 2;

/// The path of the dashboard.
pub const DASHBOARD_PATH: &str = "/_emulator/";

const STYLE: &str = "
body{font:14px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}
header{background:#1d2330;color:#fff;padding:12px 20px;display:flex;gap:24px;align-items:baseline;flex-wrap:wrap}
header h1{font-size:18px;margin:0}
main{padding:8px 20px 24px}
h2{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 2px #0002}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}
code{font:12px ui-monospace,monospace}
.s{display:inline-block;padding:1px 8px;border-radius:9px;font-size:12px;color:#fff}
.Ready{background:#1f8f4e}.Preparing,.Creating,.Updating{background:#2f6fd0}
.Failed,.UpdateFailed{background:#c8372d}
.bar{width:110px;height:10px;background:#e3e6ea;border-radius:5px;overflow:hidden;display:inline-block;vertical-align:middle}
.bar span{display:block;height:100%;background:#2f6fd0}
.muted{color:#6b7380}.err{color:#c8372d}.nw{white-space:nowrap}
";

/// `GET /_emulator/`.
pub(crate) async fn dashboard(State(app): State<Arc<App>>) -> Response {
    let Ok(page) = tokio::task::spawn_blocking(move || render(&app)).await else {
        return error_response(500, "InternalError", "The dashboard could not be written.");
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            // Nothing but its own inline style: no script, nothing fetched,
            // no referrer (the URL may hold the token).
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        page,
    )
        .into_response()
}

/// The whole page.
pub fn render(app: &App) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let now = eci_imagecache::wire::format_time(app.clock.now());
    let manual = if app.clock.manual().is_some() {
        "manual clock"
    } else {
        "system clock"
    };
    let _ = write!(
        page,
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta http-equiv=refresh content={REFRESH_SECONDS}>\
         <meta name=viewport content=\"width=device-width\">\
         <title>eci-imagecache emulator</title><style>{STYLE}</style></head><body>\
         <header><h1>eci-imagecache emulator</h1><span>v{VERSION}</span>\
         <span id=clock>{now} <span class=muted>({manual})</span></span>"
    );
    {
        let engine = app.read_engine();
        let (held, regions) = crate::health::held(&engine);
        let _ = write!(
            page,
            "<span id=totals>{} in {regions} region{}</span></header><main>",
            caches(held),
            if regions == 1 { "" } else { "s" }
        );
        regions_html(&mut page, &engine);
    }
    calls_html(&mut page, &app.history.last(CALLS_SHOWN));
    page.push_str("</main></body></html>\n");
    page
}

/// A section per (account, region) holding caches.
fn regions_html(page: &mut String, engine: &Engine) {
    let mut regions: Vec<(&str, &str)> = engine
        .regions()
        .filter(|(a, r)| engine.index(a, r).is_some_and(|i| !i.is_empty()))
        .collect();
    regions.sort_unstable();
    if regions.is_empty() {
        page.push_str("<p class=muted id=empty>No image caches yet.</p>");
    }
    let mut budget = MAX_ROWS;
    let mut unshown = (0, 0);
    for (account, region) in regions {
        let index = engine.index(account, region).expect("listed above");
        if budget == 0 {
            unshown = (unshown.0 + 1, unshown.1 + index.len());
            continue;
        }
        let shown = index.len().min(MAX_CACHES_SHOWN).min(budget);
        budget -= shown;
        let _ = write!(
            page,
            "<section class=region><h2>{} <span class=muted>· account {} · {}</span></h2>\
             <table><tr><th>Id</th><th>Name</th><th>Status</th><th>Progress</th><th>Images</th>\
             <th>Tags</th><th>Last match</th><th>Expires</th></tr>",
            escape(region),
            if account.is_empty() {
                "default".to_owned()
            } else {
                escape(account)
            },
            caches(index.len())
        );
        for cache in index.iter().take(shown) {
            cache_row(page, &ImageCacheJson::from(cache));
        }
        page.push_str("</table>");
        if index.len() > shown {
            let _ = write!(page, "<p class=muted>and {} more</p>", index.len() - shown);
        }
        page.push_str("</section>");
    }
    if unshown.0 > 0 {
        let _ = write!(
            page,
            "<p class=muted id=more>and {} more regions with {}</p>",
            unshown.0,
            caches(unshown.1)
        );
    }
}

/// "1 cache", "2 caches".
fn caches(n: usize) -> String {
    if n == 1 {
        "1 cache".to_owned()
    } else {
        format!("{n} caches")
    }
}

fn cache_row(page: &mut String, cache: &ImageCacheJson) {
    let percent: u32 = cache
        .progress
        .trim_end_matches('%')
        .parse()
        .unwrap_or(0)
        .min(100);
    let images: Vec<String> = cache
        .images
        .iter()
        .map(|i| format!("<code>{}</code>", escape(i)))
        .collect();
    let tags: Vec<String> = cache
        .tags
        .iter()
        .map(|t| format!("{}={}", escape(&t.key), escape(&t.value)))
        .collect();
    let optional = |t: &Option<String>| t.as_deref().map_or("–".to_owned(), escape);
    let _ = write!(
        page,
        "<tr class=cache><td class=nw><code>{id}</code></td><td>{name}</td>\
         <td><span class=\"s {status}\">{status}</span></td>\
         <td class=nw><span class=bar><span style=\"width:{percent}%\"></span></span> {percent}%</td>\
         <td>{images}</td><td>{tags}</td><td class=nw>{matched}</td><td class=nw>{expires}</td></tr>",
        id = escape(&cache.image_cache_id),
        name = escape(&cache.image_cache_name),
        status = escape(&cache.status),
        images = images.join("<br>"),
        tags = if tags.is_empty() {
            "–".to_owned()
        } else {
            tags.join("<br>")
        },
        matched = optional(&cache.last_matched_time),
        expires = optional(&cache.expire_date_time),
    );
}

/// The last calls, newest first.
fn calls_html(page: &mut String, calls: &[CallRecord]) {
    page.push_str(
        "<h2>Last requests</h2><table id=requests><tr><th>Time</th><th>Action</th>\
         <th>Region</th><th>Status</th><th>Code</th><th>Latency</th><th>RequestId</th></tr>",
    );
    if calls.is_empty() {
        page.push_str("<tr><td colspan=7 class=muted>None yet.</td></tr>");
    }
    for call in calls {
        let _ = write!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td><td>{}</td>\
             <td>{:.1} ms</td><td><code>{}</code></td></tr>",
            escape(&call.time),
            escape(call.action.as_deref().unwrap_or("")),
            escape(call.region_id.as_deref().unwrap_or("")),
            if call.status >= 400 { "err" } else { "ok" },
            call.status,
            escape(&call.code),
            call.micros as f64 / 1000.0,
            escape(&call.request_id),
        );
    }
    page.push_str("</table>");
}

/// `text` with `& < > " '` escaped, for an element's text or a quoted
/// attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<img src=x onerror='a&b'>\""),
            "&lt;img src=x onerror=&#39;a&amp;b&#39;&gt;&quot;"
        );
        assert_eq!(escape("nginx:1.25"), "nginx:1.25");
    }
}
