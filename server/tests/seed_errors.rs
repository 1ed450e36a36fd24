//! Fault injection of the seeds' error tables: every row of both tables
//! (transcribed verbatim, checked here against copies of the seed files)
//! can be injected through `POST /_emulator/faults` and comes back with its
//! HTTP status, code and message; a `%s` is filled from `Detail`, else the
//! description; `DescribeImageCaches` gets the Describe seed's row, the
//! other actions the Update seed's.

mod common;

use common::{Server, error_code, http, options, start};
use eci_imagecache_server::seed_errors::{SEED_ERRORS, Seed, SeedError, seed_codes};
use serde_json::{Value, json};

const JSON: (&str, &str) = ("content-type", "application/json");

const DESCRIBE_SEED: &str = include_str!("data/seeds/DescribeImageCaches.txt");
const UPDATE_SEED: &str = include_str!("data/seeds/UpdateImageCache.txt");

/// The actions that use the Update seed's rows.
const WRITE_ACTIONS: [&str; 4] = [
    "CreateImageCache",
    "UpdateImageCache",
    "DeleteImageCache",
    "AutoMatch",
];

fn post_fault(s: &Server, fault: &Value) -> (u16, Value) {
    http(
        s.addr,
        "POST",
        "/_emulator/faults",
        &[JSON],
        &fault.to_string(),
    )
}

fn inject(s: &Server, fault: Value) {
    let (status, body) = post_fault(s, &fault);
    assert_eq!(status, 200, "{fault}: {body}");
}

fn pending(s: &Server) -> Value {
    let (status, body) = http(s.addr, "GET", "/_emulator/faults", &[], "");
    assert_eq!(status, 200, "{body}");
    body
}

/// One API call of `action` (no parameters but the region): (status,
/// code, message) of its error body, which must be exactly RequestId,
/// Code, Message.
fn call(s: &Server, action: &str) -> (u16, String, String) {
    let (status, body) = http(
        s.addr,
        "POST",
        "/?RegionId=cn-hangzhou",
        &[("x-acs-action", action)],
        "",
    );
    if status == 200 {
        return (status, String::new(), String::new());
    }
    let (status, code) = error_code(status, &body);
    (status, code, body["Message"].as_str().unwrap().to_owned())
}

fn rows(seed: Seed) -> Vec<&'static SeedError> {
    SEED_ERRORS.iter().filter(|e| e.seed == seed).collect()
}

/// The lines of a seed's error table: those between "Error codes" and the
/// text after the table that begin with a three-digit status.
fn table_lines(text: &str) -> Vec<&str> {
    text.lines()
        .skip_while(|l| *l != "Error codes")
        .take_while(|l| !l.starts_with("See Error Codes") && !l.starts_with("Change history"))
        .filter(|l| l.len() > 3 && l.as_bytes()[..3].iter().all(u8::is_ascii_digit))
        .collect()
}

/// The message the row's response carries without `Detail`.
fn expected_message(row: &SeedError) -> String {
    row.message
        .replace("%s", row.description.unwrap_or("ImageCache"))
}

#[test]
fn every_row_is_transcribed_verbatim_from_its_seed() {
    // Describe: "{status} {code} {message}[ {description}]", one line each.
    let lines = table_lines(DESCRIBE_SEED);
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let describe = rows(Seed::DescribeImageCaches);
    assert_eq!(describe.len(), lines.len());
    for (row, line) in describe.iter().zip(&lines) {
        let prefix = format!("{} {} {}", row.status, row.code, row.message);
        assert!(line.starts_with(&prefix), "{row:?}\n{line}");
        let whole = match row.description {
            Some(d) => format!("{prefix} {d}"),
            None => prefix,
        };
        assert_eq!(*line, whole, "{row:?}");
    }
    // Update: "{status}{code}{message}{description}", `-` for none (and
    // OperationDenied.NoStock's line just stops).
    let lines = table_lines(UPDATE_SEED);
    assert_eq!(lines.len(), 24, "{lines:#?}");
    let update = rows(Seed::UpdateImageCache);
    assert_eq!(update.len(), lines.len());
    for (row, line) in update.iter().zip(&lines) {
        let prefix = format!("{}{}{}", row.status, row.code, row.message);
        assert!(UPDATE_SEED.contains(&prefix), "{row:?}");
        assert!(line.starts_with(&prefix), "{row:?}\n{line}");
        let rest = &line[prefix.len()..];
        match row.description {
            Some(d) => assert_eq!(rest, d, "{row:?}"),
            None if row.code == "OperationDenied.NoStock" => assert_eq!(rest, "", "{row:?}"),
            None => assert_eq!(rest, "-", "{row:?}"),
        }
    }
    // Every code of either seed is one fault injection accepts.
    let mut codes: Vec<&str> = SEED_ERRORS.iter().map(|e| e.code).collect();
    codes.sort_unstable();
    codes.dedup();
    let mut accepted = seed_codes();
    accepted.sort_unstable();
    assert_eq!(accepted, codes);
}

#[test]
fn every_row_is_injectable_with_its_status_code_and_message() {
    let s = start(options());
    let mut checked = 0;
    for row in SEED_ERRORS {
        let in_describe = SEED_ERRORS
            .iter()
            .any(|e| e.code == row.code && e.seed == Seed::DescribeImageCaches);
        let actions: Vec<&str> = match row.seed {
            Seed::DescribeImageCaches => vec!["DescribeImageCaches"],
            // Describe falls back on the Update seed's row for its codes.
            Seed::UpdateImageCache if !in_describe => {
                let mut all = WRITE_ACTIONS.to_vec();
                all.push("DescribeImageCaches");
                all
            }
            Seed::UpdateImageCache => WRITE_ACTIONS.to_vec(),
        };
        for action in actions {
            inject(&s, json!({"Code": row.code, "Count": 1, "Action": action}));
            assert_eq!(
                call(&s, action),
                (row.status, row.code.to_owned(), expected_message(row)),
                "{row:?} via {action}"
            );
            assert_eq!(pending(&s), json!({"Failures": [], "Errors": []}));
            checked += 1;
        }
    }
    // 7 Describe rows; 24 Update rows by 4 write actions, and the 17
    // Update-only codes by Describe too.
    assert_eq!(checked, 7 + 24 * 4 + 17);
    // Nothing is left over: the next call is answered normally.
    assert_eq!(call(&s, "DescribeImageCaches").0, 200);
}

#[test]
fn percent_s_is_filled_from_detail_or_else_the_description() {
    let s = start(options());
    let detail = "Elastic Container Instance is not activated for this account.";
    for action in [
        "DescribeImageCaches",
        "UpdateImageCache",
        "CreateImageCache",
    ] {
        inject(
            &s,
            json!({"Code": "ServiceNotEnabled", "Count": 1, "Action": action, "Detail": detail}),
        );
        assert_eq!(
            call(&s, action),
            (400, "ServiceNotEnabled".into(), detail.into()),
            "{action}"
        );
    }
    // Without Detail: each seed's own description.
    inject(
        &s,
        json!({"Code": "ServiceNotEnabled", "Count": 1, "Action": "DescribeImageCaches"}),
    );
    assert_eq!(
        call(&s, "DescribeImageCaches"),
        (
            400,
            "ServiceNotEnabled".into(),
            "The service on which this request depends has not been activated. Please activate and try again.".into()
        )
    );
    for action in WRITE_ACTIONS {
        inject(
            &s,
            json!({"Code": "ServiceNotEnabled", "Count": 1, "Action": action}),
        );
        assert_eq!(
            call(&s, action),
            (
                400,
                "ServiceNotEnabled".into(),
                "You have not activated the service that is required for processing this request."
                    .into()
            ),
            "{action}"
        );
    }
    // QuotaExceeded has no description: `ImageCache` fills it, as the
    // engine's own QuotaExceeded reads.
    inject(
        &s,
        json!({"Code": "QuotaExceeded", "Count": 1, "Action": "CreateImageCache", "Detail": "Region cn-hangzhou ImageCache"}),
    );
    assert_eq!(
        call(&s, "CreateImageCache"),
        (
            403,
            "QuotaExceeded".into(),
            "Region cn-hangzhou ImageCache quota exceeded.".into()
        )
    );
    for action in ["CreateImageCache", "DescribeImageCaches"] {
        inject(
            &s,
            json!({"Code": "QuotaExceeded", "Count": 1, "Action": action}),
        );
        assert_eq!(
            call(&s, action),
            (
                403,
                "QuotaExceeded".into(),
                "ImageCache quota exceeded.".into()
            ),
            "{action}"
        );
    }
    // Without `%s` in the message, Detail is accepted and unused; the
    // pending list shows it.
    let (status, body) = post_fault(
        &s,
        &json!({"Code": "Account.Arrearage", "Count": 1, "Detail": "unused"}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"Failures": [], "Errors": [{"Code": "Account.Arrearage", "Count": 1, "Detail": "unused"}]})
    );
    assert_eq!(
        call(&s, "DeleteImageCache"),
        (
            400,
            "Account.Arrearage".into(),
            "Your account has an outstanding payment.".into()
        )
    );
}

#[test]
fn no_permission_reads_differently_for_describe_and_for_the_write_actions() {
    let s = start(options());
    inject(
        &s,
        json!({"Code": "NoPermission", "Count": 1, "Action": "DescribeImageCaches"}),
    );
    assert_eq!(
        call(&s, "DescribeImageCaches"),
        (
            403,
            "NoPermission".into(),
            "The RAM role does not belong to ECS.".into()
        )
    );
    for action in WRITE_ACTIONS {
        inject(
            &s,
            json!({"Code": "NoPermission", "Count": 1, "Action": action}),
        );
        assert_eq!(
            call(&s, action),
            (
                403,
                "NoPermission".into(),
                "The RAM role AliyunECIContainerGroupRole does not belong to Please check and try again.".into()
            ),
            "{action}"
        );
    }
}

#[test]
fn a_fault_without_action_hits_the_next_call_of_any_action_with_its_text() {
    let s = start(options());
    inject(&s, json!({"Code": "NoPermission", "Count": 2}));
    assert_eq!(
        pending(&s),
        json!({"Failures": [], "Errors": [{"Code": "NoPermission", "Count": 2}]})
    );
    assert_eq!(
        call(&s, "UpdateImageCache"),
        (
            403,
            "NoPermission".into(),
            "The RAM role AliyunECIContainerGroupRole does not belong to Please check and try again.".into()
        )
    );
    assert_eq!(
        call(&s, "DescribeImageCaches"),
        (
            403,
            "NoPermission".into(),
            "The RAM role does not belong to ECS.".into()
        )
    );
    assert_eq!(call(&s, "DescribeImageCaches").0, 200);
    assert_eq!(pending(&s), json!({"Failures": [], "Errors": []}));
}

#[test]
fn count_two_hits_exactly_two_calls_of_its_action() {
    let s = start(options());
    inject(
        &s,
        json!({"Code": "Zone.NotOnSale", "Count": 2, "Action": "DeleteImageCache"}),
    );
    let hit = (
        403,
        "Zone.NotOnSale".to_owned(),
        "The specified zone is not available for purchase.".to_owned(),
    );
    assert_eq!(call(&s, "DeleteImageCache"), hit);
    assert_eq!(
        pending(&s),
        json!({"Failures": [], "Errors": [{"Code": "Zone.NotOnSale", "Action": "DeleteImageCache", "Count": 1}]})
    );
    // Another action is not hit.
    assert_eq!(call(&s, "DescribeImageCaches").0, 200);
    assert_eq!(call(&s, "DeleteImageCache"), hit);
    // The third Delete runs: it lacks its ImageCacheId.
    let (status, code, _) = call(&s, "DeleteImageCache");
    assert_eq!((status, code.as_str()), (400, "MissingParameter"));
    assert_eq!(pending(&s), json!({"Failures": [], "Errors": []}));
}

#[test]
fn an_unknown_code_is_refused_and_nothing_is_queued() {
    let s = start(options());
    for code in ["NoSuchCode", "account.arrearage", "InvalidParameter", ""] {
        let (status, body) = post_fault(&s, &json!({"Code": code, "Count": 1}));
        assert_eq!(
            error_code(status, &body),
            (400, "InvalidParameter".into()),
            "{code}"
        );
        let message = body["Message"].as_str().unwrap();
        assert_eq!(
            message,
            format!("Code must be one of: {}.", seed_codes().join(", "))
        );
        assert!(message.contains("OperationDenied.NoStock"), "{message}");
    }
    assert_eq!(pending(&s), json!({"Failures": [], "Errors": []}));
    assert_eq!(call(&s, "DescribeImageCaches").0, 200);
}

#[test]
fn detail_is_a_bounded_string_without_control_characters() {
    let s = start(options());
    let fault = |detail: Value| json!({"Code": "ServiceNotEnabled", "Count": 1, "Detail": detail});
    for (detail, says) in [
        (json!("d".repeat(1025)), "1024"),
        (json!("line\nbreak"), "control"),
        (json!("bell\u{7}"), "control"),
        (json!(7), "string"),
    ] {
        let (status, body) = post_fault(&s, &fault(detail.clone()));
        assert_eq!(
            error_code(status, &body),
            (400, "InvalidParameter".into()),
            "{detail}"
        );
        let message = body["Message"].as_str().unwrap();
        assert!(message.contains(says), "{detail}: {message}");
    }
    assert_eq!(pending(&s), json!({"Failures": [], "Errors": []}));
    // 1024 characters (not bytes) are fine.
    let long = "é".repeat(1024);
    inject(&s, fault(json!(long)));
    assert_eq!(
        call(&s, "UpdateImageCache"),
        (400, "ServiceNotEnabled".into(), long)
    );
}
